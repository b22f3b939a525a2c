"""Cohort kinetics: plotted levels, nominal visit days, summaries by day and by group, group comparisons."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.groups import ordered_dose_levels
from analysis.nca.parameters import parameter
from analysis.responses import RESPONSE_GROUPS
from analysis.subgroups import study_covariates

#: The one rule for BLQ samples in figures and their summaries (patient panels, cohort lines, medians and
#: geometric means by day): the sample is drawn, and summarised, at half its LLOQ (0 where the LLOQ is
#: unknown). Footnotes quote this sentence.
BLQ_LEVEL_RULE = "BLQ samples drawn and summarised at LLOQ/2"


def plotted_level(measurements: pd.DataFrame) -> pd.Series:
    """The level a figure draws and the by-day summaries use: the value, or LLOQ/2 for a BLQ sample."""
    return measurements["value"].where(~measurements["blq"].astype(bool), measurements["lloq"].fillna(0) / 2)


def nominal_days(days: np.ndarray) -> np.ndarray:
    """Map actual sampling days to nominal visit days.

    Visits are found as the most-sampled days, most frequent first; each claims the less-sampled days
    (at most half as many samples: off-schedule visits) within ±max(1, 10 % of the day) days, while
    equally sampled neighbours (daily visits) stay visits of their own. Every sample then goes to the
    nearest visit (ties to the earlier).
    """
    days = np.asarray(days, dtype=float)
    if not len(days):
        return days
    rounded = np.round(days)
    values, counts = np.unique(rounded, return_counts=True)
    taken = np.zeros(len(values), dtype=bool)
    anchors = []
    for i in np.lexsort((values, -counts)):
        if taken[i]:
            continue
        anchor = values[i]
        anchors.append(anchor)
        window = max(1.0, round(0.1 * abs(anchor)))
        taken |= (np.abs(values - anchor) <= window) & (counts <= 0.5 * counts[i])
        taken[i] = True
    anchors = np.sort(np.array(anchors))
    position = np.clip(np.searchsorted(anchors, days), 1, max(len(anchors) - 1, 1))
    if len(anchors) == 1:
        return np.full(len(days), anchors[0])
    left, right = anchors[position - 1], anchors[position]
    return np.where(days - left <= right - days, left, right)


def summary_by_day(frame: pd.DataFrame, statistic: str = "median", by: str | None = None,
                   min_n: int = 3) -> pd.DataFrame:
    """Centre and spread of `level` per nominal day (and group): median with IQR, or geometric mean with
    the 90 % interval (5th-95th percentiles). Days with fewer than `min_n` patients are left out."""
    if statistic not in ("median", "geomean"):
        raise ValueError(f"statistic '{statistic}' is not 'median' or 'geomean'")
    keys = ["nominal_day"] if by is None else [by, "nominal_day"]
    grouped = frame.groupby(keys, observed=True)["level"]
    # grouped (vectorised) reductions: a Python function per group is most of a cohort-page update
    if statistic == "median":
        centre, (low, high) = grouped.median(), (0.25, 0.75)
    else:
        level = frame["level"].astype(float)
        logs = np.log(level.where(np.isfinite(level) & (level > 0)))  # as geometric_mean: positive values only
        centre, (low, high) = np.exp(logs.groupby([frame[k] for k in keys], observed=True).mean()), (0.05, 0.95)
    out = pd.DataFrame({"n": grouped.size(), "centre": centre, "lower": grouped.quantile(low),
                        "upper": grouped.quantile(high)})
    return out[out["n"] >= min_n].reset_index()


def geometric_mean(values) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return float(np.exp(np.mean(np.log(v)))) if len(v) else float("nan")


def geometric_cv(values) -> float:
    """Geometric CV % = 100·sqrt(exp(s²) − 1), s = SD of the logs."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if len(v) < 2:
        return float("nan")
    return float(100 * np.sqrt(np.expm1(np.var(np.log(v), ddof=1))))


