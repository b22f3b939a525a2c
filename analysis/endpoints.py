"""All trial endpoints of a study as tables: what the efficacy, survival and safety pages and the CLI show."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.responses import (
    PRIMARY_WINDOW_DAYS,
    best_response,
    best_response_within,
    mrd_negative_ever,
    response_rates,
)
from analysis.safety import ae_table, has_relatedness
from analysis.survival import km_summary, time_to_event
from data_access.study import Study


@dataclass
class Endpoints:
    best_response: pd.DataFrame
    response_rates: pd.DataFrame
    time_to_event: pd.DataFrame
    km_summary: pd.DataFrame
    ae_table: pd.DataFrame


def endpoints(study: Study) -> Endpoints:
    ids = study.subjects["subject_id"]
    best = best_response(study.responses, ids)
    within = best_response_within(study.responses, ids, PRIMARY_WINDOW_DAYS).set_index("subject_id")
    overall = response_rates(best.set_index("subject_id")["best_response"], mrd_negative_ever(study.responses))
    overall.insert(0, "window", "to progression or data cut-off")
    first6 = response_rates(within["best_response"])
    first6.insert(0, "window", "first 6 months")
    tte = time_to_event(study.subjects, study.responses)
    strata = study.subjects.set_index("subject_id")["dose_level"]
    related = has_relatedness(study.adverse_events)
    table = ae_table(study.adverse_events, len(ids), related_only=related)
    table.insert(0, "attribution", "treatment-related" if related else "all")
    return Endpoints(best[["subject_id", "best_response", "day_first_response", "day_best_response"]],
                     pd.concat([overall, first6], ignore_index=True), tte, km_summary(tte, strata), table)
