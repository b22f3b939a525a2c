"""The Survival page: Kaplan-Meier of one endpoint, overall or by dose level, with numbers at risk."""
from __future__ import annotations

from dataclasses import dataclass

from analysis.survival import (
    AS_GIVEN,
    DAYS_PER_MONTH,
    DEFINITIONS,
    ENDPOINTS,
    KMEstimate,
    logrank,
    number_at_risk,
    study_time_to_event,
    survival_estimates,
)
from analysis.views.common import StudyData

#: Months at which the figure counts patients at risk.
AT_RISK_MONTHS = tuple(range(0, 25, 3))


@dataclass
class SurvivalView:
    endpoint: str
    name: str
    definition: str
    by_dose: bool
    estimates: list[KMEstimate]
    at_risk: dict[str, list[int]]        # label -> patients at risk at AT_RISK_MONTHS
    logrank_p: float                     # NaN unless by dose level with two or more levels


def survival_view(data: StudyData, endpoint: str = "PFS", by_dose: bool = False) -> SurvivalView:
    endpoint = endpoint if endpoint in ENDPOINTS else "PFS"
    study = data.study
    tte, given = study_time_to_event(study.subjects, study.responses, study.time_to_event)
    strata = study.subjects.set_index("subject_id")["dose_level"] if by_dose else None
    estimates = survival_estimates(tte, endpoint, strata, overall=not by_dose)
    rows = tte[tte["endpoint"] == endpoint]
    groups = rows["subject_id"].map(strata) if by_dose else None
    at_risk = {}
    for km in estimates:
        times = rows["time_days"] if not by_dose else rows.loc[groups == km.label, "time_days"]
        at_risk[km.label] = number_at_risk(times, [m * DAYS_PER_MONTH for m in AT_RISK_MONTHS])
    p = logrank(rows["time_days"], rows["event"], groups) if by_dose else float("nan")
    name, definition = DEFINITIONS[endpoint]
    definition = AS_GIVEN if endpoint in given else definition
    return SurvivalView(endpoint, name, definition, by_dose, estimates, at_risk, p)
