"""Unit spellings and conversions to each analyte's canonical unit."""
from __future__ import annotations

from data_access.schema import ANALYTES

#: For each analyte: accepted spelling (as shown to users) -> factor converting to the canonical unit.
#: Look-ups ignore case, spacing and micro-sign variants (see normalise_unit_spelling).
UNIT_SPELLINGS: dict[str, dict[str, float]] = {
    "car_t_pct": {"%": 1.0, "percent": 1.0, "% of T cells": 1.0, "% of CD3+": 1.0, "% CD3+": 1.0},
    "car_copies": {
        "copies/µg gDNA": 1.0,
        "copies/µg": 1.0,
        "copies/µg DNA": 1.0,
        "copies/ng gDNA": 1000.0,
        "copies/ng": 1000.0,
        "copies/ng DNA": 1000.0,
    },
    "plasma_cells_pct": {"%": 1.0, "percent": 1.0},
    "il6": {"pg/mL": 1.0, "ng/L": 1.0, "ng/mL": 1000.0},
}


def normalise_unit_spelling(unit: str) -> str:
    """Fold case, white space and the micro sign so 'Copies/µg  gDNA' and 'copies/ug gdna' match."""
    text = unit.strip().lower().replace("\u00b5", "u").replace("\u03bc", "u").replace("mcg", "ug")
    return " ".join(text.split())


_FACTORS = {analyte: {normalise_unit_spelling(u): f for u, f in spellings.items()}
            for analyte, spellings in UNIT_SPELLINGS.items()}


def conversion_factor(analyte: str, unit: str) -> float | None:
    """Factor turning a value in `unit` into the analyte's canonical unit, or None if not a unit of it."""
    return _FACTORS.get(analyte, {}).get(normalise_unit_spelling(unit))


def accepted_units(analyte: str) -> list[str]:
    """The spellings accepted for an analyte, canonical first (for error messages and docs)."""
    canonical = ANALYTES[analyte].unit
    return [canonical, *(u for u in UNIT_SPELLINGS[analyte] if u != canonical)]
