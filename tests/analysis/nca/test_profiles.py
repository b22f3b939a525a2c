"""Edge cases return blanks with a reason, never a crash; Day 0 and baseline rules."""
import math

import numpy as np
import pandas as pd
import pytest

from analysis.nca import nca
from tests.analysis.nca.helpers import one, table


def test_unsorted_input_gives_the_same_result():
    m = pd.concat([table({7: 1000, 14: 250, 28: 40}, subject="A"), table({4: 10, 10: 90}, subject="B")])
    shuffled = m.sample(frac=1, random_state=3)
    pd.testing.assert_frame_equal(nca(m), nca(shuffled))


def test_exact_duplicate_rows_are_counted_once():
    m = table({7: 1000, 14: 250})
    doubled = pd.concat([m, m.iloc[[1]]])
    r = nca(doubled).iloc[0]
    assert r["auclast"] == nca(m).iloc[0]["auclast"]
    assert r["reason"].startswith("exact duplicate samples counted once")


def test_conflicting_duplicate_days_blank_the_profile():
    m = pd.concat([table({7: 1000, 14: 250}), table({14: 300})])
    r = nca(m).iloc[0]
    assert np.isnan(r[["cmax", "auclast", "auc_0_28"]].astype(float)).all()
    assert r["reason"] == "two different values on the same day"


def test_negative_days_only():
    r = one({-5: 10, -1: 12}, analyte="il6", specimen="serum")
    assert math.isnan(r["cmax"]) and r["reason"] == "no sample after Day 0"
    assert r["baseline"] == 12


def test_nan_value_not_blq_is_ignored():
    m = table({7: 1000, 14: 250, 21: 100})
    m.loc[m["day"] == 21, "value"] = np.nan
    r = nca(m).iloc[0]
    assert r["tlast"] == 14
    assert r["reason"].startswith("samples without a value (and not BLQ) were ignored")


def test_car_profiles_start_at_zero_on_day0_unless_switched_off():
    assert one({7: 1000})["auclast"] == pytest.approx(3500)
    off = one({7: 1000}, car_day0_zero=False)
    assert math.isnan(off["auclast"])


def test_car_day0_sample_is_used_as_measured():
    assert one({0: "BLQ", 7: 1000})["auclast"] == pytest.approx(3500)
    assert one({0: 100, 7: 1000})["auclast"] == pytest.approx(7 * 1100 / 2)


def test_baseline_is_carried_to_day0_for_non_car_analytes():
    r = one({-5: 10, 3: 50, 7: 20}, analyte="il6", specimen="serum")
    assert r["auclast"] == pytest.approx(3 * 60 / 2 + 4 * 30 / math.log(2.5))
    assert r["auc_0_28"] == pytest.approx(r["auclast"])


def test_samples_before_day0_are_not_in_the_kinetics():
    r = one({-5: 5000, 7: 1000})
    assert r["cmax"] == 1000 and r["n_samples"] == 1


def test_output_has_one_row_per_profile_sorted():
    m = pd.concat([table({7: 1}, subject="B"), table({7: 1}, subject="A", specimen="BM"),
                   table({7: 1}, subject="A")])
    keys = nca(m)[["subject_id", "analyte", "specimen"]].values.tolist()
    assert keys == [["A", "car_copies", "BM"], ["A", "car_copies", "PB"], ["B", "car_copies", "PB"]]


def test_empty_table():
    empty = table({7: 1.0}).iloc[:0]
    assert nca(empty).empty


@pytest.mark.parametrize("order", ["grouped", "shuffled"])
def test_profile_keys_are_coded_as_pandas_factorize_would(order):
    from analysis.nca.profiles import _factorize_runs

    subject = np.array(["S2"] * 6 + ["S1"] * 4 + [None] * 2 + ["S10"] * 3, dtype=object)
    analyte = np.array(["il6", "il6", "car_copies", "car_copies", "car_copies", "il6", "il6", "il6", "il6", "il6",
                        "il6", "il6", "car_t_pct", "car_t_pct", "car_t_pct"], dtype=object)
    specimen = np.array(["serum", "serum", "PB", "PB", "BM", "serum", "serum", "serum", "serum", "serum",
                         "serum", "serum", "BM", "PB", "PB"], dtype=object)
    subject, analyte, specimen = (np.repeat(column, 4) for column in (subject, analyte, specimen))  # long runs
    if order == "shuffled":  # runs of about one row: the row-by-row branch
        permutation = np.random.default_rng(3).permutation(len(subject))
        subject, analyte, specimen = subject[permutation], analyte[permutation], specimen[permutation]
    for (codes, names), column in zip(_factorize_runs([subject, analyte, specimen]), (subject, analyte, specimen),
                                      strict=True):
        expected_codes, expected_names = pd.factorize(column, sort=True)
        np.testing.assert_array_equal(codes, expected_codes)
        np.testing.assert_array_equal(np.asarray(names, dtype=object), np.asarray(expected_names, dtype=object))
