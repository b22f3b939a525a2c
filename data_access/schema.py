"""The study import format: tables, columns and controlled vocabularies.

One place that says what a study looks like, so the readers, the validator, the store and the
docs (docs/data-format.md) all agree.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Table names in the order they are read, validated and stored.
TABLES: tuple[str, ...] = ("subjects", "measurements", "adverse_events", "responses")

#: Tables a study cannot do without; the others may be absent (a warning says so).
REQUIRED_TABLES: tuple[str, ...] = ("subjects", "measurements")


@dataclass(frozen=True)
class TableSpec:
    """Columns of one table: required ones, optional known ones; anything else is kept as extra."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + self.optional


TABLE_SPECS: dict[str, TableSpec] = {
    "subjects": TableSpec(
        "subjects",
        required=("subject_id", "dose_level", "age", "sex", "last_contact_day", "death_day"),
    ),
    "measurements": TableSpec(
        "measurements",
        required=("subject_id", "analyte", "specimen", "day", "value", "unit"),
        optional=("lloq", "blq"),
    ),
    "adverse_events": TableSpec(
        "adverse_events",
        required=("subject_id", "term", "grade", "onset_day", "resolution_day"),
        optional=("serious", "related"),
    ),
    "responses": TableSpec(
        "responses",
        required=("subject_id", "day", "response"),
        optional=("mrd_negative",),
    ),
}


@dataclass(frozen=True)
class Analyte:
    """An analyte: what it is, its canonical unit and the specimens it is measured in."""

    code: str
    label: str
    unit: str
    specimens: tuple[str, ...]
    method: str


ANALYTES: dict[str, Analyte] = {
    "car_t_pct": Analyte("car_t_pct", "CAR+ T cells", "%", ("PB", "BM"), "flow cytometry, % of CD3+ T cells"),
    "car_copies": Analyte(
        "car_copies", "CAR transgene", "copies/µg gDNA", ("PB", "BM"), "qPCR, copies per µg genomic DNA"
    ),
    "plasma_cells_pct": Analyte(
        "plasma_cells_pct", "Clonal plasma cells", "%", ("BM",), "% of bone-marrow nucleated cells"
    ),
    "il6": Analyte("il6", "Interleukin-6", "pg/mL", ("serum",), "serum immunoassay"),
}

#: Specimen codes and the spellings accepted for them (compared lower-case).
SPECIMENS: dict[str, tuple[str, ...]] = {
    "PB": ("pb", "blood", "peripheral blood"),
    "BM": ("bm", "marrow", "bone marrow"),
    "serum": ("serum",),
}
SPECIMEN_LABELS: dict[str, str] = {"PB": "Blood", "BM": "Bone marrow", "serum": "Serum"}

#: IMWG response categories, best first; NE (not evaluable) ranks last.
RESPONSES: tuple[str, ...] = ("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "NE")

CRS_TERM = "Cytokine release syndrome"
ICANS_TERM = "Immune effector cell-associated neurotoxicity syndrome"
#: Short forms accepted for the two ASTCT-graded terms (compared lower-case).
TERM_ALIASES: dict[str, str] = {
    "crs": CRS_TERM,
    CRS_TERM.lower(): CRS_TERM,
    "icans": ICANS_TERM,
    ICANS_TERM.lower(): ICANS_TERM,
}

#: Spellings accepted for true and false in flag columns (blq, serious, related, mrd_negative).
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0"})

#: Sex codes and accepted spellings.
SEXES: dict[str, tuple[str, ...]] = {
    "M": ("m", "male"),
    "F": ("f", "female"),
    "U": ("u", "unknown", "other"),
}
