"""Segments between consecutive samples: how each is integrated and how a value inside it is interpolated.

With `linuplogdown` a segment is logarithmic when the concentration falls and both ends are above
0 (PKNCA's choose_interval_method); otherwise, and always with `linear`, it is linear. A point
inside a segment is interpolated with the segment's own method, so partial AUCs add up exactly.
"""
from __future__ import annotations

import numpy as np


def log_segments(c1: np.ndarray, c2: np.ndarray, auc_method: str) -> np.ndarray:
    """True where the segment (c1 -> c2) is integrated and interpolated on the log scale."""
    if auc_method == "linear":
        return np.zeros(len(c1), dtype=bool)
    return (c2 < c1) & (c2 > 0)


def interpolate(c1, c2, t1, t2, t, is_log):
    """Concentration at t inside [t1, t2]: linear, or log-linear on a log segment."""
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(t2 > t1, (t - t1) / (t2 - t1), 0.0)
        linear = c1 + fraction * (c2 - c1)
        logarithmic = c1 * np.power(np.where(is_log, c2 / c1, 1.0), fraction)
    return np.where(is_log, logarithmic, linear)


def segment_area(c1, c2, t1, t2, is_log):
    """Area of each segment: linear trapezoid, or (t2-t1)(c1-c2)/ln(c1/c2) on a log segment."""
    dt = t2 - t1
    with np.errstate(divide="ignore", invalid="ignore"):
        logarithmic = dt * (c1 - c2) / np.log(c1 / c2)
    area = np.where(is_log, logarithmic, dt * (c1 + c2) / 2)
    return np.where(dt > 0, area, 0.0)
