"""Population summary of the per-patient model fits: a two-stage analysis by group.

Stage one is the per-profile fits (analysis.ck.cohort). Stage two, per group and parameter, combines the
estimates on the log scale weighted by their precision, with the between-patient variance estimated by
DerSimonian and Laird's method of moments: w_i = 1 / (se_i² + τ²), typical value exp(Σ w_i y_i / Σ w_i) with a
95% interval from its standard error (Σ w_i)^-1/2, and the between-patient CV sqrt(exp(τ²) − 1). A patient's
standard error on the log scale is read off his 95% interval: (ln upper − ln lower) / (2 · 1.96).

Which fits count: expansion (Cmax, Tmax, ρ and what follows from them alone) from every fit that converged with
or without its persistence phase; contraction, persistence and the whole-curve quantities only from the fits that
support the whole model (a contraction-only fit's α absorbs the persistence it could not see). Fits at a bound
count for nothing. docs/ck-model.md says what this means for the groups.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.ck import model
from analysis.ck.cohort import CohortFit
from analysis.ck.fit import CONVERGED, NO_PERSISTENCE, Z95

#: Parameters that a fit without a persistence phase still estimates as the full model would.
EXPANSION = ("cmax", "tmax", "rho", "doubling_time", "fold_expansion")
SUMMARISED = ("cmax", "tmax", "rho", "alpha", "fb", "beta", "doubling_time", "contraction_half_life",
              "persistence_half_life", "auc_0_28_fit", "day_below_lloq")
GROUP_COLUMNS = ["group", "parameter", "n", "typical", "lower", "upper", "between_cv_pct", "median", "q1", "q3"]


def usable(parameters: pd.DataFrame, name: str) -> pd.Series:
    """Which profiles' estimates of `name` enter the population summary."""
    full = (parameters["status"] == CONVERGED) & (parameters["reason"].fillna("") == "")
    if name in EXPANSION:
        return full | ((parameters["status"] == NO_PERSISTENCE) & ~parameters["reason"].fillna("").str.contains(
            "not identified"))
    return full


def dersimonian_laird(y: np.ndarray, se: np.ndarray) -> tuple[float, float, float]:
    """(mean, its standard error, τ²) of estimates `y` with standard errors `se`: random-effects combination."""
    w = 1 / se ** 2
    k = len(y)
    if k == 1:
        return float(y[0]), float(se[0]), 0.0
    fixed = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - fixed) ** 2)
    tau2 = max(0.0, (q - (k - 1)) / (np.sum(w) - np.sum(w ** 2) / np.sum(w)))
    w_star = 1 / (se ** 2 + tau2)
    return float(np.sum(w_star * y) / np.sum(w_star)), float(np.sqrt(1 / np.sum(w_star))), float(tau2)


def two_stage(parameters: pd.DataFrame, groups: pd.Series, order: list[str] | None = None,
              names: tuple[str, ...] = SUMMARISED) -> pd.DataFrame:
    """One row per group and parameter: n, typical value with its 95% CI, between-patient CV (%), and the
    median and quartiles of the individual estimates. `groups` maps subject_id to group."""
    frame = parameters.assign(group=parameters["subject_id"].map(groups))
    order = order or sorted(frame["group"].dropna().unique(), key=str)
    rows = []
    for group in order:
        part = frame[frame["group"] == group]
        for name in names:
            chosen = part[usable(part, name)]
            value, low, high = (chosen[c].to_numpy(float) for c in (name, f"{name}_lower", f"{name}_upper"))
            ok = (value > 0) & (low > 0) & (high > low) & np.isfinite(high)
            if not ok.any():
                rows.append({"group": group, "parameter": name, "n": 0})
                continue
            y = np.log(value[ok])
            se = (np.log(high[ok]) - np.log(low[ok])) / (2 * Z95)
            mean, mean_se, tau2 = dersimonian_laird(y, se)
            rows.append({"group": group, "parameter": name, "n": int(ok.sum()), "typical": np.exp(mean),
                         "lower": np.exp(mean - Z95 * mean_se), "upper": np.exp(mean + Z95 * mean_se),
                         "between_cv_pct": 100 * np.sqrt(np.expm1(tau2)), "median": np.median(value[ok]),
                         "q1": np.quantile(value[ok], 0.25), "q3": np.quantile(value[ok], 0.75)})
    return pd.DataFrame(rows, columns=GROUP_COLUMNS)


@dataclass
class GroupCurve:
    group: str
    days: np.ndarray
    typical: np.ndarray          # the model at the group's typical parameters
    q1: np.ndarray               # interquartile range of the group's individual fitted curves
    q3: np.ndarray
    n_curves: int


def group_curves(cohort: CohortFit, summary: pd.DataFrame, groups: pd.Series, order: list[str],
                 days: np.ndarray) -> list[GroupCurve]:
    """Per group: the typical curve (the model at the typical values of Cmax, Tmax, ρ, α, FB and β; without a
    persistence phase when the group has no fit with one) and the interquartile band of its fitted curves."""
    out = []
    typical = summary.set_index(["group", "parameter"])["typical"]
    for group in order:
        members = [s for s, g in groups.items() if g == group and s in cohort.fits and cohort.fits[s].fitted
                   and cohort.fits[s].status in (CONVERGED, NO_PERSISTENCE)]
        values = {name: typical.get((group, name), np.nan) for name in ("cmax", "tmax", "rho", "alpha", "fb", "beta")}
        if not members or any(np.isnan(values[k]) for k in ("cmax", "tmax", "rho", "alpha")):
            continue
        if np.isnan(values["fb"]) or np.isnan(values["beta"]):
            values["fb"], values["beta"] = 1e-13, 0.01
        theta = model.to_theta(**values)
        curves = np.vstack([model.curve(cohort.fits[s].theta, days) for s in members])
        out.append(GroupCurve(group, days, model.curve(theta, days), np.quantile(curves, 0.25, axis=0),
                              np.quantile(curves, 0.75, axis=0), len(members)))
    return out


def expansion_rates(parameters: pd.DataFrame) -> pd.DataFrame:
    """subject_id and rho, the fitted expansion rate, for the profiles whose fit estimates it (`usable`; blank for
    the others): the model's exposure metric for exposure-response analyses."""
    rho = parameters["rho"].where(usable(parameters, "rho"))
    return pd.DataFrame({"subject_id": parameters["subject_id"], "rho": rho})