def describe(values) -> dict:
    """n, how many are 0, median, range, and the geometric mean and CV % of the positive values (a 0, e.g. the
    Cmax of an all-BLQ profile, has no logarithm: it is counted in n and n_zero, not in the geometric ones)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    return {"n": len(v), "n_zero": int((v == 0).sum()), "median": float(np.median(v)) if len(v) else np.nan,
            "min": float(v.min()) if len(v) else np.nan, "max": float(v.max()) if len(v) else np.nan,
            "geometric_mean": geometric_mean(v), "geometric_cv_pct": geometric_cv(v)}


#: Parameters whose geometric mean and CV mean something: levels, AUCs and ratios (always above 0 when defined).
GEOMETRIC_UNIT_KINDS = ("conc", "auc", "ratio")


def group_summary(frame: pd.DataFrame, value_columns: list[str], by: str | None,
                  order: list[str] | None = None) -> pd.DataFrame:
    """`describe()` of each parameter per group (or overall), groups in `order` when given."""
    rows = []
    groups = [("All patients", frame)] if by is None else list(frame.groupby(by, observed=True, sort=False))
    if order is not None and by is not None:
        rank = {g: i for i, g in enumerate(order)}
        groups.sort(key=lambda item: rank.get(item[0], len(rank)))
    for name, group in groups:
        for column in value_columns:
            row = {"group": str(name), "parameter": column, **describe(group[column])}
            if parameter(column).unit_kind not in GEOMETRIC_UNIT_KINDS:  # days, % reduction: may be 0 or below
                row.update(geometric_mean=np.nan, geometric_cv_pct=np.nan)
            rows.append(row)
    return pd.DataFrame(rows, columns=["group", "parameter", "n", "n_zero", "median", "min", "max", "geometric_mean",
                                       "geometric_cv_pct"])


def compare_groups(values: pd.Series, groups: pd.Series) -> tuple[str, float]:
    """Mann-Whitney U for two groups, Kruskal-Wallis for more (two-sided); ('', nan) if not testable."""
    samples = [v.dropna().to_numpy(float) for _, v in values.groupby(groups, observed=True)]
    samples = [s for s in samples if len(s)]
    if len(samples) < 2 or all(len(np.unique(s)) == 1 and s[0] == samples[0][0] for s in samples):
        return "", float("nan")
    if len(samples) == 2:
        return "Mann-Whitney U", float(stats.mannwhitneyu(*samples, alternative="two-sided").pvalue)
    return "Kruskal-Wallis", float(stats.kruskal(*samples).pvalue)


def spearman(x: pd.Series, y: pd.Series) -> tuple[float, float, int]:
    """Spearman rank correlation of paired values: rho, two-sided p, n pairs."""
    both = pd.DataFrame({"x": x, "y": y}).dropna()
    if len(both) < 3:
        return float("nan"), float("nan"), len(both)
    result = stats.spearmanr(both["x"], both["y"])
    return float(result.statistic), float(result.pvalue), len(both)


def cohort_samples(measurements: pd.DataFrame, analyte: str, specimen: str) -> pd.DataFrame:
    """The selected analyte/specimen's samples with their plotted level (BLQ_LEVEL_RULE) and nominal day."""
    rows = measurements[(measurements["analyte"] == analyte) & (measurements["specimen"] == specimen)]
    out = rows[["subject_id", "day", "blq"]].copy()
    out["level"] = plotted_level(rows)
    out["nominal_day"] = nominal_days(rows["day"].to_numpy())
    return out.reset_index(drop=True)


def cohort_summary(samples: pd.DataFrame, statistic: str, group_column: str | None) -> pd.DataFrame:
    """Summary by nominal day (and group) of the plotted levels: the lines and the summary follow one rule."""
    if group_column is None:
        return summary_by_day(samples, statistic)
    return summary_by_day(samples, statistic, by=group_column).rename(columns={group_column: "group"})


def paired_flow_qpcr(measurements: pd.DataFrame, specimen: str = "PB") -> pd.DataFrame:
    """Same-day pairs of quantified CAR+ % (flow) and transgene copies (qPCR) after Day 0."""
    m = measurements[(measurements["specimen"] == specimen) & ~measurements["blq"] & (measurements["day"] > 0)
                     & measurements["analyte"].isin(["car_t_pct", "car_copies"])]
    wide = m.pivot_table(index=["subject_id", "day"], columns="analyte", values="value", aggfunc="first")
    return wide.dropna().reset_index() if {"car_t_pct", "car_copies"} <= set(wide.columns) else \
        pd.DataFrame(columns=["subject_id", "day", "car_copies", "car_t_pct"])


# ---- groups ----------------------------------------------------------------------------------------------------

#: How the cohort can be split, and the labels of the worst-CRS groups (grade 3 and above together).
GROUPINGS = {"none": "All patients", "dose_level": "Dose level", "response_group": "Best response",
             "crs_group": "Worst CRS grade"}
CRS_GROUPS = {0: "No CRS", 1: "CRS grade 1", 2: "CRS grade 2", 3: "CRS grade ≥3"}
ALL_PATIENTS = "All patients"


#: A grouping by a covariate of the study's subjects is named COVARIATE_PREFIX + the column.
COVARIATE_PREFIX = "cov:"


