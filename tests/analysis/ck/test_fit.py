"""Fitting one profile: exact recovery without noise, the censored likelihood's optimum against an independent
optimiser, the reasons a profile cannot support the model, and the fit without a persistence phase."""
import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import norm

from analysis.ck.fit import (
    AT_BOUND,
    CONVERGED,
    NO_PERSISTENCE,
    NOT_FITTED,
    estimates,
    fit_profile,
    support_reason,
)
from analysis.ck.model import curve, natural, to_theta

TRUE = dict(cmax=2e4, tmax=9.0, rho=0.8, alpha=0.15, fb=0.02, beta=0.01)
THETA = to_theta(**TRUE)
DAYS = np.array([-5, 0, 1, 2, 4, 6, 8, 10, 12, 14, 18, 21, 28, 35, 42, 60, 90, 120, 180, 270, 365], dtype=float)


def sample(days=DAYS, theta=THETA, sd=0.0, lloq=20.0, seed=0):
    values = curve(theta, days) * np.exp(np.random.default_rng(seed).normal(0, sd, len(days)))
    blq = values < lloq
    return days, np.where(blq, np.nan, values), blq, np.full(len(days), lloq)


def test_a_noise_free_profile_gives_back_its_parameters():
    # (every sample quantifiable: a BLQ sample's likelihood would rightly pull the fit a little below it)
    fit = fit_profile(*sample(lloq=1.0), residual_sd=0.3)
    assert fit.status == CONVERGED and fit.supports_model, fit.reason
    p = natural(fit.theta)
    for name, value in TRUE.items():
        assert float(p[name]) == pytest.approx(value, rel=1e-4), name
    assert fit.rmse_log == pytest.approx(0.0, abs=1e-5)


def test_samples_before_and_on_day_0_are_left_out():
    fit = fit_profile(*sample(), residual_sd=0.3)
    assert fit.days.min() > 0 and fit.n_quantifiable + fit.n_blq == int((DAYS > 0).sum())


def _independent_minus_2ll(theta, days, values, blq, lloq, sd):
    """−2 ln L written out directly: normal density of ln values, Φ for BLQ samples below their LLOQ."""
    c = curve(theta, days)
    q = ~blq
    return float(-2 * norm.logpdf(np.log(values[q]), np.log(c[q]), sd).sum()
                 - 2 * norm.logcdf((np.log(lloq[blq]) - np.log(c[blq])) / sd).sum())


def test_blq_samples_are_censored_and_the_optimum_matches_an_independent_optimiser():
    days, values, blq, lloq = sample(sd=0.35, lloq=200.0, seed=3)
    assert blq[days > 0].sum() >= 4
    fit = fit_profile(days, values, blq, lloq, residual_sd=0.35)
    assert fit.fitted and fit.n_blq == int(blq[days > 0].sum())
    keep = days > 0
    args = (days[keep], values[keep], blq[keep], lloq[keep], 0.35)
    ours = _independent_minus_2ll(fit.theta, *args)
    assert fit.minus_2_log_likelihood == pytest.approx(ours, rel=1e-9)
    other = minimize(_independent_minus_2ll, THETA + 0.05, args=args, method="Nelder-Mead",
                     options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 40_000, "maxfev": 40_000})
    assert ours <= other.fun + 1e-6


def test_intervals_contain_the_estimate_and_widen_with_noise():
    quiet = estimates(fit_profile(*sample(sd=0.1, seed=1), residual_sd=0.1), 20.0)
    noisy = estimates(fit_profile(*sample(sd=0.5, seed=1), residual_sd=0.5), 20.0)
    for name in ("cmax", "tmax", "rho", "alpha", "fb", "beta", "doubling_time", "auc_0_28_fit", "day_below_lloq"):
        assert quiet[f"{name}_lower"] < quiet[name] < quiet[f"{name}_upper"], name
        assert (noisy[f"{name}_upper"] / noisy[f"{name}_lower"]) > (quiet[f"{name}_upper"] / quiet[f"{name}_lower"])


@pytest.mark.parametrize("days, expected", [
    (np.array([1.0, 4, 7, 10, 14]), "5 quantifiable samples after Day 0; the model has 6 parameters"),
    (np.array([9.0, 12, 14, 21, 28, 35, 42]), "the first quantifiable sample is the highest"),
    (np.array([1.0, 2, 4, 6, 8, 9, 14, 21]), "2 quantifiable samples after the peak"),
])
def test_profiles_that_cannot_support_the_model_get_a_reason(days, expected):
    fit = fit_profile(*sample(days=days), residual_sd=0.3)
    assert fit.status == NOT_FITTED and fit.reason.startswith(expected) and not fit.fitted
    assert np.isnan(estimates(fit, 20.0)["cmax"])


def test_no_decline_after_the_peak_is_a_reason():
    days = np.array([1.0, 2, 4, 6, 8, 10, 12, 14, 21])
    values = np.array([10.0, 40, 160, 600, 900, 1000, 950, 900, 800])
    assert support_reason(days, values, np.zeros(9, dtype=bool)).startswith("no decline")
    # a later BLQ sample is a decline
    assert support_reason(np.r_[days, 28], np.r_[values, 20], np.r_[np.zeros(9, dtype=bool), True]) == ""


def test_without_quantifiable_persistence_the_model_is_fitted_without_it():
    # the slow phase stays below an LLOQ of 500: every sample after day 42 is BLQ
    days, values, blq, lloq = sample(lloq=500.0)
    fit = fit_profile(days, values, blq, lloq, residual_sd=0.3)
    assert fit.status == NO_PERSISTENCE and "FB and β not estimable" in fit.reason and fit.n_estimated == 4
    p = natural(fit.theta)
    assert float(p["fb"]) < 1e-10 and float(p["rho"]) == pytest.approx(0.8, rel=0.1)


def test_a_rate_at_the_phase_bound_is_flagged():
    # one slow decline (half-life 35 days) and nothing else: α cannot be faster than its lower bound
    theta = to_theta(cmax=2e4, tmax=9.0, rho=0.8, alpha=0.02, fb=0.3, beta=0.001)
    fit = fit_profile(*sample(theta=theta), residual_sd=0.3)
    assert fit.status == AT_BOUND and fit.reason == "at its bound: alpha" and not fit.supports_model
    assert np.isnan(estimates(fit, 20.0)["alpha_lower"])  # no Wald interval at a bound
