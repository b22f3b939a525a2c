"""Time-to-event endpoints (PFS, OS, DOR) and Kaplan-Meier estimates with lifelines.

Definitions (docs/endpoints.md), times in days from CAR-T infusion:
- PFS: to the first PD or death, whichever comes first; censored at the last response assessment
  (at day 0 for a patient never assessed).
- OS: to death; censored at last contact.
- DOR: among responders (PR or better), from the first PR-or-better to PD or death; censored at the
  last response assessment.
Kaplan-Meier as R's survival package computes it (`survfit(..., conf.type = "log-log")`, checked against
survival 3.5.3 in tests/analysis/test_survival.py): pointwise 95% CIs on the log(-log) scale, blank where the
curve is 1 or 0 (R gives NA there); the median and its CI by the rule of `print.survfit` (see `r_median`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from analysis.groups import ordered_dose_levels
from analysis.responses import RESPONDERS

DAYS_PER_MONTH = 365.25 / 12
LANDMARK_MONTHS = (6, 12, 24)  # evaluated at months / 12 x 365 days: 182.5, 365 and 730 days
ENDPOINTS = ("PFS", "OS", "DOR")
#: Each endpoint's name and definition, as figure titles and footnotes state them.
DEFINITIONS = {
    "PFS": ("Progression-free survival", "from infusion to first progression (IMWG PD) or death; censored at the "
            "last response assessment"),
    "OS": ("Overall survival", "from infusion to death from any cause; censored at last contact"),
    "DOR": ("Duration of response", "among responders (PR or better), from first response to progression or "
            "death; censored at the last response assessment"),
}


def time_to_event(subjects: pd.DataFrame, responses: pd.DataFrame) -> pd.DataFrame:
    """Long table: subject_id, endpoint (PFS/OS/DOR), time_days, event (1 = event, 0 = censored)."""
    s = subjects.set_index("subject_id")
    r = responses[responses["day"] >= 0]
    first_pd = r[r["response"] == "PD"].groupby("subject_id")["day"].min()
    last_assessment = r.groupby("subject_id")["day"].max()
    death = s["death_day"]
    rows = []
    for sid in s.index:
        pd_day, died = first_pd.get(sid, np.nan), death[sid]
        event_day = np.nanmin([pd_day, died]) if not (np.isnan(pd_day) and np.isnan(died)) else np.nan
        censor = last_assessment.get(sid, 0.0)
        rows.append((sid, "PFS", event_day if not np.isnan(event_day) else censor, int(not np.isnan(event_day))))
        rows.append((sid, "OS", died if not np.isnan(died) else s.at[sid, "last_contact_day"], int(not np.isnan(died))))
        responding = r[(r["subject_id"] == sid) & r["response"].isin(RESPONDERS)
                       & ~(r["day"] > (pd_day if not np.isnan(pd_day) else np.inf))]["day"]
        if len(responding):
            start = float(responding.min())
            if not np.isnan(event_day):
                rows.append((sid, "DOR", event_day - start, 1))
            else:
                rows.append((sid, "DOR", max(censor - start, 0.0), 0))
    return pd.DataFrame(rows, columns=["subject_id", "endpoint", "time_days", "event"])


#: The definition shown for an endpoint the study gave itself (a CDISC ADaM ADTTE or a time_to_event table).
AS_GIVEN = "as given in the study's time-to-event data (ADaM ADTTE or its time_to_event table), not derived"


def study_time_to_event(subjects: pd.DataFrame, responses: pd.DataFrame,
                        given: pd.DataFrame | None = None) -> tuple[pd.DataFrame, frozenset[str]]:
    """`time_to_event` for every endpoint, except those the study gives itself (`given`: its time_to_event table,
    subject_id, endpoint, day, event), which are used as given. Returns the long table and the given endpoints."""
    derived = time_to_event(subjects, responses)
    if given is None or given.empty:
        return derived, frozenset()
    names = frozenset(given["endpoint"])
    rows = pd.DataFrame({"subject_id": given["subject_id"], "endpoint": given["endpoint"],
                         "time_days": given["day"].astype(float), "event": given["event"].astype(bool).astype(int)})
    out = pd.concat([derived[~derived["endpoint"].isin(names)], rows], ignore_index=True)
    return out, names


#: survival's tolerance for "the curve is at 0.5": .Machine$double.eps^0.5.
R_TOLERANCE = float(np.finfo(float).eps) ** 0.5


def r_median(times, curve) -> float:
    """The first time a step curve is at or below 0.5, as R survival's print.survfit finds it (`survmean`'s
    inner `minmin`): where the curve sits at 0.5 (within R_TOLERANCE) and later falls below it, the median is
    the midpoint between the start of that flat stretch and the time it falls; NaN when the curve never reaches
    0.5 (not reached). Applied to the lower and upper CI curves it gives the median's 95% CI; blank CI values
    (where the curve is 1 or 0) are skipped, as R skips NA."""
    times, curve = np.asarray(times, dtype=float), np.asarray(curve, dtype=float)
    keep = ~np.isnan(curve) & (curve < 0.5 + R_TOLERANCE)
    if not keep.any():
        return float("nan")
    x, y = times[keep], curve[keep]
    lower = y < y[0]
    if abs(y[0] - 0.5) < R_TOLERANCE and lower.any():
        return float((x[0] + x[np.argmax(lower)]) / 2)
    return float(x[0])


@dataclass
class KMEstimate:
    """A fitted Kaplan-Meier curve with the numbers a report quotes."""

    label: str
    n: int
    events: int
    median_days: float
    median_ci: tuple[float, float]
    landmarks: pd.DataFrame          # months, survival, ci_lower, ci_upper
    curve: pd.DataFrame              # time_days, survival, ci_lower, ci_upper (step function)
    censored_times: np.ndarray       # days of censored observations (for the marks)

    def survival_at(self, days: float) -> float:
        return float(self.curve.loc[self.curve["time_days"] <= days, "survival"].iloc[-1])


def kaplan_meier(times: pd.Series, events: pd.Series, label: str = "All") -> KMEstimate:
    """KM estimate (log-log 95% CIs), median with CI, and landmark rates at 6, 12 and 24 months."""
    fitter = KaplanMeierFitter(alpha=0.05).fit(times.astype(float), events.astype(int), label=label)
    ci = fitter.confidence_interval_
    survival = fitter.survival_function_.iloc[:, 0].to_numpy()
    undefined = (survival >= 1) | (survival <= 0)  # log(-log S) has no standard error there: R gives NA
    curve = pd.DataFrame({"time_days": fitter.survival_function_.index.to_numpy(float), "survival": survival,
                          "ci_lower": np.where(undefined, np.nan, ci.iloc[:, 0].to_numpy()),
                          "ci_upper": np.where(undefined, np.nan, ci.iloc[:, 1].to_numpy())})
    median = r_median(curve["time_days"], curve["survival"])
    median_ci = (r_median(curve["time_days"], curve["ci_lower"]), r_median(curve["time_days"], curve["ci_upper"]))
    landmarks = []
    for months in LANDMARK_MONTHS:
        day = months / 12 * 365
        if day > times.max():
            landmarks.append((months, np.nan, np.nan, np.nan))
            continue
        at = curve[curve["time_days"] <= day].iloc[-1]
        landmarks.append((months, at["survival"], at["ci_lower"], at["ci_upper"]))
    return KMEstimate(
        label=label, n=int(len(times)), events=int(events.sum()), median_days=median, median_ci=median_ci,
        landmarks=pd.DataFrame(landmarks, columns=["months", "survival", "ci_lower", "ci_upper"]),
        curve=curve, censored_times=times[events == 0].to_numpy(float),
    )


def number_at_risk(times: pd.Series, at_days) -> list[int]:
    """Patients still at risk (time >= t) at each time."""
    t = times.to_numpy(float)
    return [int((t >= d).sum()) for d in at_days]


def logrank(times: pd.Series, events: pd.Series, groups: pd.Series) -> float:
    """Log-rank test p-value across groups (multivariate when more than two)."""
    if groups.nunique() < 2:
        return float("nan")
    return float(multivariate_logrank_test(times.astype(float), groups, events.astype(int)).p_value)


def survival_estimates(tte: pd.DataFrame, endpoint: str, strata: pd.Series | None = None, overall: bool = True,
                       overall_label: str = "All patients") -> list[KMEstimate]:
    """Kaplan-Meier of one endpoint: overall (when asked) and per stratum (`strata`: subject_id -> level, e.g. the
    dose level; levels ordered low to high). The Survival page and km_summary.csv both come from here."""
    data = tte[tte["endpoint"] == endpoint]
    estimates = []
    if overall and len(data):
        estimates.append(kaplan_meier(data["time_days"], data["event"], overall_label))
    if strata is not None:
        labels = data["subject_id"].map(strata)
        for level in ordered_dose_levels(labels.dropna()):
            group = data[labels == level]
            estimates.append(kaplan_meier(group["time_days"], group["event"], str(level)))
    return estimates


def km_summary(tte: pd.DataFrame, strata: pd.Series | None = None) -> pd.DataFrame:
    """Per endpoint (and stratum): n, events, median with CI, landmark rates with CIs (the km_summary.csv)."""
    rows = []
    for endpoint in ENDPOINTS:
        for km in survival_estimates(tte, endpoint, strata, overall_label="All"):
            row = {"endpoint": endpoint, "stratum": km.label, "n": km.n, "events": km.events,
                   "median_days": km.median_days, "median_ci_lower": km.median_ci[0],
                   "median_ci_upper": km.median_ci[1]}
            for lm in km.landmarks.itertuples():
                row[f"rate_{lm.months}m"] = lm.survival
                row[f"rate_{lm.months}m_ci_lower"] = lm.ci_lower
                row[f"rate_{lm.months}m_ci_upper"] = lm.ci_upper
            rows.append(row)
    return pd.DataFrame(rows)
