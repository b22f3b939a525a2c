"""The in-memory study: four typed tables plus what the store knows about them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

#: Canonical columns of each table, in order; extra (covariate) columns follow them.
COLUMNS: dict[str, list[str]] = {
    "subjects": ["subject_id", "dose_level", "age", "sex", "last_contact_day", "death_day"],
    "measurements": ["subject_id", "analyte", "specimen", "day", "value", "unit", "lloq", "blq"],
    "adverse_events": ["subject_id", "term", "grade", "onset_day", "resolution_day", "serious", "related"],
    "responses": ["subject_id", "day", "response", "mrd_negative"],
}


def empty_table(table: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS[table]})


@dataclass
class Study:
    """A validated study. Days are days since CAR-T infusion; values are in canonical units."""

    name: str
    subjects: pd.DataFrame
    measurements: pd.DataFrame
    adverse_events: pd.DataFrame = field(default_factory=lambda: empty_table("adverse_events"))
    responses: pd.DataFrame = field(default_factory=lambda: empty_table("responses"))
    version: int | None = None
    simulated: bool = False
    imported_at: datetime | None = None
    study_id: int | None = None

    def table(self, name: str) -> pd.DataFrame:
        return getattr(self, name)

    @property
    def covariate_columns(self) -> list[str]:
        return [c for c in self.subjects.columns if c not in COLUMNS["subjects"]]

    @property
    def label(self) -> str:
        version = f" v{self.version}" if self.version is not None else ""
        return f"{self.name}{version}"
