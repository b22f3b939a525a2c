"""Study-level summary for the Overview page: who was infused, at what dose, for how long, what was sampled."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.groups import ordered_dose_levels
from analysis.survival import kaplan_meier
from data_access.catalogue import DEFAULT, SPECIMENS, Catalogue

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class FollowUp:
    """Median follow-up by the reverse Kaplan-Meier method (deaths censored), in days, with its 95% CI."""

    median_days: float
    ci_lower_days: float
    ci_upper_days: float
    min_days: float
    max_days: float


def median_follow_up(subjects: pd.DataFrame) -> FollowUp:
    """Reverse Kaplan-Meier: 'event' = still in follow-up at last contact, deaths censored (Schemper & Smith 1996);
    the same estimator and median rule as the survival endpoints."""
    time = subjects["death_day"].fillna(subjects["last_contact_day"]).astype(float)
    alive = subjects["death_day"].isna()
    if not alive.any():
        return FollowUp(float("nan"), float("nan"), float("nan"), float(time.min()), float(time.max()))
    km = kaplan_meier(time, alive.astype(int))
    return FollowUp(km.median_days, *km.median_ci, float(time.min()), float(time.max()))


def dose_level_counts(subjects: pd.DataFrame) -> pd.DataFrame:
    """Patients per dose level, low to high, with percentages of all infused."""
    counts = subjects["dose_level"].value_counts()
    ordered = ordered_dose_levels(counts.index)
    frame = pd.DataFrame({"dose_level": ordered, "n": [int(counts[d]) for d in ordered]})
    frame["percent"] = 100 * frame["n"] / frame["n"].sum()
    return frame


def sample_counts(measurements: pd.DataFrame, catalogue: Catalogue = DEFAULT) -> pd.DataFrame:
    """Samples per analyte and specimen in catalogue order: label and method, count, patients, BLQ count and the
    day range covered."""
    if measurements.empty:
        return pd.DataFrame(columns=["analyte", "label", "method", "specimen", "unit", "samples", "patients", "blq",
                                     "first_day", "last_day"])
    grouped = measurements.groupby(["analyte", "specimen"], sort=False)
    counts = grouped.agg(
        unit=("unit", "first"), samples=("day", "size"), patients=("subject_id", "nunique"),
        blq=("blq", "sum"), first_day=("day", "min"), last_day=("day", "max"),
    ).reset_index()
    analytes = catalogue.order(counts["analyte"])
    specimens = list(SPECIMENS)
    order = counts["analyte"].map(analytes.index) * 100 + counts["specimen"].map(
        lambda s: specimens.index(s) if s in specimens else len(specimens))
    counts.insert(1, "label", counts["analyte"].map(catalogue.label))
    counts.insert(2, "method", counts["analyte"].map(lambda a: catalogue[a].method if a in catalogue else ""))
    return counts.iloc[order.argsort(kind="stable")].reset_index(drop=True)


@dataclass(frozen=True)
class StudySummary:
    n_infused: int
    n_deaths: int
    data_cutoff_day: float
    follow_up: FollowUp
    doses: pd.DataFrame
    samples: pd.DataFrame
    n_adverse_events: int
    n_response_assessments: int


def summarise_study(subjects: pd.DataFrame, measurements: pd.DataFrame, adverse_events: pd.DataFrame,
                    responses: pd.DataFrame, catalogue: Catalogue = DEFAULT) -> StudySummary:
    """Everything the Overview page states about a study."""
    return StudySummary(
        n_infused=int(len(subjects)),
        n_deaths=int(subjects["death_day"].notna().sum()),
        data_cutoff_day=float(subjects["last_contact_day"].max()),
        follow_up=median_follow_up(subjects),
        doses=dose_level_counts(subjects),
        samples=sample_counts(measurements, catalogue),
        n_adverse_events=int(len(adverse_events)),
        n_response_assessments=int(len(responses)),
    )
