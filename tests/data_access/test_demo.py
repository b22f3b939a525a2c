"""The bundled demo study: regenerating gives identical files, and it looks like a real BCMA CAR-T trial."""
import filecmp

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from data_access.demo import write_demo_study
from data_access.readers import files_from_path, read_files
from data_access.schema import CRS_TERM, RESPONSES
from data_access.validate import validate
from tests.conftest import DEMO_DIR, DEMO_TRUTH_DIR


@pytest.fixture(scope="module")
def demo():
    study, report = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    assert report.ok and not report.warnings, report.to_text()
    return study


@pytest.fixture(scope="module")
def kinetics(demo):
    """Cmax, Tmax and AUC0-28 (linear trapezoids, BLQ as 0, 0 at day 0) of blood qPCR per patient."""
    m = demo.measurements
    pb = m[(m["analyte"] == "car_copies") & (m["specimen"] == "PB") & (m["day"] >= 0)].copy()
    pb["level"] = pb["value"].where(~pb["blq"], 0.0)
    rows = {}
    for subject, g in pb.groupby("subject_id"):
        g = g.sort_values("day")
        early = g[g["day"] <= 28]
        days, levels = np.r_[0.0, early["day"]], np.r_[0.0, early["level"]]
        rows[subject] = {"cmax": g["level"].max(), "tmax": g["day"].iloc[int(g["level"].argmax())],
                         "auc_0_28": float(np.sum(np.diff(days) * (levels[1:] + levels[:-1]) / 2)),
                         "tlast": g.loc[g["level"] > 0, "day"].max()}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    best = demo.responses.groupby("subject_id")["response"].agg(lambda r: min(r, key=RESPONSES.index))
    frame["responder"] = best.reindex(frame.index).isin(["sCR", "CR", "VGPR", "PR"])
    return frame.join(demo.subjects.set_index("subject_id")["dose_level"])


def test_regenerating_gives_identical_files(tmp_path):
    write_demo_study(tmp_path / "demo", truth_dir=tmp_path / "demo-truth")
    names = ["subjects.csv", "measurements.csv", "adverse_events.csv", "responses.csv"]
    match, mismatch, missing = filecmp.cmpfiles(DEMO_DIR, tmp_path / "demo", names, shallow=False)
    assert (mismatch, missing) == ([], []) and len(match) == 4
    assert filecmp.cmp(DEMO_TRUTH_DIR / "ck_parameters.csv", tmp_path / "demo-truth" / "ck_parameters.csv",
                       shallow=False)


def test_the_true_kinetic_parameters_are_the_ones_the_measurements_came_from(demo):
    """Noise-free, the recorded truth gives each patient's blood transgene within the residual's spread."""
    from analysis.ck.model import curve, to_theta

    truth = pd.read_csv(DEMO_TRUTH_DIR / "ck_parameters.csv").set_index("subject_id")
    assert list(truth.index) == list(demo.subjects["subject_id"])
    m = demo.measurements
    pb = m[(m["analyte"] == "car_copies") & (m["specimen"] == "PB") & (m["day"] > 0) & ~m["blq"]]
    residuals = []
    for subject, g in pb.groupby("subject_id"):
        t = truth.loc[subject]
        assert t["rho"] == pytest.approx(np.log(t["foldx"]) / t["tmax"], rel=1e-4)
        theta = to_theta(t["cmax"], t["tmax"], t["rho"], t["alpha"], t["fb"], t["beta"])
        residuals += list(np.log(g["value"].to_numpy() / curve(theta, g["day"].to_numpy())))
    # the quantifiable samples are those above the LLOQ, so their residuals lean a little positive
    assert np.std(residuals) == pytest.approx(0.35, abs=0.04) and abs(np.mean(residuals)) < 0.1


def test_a_different_seed_gives_a_different_study(tmp_path):
    write_demo_study(tmp_path, seed=1)
    assert not filecmp.cmp(DEMO_DIR / "measurements.csv", tmp_path / "measurements.csv", shallow=False)


def test_cohort_size_doses_and_follow_up(demo):
    assert 55 <= len(demo.subjects) <= 65
    assert demo.subjects["dose_level"].nunique() == 3
    assert demo.subjects["last_contact_day"].max() <= 730
    alive = demo.subjects[demo.subjects["death_day"].isna()]
    assert (alive["last_contact_day"] < 730).any(), "some patients censored before two years (dropout, cut-off)"


def test_expansion_peak_and_exposure_look_like_bcma_car_t(kinetics):
    assert 7 <= kinetics["tmax"].median() <= 14
    assert 1e4 <= kinetics["cmax"].median() < 1e5
    assert kinetics["cmax"].max() / kinetics["cmax"].min() > 10 ** 2.5
    assert 3e4 <= kinetics["auc_0_28"].median() <= 3e5
    by_dose = kinetics.groupby("dose_level")["cmax"].median()
    assert by_dose["150e6 CAR+ T cells"] < by_dose["300e6 CAR+ T cells"]
    assert by_dose["150e6 CAR+ T cells"] < by_dose["450e6 CAR+ T cells"]


def test_responders_expand_more(kinetics):
    r, nr = kinetics[kinetics["responder"]], kinetics[~kinetics["responder"]]
    assert 3 <= r["cmax"].median() / nr["cmax"].median() <= 7
    assert 3 <= r["auc_0_28"].median() / nr["auc_0_28"].median() <= 8


