"""Kaplan-Meier against R's survival package (3.5.3, `survfit(Surv(time, status) ~ 1, conf.type = "log-log")`).

The reference numbers in r_reference/km_reference.json were computed by r_reference/km_reference.R with R 4.2.2
and Debian's r-cran-survival; rerun it there (`Rscript km_reference.R`) to refresh them."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.survival import kaplan_meier, r_median

REFERENCE = json.loads((Path(__file__).parent / "r_reference" / "km_reference.json").read_text())
DATASETS = REFERENCE["datasets"]


def blank(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def fit(name):
    data = DATASETS[name]
    return kaplan_meier(pd.Series(data["time"], dtype=float), pd.Series(data["status"])), data


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_median_and_its_ci_are_r_survivals(name):
    km, data = fit(name)
    expected = blank([data["median"], data["LCL95"], data["UCL95"]])
    np.testing.assert_allclose([km.median_days, *km.median_ci], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_curve_and_pointwise_cis_are_r_survivals_blank_where_s_is_1_or_0(name):
    km, data = fit(name)
    steps = data["steps"]
    curve = km.curve.set_index("time_days").loc[steps["time"]]
    np.testing.assert_allclose(curve["survival"], steps["surv"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(curve["ci_lower"], blank(steps["lower"]), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(curve["ci_upper"], blank(steps["upper"]), rtol=1e-12, atol=1e-15)


def test_small_cohorts_where_the_curve_sits_exactly_at_one_half():
    # n = 4, 10, 20 with the event at the middle: the flat stretch's midpoint, as R prints it.
    assert fit("b")[0].median_days == 25        # 0.5 from day 20 to the event at day 30
    assert fit("d")[0].median_days == 38.5      # n = 10: (35 + 42) / 2
    assert fit("f")[0].median_days == 52.5      # n = 20: (50 + 55) / 2
    km = fit("e")[0]                            # n = 20, 0.5 to the end: R's print.survfit gives day 50
    assert km.median_days == 50 and np.isnan(km.median_ci[1])  # upper bound not reached


def test_every_even_cohort_size_gives_the_midpoint_not_the_later_day():
    for row in REFERENCE["even_n_medians"]:
        n = row["n"]
        km = kaplan_meier(pd.Series(np.arange(1, n + 1), dtype=float), pd.Series(np.ones(n, dtype=int)))
        assert km.median_days == row["median"] == n / 2 + 0.5, n
        assert km.median_ci[0] == row["LCL95"] and (np.isnan(km.median_ci[1]) if row["UCL95"] is None
                                                     else km.median_ci[1] == row["UCL95"]), n


def test_r_median_rule_directly():
    assert r_median([1, 2, 3], [0.9, 0.5, 0.2]) == 2.5
    assert r_median([1, 2, 3], [0.9, 0.5 + 1e-10, 0.2]) == 2.5     # within R's tolerance of 0.5
    assert r_median([1, 2, 3], [0.9, 0.5 + 1e-6, 0.2]) == 3        # not at 0.5: first time below
    assert np.isnan(r_median([1, 2], [0.9, 0.6]))                  # never reached
    assert r_median([1, 2, 3], [np.nan, 0.4, 0.2]) == 2            # blank CI values are skipped


def test_landmark_rate_where_nobody_has_had_an_event_has_no_ci():
    km = kaplan_meier(pd.Series([200.0, 400, 800]), pd.Series([0, 0, 1]))
    six = km.landmarks.set_index("months").loc[6]
    assert six["survival"] == 1 and np.isnan(six["ci_lower"]) and np.isnan(six["ci_upper"])


def test_endpoints_the_study_gives_are_used_as_given_and_the_others_derived():
    from analysis.survival import study_time_to_event

    subjects = pd.DataFrame({"subject_id": ["A", "B"], "last_contact_day": [400.0, 300.0],
                             "death_day": [np.nan, 300.0]})
    responses = pd.DataFrame({"subject_id": ["A", "A", "B"], "day": [28.0, 90.0, 28.0],
                              "response": ["PR", "PD", "SD"]})
    given = pd.DataFrame({"subject_id": ["A", "B"], "endpoint": ["PFS", "PFS"], "day": [80.0, 250.0],
                          "event": [True, False]})
    tte, names = study_time_to_event(subjects, responses, given)
    pfs = tte[tte["endpoint"] == "PFS"].set_index("subject_id")
    assert names == {"PFS"} and pfs.loc["A", "time_days"] == 80.0 and pfs.loc["B", "event"] == 0
    os_ = tte[tte["endpoint"] == "OS"].set_index("subject_id")
    assert os_.loc["B", ["time_days", "event"]].tolist() == [300.0, 1]  # derived, as without ADTTE
    derived, none = study_time_to_event(subjects, responses, given.iloc[:0])
    assert none == frozenset() and derived.loc[derived["endpoint"] == "PFS", "time_days"].tolist() == [90.0, 300.0]
