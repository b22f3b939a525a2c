"""Lambda-z selection (PKNCA rules): >= 3 points after Tmax, best adjusted R^2 within 1e-4, then most points."""
import math

import numpy as np
import pytest

from tests.analysis.nca.helpers import one


def adj_r2(days, conc):
    x, y = np.asarray(days, float), np.log(conc)
    r = np.corrcoef(x, y)[0, 1] ** 2
    n = len(x)
    return 1 - (1 - r) * (n - 1) / (n - 2)


def test_exact_exponential_uses_every_point_after_tmax():
    # Tmax = 7 (excluded); 14, 21, 28, 35 lie on one exponential: 3- and 4-point fits tie at adj R^2 = 1,
    # the tie goes to more points.
    r = one({7: 1000, 14: 400, 21: 200, 28: 100, 35: 50})
    assert r["lambda_z_n_points"] == 4
    assert (r["lambda_z_start"], r["lambda_z_end"]) == (14, 35)
    assert r["lambda_z"] == pytest.approx(math.log(2) / 7, rel=1e-12)
    assert r["half_life"] == pytest.approx(7, rel=1e-12)
    assert r["r2_adj"] == pytest.approx(1, abs=1e-12)


def test_more_points_win_within_the_tolerance():
    # The 14-day point is 0.3 % off the line: adjusted R^2 of 4 points stays within 1e-4 of the 3-point fit.
    days, conc = [14, 21, 28, 35], [400 * 1.003 * 2, 400, 200, 100]
    assert 1 - adj_r2(days, conc) < 1e-4
    r = one({7: 5000, **dict(zip(days, conc, strict=True))})
    assert r["lambda_z_n_points"] == 4
    assert r["r2_adj"] == pytest.approx(adj_r2(days, conc), rel=1e-12)


def test_fewer_points_win_outside_the_tolerance():
    days, conc = [14, 21, 28, 35], [400 * 1.05 * 2, 400, 200, 100]
    assert 1 - adj_r2(days, conc) > 1e-4
    r = one({7: 5000, **dict(zip(days, conc, strict=True))})
    assert r["lambda_z_n_points"] == 3
    assert r["lambda_z_start"] == 21
    assert r["lambda_z"] == pytest.approx(math.log(2) / 7, rel=1e-12)


def test_tmax_is_not_used_and_three_points_are_needed():
    r = one({7: 1000, 14: 500, 21: 250})
    assert math.isnan(r["lambda_z"]) and math.isnan(r["aucinf_obs"])
    assert r["reason"].startswith("lambda-z: fewer than 3 positive samples after Tmax")


def test_blq_points_are_not_in_the_fit():
    r = one({7: 1000, 14: 500, 21: 250, 28: 125, 35: "BLQ", 42: "BLQ"})
    assert (r["lambda_z_n_points"], r["lambda_z_end"]) == (3, 28)


def test_rising_tail_gives_no_lambda_z():
    # The best adjusted R^2 (a perfect rising 3-point tail) has lambda-z < 0, and no declining fit is within
    # 1e-4 of it, so there is no lambda-z (PKNCA compares against the best of all candidate fits).
    r = one({7: 1000, 14: 100, 21: 50, 28: 60, 35: 72})
    assert math.isnan(r["lambda_z"])
    assert r["reason"].startswith("lambda-z: no terminal fit with lambda-z > 0")


def test_flat_tail_gives_no_lambda_z():
    r = one({0: 10, 1: 10, 2: 10, 3: 10, 5: 10}, analyte="il6", specimen="serum")
    assert r["tmax"] == 0 and r["auclast"] == pytest.approx(50)
    assert math.isnan(r["lambda_z"]) and r["reason"].startswith("lambda-z: no terminal fit with lambda-z > 0")


def test_matches_scipy_linregress_on_a_noisy_tail():
    from scipy import stats

    days = [14, 21, 28, 42, 60, 90]
    conc = [800, 300, 180, 90, 40, 15]
    r = one({7: 2000, **dict(zip(days, conc, strict=True))})
    n = int(r["lambda_z_n_points"])
    fit = stats.linregress(days[-n:], np.log(conc[-n:]))
    assert r["lambda_z"] == pytest.approx(-fit.slope, rel=1e-12)
    assert r["r2"] == pytest.approx(fit.rvalue ** 2, rel=1e-12)
