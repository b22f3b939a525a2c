"""All trial endpoints of a study as tables: what the efficacy, survival and safety pages and the CLI show."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.responses import best_response, rates_by_window
from analysis.safety import ae_table, crs_treatment_table, has_relatedness, worst_grades
from analysis.survival import km_summary, study_time_to_event
from data_access.study import Study


@dataclass
class Endpoints:
    best_response: pd.DataFrame
    response_rates: pd.DataFrame
    time_to_event: pd.DataFrame
    km_summary: pd.DataFrame
    ae_table: pd.DataFrame
    crs_treatment: pd.DataFrame | None  # patients given each CRS/ICANS treatment by worst CRS grade (Safety page)


def endpoints(study: Study) -> Endpoints:
    ids = study.subjects["subject_id"]
    best = best_response(study.responses, ids)
    tte, _ = study_time_to_event(study.subjects, study.responses, study.time_to_event)
    strata = study.subjects.set_index("subject_id")["dose_level"]
    related = has_relatedness(study.adverse_events)
    table = ae_table(study.adverse_events, len(ids), related_only=related)
    table.insert(0, "attribution", "treatment-related" if related else "all")
    worst = worst_grades(study.adverse_events, ids)
    return Endpoints(best[["subject_id", "best_response", "day_first_response", "day_best_response"]],
                     rates_by_window(study.responses, ids), tte, km_summary(tte, strata), table,
                     crs_treatment_table(study.concomitant_medications, worst))
