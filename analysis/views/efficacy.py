"""The Efficacy page: best response by dose level, response rates by window, the swimmer plot's lanes."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.responses import best_response_by_dose, rates_by_window, swimmer_lanes
from analysis.views.common import StudyData

SORTS = ("duration", "dose")


@dataclass
class Swimmer:
    order: list[str]            # lanes, top to bottom
    segments: pd.DataFrame      # subject_id, start, stop, state
    marks: pd.DataFrame         # subject_id, day, mark


@dataclass
class EfficacyView:
    n_patients: int
    best_by_dose: pd.DataFrame  # column, response, patients, percent, group_n
    rates: pd.DataFrame         # window, measure, n, responders, rate, ci_lower, ci_upper (= response_rates.csv)
    swimmer: Swimmer
    sort: str


def efficacy_view(data: StudyData, sort: str = "duration") -> EfficacyView:
    study = data.study
    sort = sort if sort in SORTS else "duration"
    return EfficacyView(
        n_patients=len(data.patients),
        best_by_dose=best_response_by_dose(data.patients),
        rates=rates_by_window(study.responses, study.subjects["subject_id"]),
        swimmer=Swimmer(*swimmer_lanes(data.patients, study.responses, sort)),
        sort=sort,
    )
