"""The multiphasic model: its curve, its analytic Jacobian and its derived quantities, checked against
finite differences, numerical integration and root finding."""
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

from analysis.ck import model
from analysis.ck.model import CK_BY_NAME, CK_PARAMETERS, PRIMARY, curve, derived, log_curve, natural, to_theta
from analysis.nca.parameters import UNIT_KINDS

THETA = to_theta(cmax=2e4, tmax=10.0, rho=0.8, alpha=0.15, fb=0.02, beta=0.01)


def test_the_curve_is_the_documented_formula():
    days = np.array([0.0, 3.0, 10.0, 17.0, 200.0])
    c = curve(THETA, days)
    assert c[0] == pytest.approx(2e4 * np.exp(-0.8 * 10))
    assert c[1] == pytest.approx(2e4 * np.exp(-0.8 * 7))
    assert c[2] == pytest.approx(2e4)
    assert c[3] == pytest.approx(2e4 * (0.98 * np.exp(-0.15 * 7) + 0.02 * np.exp(-0.01 * 7)))
    assert c[4] == pytest.approx(2e4 * (0.98 * np.exp(-0.15 * 190) + 0.02 * np.exp(-0.01 * 190)))
    assert curve(THETA, np.array([-3.0]))[0] == 0.0


def test_natural_and_to_theta_are_inverse():
    p = natural(THETA)
    assert [float(p[k]) for k in ("cmax", "tmax", "rho", "alpha", "fb", "beta")] == pytest.approx(
        [2e4, 10.0, 0.8, 0.15, 0.02, 0.01])


@pytest.mark.parametrize("days", [np.array([0.5, 4.0, 9.99, 10.01, 14.0, 60.0, 400.0])])
def test_the_analytic_jacobian_matches_finite_differences(days):
    _, jac = log_curve(THETA, days, jacobian=True)
    step = 1e-6
    for j in range(len(THETA)):
        up, down = THETA.copy(), THETA.copy()
        up[j] += step
        down[j] -= step
        numeric = (log_curve(up, days) - log_curve(down, days)) / (2 * step)
        assert jac[:, j] == pytest.approx(numeric, rel=1e-5, abs=1e-6), PRIMARY[j].name


def test_fitted_aucs_equal_numerical_integrals():
    d = derived(THETA, 20.0)
    integrand = lambda t: float(curve(THETA, np.array([t]))[0])  # noqa: E731
    auc_28 = quad(integrand, 0, 10, epsabs=0, epsrel=1e-10)[0] + quad(integrand, 10, 28, epsrel=1e-10)[0]
    auc_inf = auc_28 + quad(integrand, 28, np.inf, epsrel=1e-10, limit=200)[0]
    assert d["auc_0_28_fit"][0] == pytest.approx(auc_28, rel=1e-8)
    assert d["auc_inf_fit"][0] == pytest.approx(auc_inf, rel=1e-6)


def test_an_interval_ending_before_the_peak_integrates_the_expansion_only():
    early = to_theta(cmax=2e4, tmax=40.0, rho=0.3, alpha=0.15, fb=0.02, beta=0.01)
    integrand = lambda t: float(curve(early, np.array([t]))[0])  # noqa: E731
    assert derived(early, 20.0)["auc_0_28_fit"][0] == pytest.approx(quad(integrand, 0, 28)[0], rel=1e-8)


def test_the_day_below_lloq_is_where_the_curve_crosses_it():
    day = derived(THETA, 20.0)["day_below_lloq"][0]
    crossing = brentq(lambda t: float(curve(THETA, np.array([t]))[0]) - 20.0, 10.0, 5000.0, xtol=1e-10)
    assert day == pytest.approx(crossing, rel=1e-8)
    below_at_peak = to_theta(cmax=15.0, tmax=10.0, rho=0.8, alpha=0.15, fb=0.02, beta=0.01)
    assert derived(below_at_peak, 20.0)["day_below_lloq"][0] == pytest.approx(10.0)


def test_half_lives_doubling_time_and_fold_expansion():
    d = derived(THETA, 20.0)
    assert d["doubling_time"][0] == pytest.approx(np.log(2) / 0.8)
    assert d["contraction_half_life"][0] == pytest.approx(np.log(2) / 0.15)
    assert d["persistence_half_life"][0] == pytest.approx(np.log(2) / 0.01)
    assert d["fold_expansion"][0] == pytest.approx(np.exp(8.0))


def test_every_parameter_is_declared_once_with_a_known_unit_kind():
    names = [p.name for p in CK_PARAMETERS]
    assert len(names) == len(set(names)) and set(CK_BY_NAME) == set(names)
    assert all(p.unit_kind in UNIT_KINDS for p in CK_PARAMETERS)
    assert set(derived(THETA, 20.0)) == {p.name for p in model.DERIVED}
    assert all(p.transform in ("log", "logit") and p.lower < p.upper for p in PRIMARY)


def test_docs_list_every_parameter_as_declared():
    from analysis.ck.model import markdown_table
    from tests.conftest import REPO

    assert markdown_table() in (REPO / "docs" / "ck-model.md").read_text(encoding="utf-8")


def test_the_batched_curve_is_the_one_theta_curve():
    from analysis.ck.model import log_curve_batch

    thetas = np.vstack([THETA, to_theta(5e3, 14.0, 0.4, 0.3, 0.002, 0.02), to_theta(1e5, 6.0, 1.5, 0.05, 0.4, 1e-4)])
    days = np.array([0.5, 4.0, 6.0, 9.99, 10.01, 14.0, 60.0, 400.0])
    log_c, jac = log_curve_batch(thetas, days)
    for k, theta in enumerate(thetas):
        one, one_jac = log_curve(theta, days, jacobian=True)
        assert log_c[k] == pytest.approx(one, rel=1e-12) and jac[k] == pytest.approx(one_jac, rel=1e-10, abs=1e-14)
