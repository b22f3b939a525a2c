"""Clinical endpoints on a small hand-worked cohort, checked against scipy and lifelines directly."""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test
from scipy.stats import binomtest

from analysis.responses import best_response, best_response_within, mrd_negative_ever, response_rates
from analysis.safety import ae_table, onset_and_duration, worst_grades
from analysis.survival import kaplan_meier, logrank, number_at_risk, time_to_event
from data_access.schema import CRS_TERM, ICANS_TERM
from tests.conftest import DEMO_DIR, REPO

SUBJECTS = pd.DataFrame({
    "subject_id": ["A", "B", "C", "D", "E"], "dose_level": ["low", "low", "high", "high", "high"],
    "last_contact_day": [300.0, 400.0, 30.0, 200.0, 50.0], "death_day": [300.0, np.nan, np.nan, np.nan, 50.0],
})
RESPONSES = pd.DataFrame([
    ("A", 28, "PR", None), ("A", 60, "CR", True), ("A", 90, "PD", None), ("A", 120, "CR", None),
    ("B", 28, "SD", None), ("B", 180, "SD", None),
    ("D", 28, "PD", None),
    ("E", 28, "PR", None),
], columns=["subject_id", "day", "response", "mrd_negative"])


def test_best_response_stops_at_progression():
    best = best_response(RESPONSES, SUBJECTS["subject_id"]).set_index("subject_id")
    assert best["best_response"].to_dict() == {"A": "CR", "B": "SD", "C": "NE", "D": "PD", "E": "PR"}
    assert best.loc["A", ["day_first_response", "day_best_response", "progression_day"]].tolist() == [28, 60, 90]
    assert best["response_group"].to_dict() == {"A": "≥CR", "B": "<PR", "C": "<PR", "D": "<PR", "E": "VGPR/PR"}


def test_best_response_within_the_first_months():
    late = pd.concat([RESPONSES, pd.DataFrame([("B", 200, "VGPR", None)], columns=RESPONSES.columns)])
    assert best_response_within(late, ["B"], 183).iloc[0]["best_response"] == "SD"
    assert best_response(late, ["B"]).iloc[0]["best_response"] == "VGPR"


def test_censoring_rules():
    tte = time_to_event(SUBJECTS, RESPONSES).set_index(["subject_id", "endpoint"])
    assert tte.loc[("A", "PFS")].tolist() == [90, 1]     # first PD
    assert tte.loc[("A", "OS")].tolist() == [300, 1]     # death
    assert tte.loc[("A", "DOR")].tolist() == [62, 1]     # first PR (28) to PD (90)
    assert tte.loc[("B", "PFS")].tolist() == [180, 0]    # censored at the last assessment
    assert tte.loc[("B", "OS")].tolist() == [400, 0]     # censored at last contact
    assert ("B", "DOR") not in tte.index                 # not a responder
    assert tte.loc[("C", "PFS")].tolist() == [0, 0]      # never assessed
    assert tte.loc[("E", "PFS")].tolist() == [50, 1]     # death without progression
    assert tte.loc[("E", "DOR")].tolist() == [22, 1]


def test_response_rates_have_exact_clopper_pearson_cis():
    best = best_response(RESPONSES, SUBJECTS["subject_id"]).set_index("subject_id")["best_response"]
    rates = response_rates(best, mrd_negative_ever(RESPONSES)).set_index("measure")
    assert rates.loc["ORR (≥PR)", ["n", "responders"]].tolist() == [5, 2]
    ci = binomtest(2, 5).proportion_ci(method="exact")
    assert rates.loc["ORR (≥PR)", ["ci_lower", "ci_upper"]].tolist() == pytest.approx([ci.low, ci.high])
    assert rates.loc["≥CR", "responders"] == 1 and rates.loc["MRD-negative", "responders"] == 1


def test_kaplan_meier_matches_lifelines_and_the_landmarks():
    rng = np.random.default_rng(0)
    times = pd.Series(rng.exponential(300, 80).round())
    events = pd.Series((rng.random(80) < 0.7).astype(int))
    km = kaplan_meier(times, events)
    direct = KaplanMeierFitter().fit(times, events)
    assert km.median_days == direct.median_survival_time_
    from lifelines.utils import median_survival_times

    assert km.median_ci == pytest.approx(tuple(median_survival_times(direct.confidence_interval_).iloc[0]))
    six = km.landmarks.set_index("months").loc[6]
    assert six["survival"] == pytest.approx(float(direct.survival_function_at_times(182.5).iloc[0]))
    assert number_at_risk(times, [0, 100]) == [80, int((times >= 100).sum())]
    assert (km.n, km.events) == (80, int(events.sum()))


