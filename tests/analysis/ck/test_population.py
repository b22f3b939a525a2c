"""The two-stage population summary: DerSimonian-Laird against its formulas written out, which fits count for
which parameter, and the typical curves."""
import numpy as np
import pandas as pd
import pytest

from analysis.ck.fit import AT_BOUND, CONVERGED, NO_PERSISTENCE, NOT_FITTED, Z95
from analysis.ck.population import EXPANSION, dersimonian_laird, two_stage, usable


def test_dersimonian_laird_matches_the_formulas():
    y = np.array([0.1, 0.5, 0.3, 0.9])
    se = np.array([0.2, 0.1, 0.3, 0.25])
    w = 1 / se ** 2
    fixed = (w * y).sum() / w.sum()
    q = (w * (y - fixed) ** 2).sum()
    tau2 = max(0, (q - 3) / (w.sum() - (w ** 2).sum() / w.sum()))
    assert tau2 > 0
    ws = 1 / (se ** 2 + tau2)
    mean, mean_se, got_tau2 = dersimonian_laird(y, se)
    assert (mean, mean_se, got_tau2) == pytest.approx(((ws * y).sum() / ws.sum(), np.sqrt(1 / ws.sum()), tau2))


def test_homogeneous_estimates_have_no_between_patient_variance():
    mean, mean_se, tau2 = dersimonian_laird(np.array([1.0, 1.0, 1.0]), np.array([0.1, 0.2, 0.3]))
    assert tau2 == 0 and mean == pytest.approx(1.0)
    assert mean_se == pytest.approx(np.sqrt(1 / (100 + 25 + 1 / 0.09)))


def table(rows):
    columns = {"subject_id": [], "status": [], "reason": []}
    for sid, status, reason, values in rows:
        columns["subject_id"].append(sid)
        columns["status"].append(status)
        columns["reason"].append(reason)
        for name, (v, lo, hi) in values.items():
            columns.setdefault(name, []).append(v)
            columns.setdefault(f"{name}_lower", []).append(lo)
            columns.setdefault(f"{name}_upper", []).append(hi)
    return pd.DataFrame(columns)


def test_which_fits_count_for_which_parameter():
    values = {"cmax": (1e4, 5e3, 2e4), "alpha": (0.1, 0.05, 0.2)}
    t = table([("A", CONVERGED, "", values), ("B", NO_PERSISTENCE, "FB and β not estimable", values),
               ("C", AT_BOUND, "at its bound: alpha", values), ("D", NOT_FITTED, "too few", values),
               ("E", CONVERGED, "not identified by these samples: beta", values)])
    assert usable(t, "cmax").tolist() == [True, True, False, False, False]
    assert usable(t, "alpha").tolist() == [True, False, False, False, False]
    assert "cmax" in EXPANSION and "alpha" not in EXPANSION


def test_two_stage_by_group_weights_by_precision():
    rows = [("A", CONVERGED, "", {"cmax": (1e4, 1e4 / np.exp(Z95 * 0.1), 1e4 * np.exp(Z95 * 0.1))}),
            ("B", CONVERGED, "", {"cmax": (1e5, 1e5 / np.exp(Z95 * 1.0), 1e5 * np.exp(Z95 * 1.0))}),
            ("C", CONVERGED, "", {"cmax": (3e3, 3e3 / np.exp(Z95 * 0.2), 3e3 * np.exp(Z95 * 0.2))})]
    t = table(rows)
    out = two_stage(t, pd.Series({"A": "g1", "B": "g1", "C": "g2"}), ["g1", "g2"], names=("cmax",))
    g1, g2 = out.iloc[0], out.iloc[1]
    mean, mean_se, tau2 = dersimonian_laird(np.log([1e4, 1e5]), np.array([0.1, 1.0]))
    assert g1["n"] == 2 and g1["typical"] == pytest.approx(np.exp(mean))
    assert (g1["lower"], g1["upper"]) == pytest.approx((np.exp(mean - Z95 * mean_se), np.exp(mean + Z95 * mean_se)))
    assert g1["between_cv_pct"] == pytest.approx(100 * np.sqrt(np.expm1(tau2)))
    assert 1e4 < g1["typical"] < np.sqrt(1e4 * 1e5)  # the precise estimate weighs more than the geometric mean
    assert g2["n"] == 1 and g2["typical"] == pytest.approx(3e3) and g2["between_cv_pct"] == 0


def test_expansion_rates_are_the_fits_that_estimate_rho():
    from analysis.ck.population import expansion_rates

    values = {"rho": (0.8, 0.6, 1.0)}
    t = table([("A", CONVERGED, "", values), ("B", NO_PERSISTENCE, "FB and β not estimable", values),
               ("C", AT_BOUND, "at its bound: alpha", values), ("D", NOT_FITTED, "too few", values)])
    rates = expansion_rates(t)
    assert rates["subject_id"].tolist() == ["A", "B", "C", "D"]
    assert rates["rho"].tolist()[:2] == [0.8, 0.8] and rates["rho"].iloc[2:].isna().all()
