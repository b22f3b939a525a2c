"""Unit spellings and conversions to each analyte's canonical unit."""
from __future__ import annotations

from data_access.schema import ANALYTES

#: For each analyte: normalised spelling -> factor that converts a value to the canonical unit.
_UNIT_FACTORS: dict[str, dict[str, float]] = {
    "car_t_pct": {"%": 1.0, "percent": 1.0, "% of t cells": 1.0, "% of cd3+": 1.0, "% cd3+": 1.0},
    "car_copies": {
        "copies/ug gdna": 1.0,
        "copies/ug": 1.0,
        "copies/ug dna": 1.0,
        "copies/ng gdna": 1000.0,
        "copies/ng": 1000.0,
        "copies/ng dna": 1000.0,
    },
    "plasma_cells_pct": {"%": 1.0, "percent": 1.0},
    "il6": {"pg/ml": 1.0, "ng/l": 1.0, "ng/ml": 1000.0},
}


def normalise_unit_spelling(unit: str) -> str:
    """Fold case, white space and the micro sign so 'Copies/µg  gDNA' and 'copies/ug gdna' match."""
    text = unit.strip().lower().replace("\u00b5", "u").replace("\u03bc", "u").replace("mcg", "ug")
    return " ".join(text.split())


def conversion_factor(analyte: str, unit: str) -> float | None:
    """Factor turning a value in `unit` into the analyte's canonical unit, or None if not a unit of it."""
    return _UNIT_FACTORS.get(analyte, {}).get(normalise_unit_spelling(unit))


def accepted_units(analyte: str) -> list[str]:
    """The spellings accepted for an analyte, canonical first (for error messages and docs)."""
    canonical = ANALYTES[analyte].unit
    others = [u for u in _UNIT_FACTORS[analyte] if u != normalise_unit_spelling(canonical)]
    return [canonical, *others]