def test_most_fall_below_lloq_within_months_some_persist_a_year(kinetics):
    assert kinetics["tlast"].median() <= 200
    assert (kinetics["tlast"] >= 300).sum() >= 3


def test_marrow_below_blood_and_flow_tracks_qpcr(demo):
    m = demo.measurements
    quantified = m[~m["blq"]]
    q = quantified.pivot_table(index=["subject_id", "day"], columns=["analyte", "specimen"], values="value")
    paired = q[[("car_copies", "PB"), ("car_copies", "BM")]].dropna()
    assert (paired[("car_copies", "BM")] < paired[("car_copies", "PB")]).mean() > 0.7
    flow = q[[("car_copies", "PB"), ("car_t_pct", "PB")]].dropna()
    assert flow.corr(method="spearman").iloc[0, 1] > 0.8
    peaks = quantified[(quantified["analyte"] == "car_t_pct")].groupby("subject_id")["value"].max()
    assert 1 <= peaks.median() <= 30


def test_no_samples_after_death(demo):
    death = demo.subjects.set_index("subject_id")["death_day"]
    m = demo.measurements
    assert not (m["day"] > m["subject_id"].map(death)).any()


def test_crs_common_mostly_low_grade_with_il6_rising_by_grade(demo):
    ae, n = demo.adverse_events, len(demo.subjects)
    crs = ae[ae["term"] == CRS_TERM].groupby("subject_id")["grade"].max()
    assert 0.7 <= len(crs) / n <= 0.95
    assert (crs <= 2).mean() >= 0.8 and (crs >= 3).sum() >= 1
    onset = ae.loc[ae["term"] == CRS_TERM, "onset_day"]
    assert onset.between(1, 10).all()
    il6 = demo.measurements[demo.measurements["analyte"] == "il6"]
    peak = il6.groupby("subject_id")["value"].max()
    grade = crs.reindex(peak.index).fillna(0)
    medians = peak.groupby(grade.clip(upper=3)).median()
    assert medians.is_monotonic_increasing and medians.iloc[0] >= 5 and medians.iloc[-1] >= 500
    assert 0.05 <= ae.loc[ae["term"].str.startswith("Immune effector"), "subject_id"].nunique() / n <= 0.35


def test_responses_orr_and_marrow_clearance(demo):
    best = demo.responses.groupby("subject_id")["response"].agg(lambda r: min(r, key=RESPONSES.index))
    orr = best.isin(["sCR", "CR", "VGPR", "PR"]).mean()
    assert 0.70 <= orr <= 0.95
    pcs = demo.measurements[demo.measurements["analyte"] == "plasma_cells_pct"]
    complete = best[best.isin(["sCR", "CR"])].index
    nadir = pcs[pcs["subject_id"].isin(complete) & (pcs["day"] > 0)].groupby("subject_id")["value"].min()
    assert (nadir < 5).all()
    progressed = demo.responses.loc[demo.responses["response"] == "PD", "subject_id"].unique()
    rising = 0
    for subject in progressed:
        values = pcs[pcs["subject_id"] == subject].sort_values("day")["value"]
        rising += len(values) >= 3 and values.iloc[-1] > values.iloc[1:-1].min()
    assert rising >= len(progressed) / 2


def test_pfs_and_os(demo):
    subjects = demo.subjects.set_index("subject_id")
    r = demo.responses
    pd_day = r[r["response"] == "PD"].groupby("subject_id")["day"].min().reindex(subjects.index)
    event_day = pd.concat([pd_day, subjects["death_day"]], axis=1).min(axis=1)
    last_assessment = r.groupby("subject_id")["day"].max().reindex(subjects.index).fillna(0)
    pfs = KaplanMeierFitter().fit(event_day.fillna(last_assessment) / 30.44, event_day.notna())
    assert 8 <= pfs.median_survival_time_ <= 16
    os_time = subjects["death_day"].fillna(subjects["last_contact_day"]) / 30.44
    os_fit = KaplanMeierFitter().fit(os_time, subjects["death_day"].notna())
    assert os_fit.median_survival_time_ > 18
    assert 0.3 <= float(os_fit.predict(24)) <= 0.8


def test_a_changed_bundled_demo_becomes_a_new_version_and_an_unchanged_one_stores_nothing(tmp_path, monkeypatch):
    import shutil

    import settings
    from data_access import store
    from data_access.importer import ensure_demo_study

    engine = store.get_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    demo = tmp_path / "demo"
    shutil.copytree(settings.DEMO_DIR, demo)
    monkeypatch.setattr(settings, "DEMO_DIR", demo)
    ensure_demo_study(engine)
    ensure_demo_study(engine)
    assert store.find_study(settings.DEMO_STUDY_NAME, engine=engine).version == 1
    subjects = demo / "subjects.csv"
    subjects.write_text(subjects.read_text().replace("DM-001,150e6 CAR+ T cells,64", "DM-001,150e6 CAR+ T cells,65"))
    ensure_demo_study(engine)
    newest = store.find_study(settings.DEMO_STUDY_NAME, engine=engine)
    assert newest.version == 2 and newest.simulated
