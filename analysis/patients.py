"""One row of facts per patient: dose, demographics, best response, worst CRS/ICANS, follow-up, status."""
from __future__ import annotations

import pandas as pd

from analysis.responses import best_response
from analysis.safety import worst_grades


def patient_table(subjects: pd.DataFrame, responses: pd.DataFrame, adverse_events: pd.DataFrame) -> pd.DataFrame:
    """Subjects joined with best response (and its group), progression day and worst CRS/ICANS grades."""
    ids = subjects["subject_id"]
    table = subjects.merge(best_response(responses, ids), on="subject_id", how="left")
    table = table.merge(worst_grades(adverse_events, ids), on="subject_id", how="left")
    table["died"] = table["death_day"].notna()
    table["progressed"] = table["progression_day"].notna()
    return table


def status_text(row: pd.Series) -> str:
    """'Alive, no progression' / 'Progressed day 181; died day 300' ..."""
    parts = [f"Progressed day {row['progression_day']:g}" if row["progressed"] else "No progression"]
    parts.append(f"died day {row['death_day']:g}" if row["died"] else "alive")
    return "; ".join(parts)
