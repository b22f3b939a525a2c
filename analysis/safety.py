"""Adverse-event summaries per patient (CTCAE v5 grades; CRS and ICANS by ASTCT)."""
from __future__ import annotations

import pandas as pd

from data_access.schema import CRS_TERM, ICANS_TERM


def worst_grades(adverse_events: pd.DataFrame, subject_ids) -> pd.DataFrame:
    """Per subject the worst CRS and ICANS grade (0 = none)."""
    out = pd.DataFrame({"subject_id": list(subject_ids)})
    for term, column in ((CRS_TERM, "worst_crs_grade"), (ICANS_TERM, "worst_icans_grade")):
        worst = adverse_events[adverse_events["term"] == term].groupby("subject_id")["grade"].max()
        out[column] = out["subject_id"].map(worst).fillna(0).astype(int)
    return out
