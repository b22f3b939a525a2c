"""Exposure-response: one row of exposure and outcomes per patient, response proportions by exposure quartile with
exact CIs, and a logistic regression of an outcome on log10 exposure with its curve and 95% band (as xgxr's
exposure-response plots show them). Pure pandas/numpy/statsmodels; the rules are in docs/exposure-response.md.

Exposure is the NCA of one profile per patient (default: CAR transgene in blood). Outcomes:
- response: best overall response PR or better by IMWG (analysis.responses.RESPONDERS), from infusion until
  progression or the data cut-off; a patient never assessed (NE) is a non-responder, as on the Efficacy page;
- crs2: worst cytokine release syndrome grade 2 or higher (ASTCT; analysis.safety.worst_grades).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.responses import RESPONDERS, exact_ci


@dataclass(frozen=True)
class Metric:
    """An exposure metric: a column of the exposure table.

    `source` "nca": a column of the NCA result (analysis/nca/parameters.py), its unit from the analyte's unit by
    `unit_kind`. Hook for metrics from a model fit (e.g. the fitted expansion rate, built elsewhere): add a Metric
    with source "model", its `unit` and `log` (whether it is analysed on a log10 scale; a rate that can be 0 or
    negative is not), and give its per-patient values to `exposure_table(extra=...)`; everything below works on
    any column of the exposure table."""

    key: str
    label: str
    unit_kind: str = "conc"    # analysis.nca.parameters.UNIT_KINDS
    source: str = "nca"
    unit: str | None = None    # a model metric's own unit
    log: bool = True


#: The metrics the page offers, in order. AUC over the first 28 days: the expansion phase, as the issue asks.
METRICS: dict[str, Metric] = {
    "cmax": Metric("cmax", "Cmax", "conc"),
    "auc_0_28": Metric("auc_0_28", "AUC day 0–28", "auc"),
    "rho": Metric("rho", "Fitted expansion rate ρ", source="model", unit="1/day"),
}
#: The AUC window the exposure metrics need from the NCA.
AUC_WINDOW = (0.0, 28.0)
OUTCOMES: dict[str, str] = {"response": "Response (≥PR)", "crs2": "CRS grade ≥2"}
#: The same inside a sentence.
OUTCOME_NOUNS: dict[str, str] = {"response": "response (≥PR)", "crs2": "CRS grade ≥2"}
#: The outcome column of the exposure table for each outcome.
OUTCOME_COLUMNS = {"response": "responder", "crs2": "crs_grade_2plus"}
#: Fewer patients than this in the analysis set: no logistic regression (two parameters need some data).
MIN_PATIENTS = 10
#: Quartiles need at least this many patients (one per quartile).
MIN_QUARTILE_PATIENTS = 4
GRID_POINTS = 101
Z95 = 1.959963984540054


def exposure_table(patients: pd.DataFrame, nca: pd.DataFrame, analyte: str = "car_copies", specimen: str = "PB",
                   extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per patient: subject_id, dose_level, best_response, responder, worst_crs_grade, crs_grade_2plus,
    every NCA metric of METRICS of the (analyte, specimen) profile (NaN for a patient without one) and the NCA's
    note, plus the columns of `extra` (subject_id and model metrics: the hook for fitted rates).

    `patients`: analysis.patients.patient_table (or StudyData.patients)."""
    out = patients[["subject_id", "dose_level", "best_response", "worst_crs_grade"]].copy()
    out["responder"] = out["best_response"].isin(RESPONDERS)
    out["crs_grade_2plus"] = out["worst_crs_grade"].fillna(0) >= 2
    profile = nca[(nca["analyte"] == analyte) & (nca["specimen"] == specimen)]
    profile = profile.assign(**{m.key: np.nan for m in METRICS.values()
                                if m.source == "nca" and m.key not in profile.columns})
    columns = [m.key for m in METRICS.values() if m.source == "nca"]
    keep = profile[["subject_id", *columns, *(["reason"] if "reason" in profile.columns else [])]]
    out = out.merge(keep.rename(columns={"reason": "nca_note"}), on="subject_id", how="left")
    out["has_profile"] = out["subject_id"].isin(set(profile["subject_id"]))
    if extra is not None:
        out = out.merge(extra, on="subject_id", how="left")
    return out


