"""Grouped reductions over long arrays sorted by profile: the vectorised core every NCA step uses.

`pid` holds each row's profile number (0..n_profiles-1), non-decreasing. Profiles with no rows
get the `fill` value.
"""
from __future__ import annotations

import numpy as np


class Groups:
    """Row ranges of each profile in arrays sorted by profile."""

    def __init__(self, pid: np.ndarray, n_profiles: int):
        self.pid = pid
        self.n_profiles = n_profiles
        self.n_rows = len(pid)
        if self.n_rows:
            starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
        else:
            starts = np.zeros(0, dtype=np.int64)
        self.starts = starts
        self.present = pid[starts] if self.n_rows else np.zeros(0, dtype=np.int64)
        self.ends = np.r_[starts[1:], self.n_rows] - 1 if self.n_rows else starts  # last row of each group
        self.count = np.zeros(n_profiles, dtype=np.int64)
        self.count[self.present] = self.ends - self.starts + 1
        self.first_row = np.full(n_profiles, -1, dtype=np.int64)
        self.first_row[self.present] = starts
        self.last_row = np.full(n_profiles, -1, dtype=np.int64)
        self.last_row[self.present] = self.ends

    def _scatter(self, reduced: np.ndarray, fill, dtype=None) -> np.ndarray:
        out = np.full(self.n_profiles, fill, dtype=dtype or reduced.dtype if len(reduced) else float)
        out[self.present] = reduced
        return out

    def max(self, values: np.ndarray, fill=np.nan) -> np.ndarray:
        if not self.n_rows:
            return np.full(self.n_profiles, fill, dtype=float)
        return self._scatter(np.maximum.reduceat(values, self.starts), fill)

    def min(self, values: np.ndarray, fill=np.nan) -> np.ndarray:
        if not self.n_rows:
            return np.full(self.n_profiles, fill, dtype=float)
        return self._scatter(np.minimum.reduceat(values, self.starts), fill)

    def sum(self, values: np.ndarray) -> np.ndarray:
        if not self.n_rows:
            return np.zeros(self.n_profiles, dtype=float)
        return self._scatter(np.add.reduceat(values, self.starts), 0.0)

    def any(self, mask: np.ndarray) -> np.ndarray:
        return self.sum(mask.astype(np.int64)) > 0

    def first_where(self, mask: np.ndarray) -> np.ndarray:
        """Row index of the first row of each profile where mask holds, or -1."""
        if not self.n_rows:
            return np.full(self.n_profiles, -1, dtype=np.int64)
        big = np.iinfo(np.int64).max
        first = self.min(np.where(mask, np.arange(self.n_rows), big), fill=big).astype(np.int64)
        first[first == big] = -1
        return first

    def last_where(self, mask: np.ndarray) -> np.ndarray:
        """Row index of the last row of each profile where mask holds, or -1."""
        if not self.n_rows:
            return np.full(self.n_profiles, -1, dtype=np.int64)
        return self.max(np.where(mask, np.arange(self.n_rows), -1), fill=-1).astype(np.int64)

    def cumsum(self, values: np.ndarray) -> np.ndarray:
        """Running sum within each profile, starting at the profile's first row.

        The running total is reset at each profile's first row (by subtracting the previous profile's
        sum there), so rounding stays relative to one profile's values, not to the whole table's.
        """
        if not self.n_rows:
            return np.zeros(0)
        values = np.asarray(values, dtype=float)
        adjusted = values.copy()
        group_sums = np.add.reduceat(values, self.starts)
        adjusted[self.starts[1:]] -= group_sums[:-1]
        running = np.cumsum(adjusted)
        # cumsum's own rounding of the previous profile's total can leave a few ulps; remove them exactly.
        carry = np.r_[0.0, running[self.ends[:-1]]]
        offset = carry - np.r_[0.0, group_sums[:-1]]
        return running - np.repeat(offset, self.ends - self.starts + 1)

    def reverse_cumsum(self, values: np.ndarray) -> np.ndarray:
        """Sum from each row to the end of its profile."""
        forward = self.cumsum(values)
        group_total = forward[self.ends]
        return np.repeat(group_total, self.ends - self.starts + 1) - forward + values


def take(per_profile: np.ndarray, index: np.ndarray, fill=np.nan) -> np.ndarray:
    """per_profile[index] where index >= 0, else fill (for row indices returned as -1)."""
    out = np.full(index.shape, fill, dtype=np.result_type(per_profile, type(fill)))
    ok = index >= 0
    out[ok] = per_profile[index[ok]]
    return out
