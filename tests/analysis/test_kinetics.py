"""Cohort kinetics statistics on small hand-worked data."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.kinetics import (
    cohort_samples,
    compare_groups,
    crs_group,
    geometric_cv,
    geometric_mean,
    group_order,
    group_summary,
    group_values,
    group_values_table,
    nominal_days,
    paired_flow_qpcr,
    spearman,
    summary_by_day,
)


def test_nominal_days_absorb_visit_window_jitter_but_keep_daily_visits():
    days = np.array([4] * 6 + [3, 5] + [7] * 6 + [6, 8] + [60] * 5 + [57, 63])
    assert nominal_days(days).tolist() == [4] * 8 + [7] * 8 + [60] * 7
    daily = np.array([0, 1, 2, 3, 4, 5] * 5)
    assert nominal_days(daily).tolist() == daily.tolist()


def test_summary_by_day_median_iqr_and_geometric_mean():
    frame = pd.DataFrame({"nominal_day": [7] * 4 + [14] * 2, "level": [1.0, 10.0, 100.0, 1000.0, 5.0, 6.0]})
    median = summary_by_day(frame, "median", min_n=3)
    assert median[["nominal_day", "n", "centre"]].values.tolist() == [[7, 4, 55.0]]
    assert median["lower"].iloc[0] == pytest.approx(np.quantile([1, 10, 100, 1000], 0.25))
    geo = summary_by_day(frame, "geomean", min_n=2)
    assert geo["centre"].tolist() == pytest.approx([10 ** 1.5, np.sqrt(30)])


def test_geometric_statistics():
    assert geometric_mean([1, 100]) == pytest.approx(10)
    s = np.std(np.log([1, 10, 100]), ddof=1)
    assert geometric_cv([1, 10, 100]) == pytest.approx(100 * np.sqrt(np.exp(s ** 2) - 1))
    assert np.isnan(geometric_cv([5]))


def test_group_summary_counts_zeros_and_keeps_them_out_of_the_geometric_mean():
    frame = pd.DataFrame({"g": ["a", "a", "a", "b"], "cmax": [10.0, 1000.0, 0.0, 5.0]})
    out = group_summary(frame, ["cmax"], "g", order=["b", "a"]).set_index("group")
    assert list(out.index) == ["b", "a"]
    assert out.loc["a", ["n", "n_zero", "median", "min", "max"]].tolist() == [3, 1, 10.0, 0.0, 1000.0]
    assert out.loc["a", "geometric_mean"] == pytest.approx(100)  # of the two positive values


def test_group_values_keep_every_patient_with_a_value_zeros_included():
    frame = pd.DataFrame({"subject_id": list("ABCDEF"), "cmax": [0.0, 0.0, 5.0, 50.0, np.nan, 7.0],
                          "response_group": ["≥CR", "≥CR", "≥CR", "<PR", "<PR", None]})
    order = group_order("response_group", frame["response_group"])
    assert order == ["≥CR", "<PR"]
    panel = group_values(frame, "cmax", "response_group", order, "Cmax (copies/µg gDNA)")
    assert [(g, panel.n(g), panel.n_zero(g)) for g in panel.groups] == [("≥CR", 3, 2), ("<PR", 1, 0)]
    assert panel.subjects["≥CR"] == ["A", "B", "C"] and panel.test == "Mann-Whitney U"
    table = group_values_table({"by response": [panel]})
    assert table[["group", "n", "n_zero"]].values.tolist() == [["≥CR", 3, 2], ["<PR", 1, 0]]
    assert crs_group(pd.Series([0, 1, 2, 3, 5])).tolist() == ["No CRS", "CRS grade 1", "CRS grade 2",
                                                              "CRS grade ≥3", "CRS grade ≥3"]


def test_group_comparisons_match_scipy():
    values = pd.Series([1.0, 2, 3, 10, 11, 12, 20, 21])
    two = pd.Series(["a"] * 3 + ["b"] * 5)
    assert compare_groups(values, two) == ("Mann-Whitney U", pytest.approx(
        stats.mannwhitneyu([1, 2, 3], [10, 11, 12, 20, 21], alternative="two-sided").pvalue))
    three = pd.Series(["a"] * 3 + ["b"] * 3 + ["c"] * 2)
    assert compare_groups(values, three) == ("Kruskal-Wallis", pytest.approx(
        stats.kruskal([1, 2, 3], [10, 11, 12], [20, 21]).pvalue))
    assert compare_groups(values, pd.Series(["a"] * 8))[0] == ""
    rho, p, n = spearman(pd.Series([1, 2, 3, 4]), pd.Series([10, 20, 30, 35]))
    assert (rho, n) == (1.0, 4)


def test_cohort_samples_levels_and_flow_qpcr_pairs():
    m = pd.DataFrame({"subject_id": ["A"] * 4, "analyte": ["car_copies", "car_copies", "car_t_pct", "car_t_pct"],
                      "specimen": ["PB"] * 4, "day": [7.0, 28.0, 7.0, 28.0], "value": [1000.0, np.nan, 5.0, 0.05],
                      "lloq": [20.0, 20.0, 0.1, 0.1], "blq": [False, True, False, False]})
    samples = cohort_samples(m, "car_copies", "PB")
    assert samples["level"].tolist() == [1000.0, 10.0]  # one rule for lines and summaries: BLQ at LLOQ/2
    pairs = paired_flow_qpcr(m)
    assert pairs[["day", "car_copies", "car_t_pct"]].values.tolist() == [[7.0, 1000.0, 5.0]]


def test_any_covariate_of_the_study_is_a_grouping():
    """Dose, response and CRS, then each covariate that makes groups, with its cut points and its levels' order."""
    import pandas as pd

    from analysis.kinetics import GROUPINGS, grouping_values, study_groupings

    patients = pd.DataFrame({"subject_id": ["a", "b", "c", "d"], "dose_level": ["150e6", "300e6", "150e6", "300e6"],
                             "age": [50, 70, 64, 65], "site": ["Lyon", "Bonn", "Lyon", None],
                             "weight": [60.5, 70.1, 80.2, 90.3], "worst_crs_grade": [0, 1, 3, 2]})
    groupings = study_groupings(patients)
    assert list(groupings)[:len(GROUPINGS)] == list(GROUPINGS)
    assert groupings["cov:age"] == "Age group" and groupings["cov:site"] == "Site" and "cov:weight" not in groupings
    values, order = grouping_values(patients, "cov:age")
    assert values.tolist() == ["<65 years", "≥65 years", "<65 years", "≥65 years"]
    assert order == ["<65 years", "≥65 years"]
    values, order = grouping_values(patients, "cov:site")
    assert order == ["Bonn", "Lyon"] and pd.isna(values.iloc[3])
    assert grouping_values(patients, "crs_group")[1] == ["No CRS", "CRS grade 1", "CRS grade 2", "CRS grade ≥3"]