def analysis_set(exposure: pd.DataFrame, metric: str, log: bool = True) -> tuple[pd.DataFrame, list[tuple[str, int]]]:
    """The patients an exposure-response analysis of `metric` uses (a finite exposure, above 0 on a log scale), and
    why the others are left out: (reason, patients), in a fixed order, only reasons that apply."""
    values = pd.to_numeric(exposure[metric], errors="coerce") if metric in exposure else \
        pd.Series(np.nan, index=exposure.index)
    no_profile = ~exposure["has_profile"] if "has_profile" in exposure else pd.Series(False, index=exposure.index)
    missing = values.isna() | ~np.isfinite(values.fillna(0))
    reasons = [("no samples of the selected analyte and specimen", no_profile),
               ("no value of the metric (see the NCA notes)", missing & ~no_profile)]
    if log:
        reasons.append(("exposure 0 (every sample BLQ: no logarithm)", ~missing & (values <= 0)))
    excluded = [(reason, int(mask.sum())) for reason, mask in reasons if mask.any()]
    used = ~missing & ((values > 0) if log else True)
    return exposure[used].assign(exposure=values[used].astype(float)), excluded


def excluded_text(excluded: list[tuple[str, int]]) -> str:
    """'3 patients left out: 2 with no samples of ...; 1 with exposure 0 ...' or ''."""
    total = sum(n for _, n in excluded)
    if not total:
        return ""
    parts = "; ".join(f"{n} with {reason}" for reason, n in excluded)
    return f"{total} {'patient' if total == 1 else 'patients'} left out of the analysis: {parts}."


# ---- quartiles -------------------------------------------------------------------------------------------------

QUARTILE_COLUMNS = ["quartile", "low", "high", "cut_low", "cut_high", "n", "events", "proportion", "ci_lower",
                    "ci_upper", "median_exposure"]


def response_by_quartile(exposure: pd.DataFrame, metric: str, outcome: str, log: bool = True) -> pd.DataFrame:
    """Per exposure quartile of the analysis set: the quartile ('Q1' lowest), the lowest and highest exposure in it
    (low, high), its cut points (cut_low, cut_high: the 0/25/50/75/100th percentiles, numpy's linear rule; a
    quartile holds the values above its lower cut up to and including its upper one, Q1 also its lower cut), n,
    events, proportion with its exact Clopper-Pearson 95% CI, and the median exposure. Tied cut points merge
    quartiles (fewer rows); fewer than MIN_QUARTILE_PATIENTS patients give no rows."""
    used, _ = analysis_set(exposure, metric, log)
    if len(used) < MIN_QUARTILE_PATIENTS:
        return pd.DataFrame(columns=QUARTILE_COLUMNS)
    x = used["exposure"].to_numpy(float)
    y = used[OUTCOME_COLUMNS[outcome]].to_numpy(bool)
    cuts = np.unique(np.quantile(x, [0, 0.25, 0.5, 0.75, 1]))
    if len(cuts) == 1:
        bins = np.zeros(len(x), dtype=int)
        cuts = np.array([cuts[0], cuts[0]])
    else:
        bins = np.clip(np.searchsorted(cuts, x, side="left") - 1, 0, len(cuts) - 2)  # (a, b], Q1 [a, b]
    rows = []
    for i in range(len(cuts) - 1):
        inside = bins == i
        n, k = int(inside.sum()), int(y[inside].sum())
        if not n:
            continue
        low, high = exact_ci(k, n)
        rows.append({"quartile": f"Q{i + 1}", "low": float(x[inside].min()), "high": float(x[inside].max()),
                     "cut_low": float(cuts[i]), "cut_high": float(cuts[i + 1]), "n": n, "events": k,
                     "proportion": k / n, "ci_lower": low, "ci_upper": high,
                     "median_exposure": float(np.median(x[inside]))})
    return pd.DataFrame(rows, columns=QUARTILE_COLUMNS)


# ---- logistic regression ----------------------------------------------------------------------------------------

