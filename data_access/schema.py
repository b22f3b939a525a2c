"""The study import format: tables, columns and controlled vocabularies.

One place that says what a study looks like, so the readers, the validator, the store and the
docs (docs/data-format.md) all agree.
"""
from __future__ import annotations

from dataclasses import dataclass

from data_access.catalogue import BUILTIN, SPECIMEN_LABELS, SPECIMENS  # noqa: F401 - re-exported

#: Table names in the order they are read, validated and stored.
TABLES: tuple[str, ...] = ("analytes", "subjects", "measurements", "adverse_events", "responses",
                           "concomitant_medications", "time_to_event")
#: Optional tables whose absence is not worth a warning (the first version had none of them).
QUIET_OPTIONAL_TABLES: tuple[str, ...] = ("analytes", "concomitant_medications", "time_to_event")

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
    "analytes": TableSpec(
        "analytes",
        required=("code", "label", "unit", "kind"),
        optional=("specimens", "method"),
    ),
    "concomitant_medications": TableSpec(
        "concomitant_medications",
        required=("subject_id", "drug", "start_day"),
        optional=("end_day", "indication"),
    ),
    "time_to_event": TableSpec(
        "time_to_event",
        required=("subject_id", "endpoint", "day", "event"),
    ),
}

#: Endpoints a time_to_event table may give (ADaM ADTTE PARAMCD), used as given instead of derived.
TIME_TO_EVENT_ENDPOINTS: tuple[str, ...] = ("PFS", "OS", "DOR")


#: The built-in analytes and the specimens (data_access/catalogue.py holds them; a study may declare more).
ANALYTES = BUILTIN


#: IMWG response categories, best first; NE (not evaluable) ranks last.
RESPONSES: tuple[str, ...] = ("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "NE")

CRS_TERM = "Cytokine release syndrome"
#: Drugs counted on the Safety page as CRS/ICANS treatment (lower-case spellings -> the name shown).
TOCILIZUMAB = "tocilizumab"
STEROIDS = ("dexamethasone", "methylprednisolone", "prednisolone", "prednisone", "hydrocortisone")
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

#: Columns the analysis layer adds to the per-subject table that holds the covariates (analysis/patients.py
#: patient_table; analysis/views/kinetics.py and safety.py add crs_group and none): a covariate of the same name would
#: collide with them and blank the pages, so validation refuses it. NCA result columns (analysis/nca/parameters.py,
#: merged with that table) and names starting with '_' (internal) are reserved too: see `is_computed_column`.
COMPUTED_SUBJECT_COLUMNS: frozenset[str] = frozenset({
    "best_response", "day_best_response", "day_first_response", "progression_day", "response_group",
    "worst_crs_grade", "worst_icans_grade", "died", "progressed", "crs_group", "none",
})


def is_computed_column(name: str) -> bool:
    """Whether a subjects column called `name` would collide with one the analysis computes."""
    from analysis.nca.parameters import KEY_COLUMNS, REASON_COLUMN, parameter

    if name in COMPUTED_SUBJECT_COLUMNS or name in (*KEY_COLUMNS, REASON_COLUMN) or name.startswith("_"):
        return True
    try:
        parameter(name)
    except (KeyError, ValueError):
        return False
    return True
