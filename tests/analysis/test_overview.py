"""Overview numbers on small hand-worked cohorts."""
import numpy as np
import pandas as pd
import pytest

from analysis.groups import dose_sort_key, ordered_dose_levels
from analysis.overview import dose_level_counts, median_follow_up, sample_counts, summarise_study
from data_access.study import empty_table


def subjects(times, deaths, doses=None):
    n = len(times)
    return pd.DataFrame({"subject_id": [f"S{i}" for i in range(n)], "dose_level": doses or ["d"] * n,
                         "last_contact_day": times, "death_day": deaths})


def test_reverse_kaplan_meier_median_follow_up_by_hand():
    # Alive (follow-up ends = 'event') at 10, 30, 40; death at 20 is censored in the reverse KM.
    # S(10) = 3/4; S(30) = 3/4 * 1/2 = 0.375 <= 0.5, so the median is day 30.
    fu = median_follow_up(subjects([10, 20, 30, 40], [np.nan, 20, np.nan, np.nan]))
    assert fu.median_days == 30
    assert (fu.min_days, fu.max_days) == (10, 40)


def test_follow_up_not_estimable_when_everyone_died():
    fu = median_follow_up(subjects([10, 20], [10, 20]))
    assert np.isnan(fu.median_days)


def test_dose_levels_are_ordered_by_dose_not_text():
    frame = dose_level_counts(subjects([1, 2, 3, 4], [np.nan] * 4,
                                       ["450e6 cells", "50e6 cells", "150e6 cells", "450e6 cells"]))
    assert frame["dose_level"].tolist() == ["50e6 cells", "150e6 cells", "450e6 cells"]
    assert frame["n"].tolist() == [1, 1, 2]
    assert frame["percent"].tolist() == [25.0, 25.0, 50.0]
    assert ordered_dose_levels(["B", "10 mg", "2 mg"]) == ["2 mg", "10 mg", "B"]
    assert dose_sort_key("1.5e8 cells")[0] == 1.5e8


def test_sample_counts_per_analyte_and_specimen():
    m = pd.DataFrame({"subject_id": ["A", "A", "B", "A"], "analyte": ["il6", "il6", "il6", "car_copies"],
                      "specimen": ["serum", "serum", "serum", "PB"], "day": [0.0, 3.0, 1.0, 7.0],
                      "unit": ["pg/mL"] * 3 + ["copies/µg gDNA"], "blq": [True, False, False, False]})
    counts = sample_counts(m).set_index("analyte")
    assert counts.loc["il6", ["samples", "patients", "blq", "first_day", "last_day"]].tolist() == [3, 2, 1, 0, 3]
    assert counts.loc["car_copies", "samples"] == 1
    assert counts.index.tolist() == ["car_copies", "il6"]  # the format's analyte order, not input order


def test_summary_counts():
    s = subjects([100, 50, 700], [np.nan, 50, np.nan])
    summary = summarise_study(s, empty_table("measurements"), empty_table("adverse_events"),
                              empty_table("responses"))
    assert (summary.n_infused, summary.n_deaths, summary.data_cutoff_day) == (3, 1, 700)
    # Reverse KM: the death at day 50 is censored; at day 100 one of two at risk ends follow-up, S = 0.5 until
    # day 700. R survival 3.5.3 (print.survfit): median 400 (the midpoint of the flat stretch), 95% CI 100 to NA.
    assert summary.follow_up.median_days == pytest.approx(400)
    assert summary.follow_up.ci_lower_days == 100 and np.isnan(summary.follow_up.ci_upper_days)
