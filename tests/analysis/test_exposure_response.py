"""Exposure-response numbers checked independently: Clopper-Pearson intervals against scipy's binomtest, quartiles
against pandas' qcut, the logistic regression against its closed form on a two-exposure design and against a
Newton-Raphson fit written out here, and every case that cannot be fitted giving its reason instead of numbers."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, norm

from analysis.exposure_response import (
    METRICS,
    MIN_PATIENTS,
    Metric,
    analysis_set,
    excluded_text,
    exposure_table,
    logistic_fit,
    response_by_quartile,
    separation,
)


def table(exposure, outcome, column="responder") -> pd.DataFrame:
    """An exposure table as exposure_table makes it: one metric ('cmax') and one outcome column."""
    n = len(exposure)
    return pd.DataFrame({"subject_id": [f"S{i:03d}" for i in range(n)], "dose_level": "1e6",
                         "has_profile": True, "cmax": np.asarray(exposure, dtype=float),
                         "responder": False, "crs_grade_2plus": False}).assign(**{column: np.asarray(outcome, bool)})


def newton_logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum likelihood of logit P(y) = b0 + b1 x by Newton-Raphson: coefficients and their covariance (the inverse
    of the information matrix X'WX at the estimate)."""
    design = np.column_stack([np.ones(len(x)), x])
    beta = np.zeros(2)
    for _ in range(100):
        p = 1 / (1 + np.exp(-design @ beta))
        information = design.T @ (design * (p * (1 - p))[:, None])
        step = np.linalg.solve(information, design.T @ (y - p))
        beta = beta + step
        if np.abs(step).max() < 1e-12:
            break
    p = 1 / (1 + np.exp(-design @ beta))
    return beta, np.linalg.inv(design.T @ (design * (p * (1 - p))[:, None]))


# ---- the per-patient table -------------------------------------------------------------------------------------

def test_exposure_table_takes_the_profile_asked_for_and_derives_both_outcomes():
    patients = pd.DataFrame({"subject_id": ["A", "B", "C", "D"], "dose_level": ["1", "1", "2", "2"],
                             "best_response": ["sCR", "PR", "MR", "NE"], "worst_crs_grade": [2, 1, 3, 0]})
    nca = pd.DataFrame({"subject_id": ["A", "B", "C", "A"], "analyte": ["car_copies"] * 3 + ["car_t_pct"],
                        "specimen": ["PB", "PB", "PB", "PB"], "cmax": [100.0, 0.0, 1e4, 7.0],
                        "auc_0_28": [1e3, 0.0, np.nan, 70.0], "reason": ["", "every sample BLQ", "", ""]})
    t = exposure_table(patients, nca).set_index("subject_id")
    assert t["responder"].tolist() == [True, True, False, False]        # PR or better; NE is not a response
    assert t["crs_grade_2plus"].tolist() == [True, False, True, False]
    assert t.loc["A", "cmax"] == 100.0 and t["has_profile"].tolist() == [True, True, True, False]
    used, excluded = analysis_set(t.reset_index(), "auc_0_28")
    assert used["subject_id"].tolist() == ["A"]
    assert excluded == [("no samples of the selected analyte and specimen", 1),
                        ("no value of the metric (see the NCA notes)", 1),
                        ("exposure 0 (every sample BLQ: no logarithm)", 1)]
    assert excluded_text(excluded) == ("3 patients left out of the analysis: 1 with no samples of the selected "
                                       "analyte and specimen; 1 with no value of the metric (see the NCA notes); 1 "
                                       "with exposure 0 (every sample BLQ: no logarithm).")
    assert excluded_text([]) == ""
    assert exposure_table(patients, nca, "car_t_pct", "PB").set_index("subject_id").loc["A", "cmax"] == 7.0


