"""Terminal (contraction/persistence) phase: lambda-z by PKNCA's automatic point selection.

Candidates are the last 3, 4, ... positive concentrations after Tmax (Tmax itself excluded by
default). Each is a least-squares line through ln(concentration) against day. Among candidates with
lambda-z > 0 and an adjusted R^2 within `adj_r2_factor` of the best adjusted R^2 of all candidates,
the one with the most points wins (PKNCA's pk.calc.half.life).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.nca.segments import Groups, take


@dataclass
class HalfLife:
    lambda_z: np.ndarray
    half_life: np.ndarray
    r2: np.ndarray
    r2_adj: np.ndarray
    n_points: np.ndarray
    start: np.ndarray
    end: np.ndarray
    too_few_points: np.ndarray     # fewer than min_hl_points positive values after Tmax
    no_decline: np.ndarray         # enough points but no fit with lambda-z > 0


def half_life(groups: Groups, day: np.ndarray, conc: np.ndarray, tmax_: np.ndarray, min_points: int,
              adj_r2_factor: float, allow_tmax: bool) -> HalfLife:
    n_profiles = groups.n_profiles
    tmax_row = tmax_[groups.pid]
    with np.errstate(invalid="ignore"):
        after = (day >= tmax_row) if allow_tmax else (day > tmax_row)
    terminal = (conc > 0) & after
    rows = np.flatnonzero(terminal)
    sub = Groups(groups.pid[rows], n_profiles)
    x_all, y_all = day[rows], np.log(conc[rows])
    # Centre on each profile's last point so the running sums stay small and exact enough.
    x = x_all - x_all[sub.ends][np.repeat(np.arange(len(sub.starts)), sub.ends - sub.starts + 1)] if len(rows) \
        else x_all
    y = y_all - y_all[sub.ends][np.repeat(np.arange(len(sub.starts)), sub.ends - sub.starts + 1)] if len(rows) \
        else y_all
    n = sub.reverse_cumsum(np.ones(len(rows))) if len(rows) else np.zeros(0)
    sx, sy = sub.reverse_cumsum(x), sub.reverse_cumsum(y)
    sxx, sxy, syy = sub.reverse_cumsum(x * x), sub.reverse_cumsum(x * y), sub.reverse_cumsum(y * y)
    with np.errstate(divide="ignore", invalid="ignore"):
        sxx_c, sxy_c, syy_c = sxx - sx * sx / n, sxy - sx * sy / n, syy - sy * sy / n
        slope = sxy_c / sxx_c
        r2 = np.where(syy_c > 0, 1 - (syy_c - slope * sxy_c) / syy_c, np.nan)
        adj = 1 - (1 - r2) * (n - 1) / (n - 2)
    candidate = n >= min_points
    best_adj = sub.max(np.where(candidate & np.isfinite(adj), adj, -np.inf), fill=-np.inf)
    qualifies = candidate & (-slope > 0) & (adj > best_adj[sub.pid] - adj_r2_factor)
    most_points = sub.max(np.where(qualifies, n, -1.0), fill=-1.0)
    chosen = qualifies & (n == most_points[sub.pid])
    chosen_row = sub.first_where(chosen)          # in `rows` coordinates: the window's first point
    n_terminal = sub.count
    fit = _exact_fit(x_all, y_all, sub, chosen_row)
    too_few = (n_terminal < min_points) & ~np.isnan(tmax_)
    no_decline = (n_terminal >= min_points) & (chosen_row < 0)
    return HalfLife(lambda_z=fit[0], half_life=np.log(2) / fit[0], r2=fit[1], r2_adj=fit[2],
                    n_points=fit[3], start=take(x_all, chosen_row), end=take(x_all, sub.last_row),
                    too_few_points=too_few, no_decline=no_decline)


def _exact_fit(x: np.ndarray, y: np.ndarray, sub: Groups, first: np.ndarray):
    """Refit the chosen windows with two-pass (mean-centred) sums for full precision."""
    n_profiles = sub.n_profiles
    chosen = np.flatnonzero(first >= 0)
    lambda_z = np.full(n_profiles, np.nan)
    r2 = np.full(n_profiles, np.nan)
    r2_adj = np.full(n_profiles, np.nan)
    n_points = np.full(n_profiles, np.nan)
    if not len(chosen):
        return lambda_z, r2, r2_adj, n_points
    lo, hi = first[chosen], sub.last_row[chosen]
    counts = hi - lo + 1
    window = np.repeat(np.arange(len(chosen)), counts)
    idx = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(lo, counts)
    wx, wy = x[idx], y[idx]
    starts = np.cumsum(counts) - counts
    mx = np.add.reduceat(wx, starts) / counts
    my = np.add.reduceat(wy, starts) / counts
    dx, dy = wx - mx[window], wy - my[window]
    sxx = np.add.reduceat(dx * dx, starts)
    sxy = np.add.reduceat(dx * dy, starts)
    syy = np.add.reduceat(dy * dy, starts)
    slope = sxy / sxx
    residual = np.add.reduceat((dy - slope[window] * dx) ** 2, starts)
    fit_r2 = 1 - residual / syy
    lambda_z[chosen] = -slope
    r2[chosen] = fit_r2
    r2_adj[chosen] = 1 - (1 - fit_r2) * (counts - 1) / (counts - 2)
    n_points[chosen] = counts
    return lambda_z, r2, r2_adj, n_points
