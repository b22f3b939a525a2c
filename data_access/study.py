"""The in-memory study: four typed tables plus what the store knows about them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import pandas as pd

from data_access.catalogue import Analyte, Catalogue

#: Canonical columns of each table, in order; extra (covariate) columns follow them.
COLUMNS: dict[str, list[str]] = {
    "subjects": ["subject_id", "dose_level", "age", "sex", "last_contact_day", "death_day"],
    "measurements": ["subject_id", "analyte", "specimen", "day", "value", "unit", "lloq", "blq"],
    "adverse_events": ["subject_id", "term", "grade", "onset_day", "resolution_day", "serious", "related"],
    "responses": ["subject_id", "day", "response", "mrd_negative"],
    "analytes": ["code", "label", "unit", "kind", "specimens", "method"],
    "concomitant_medications": ["subject_id", "drug", "start_day", "end_day", "indication"],
    "time_to_event": ["subject_id", "endpoint", "day", "event"],
}
#: The tables a Study holds, in the order they are stored.
STUDY_TABLES: tuple[str, ...] = tuple(COLUMNS)


def empty_table(table: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS[table]})


def declared_analytes(frame: pd.DataFrame) -> list[Analyte]:
    """Analyte declarations from a study's `analytes` table (specimens as a space-separated list; blank = any)."""
    out = []
    for row in frame.itertuples(index=False):
        specimens = tuple(str(row.specimens).split()) if isinstance(row.specimens, str) else ()
        out.append(Analyte(row.code, row.label, row.unit, specimens, row.kind,
                           row.method if isinstance(row.method, str) else ""))
    return out


@dataclass
class Study:
    """A validated study. Days are days since CAR-T infusion; values are in canonical units."""

    name: str
    subjects: pd.DataFrame
    measurements: pd.DataFrame
    adverse_events: pd.DataFrame = field(default_factory=lambda: empty_table("adverse_events"))
    responses: pd.DataFrame = field(default_factory=lambda: empty_table("responses"))
    analytes: pd.DataFrame = field(default_factory=lambda: empty_table("analytes"))
    concomitant_medications: pd.DataFrame = field(default_factory=lambda: empty_table("concomitant_medications"))
    time_to_event: pd.DataFrame = field(default_factory=lambda: empty_table("time_to_event"))
    version: int | None = None
    simulated: bool = False
    imported_at: datetime | None = None
    study_id: int | None = None

    def table(self, name: str) -> pd.DataFrame:
        return getattr(self, name)

    @cached_property
    def catalogue(self) -> Catalogue:
        """The built-in analytes merged with the ones this study declared (its `analytes` table)."""
        return Catalogue(declared_analytes(self.analytes))

    @property
    def nca_kinds(self) -> tuple[tuple[str, str], ...]:
        """(analyte, kind) of the analytes this study declared, for analysis.nca.options.NCAOptions(kinds=...)."""
        return tuple((code, a.kind) for code, a in self.catalogue.declared.items())

    @property
    def analytes_measured(self) -> list[str]:
        """The analytes with at least one sample, in catalogue order."""
        return self.catalogue.order(self.measurements["analyte"].unique())

    @property
    def covariate_columns(self) -> list[str]:
        return [c for c in self.subjects.columns if c not in COLUMNS["subjects"]]

    @property
    def label(self) -> str:
        version = f" v{self.version}" if self.version is not None else ""
        return f"{self.name}{version}"