def test_a_model_metric_joins_through_the_hook_and_is_analysed_like_any_other():
    """The fitted expansion rate (another branch) arrives as a per-patient column: no code change below."""
    rng = np.random.default_rng(3)
    rate = rng.normal(0.5, 0.2, 40)
    patients = pd.DataFrame({"subject_id": [f"S{i}" for i in range(40)], "dose_level": "1",
                             "best_response": np.where(rate + rng.normal(0, 0.2, 40) > 0.5, "CR", "SD"),
                             "worst_crs_grade": 0})
    nca = pd.DataFrame(columns=["subject_id", "analyte", "specimen", "cmax", "auc_0_28", "reason"])
    extra = pd.DataFrame({"subject_id": patients["subject_id"], "expansion_rate": rate})
    t = exposure_table(patients, nca, extra=extra)
    metric = Metric("expansion_rate", "Fitted expansion rate", source="model", unit="1/day", log=False)
    fit = logistic_fit(t, metric.key, "response", log=metric.log)
    beta, _ = newton_logistic(rate, t["responder"].to_numpy(float))
    assert fit.fitted and fit.slope == pytest.approx(beta[1], rel=1e-6)
    assert "cmax" in METRICS and "auc_0_28" in METRICS


# ---- quartiles -------------------------------------------------------------------------------------------------

def test_quartiles_are_pandas_qcut_with_exact_clopper_pearson_intervals():
    rng = np.random.default_rng(7)
    x = 10 ** rng.uniform(2, 6, 57)
    y = rng.uniform(size=57) < 1 / (1 + np.exp(-(np.log10(x) - 4)))
    q = response_by_quartile(table(x, y), "cmax", "response")
    bins = pd.qcut(x, 4, labels=False)
    assert q["quartile"].tolist() == ["Q1", "Q2", "Q3", "Q4"]
    for i, row in enumerate(q.itertuples()):
        inside = bins == i
        assert (row.n, row.events) == (inside.sum(), y[inside].sum())
        assert (row.low, row.high, row.median_exposure) == pytest.approx(
            (x[inside].min(), x[inside].max(), np.median(x[inside])))
        ci = binomtest(int(y[inside].sum()), int(inside.sum())).proportion_ci(0.95, method="exact")
        assert (row.ci_lower, row.ci_upper) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert row.proportion == y[inside].mean()
    assert q["n"].sum() == 57
    assert q["cut_high"].tolist() == pytest.approx(np.quantile(x, [0.25, 0.5, 0.75, 1]).tolist())


def test_tied_cut_points_merge_quartiles_and_too_few_patients_give_none():
    x = [1, 1, 1, 1, 1, 1, 2, 3]  # 25th and 50th percentiles are both 1: Q1 holds every 1
    q = response_by_quartile(table(x, [0, 1, 0, 1, 0, 1, 1, 1]), "cmax", "response")
    assert q["n"].sum() == 8 and q.iloc[0]["n"] == 6 and len(q) < 4
    assert response_by_quartile(table([1, 2, 3], [0, 1, 1]), "cmax", "response").empty


# ---- logistic regression ----------------------------------------------------------------------------------------

def test_logistic_fit_on_two_exposures_has_the_closed_form_mle():
    """Two exposures (10 and 1000: log10 1 and 3), 5/20 and 15/20 with the outcome: the MLE reproduces both
    proportions, so slope = (logit 0.75 - logit 0.25) / 2 = ln 3, intercept = logit 0.25 - slope = -2 ln 3, and
    var(slope) = (1/(n p q) + 1/(n p q)) / 2^2 with n p q = 20 x 0.25 x 0.75."""
    x = [10.0] * 20 + [1000.0] * 20
    y = [1] * 5 + [0] * 15 + [1] * 15 + [0] * 5
    fit = logistic_fit(table(x, y), "cmax", "response")
    assert fit.fitted and (fit.n, fit.events) == (40, 20)
    assert fit.slope == pytest.approx(math.log(3), abs=1e-8)
    assert fit.intercept == pytest.approx(-2 * math.log(3), abs=1e-8)
    se = math.sqrt(2 / (20 * 0.25 * 0.75)) / 2
    assert fit.se_slope == pytest.approx(se, rel=1e-6)
    assert fit.odds_ratio == pytest.approx(3.0, rel=1e-8)
    assert fit.odds_ratio_ci == pytest.approx((3 * math.exp(-1.959964 * se), 3 * math.exp(1.959964 * se)), rel=1e-5)
    assert fit.p_value == pytest.approx(2 * norm.sf(math.log(3) / se), rel=1e-6)
    probability, _, _ = fit.predict([10.0, 1000.0])
    assert probability == pytest.approx([0.25, 0.75], abs=1e-9)


