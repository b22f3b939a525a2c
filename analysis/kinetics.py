"""Cohort kinetics: plotting levels, nominal visit days, summaries by day and by group, group comparisons."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def display_level(measurements: pd.DataFrame) -> pd.Series:
    """What a plot shows: the value, or the LLOQ for a BLQ sample (drawn hollow)."""
    return measurements["value"].where(~measurements["blq"], measurements["lloq"])


def summary_level(measurements: pd.DataFrame) -> pd.Series:
    """What summary statistics use: the value, or LLOQ/2 for a BLQ sample (0 if the LLOQ is unknown)."""
    return measurements["value"].where(~measurements["blq"], measurements["lloq"].fillna(0) / 2)


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


def group_summary(frame: pd.DataFrame, value_columns: list[str], by: str | None) -> pd.DataFrame:
    """n, median, range, geometric mean and geometric CV % of each parameter, per group (or overall)."""
    rows = []
    groups = [("All patients", frame)] if by is None else list(frame.groupby(by, observed=True, sort=False))
    for name, group in groups:
        for column in value_columns:
            v = group[column].dropna().to_numpy(dtype=float)
            rows.append({"group": str(name), "parameter": column, "n": len(v),
                         "median": float(np.median(v)) if len(v) else np.nan,
                         "min": float(v.min()) if len(v) else np.nan, "max": float(v.max()) if len(v) else np.nan,
                         "geometric_mean": geometric_mean(v), "geometric_cv_pct": geometric_cv(v)})
    return pd.DataFrame(rows)


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
    """The selected analyte/specimen's samples with plot level, summary level and nominal day."""
    rows = measurements[(measurements["analyte"] == analyte) & (measurements["specimen"] == specimen)]
    out = rows[["subject_id", "day", "blq"]].copy()
    out["level"] = display_level(rows)
    out["summary_level"] = summary_level(rows)
    out["nominal_day"] = nominal_days(rows["day"].to_numpy())
    return out.reset_index(drop=True)


def cohort_summary(samples: pd.DataFrame, statistic: str, group_column: str | None) -> pd.DataFrame:
    """Summary by nominal day (and group) on the summary level (BLQ = LLOQ/2)."""
    frame = samples.assign(level=samples["summary_level"])
    if group_column is None:
        return summary_by_day(frame, statistic)
    return summary_by_day(frame, statistic, by=group_column).rename(columns={group_column: "group"})


def paired_flow_qpcr(measurements: pd.DataFrame, specimen: str = "PB") -> pd.DataFrame:
    """Same-day pairs of quantified CAR+ % (flow) and transgene copies (qPCR) after Day 0."""
    m = measurements[(measurements["specimen"] == specimen) & ~measurements["blq"] & (measurements["day"] > 0)
                     & measurements["analyte"].isin(["car_t_pct", "car_copies"])]
    wide = m.pivot_table(index=["subject_id", "day"], columns="analyte", values="value", aggfunc="first")
    return wide.dropna().reset_index() if {"car_t_pct", "car_copies"} <= set(wide.columns) else \
        pd.DataFrame(columns=["subject_id", "day", "car_copies", "car_t_pct"])