def test_kaplan_meier_hand_worked_median_and_rate():
    # Events at 10, 20, 30, 40 with censoring at 25: S(10)=.8, S(20)=.6, S(30)=.6*1/2=.3 -> median 30.
    km = kaplan_meier(pd.Series([10, 20, 25, 30, 40]), pd.Series([1, 1, 0, 1, 1]))
    assert km.median_days == 30
    assert km.survival_at(29) == pytest.approx(0.6)


def test_logrank_matches_lifelines():
    times, events = pd.Series([5, 8, 12, 20, 3, 4, 6, 30]), pd.Series([1, 1, 0, 1, 1, 1, 1, 0])
    groups = pd.Series(["a"] * 4 + ["b"] * 4)
    expected = logrank_test(times[:4], times[4:], events[:4], events[4:]).p_value
    assert logrank(times, events, groups) == pytest.approx(expected)


def test_ae_table_counts_each_patient_once_per_term_at_the_worst_grade():
    ae = pd.DataFrame([
        ("A", CRS_TERM, 1, 2, 5, True), ("A", CRS_TERM, 3, 10, 14, True), ("B", CRS_TERM, 2, 1, 4, True),
        ("A", ICANS_TERM, 1, 4, 6, True), ("A", "Anemia", 3, 1, 30, True), ("B", "Anemia", 2, 1, 30, True),
        ("C", "Anemia", 4, 1, 30, True), ("C", "Nausea", 1, 1, 3, False),
    ], columns=["subject_id", "term", "grade", "onset_day", "resolution_day", "related"])
    table = ae_table(ae, 4, related_only=False).set_index("term")
    assert list(table.index) == [CRS_TERM, ICANS_TERM, "Anemia", "Nausea"]
    assert table.loc[CRS_TERM, ["any_grade", "grade_3_plus", "worst_grade_2", "worst_grade_3"]].tolist() == \
        [2, 1, 1, 1]
    assert table.loc["Anemia", "any_grade_pct"] == 75
    assert "Nausea" not in ae_table(ae, 4, related_only=True)["term"].tolist()
    crs = onset_and_duration(ae, CRS_TERM)
    assert (crs["patients"], crs["onset"], crs["duration"]) == (2, (1.5, 1, 2), (3, 3, 3))
    assert worst_grades(ae, ["A", "B", "C"])["worst_crs_grade"].tolist() == [3, 2, 0]


def test_endpoints_command_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "analysis", "endpoints", str(DEMO_DIR), "--out", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ae_table.csv", "best_response.csv", "crs_treatment.csv",
                                                          "km_summary.csv", "response_rates.csv", "time_to_event.csv"]
    best = pd.read_csv(tmp_path / "best_response.csv")
    assert list(best.columns) == ["subject_id", "best_response", "day_first_response", "day_best_response"]
    rates = pd.read_csv(tmp_path / "response_rates.csv")
    assert list(rates.columns) == ["window", "measure", "n", "responders", "rate", "ci_lower", "ci_upper"]
    km = pd.read_csv(tmp_path / "km_summary.csv")
    assert {"endpoint", "stratum", "n", "events", "median_days", "median_ci_lower", "median_ci_upper",
            "rate_12m", "rate_12m_ci_lower"} <= set(km.columns)
    tte = pd.read_csv(tmp_path / "time_to_event.csv")
    assert set(tte["endpoint"]) == {"PFS", "OS", "DOR"} and set(tte["event"]) <= {0, 1}


def test_crs_treatment_table_is_the_safety_pages():
    from analysis.endpoints import endpoints
    from analysis.nca import nca
    from analysis.views.common import StudyData
    from analysis.views.safety import safety_view
    from data_access.readers import files_from_path, read_files
    from data_access.validate import validate
    from tests.conftest import DEMO_DIR

    study, _ = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    table = endpoints(study).crs_treatment
    pd.testing.assert_frame_equal(table, safety_view(StudyData.of(study), nca(study.measurements)).treatments)
    assert table["group"].tolist() == ["No CRS", "CRS grade 1", "CRS grade 2", "CRS grade ≥3", "All patients"]
    assert table.set_index("group").at["All patients", "n"] == len(study.subjects)