def test_logistic_fit_and_its_band_match_a_newton_fit_written_out():
    rng = np.random.default_rng(11)
    x = 10 ** rng.uniform(3, 6, 45)
    t = np.log10(x)
    y = (rng.uniform(size=45) < 1 / (1 + np.exp(-(1.3 * t - 5.5)))).astype(float)
    beta, covariance = newton_logistic(t, y)
    fit = logistic_fit(table(x, y), "cmax", "response")
    assert (fit.intercept, fit.slope) == pytest.approx(tuple(beta), rel=1e-7)
    assert (fit.se_intercept, fit.se_slope) == pytest.approx(tuple(np.sqrt(np.diag(covariance))), rel=1e-6)
    grid = fit.grid
    assert len(grid) == 101 and grid["exposure"].iloc[0] == pytest.approx(x.min())
    assert grid["exposure"].iloc[-1] == pytest.approx(x.max())
    for row in grid.iloc[::25].itertuples():
        v = np.array([1.0, math.log10(row.exposure)])
        eta, se = v @ beta, math.sqrt(v @ covariance @ v)
        expit = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
        assert (row.probability, row.lower, row.upper) == pytest.approx(
            (expit(eta), expit(eta - 1.959964 * se), expit(eta + 1.959964 * se)), rel=1e-5)
        assert row.lower <= row.probability <= row.upper


@pytest.mark.parametrize(("exposure", "outcome", "reason"), [
    ([10.0 * (i + 1) for i in range(20)], [0] * 20, "no patient had the outcome (response (≥PR): 0 of 20)"),
    ([10.0 * (i + 1) for i in range(20)], [1] * 20, "every patient had the outcome (response (≥PR): 20 of 20)"),
    ([10.0 * (i + 1) for i in range(MIN_PATIENTS - 1)], [0, 1] * 4 + [1], f"too few patients ({MIN_PATIENTS - 1}"),
    ([50.0] * 12, [0, 1] * 6, "every patient has the same exposure"),
    ([10.0 * (i + 1) for i in range(20)], [0] * 10 + [1] * 10, "complete separation"),
    ([10.0 * (i + 1) for i in range(10)] + [100.0] + [10.0 * (i + 11) for i in range(9)], [0] * 10 + [1] * 10,
     "quasi-complete separation"),
])
def test_what_cannot_be_fitted_says_why_instead_of_giving_numbers(exposure, outcome, reason):
    fit = logistic_fit(table(exposure, outcome), "cmax", "response")
    assert not fit.fitted and fit.reason.startswith(reason)
    assert math.isnan(fit.slope) and fit.grid.empty


def test_separation_is_found_in_either_direction_and_not_where_outcomes_overlap():
    x = np.array([1.0, 2, 3, 4])
    assert separation(x, np.array([False, False, True, True])) == "complete"
    assert separation(x, np.array([True, True, False, False])) == "complete"
    assert separation(np.array([1.0, 2, 2, 3]), np.array([False, False, True, True])) == "quasi-complete"
    assert separation(x, np.array([False, True, False, True])) is None


def test_patients_left_out_are_counted_with_their_reason_and_the_rest_is_fitted():
    rng = np.random.default_rng(5)
    x = list(10 ** rng.uniform(3, 5, 30)) + [0.0, 0.0, np.nan]
    y = list(rng.uniform(size=30) < 0.5) + [False, True, True]
    fit = logistic_fit(table(x, y), "cmax", "response")
    assert fit.n == 30 and fit.excluded == [("no value of the metric (see the NCA notes)", 1),
                                            ("exposure 0 (every sample BLQ: no logarithm)", 2)]
    linear = logistic_fit(table(x, y), "cmax", "response", log=False)  # a linear metric keeps its zeros
    assert linear.n == 32 and linear.excluded == [("no value of the metric (see the NCA notes)", 1)]


def test_crs_outcome_reads_its_own_column():
    x = [10.0 * (i + 1) for i in range(20)]
    crs = table(x, [0, 1] * 10, column="crs_grade_2plus")
    assert logistic_fit(crs, "cmax", "crs2").events == 10
    assert logistic_fit(crs, "cmax", "response").reason.startswith("no patient had the outcome")
