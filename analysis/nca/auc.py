"""AUClast, AUCall, partial AUCs over day intervals, AUCinf,obs and % extrapolated (PKNCA conventions)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.nca.interpolate import interpolate, log_segments, segment_area
from analysis.nca.segments import Groups, take


@dataclass
class Curve:
    """The concentration-time curve of every profile: its rows and the segments between them."""

    groups: Groups
    day: np.ndarray
    conc: np.ndarray
    is_log: np.ndarray        # per row: the segment from this row to the next is logarithmic
    area: np.ndarray          # per row: area of the segment from this row to the next (0 on the last row)


def build_curve(groups: Groups, day: np.ndarray, conc: np.ndarray, auc_method: str) -> Curve:
    n = len(day)
    has_next = np.zeros(n, dtype=bool)
    if n > 1:
        has_next[:-1] = groups.pid[1:] == groups.pid[:-1]
    nxt = np.minimum(np.arange(n) + 1, n - 1) if n else np.zeros(0, dtype=np.int64)
    c2, t2 = conc[nxt], day[nxt]
    is_log = has_next & log_segments(conc, c2, auc_method)
    area = np.where(has_next, segment_area(conc, c2, day, t2, is_log), 0.0)
    return Curve(groups, day, conc, is_log, area)


def _sum_rows_between(curve: Curve, first: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Per profile, the sum of segment areas of rows first..stop-1 (summed within the profile only)."""
    g = curve.groups
    rows = np.arange(g.n_rows)
    inside = (rows >= first[g.pid]) & (rows < stop[g.pid])
    return g.sum(np.where(inside, curve.area, 0.0))


def auclast(curve: Curve, last_row: np.ndarray) -> np.ndarray:
    """Area from the first sample to Tlast; 0 when nothing is quantifiable; blank with one sample."""
    g = curve.groups
    out = np.where(last_row >= 0, _sum_rows_between(curve, g.first_row, last_row), 0.0)
    return np.where(g.count > 1, out, np.nan)


def aucall(curve: Curve, last_row: np.ndarray, auclast_: np.ndarray) -> np.ndarray:
    """AUClast plus the linear segment from Tlast to the next sample (the decline to a trailing BLQ)."""
    g = curve.groups
    has_next = (last_row >= 0) & (last_row < g.last_row)
    here = np.where(has_next, last_row, 0)
    nxt = np.where(has_next, last_row + 1, 0)
    tail = (curve.day[nxt] - curve.day[here]) * (curve.conc[here] + curve.conc[nxt]) / 2 if g.n_rows else 0.0
    return auclast_ + np.where(has_next, tail, 0.0)


@dataclass
class PartialAUC:
    value: np.ndarray
    starts_before_first: np.ndarray   # blank: the interval starts before the first sample
    ends_after_last: np.ndarray       # area after the last (quantifiable) sample counted as 0
    needs_lambda_z: np.ndarray        # blank: extrapolation asked but no lambda-z


@dataclass
class _Position:
    """Where day x falls in each profile: row k (last sample on or before x) and the area from row k to x."""

    row: np.ndarray
    partial: np.ndarray
    before_first: np.ndarray
    past_tlast_end: np.ndarray        # x is after the last sample, and that sample is Tlast
    extrapolated: np.ndarray          # lambda-z area from Tlast to x (0 unless extrapolating)


def _position(curve: Curve, x: float, extrapolate: bool, tlast_: np.ndarray, clast_: np.ndarray,
              lambda_z: np.ndarray) -> _Position:
    g = curve.groups
    empty = g.count == 0
    first_day = take(curve.day, g.first_row)
    last_day = take(curve.day, g.last_row)
    before_first = ~empty & (x < first_day)
    ok = ~empty & ~before_first
    k = np.full(g.n_profiles, -1, dtype=np.int64)
    if ok.any():
        k[ok] = _last_at_or_before(curve.day, g.first_row[ok], g.last_row[ok], x)
    inside = ok & (k < g.last_row)
    kk = np.where(k >= 0, k, 0)
    nxt = np.where(inside, kk + 1, kk)
    xs = np.full(g.n_profiles, float(x))
    if g.n_rows:
        c1, c2, t1, t2 = curve.conc[kk], curve.conc[nxt], curve.day[kk], curve.day[nxt]
        log_seg = inside & curve.is_log[kk]
        cx = interpolate(c1, c2, t1, t2, xs, log_seg)
        partial = np.where(inside, segment_area(c1, cx, t1, xs, log_seg), 0.0)
    else:
        partial = np.zeros(g.n_profiles)
    past_tlast_end = ok & ~inside & (x > last_day) & (last_day == tlast_)
    extrapolated = np.zeros(g.n_profiles)
    if extrapolate:
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            extra = clast_ / lambda_z * -np.expm1(-lambda_z * (x - tlast_))
        extrapolated = np.where(past_tlast_end, extra, 0.0)
    return _Position(k, partial, before_first, past_tlast_end, extrapolated)


def _last_at_or_before(day: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: float) -> np.ndarray:
    """For each row range [lo, hi] (sorted days, day[lo] <= x), the last row with day <= x (binary search)."""
    lo, hi = lo.copy(), hi.copy()
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi + 1) // 2
        go_right = day[mid] <= x
        lo = np.where(active & go_right, mid, lo)
        hi = np.where(active & ~go_right, mid - 1, hi)


def partial_auc(curve: Curve, start: float, end: float, extrapolate: bool, tlast_: np.ndarray,
                clast_: np.ndarray, lambda_z: np.ndarray) -> PartialAUC:
    """AUC from `start` to `end` days: the curve between samples, interpolated at unsampled ends.

    = (segments from row k_start to row k_end) - (area from row k_start to start) + (area from row k_end
    to end), plus the lambda-z tail past Tlast when extrapolating.
    """
    s = _position(curve, start, extrapolate, tlast_, clast_, lambda_z)
    e = _position(curve, end, extrapolate, tlast_, clast_, lambda_z)
    body = _sum_rows_between(curve, s.row, e.row)
    value = body - s.partial + e.partial + e.extrapolated - s.extrapolated
    value = np.where(s.before_first | (curve.groups.count <= 1), np.nan, value)
    have_lz = np.isfinite(lambda_z) & (lambda_z > 0)
    needs_lz = extrapolate & (e.past_tlast_end | s.past_tlast_end) & ~have_lz & ~s.before_first
    value = np.where(needs_lz, np.nan, value)
    ends_after = (not extrapolate) & e.past_tlast_end & ~s.before_first
    return PartialAUC(value, s.before_first, ends_after, needs_lz)


def aucinf_obs(auclast_: np.ndarray, clast_: np.ndarray, lambda_z: np.ndarray, all_zero: np.ndarray) -> np.ndarray:
    """AUClast + Clast,obs / lambda-z; 0 when every concentration is 0 and there are two or more samples (PKNCA's
    pk.calc.auxc), whatever lambda-z is."""
    with np.errstate(divide="ignore", invalid="ignore"):
        extrapolated = np.where(lambda_z > 0, auclast_ + clast_ / lambda_z, np.nan)
    return np.where(all_zero & ~np.isnan(auclast_), 0.0, extrapolated)


def auc_pct_extrap(auclast_: np.ndarray, aucinf: np.ndarray) -> np.ndarray:
    """Share of AUCinf,obs that is extrapolated, in %; blank when AUCinf,obs is 0 (as PKNCA's pk.calc.aucpext)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(aucinf != 0, 100 * (1 - auclast_ / aucinf), np.nan)
