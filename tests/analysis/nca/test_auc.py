"""AUClast, AUCall, partial AUCs and AUCinf worked by hand (docs/nca.md has the same examples)."""
import math

import pytest

from tests.analysis.nca.helpers import BLQ, one

LN2, LN4 = math.log(2), math.log(4)


def test_linear_up_log_down_segments():
    # Day 0 is a structural 0 for CAR transgene; 0 -> 7 rises (linear), 7 -> 14 falls (log).
    r = one({7: 1000, 14: 250})
    assert r["auclast"] == pytest.approx(7 * 1000 / 2 + 7 * (1000 - 250) / LN4, rel=1e-14)
    assert r["auclast"] == pytest.approx(3500 + 3787.074482, rel=1e-9)


def test_linear_method_uses_trapezoids_throughout():
    r = one({7: 1000, 14: 250}, auc_method="linear")
    assert r["auclast"] == pytest.approx(3500 + 7 * (1000 + 250) / 2, rel=1e-14)


def test_interval_end_interpolated_on_the_log_segment():
    r = one({7: 1000, 14: 250}, intervals=[(0, 10)])
    c10 = 1000 * 0.25 ** (3 / 7)
    assert r["auc_0_10"] == pytest.approx(3500 + 3 * (1000 - c10) / math.log(1000 / c10), rel=1e-13)


def test_interval_end_interpolated_linearly_with_the_linear_method():
    r = one({7: 1000, 14: 250}, intervals=[(0, 10)], auc_method="linear")
    c10 = 1000 - 3 / 7 * 750
    assert r["auc_0_10"] == pytest.approx(3500 + 3 * (1000 + c10) / 2, rel=1e-13)


def test_interval_start_interpolated_on_the_rising_segment():
    r = one({7: 1000, 14: 250}, intervals=[(3, 14)])
    c3 = 1000 * 3 / 7
    assert r["auc_3_14"] == pytest.approx(4 * (c3 + 1000) / 2 + 5250 / LN4, rel=1e-13)


def test_sampled_interval_end_needs_no_interpolation():
    r = one({7: 1000, 14: 250, 28: 100}, intervals=[(0, 14)])
    assert r["auc_0_14"] == pytest.approx(3500 + 5250 / LN4, rel=1e-14)


def test_trailing_blq_decline_counts_in_partial_aucs_and_aucall():
    r = one({7: 1000, 14: BLQ, 21: BLQ}, intervals=[(0, 28), (0, 10)])
    assert r["tlast"] == 7 and r["clast"] == 1000
    assert r["auclast"] == pytest.approx(3500)
    assert r["aucall"] == pytest.approx(3500 + 7 * 1000 / 2)
    assert r["auc_0_28"] == pytest.approx(7000)
    c10 = 1000 * 4 / 7  # on the linear decline to the BLQ at day 14
    assert r["auc_0_10"] == pytest.approx(3500 + 3 * (1000 + c10) / 2)
    assert r["reason"] == "lambda-z: fewer than 3 positive samples after Tmax"


def test_no_extrapolation_past_tlast_unless_asked():
    r = one({7: 1000, 14: 500}, intervals=[(0, 28)])
    assert r["auc_0_28"] == pytest.approx(3500 + 7 * 500 / LN2)
    assert r["reason"] == ("lambda-z: fewer than 3 positive samples after Tmax; auc_0_28: ends after the last "
                           "quantifiable sample; area after it counted as 0")


def test_extrapolation_past_tlast_uses_lambda_z_when_asked():
    points = {7: 1000, 14: 500, 21: 250, 28: 125}  # exact decline, half-life 7 days
    r = one(points, intervals=[(0, 42), (35, 42)], extrapolate=True)
    auclast = 3500 + 7 * (500 + 250 + 125) / LN2
    assert r["auclast"] == pytest.approx(auclast, rel=1e-13)
    assert r["lambda_z"] == pytest.approx(LN2 / 7, rel=1e-12)
    assert r["auc_0_42"] == pytest.approx(auclast + 125 * 7 / LN2 * (1 - 0.25), rel=1e-12)
    assert r["auc_35_42"] == pytest.approx(125 * 7 / LN2 * (0.5 - 0.25), rel=1e-12)
    assert r["aucinf_obs"] == pytest.approx(auclast + 125 * 7 / LN2, rel=1e-12)
    assert r["auc_pct_extrap"] == pytest.approx(100 * (125 * 7 / LN2) / r["aucinf_obs"], rel=1e-12)


def test_extrapolation_without_lambda_z_is_blank_with_a_reason():
    r = one({7: 1000, 14: 500}, intervals=[(0, 28)], extrapolate=True)
    assert math.isnan(r["auc_0_28"])
    assert "auc_0_28: no lambda-z to extrapolate past Tlast" in r["reason"]


def test_interval_starting_before_the_first_sample_is_blank():
    r = one({7: 1000, 14: 500}, intervals=[(0, 28)], car_day0_zero=False)
    assert math.isnan(r["auc_0_28"])
    assert r["auclast"] == pytest.approx(7 * 500 / LN2)  # from the first sample (day 7)
    assert "auc_0_28: starts before the first sample" in r["reason"]


def test_all_blq_profile_is_zero_as_in_pknca():
    """PKNCA 0.11.0: cmax, clast.obs, auclast, aucint and aucinf.obs are 0; tmax, tlast, lambda.z and
    aucpext.obs are blank (pk.calc.clast.obs, pk.calc.auxc, pk.calc.aucpext)."""
    r = one({7: BLQ, 14: BLQ})
    assert (r["cmax"], r["clast"], r["auclast"], r["aucall"], r["auc_0_28"], r["aucinf_obs"]) == (0, 0, 0, 0, 0, 0)
    assert all(math.isnan(r[k]) for k in ("tmax", "tlast", "lambda_z", "half_life", "auc_pct_extrap"))
    assert r["reason"] == "no quantifiable value"
    for rule in ("zero", "drop"):
        r = one({7: BLQ, 14: BLQ}, blq=rule)
        assert (r["clast"], r["cmax"]) == (0, 0) and math.isnan(r["tlast"])


def test_any_number_of_intervals():
    intervals = [(0, d) for d in range(1, 41)]  # 40 partial AUCs: each has its own notes
    r = one({7: 1000, 14: 250}, intervals=intervals, car_day0_zero=False)
    assert math.isnan(r["auc_0_1"]) and r["auc_0_40"] != r["auc_0_40"]  # both start before day 7
    assert "auc_0_40: starts before the first sample" in r["reason"]
    r = one({7: 1000, 14: 250}, intervals=intervals)
    assert r["auc_0_7"] == pytest.approx(3500) and r["auc_0_40"] == pytest.approx(r["auclast"])
    assert r["reason"].count("ends after the last quantifiable sample") == 26  # days 15 to 40
