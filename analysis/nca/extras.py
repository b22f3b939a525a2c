"""Analyte-specific parameters: IL-6 baseline, peak and fold-change; marrow plasma-cell baseline, nadir, reduction.

Baseline = the last sample on or before Day 0; a BLQ baseline is taken at its LLOQ (noted). Peak
and nadir use samples after Day 0; a BLQ sample counts as 0 for the nadir and not at all for the peak.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.nca.segments import Groups, take


@dataclass
class Extras:
    baseline: np.ndarray
    baseline_blq: np.ndarray
    peak: np.ndarray
    peak_day: np.ndarray
    peak_fold_change: np.ndarray
    nadir: np.ndarray
    nadir_day: np.ndarray
    nadir_percent_reduction: np.ndarray


def baseline(value: np.ndarray, blq: np.ndarray, lloq: np.ndarray) -> np.ndarray:
    """Baseline value per profile; a BLQ baseline is taken at its LLOQ (blank if unknown)."""
    return np.where(blq, lloq, value)


def peak(groups: Groups, day: np.ndarray, value: np.ndarray, usable: np.ndarray):
    """Highest quantifiable value after Day 0 and its first day."""
    post = usable & (day > 0)
    top = groups.max(np.where(post, value, -np.inf), fill=-np.inf)
    row = groups.first_where(post & (value == top[groups.pid]))
    return take(value, row), take(day, row)


def nadir(groups: Groups, day: np.ndarray, value: np.ndarray, blq: np.ndarray, structural: np.ndarray):
    """Lowest value after Day 0 (BLQ as 0) and its first day."""
    post = (day > 0) & ~structural
    level = np.where(blq, 0.0, value)
    low = groups.min(np.where(post, level, np.inf), fill=np.inf)
    row = groups.first_where(post & (level == low[groups.pid]))
    return take(level, row), take(day, row)


def extras(groups: Groups, kind: np.ndarray, day, value, blq, structural, baseline_value, baseline_blq,
           baseline_lloq) -> Extras:
    n = groups.n_profiles
    base = baseline(baseline_value, baseline_blq, baseline_lloq)
    is_biomarker = kind == "biomarker"       # baseline, peak, fold change
    is_burden = kind == "tumour_burden"    # baseline, nadir, reduction
    blank = np.full(n, np.nan)
    top, top_day = peak(groups, day, value, ~blq & ~structural & ~np.isnan(value))
    low, low_day = nadir(groups, day, value, blq, structural)
    with np.errstate(divide="ignore", invalid="ignore"):
        fold = np.where(base > 0, top / base, np.nan)
        reduction = np.where(base > 0, 100 * (base - low) / base, np.nan)
    keep = is_biomarker | is_burden
    return Extras(
        baseline=np.where(keep, base, blank), baseline_blq=keep & baseline_blq,
        peak=np.where(is_biomarker, top, blank), peak_day=np.where(is_biomarker, top_day, blank),
        peak_fold_change=np.where(is_biomarker, fold, blank),
        nadir=np.where(is_burden, low, blank), nadir_day=np.where(is_burden, low_day, blank),
        nadir_percent_reduction=np.where(is_burden, reduction, blank),
    )
