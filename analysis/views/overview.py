"""The Overview page: who was infused, at what dose, for how long, what was sampled."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.groups import ordered_dose_levels
from analysis.overview import DAYS_PER_MONTH, StudySummary, summarise_study
from analysis.views.common import StudyData


@dataclass
class OverviewView:
    summary: StudySummary
    follow_up: pd.DataFrame     # subject_id, dose_level, months (infusion to last contact or death), died
    dose_levels: list[str]      # low to high


def overview_view(data: StudyData) -> OverviewView:
    s = data.study
    subjects = s.subjects
    follow_up = pd.DataFrame({"subject_id": subjects["subject_id"], "dose_level": subjects["dose_level"],
                              "months": subjects["last_contact_day"].astype(float) / DAYS_PER_MONTH,
                              "died": subjects["death_day"].notna()})
    summary = summarise_study(subjects, s.measurements, s.adverse_events, s.responses, s.catalogue)
    return OverviewView(summary, follow_up, ordered_dose_levels(subjects["dose_level"]))