@dataclass
class LogisticFit:
    """A logistic regression of an outcome on log10 exposure, or the reason there is none (`reason` set, numbers
    NaN). The slope is per log10 unit: exp(slope) is the odds ratio per 10-fold higher exposure."""

    metric: str
    outcome: str
    n: int                                    # patients in the analysis set
    events: int
    excluded: list[tuple[str, int]]           # (reason, patients) left out of the analysis set
    log: bool = True
    reason: str | None = None                 # why there is no fit
    intercept: float = math.nan
    slope: float = math.nan
    se_intercept: float = math.nan
    se_slope: float = math.nan
    covariance: np.ndarray = field(default_factory=lambda: np.full((2, 2), np.nan))
    p_value: float = math.nan                 # Wald test of slope = 0
    odds_ratio: float = math.nan              # per 10-fold exposure (log) or per unit (linear)
    odds_ratio_ci: tuple[float, float] = (math.nan, math.nan)
    grid: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["exposure", "probability", "lower",
                                                                            "upper"]))

    @property
    def fitted(self) -> bool:
        return self.reason is None

    def predict(self, exposure) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Probability and its 95% CI at these exposures: the delta method on the linear predictor
        (eta ± 1.96·SE(eta), SE from the covariance of intercept and slope), back-transformed by the inverse logit."""
        x = np.asarray(exposure, dtype=float)
        t = np.log10(x) if self.log else x
        eta = self.intercept + self.slope * t
        c = self.covariance
        se = np.sqrt(c[0, 0] + 2 * t * c[0, 1] + t * t * c[1, 1])
        return expit(eta), expit(eta - Z95 * se), expit(eta + Z95 * se)


def expit(eta):
    return 1 / (1 + np.exp(-np.asarray(eta, dtype=float)))


def separation(x: np.ndarray, y: np.ndarray) -> str | None:
    """With one predictor and an intercept the maximum-likelihood estimate exists unless the outcomes are
    separated by a cut point: every event at or above every non-event (or at or below). 'complete' when no
    exposure is shared across the cut, 'quasi-complete' when the two meet at one value; None when they overlap."""
    events, others = x[y], x[~y]
    for high, low in ((events, others), (others, events)):
        if high.min() > low.max():
            return "complete"
        if high.min() == low.max():
            return "quasi-complete"
    return None


def logistic_fit(exposure: pd.DataFrame, metric: str, outcome: str, log: bool = True) -> LogisticFit:
    """Logistic regression of `outcome` (a key of OUTCOMES) on log10(`metric`) (or the metric itself when `log` is
    False) by maximum likelihood (statsmodels Logit, Newton's method): intercept and slope with standard errors,
    the slope's Wald p-value, the odds ratio with its Wald 95% CI, and the fitted probability with its 95% band on
    a grid across the observed exposures. When no fit can be made, `reason` says why: too few patients, no event,
    every patient an event, every patient at one exposure, outcomes separated by exposure, or no convergence."""
    used, excluded = analysis_set(exposure, metric, log)
    x = used["exposure"].to_numpy(float)
    y = used[OUTCOME_COLUMNS[outcome]].to_numpy(bool)
    n, k = len(x), int(y.sum())
    fit = LogisticFit(metric, outcome, n, k, excluded, log)
    name = OUTCOME_NOUNS[outcome]
    if n < MIN_PATIENTS:
        fit.reason = f"too few patients ({n}; a fit needs at least {MIN_PATIENTS})"
    elif k == 0:
        fit.reason = f"no patient had the outcome ({name}: 0 of {n})"
    elif k == n:
        fit.reason = f"every patient had the outcome ({name}: {n} of {n})"
    elif np.unique(x).size == 1:
        fit.reason = "every patient has the same exposure"
    elif (kind := separation(x, y)) is not None:
        fit.reason = (f"{kind} separation: exposure alone divides patients with and without the outcome, so the "
                      "slope has no finite estimate")
    if fit.reason:
        return fit
    t = np.log10(x) if log else x
    design = np.column_stack([np.ones(n), t])
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            result = sm.Logit(y.astype(float), design).fit(method="newton", maxiter=100, disp=0)
        except (ConvergenceWarning, PerfectSeparationWarning, np.linalg.LinAlgError, ValueError) as error:
            fit.reason = f"the fit did not converge ({type(error).__name__})"
            return fit
    covariance = np.asarray(result.cov_params(), dtype=float)
    if not result.mle_retvals.get("converged", False) or not np.all(np.isfinite(covariance)):
        fit.reason = "the fit did not converge"
        return fit
    params, se = np.asarray(result.params, float), np.asarray(result.bse, float)
    fit.intercept, fit.slope = float(params[0]), float(params[1])
    fit.se_intercept, fit.se_slope = float(se[0]), float(se[1])
    fit.covariance = covariance
    fit.p_value = float(np.asarray(result.pvalues, float)[1])
    fit.odds_ratio = math.exp(fit.slope)
    fit.odds_ratio_ci = (math.exp(fit.slope - Z95 * fit.se_slope), math.exp(fit.slope + Z95 * fit.se_slope))
    grid = np.geomspace(x.min(), x.max(), GRID_POINTS) if log else np.linspace(x.min(), x.max(), GRID_POINTS)
    probability, lower, upper = fit.predict(grid)
    fit.grid = pd.DataFrame({"exposure": grid, "probability": probability, "lower": lower, "upper": upper})
    return fit
