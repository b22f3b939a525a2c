"""The analyte catalogue: every analyte CARTscope knows, and how a study declares more.

An analyte has a code, a label, a canonical unit (with the spellings accepted for it and their conversion factors),
the specimens it is measured in, and a kind that decides its defaults everywhere:

- `cell_kinetics`: cells or transgene absent before infusion. A profile without a Day-0 sample starts at 0 on Day 0;
  log axis; AUC, Cmax, Tmax, Clast, Tlast, half-life.
- `biomarker`: endogenous (cytokines, CRP, ferritin, sBCMA). Baseline, peak, peak day, fold change; no Day-0 zero.
- `tumour_burden`: disease measures (marrow plasma cells, M-protein, involved FLC). Baseline, nadir, nadir day,
  percent reduction; linear axis.

The built-in entries below are the four seed analytes plus the companions real BCMA CAR-T trials measure. A study can
declare more (the `analytes` table of the import format, or from CDISC test codes); `Catalogue` holds the built-ins
merged with a study's declarations and is what validation, the pages and the NCA read.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

KINDS: dict[str, str] = {
    "cell_kinetics": "cellular kinetics (absent before infusion: Day-0 zero, AUC, Cmax, Tmax, Tlast)",
    "biomarker": "endogenous biomarker (baseline, peak, peak day, fold change)",
    "tumour_burden": "tumour burden (baseline, nadir, nadir day, percent reduction)",
}

#: Specimen codes, their labels, and the spellings accepted for them (compared lower-case; CDISC terms included).
SPECIMENS: dict[str, tuple[str, ...]] = {
    "PB": ("pb", "blood", "peripheral blood", "whole blood"),
    "BM": ("bm", "marrow", "bone marrow", "bone marrow aspirate"),
    "serum": ("serum",),
    "plasma": ("plasma",),
}
SPECIMEN_LABELS: dict[str, str] = {"PB": "Blood", "BM": "Bone marrow", "serum": "Serum", "plasma": "Plasma"}


def specimen_code(text: str) -> str | None:
    """'BONE MARROW' -> 'BM'; None for a spelling no specimen has."""
    lower = " ".join(str(text).strip().lower().split())
    return next((code for code, spellings in SPECIMENS.items() if lower in spellings or lower == code.lower()), None)


def specimen_label(code: str) -> str:
    """'PB' -> 'Blood'; a specimen a study declared keeps its own name."""
    return SPECIMEN_LABELS.get(code, code)


def normalise_unit_spelling(unit: str) -> str:
    """Fold case, white space and the micro sign so 'Copies/µg  gDNA' and 'copies/ug gdna' match."""
    text = str(unit).strip().lower().replace("\u00b5", "u").replace("\u03bc", "u").replace("mcg", "ug")
    return " ".join(text.split())


@dataclass(frozen=True)
class Analyte:
    """One analyte: what it is, its canonical unit and accepted spellings, where it is measured, how it behaves."""

    code: str
    label: str
    unit: str
    specimens: tuple[str, ...]
    kind: str
    method: str = ""
    #: accepted unit spelling -> factor to the canonical unit (the canonical unit itself is always accepted).
    units: Mapping[str, float] = field(default_factory=dict)
    #: CDISC test codes (--TESTCD / PARAMCD) that mean this analyte, upper case.
    cdisc_codes: tuple[str, ...] = ()
    #: analytes sharing a panel on the patient page (same unit); defaults to the code itself.
    panel: str = ""
    builtin: bool = False
    #: a few characters naming it beside the others of its panel ('CD4+', 'IL-6'); defaults to the label.
    short: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"analyte '{self.code}': kind '{self.kind}' is not one of {', '.join(KINDS)}")

    @property
    def panel_key(self) -> str:
        return self.panel or self.code

    @property
    def short_label(self) -> str:
        return self.short or self.label

    @property
    def log_scale(self) -> bool:
        return self.kind != "tumour_burden"

    @property
    def is_percent(self) -> bool:
        return self.unit == "%"

    def factor(self, unit: str) -> float | None:
        """Factor turning a value in `unit` into the canonical unit, or None if `unit` is not a unit of it."""
        wanted = normalise_unit_spelling(unit)
        if wanted == normalise_unit_spelling(self.unit):
            return 1.0
        return next((f for u, f in self.units.items() if normalise_unit_spelling(u) == wanted), None)

    def accepted_units(self) -> list[str]:
        return [self.unit, *(u for u in self.units if u != self.unit)]

    @property
    def axis_title(self) -> str:
        return f"{self.label} ({self.unit})"


_PCT = {"percent": 1.0}
BUILTIN: dict[str, Analyte] = {a.code: a for a in (
    Analyte("car_copies", "CAR transgene", "copies/µg gDNA", ("PB", "BM"), "cell_kinetics",
            "qPCR, copies per µg genomic DNA",
            {"copies/µg": 1.0, "copies/µg DNA": 1.0, "copies/ng gDNA": 1000.0, "copies/ng": 1000.0,
             "copies/ng DNA": 1000.0}, ("CARCOPY", "CARTGENE", "TRANSGEN")),
    Analyte("car_t_pct", "CAR+ T cells", "%", ("PB", "BM"), "cell_kinetics", "flow cytometry, % of CD3+ T cells",
            {**_PCT, "% of T cells": 1.0, "% of CD3+": 1.0, "% CD3+": 1.0}, ("CARTPCT", "CARTCD3"),
            panel="car_pct", short="of CD3+"),
    Analyte("car_t_abs", "CAR+ T cells, absolute", "cells/µL", ("PB",), "cell_kinetics",
            "flow cytometry, CAR+ T cells per µL blood",
            {"cells/uL": 1.0, "/µL": 1.0, "cells/mm3": 1.0, "10^6/L": 1.0, "10^9/L": 1000.0}, ("CARTABS", "CARTCNT")),
    Analyte("cd4_car_pct", "CD4+ CAR+ T cells", "%", ("PB", "BM"), "cell_kinetics",
            "flow cytometry, % of CD4+ T cells", dict(_PCT), ("CD4CARP",), panel="car_pct", short="of CD4+"),
    Analyte("cd8_car_pct", "CD8+ CAR+ T cells", "%", ("PB", "BM"), "cell_kinetics",
            "flow cytometry, % of CD8+ T cells", dict(_PCT), ("CD8CARP",), panel="car_pct", short="of CD8+"),
    Analyte("plasma_cells_pct", "Clonal plasma cells", "%", ("BM",), "tumour_burden",
            "% of bone-marrow nucleated cells", dict(_PCT), ("PLASMCLP", "PCBM")),
    Analyte("m_protein", "Serum M-protein", "g/dL", ("serum",), "tumour_burden", "serum protein electrophoresis",
            {"g/L": 0.1, "mg/dL": 0.001}, ("MPROTEIN", "SPEP", "MSPIKE")),
    Analyte("iflc", "Involved free light chain", "mg/L", ("serum",), "tumour_burden", "serum free light chain assay",
            {"mg/dL": 10.0}, ("IFLC", "INVFLC")),
    Analyte("il6", "Interleukin-6", "pg/mL", ("serum",), "biomarker", "serum immunoassay",
            {"ng/L": 1.0, "ng/mL": 1000.0}, ("IL6",), panel="cytokines", short="IL-6"),
    Analyte("ifng", "Interferon-γ", "pg/mL", ("serum",), "biomarker", "serum immunoassay",
            {"ng/L": 1.0, "ng/mL": 1000.0}, ("IFNG", "IFNGAM"), panel="cytokines", short="IFN-γ"),
    Analyte("il10", "Interleukin-10", "pg/mL", ("serum",), "biomarker", "serum immunoassay",
            {"ng/L": 1.0, "ng/mL": 1000.0}, ("IL10",), panel="cytokines", short="IL-10"),
    Analyte("crp", "C-reactive protein", "mg/L", ("serum",), "biomarker", "serum immunoassay",
            {"mg/dL": 10.0, "ug/mL": 1.0}, ("CRP",)),
    Analyte("ferritin", "Ferritin", "ng/mL", ("serum",), "biomarker", "serum immunoassay",
            {"ug/L": 1.0, "pmol/L": 0.445}, ("FERRITIN", "FERRITN")),
    Analyte("sbcma", "Soluble BCMA", "ng/mL", ("serum",), "tumour_burden", "serum immunoassay (tracks myeloma burden)",
            {"ug/L": 1.0, "pg/mL": 0.001}, ("SBCMA", "BCMA")),
)}
BUILTIN = {code: replace(a, builtin=True) for code, a in BUILTIN.items()}
#: The analytes the first version knew; every study before the catalogue had only these.
SEED_ANALYTES: tuple[str, ...] = ("car_copies", "car_t_pct", "plasma_cells_pct", "il6")
#: Panel titles on the patient page where a panel holds several analytes.
PANEL_LABELS: dict[str, str] = {"car_pct": "CAR+ T cells", "cytokines": "Serum cytokines"}

_BY_CDISC = {code: a.code for a in BUILTIN.values() for code in a.cdisc_codes}


def builtin_for_test_code(test_code: str) -> str | None:
    """The built-in analyte a CDISC --TESTCD/PARAMCD means ('IL6' -> 'il6'; a catalogue code works too)."""
    text = str(test_code).strip()
    return _BY_CDISC.get(text.upper()) or (text.lower() if text.lower() in BUILTIN else None)


class Catalogue(Mapping[str, Analyte]):
    """The built-in analytes merged with a study's declarations (a declaration of a built-in code replaces it)."""

    def __init__(self, declared: Iterable[Analyte] = ()):
        self._declared = {a.code: a for a in declared}
        self._all = {**BUILTIN, **self._declared}

    def __getitem__(self, code: str) -> Analyte:
        return self._all[code]

    def __iter__(self):
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    @property
    def declared(self) -> dict[str, Analyte]:
        return dict(self._declared)

    def kind(self, code: str) -> str:
        """The analyte's kind; an analyte nobody declared is treated as a biomarker (no Day-0 zero)."""
        analyte = self._all.get(code)
        return analyte.kind if analyte is not None else "biomarker"

    def kinds(self) -> dict[str, str]:
        return {code: a.kind for code, a in self._all.items()}

    def order(self, codes: Iterable[str]) -> list[str]:
        """Codes in catalogue order (built-ins first as listed here, then declared ones), unknown codes last."""
        position = {code: i for i, code in enumerate(self._all)}
        return sorted(set(codes), key=lambda c: (position.get(c, len(position)), c))

    def order_specimens(self, code: str, measured) -> list[str]:
        """The `measured` specimens of an analyte: the ones it declares in their order, then any others by name."""
        measured = set(measured)
        declared = [s for s in self._all[code].specimens if s in measured] if code in self._all else []
        return declared + sorted(measured - set(declared))

    def label(self, code: str) -> str:
        return self._all[code].label if code in self._all else code

    def unit(self, code: str) -> str:
        return self._all[code].unit if code in self._all else ""

    def panel_label(self, panel: str) -> str:
        if panel in PANEL_LABELS:
            return PANEL_LABELS[panel]
        return self._all[panel].label if panel in self._all else panel


DEFAULT = Catalogue()


def markdown_table() -> str:
    """The built-in analyte table of docs/data-format.md (a test keeps the doc equal to this)."""
    rows = ["| analyte | what | kind | specimens | canonical unit | also accepted (factor) | CDISC test codes |",
            "|---|---|---|---|---|---|---|"]
    for a in BUILTIN.values():
        accepted = ", ".join(f"`{u}` (×{f:g})" for u, f in a.units.items()) or "–"
        rows.append(f"| `{a.code}` | {a.label}: {a.method} | {a.kind} | {', '.join(a.specimens)} | `{a.unit}` | "
                    f"{accepted} | {', '.join(a.cdisc_codes)} |")
    return "\n".join(rows)