def study_groupings(patients: pd.DataFrame) -> dict[str, str]:
    """The groupings a study offers: GROUPINGS, then each covariate of its subjects that makes groups (the known ones
    with their cut points, any other categorical column with 2 to 8 values: analysis.subgroups.study_covariates)."""
    found, _ = study_covariates(patients)
    return {**GROUPINGS, **{COVARIATE_PREFIX + c.column: c.label for c in found if c.column != "dose_level"}}


def grouping_values(patients: pd.DataFrame, grouping: str) -> tuple[pd.Series, list[str]]:
    """Each patient's group (indexed like `patients`) and the groups in display order, for any grouping of
    `study_groupings` ('none': everyone in ALL_PATIENTS)."""
    if grouping == "none":
        return pd.Series(ALL_PATIENTS, index=patients.index), [ALL_PATIENTS]
    if grouping == "crs_group":
        values = crs_group(patients["worst_crs_grade"])
    elif grouping.startswith(COVARIATE_PREFIX):
        column = grouping[len(COVARIATE_PREFIX):]
        covariate = next((c for c in study_covariates(patients)[0] if c.column == column), None)
        if covariate is None:
            raise KeyError(grouping)
        values = covariate.levels(patients[column])
        return values, covariate.order(sorted(set(values.dropna())))
    else:
        values = patients[grouping]
    return values, group_order(grouping, values)


def crs_group(worst_grade: pd.Series) -> pd.Series:
    """Worst CRS grade (0-5) -> 'No CRS', 'CRS grade 1', 'CRS grade 2', 'CRS grade ≥3'."""
    return worst_grade.clip(upper=3).map(CRS_GROUPS)


def group_order(grouping: str, values) -> list[str]:
    """Groups in their natural order: dose low to high, best response first, CRS none to severe."""
    present = set(pd.Series(values).dropna())
    if grouping == "dose_level":
        return ordered_dose_levels(present)
    if grouping == "response_group":
        return [g for g in RESPONSE_GROUPS if g in present]
    if grouping == "crs_group":
        return [g for g in CRS_GROUPS.values() if g in present]
    return [ALL_PATIENTS]


@dataclass
class GroupValues:
    """One parameter's values by group with the test across groups: what a box panel and its table show.

    Every patient with a value is counted and drawn, a 0 (all BLQ) too."""

    label: str                           # the parameter with its unit, e.g. 'Cmax (copies/µg gDNA)'
    groups: list[str]                    # in display order, only groups with at least one value
    values: dict[str, np.ndarray]
    subjects: dict[str, list[str]]
    test: str                            # 'Mann-Whitney U', 'Kruskal-Wallis' or '' (not testable)
    p_value: float

    def n(self, group: str) -> int:
        return len(self.values[group])

    def n_zero(self, group: str) -> int:
        return int((self.values[group] == 0).sum())

    @property
    def test_text(self) -> str:
        if not self.test or self.p_value != self.p_value:
            return "too few patients for a test"
        p = self.p_value  # no-break spaces: the statistic never breaks across lines
        return f"{self.test} p\u00a0=\u00a0{p:.2g}" if p >= 0.001 else f"{self.test} p\u00a0<\u00a00.001"


def group_values(frame: pd.DataFrame, column: str, group_column: str, order: list[str], label: str) -> GroupValues:
    """`column` of `frame` by `group_column` (rows without a value or group left out) with its test."""
    rows = frame[["subject_id", column, group_column]].dropna()
    by_group = {g: part for g, part in rows.groupby(group_column, sort=False, observed=True)}
    values, subjects = {}, {}
    for group in order:
        if group in by_group:
            values[group] = by_group[group][column].to_numpy(dtype=float)
            subjects[group] = by_group[group]["subject_id"].astype(str).tolist()
    test, p = compare_groups(rows[column], rows[group_column])
    return GroupValues(label, list(values), values, subjects, test, p)


def group_values_table(panels: dict[str, list[GroupValues]]) -> pd.DataFrame:
    """One row per figure, parameter and group: n, n at 0, median, range, geometric mean/CV of values > 0, test."""
    rows = []
    for figure, figure_panels in panels.items():
        for panel in figure_panels:
            for group in panel.groups:
                rows.append({"figure": figure, "parameter": panel.label, "group": group,
                             **describe(panel.values[group]), "test": panel.test_text})
    return pd.DataFrame(rows, columns=["figure", "parameter", "group", "n", "n_zero", "median", "min", "max",
                                       "geometric_mean", "geometric_cv_pct", "test"])
