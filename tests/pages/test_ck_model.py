"""The CK model page: the cohort's fits compared across groups, as plain functions and in headless Chromium."""
import numpy as np
import pandas as pd
import pytest

from analysis.ck.cohort import fit_cohort
from analysis.ck.population import two_stage
from analysis.views.ck_model import ModelSettings, model_view
from analysis.views.common import StudyData
from components.ck_model import (
    comparison_figure,
    diagnostics_figure,
    fits_figure,
    grid_rows,
    parameters_export_frame,
    summary_frame,
)
from components.frame import screen, slide
from components.number_format import fmt_dose, fmt_range, fmt_sig
from data_access.readers import files_from_path, read_files
from data_access.validate import validate
from tests.conftest import DEMO_DIR, wait_until


@pytest.fixture(scope="module")
def demo():
    study, _ = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    study.version = 1
    return StudyData.of(study)


@pytest.fixture(scope="module")
def cohort(demo):
    return fit_cohort(demo.study.measurements)


def test_the_view_groups_the_fits_and_summarises_them_by_group(demo, cohort):
    view = model_view(demo, cohort, ModelSettings(grouping="response_group"))
    assert view.groups == ["≥CR", "VGPR/PR", "<PR"] and len(view.parameters) == 62
    assert view.status_counts.to_numpy().sum() == 62
    groups = demo.patients.set_index("subject_id")["response_group"]
    expected = two_stage(cohort.parameters, groups, view.groups)
    pd.testing.assert_frame_equal(view.summary, expected)
    # the typical curve is the model at the typical values
    from analysis.ck.model import curve, to_theta
    s = view.summary.set_index(["group", "parameter"])["typical"]
    top = view.curves[0]
    theta = to_theta(*(s[(top.group, k)] for k in ("cmax", "tmax", "rho", "alpha", "fb", "beta")))
    assert top.typical == pytest.approx(curve(theta, top.days))
    assert np.all(top.q1 <= top.q3)


def test_the_table_and_the_download_carry_the_fits_numbers(demo, cohort):
    view = model_view(demo, cohort, ModelSettings())
    summary = summary_frame(view).set_index("Parameter")
    row = view.summary.set_index(["group", "parameter"]).loc[("300e6 CAR+ T cells", "cmax")]
    cell = summary.loc["Cmax (fitted) (copies/µg gDNA)", fmt_dose("300e6 CAR+ T cells")]
    assert cell.startswith(f"{fmt_sig(row['typical'])} ({fmt_range(row['lower'], row['upper'])})")
    exported = parameters_export_frame(view)
    assert list(exported.columns[:4]) == ["subject_id", "analyte", "specimen", "dose_level"]
    pd.testing.assert_series_equal(exported["cmax"], cohort.parameters["cmax"])
    rows = {r["subject_id"].split("]")[0].strip("[").replace("\\", ""): r for r in grid_rows(view, "?study=demo")}
    fitted = cohort.parameters.dropna(subset=["cmax_lower"]).iloc[0]
    assert rows[fitted["subject_id"]]["cmax"] == fitted["cmax"]
    assert rows[fitted["subject_id"]]["cmax_text"] == (f"{fmt_sig(fitted['cmax'])} "
                                                      f"({fmt_range(fitted['cmax_lower'], fitted['cmax_upper'])})")
    assert "fit=on" in next(iter(rows.values()))["subject_id"]  # the link opens the patient with the fit shown


def test_figures_have_a_panel_per_group_and_say_their_methods(demo, cohort):
    view = model_view(demo, cohort, ModelSettings())
    for canvas in (screen(), slide("16:9")):
        fits = fits_figure(view, "SIMULATED", canvas)
        assert {"xaxis", "xaxis2", "xaxis3"} <= set(fits["layout"]) and "xaxis4" not in fits["layout"]
        names = {t.get("name") for t in fits["data"]}
        assert {"Samples", "Each patient's fit", "Typical curve", "Interquartile range of the fits"} <= names
        footnotes = str(fits["layout"]["annotations"])
        assert "Stein et al. 2019" in footnotes and "censored" in footnotes and "SIMULATED" in footnotes
        comparison = comparison_figure(view, "SIMULATED", canvas)
        assert "DerSimonian-Laird" in str(comparison["layout"]["annotations"])
        diagnostics = diagnostics_figure(view, "SIMULATED", canvas)
        observed = [t for t in diagnostics["data"] if t.get("xaxis") == "x" and t.get("mode") == "markers"]
        assert sum(len(t["x"]) for t in observed) == int((~view.observations["blq"]).sum())


def test_the_page_in_the_browser(browser):
    browser.open("/model", "CK model")
    browser.wait_for_text("#model-status", "profiles")
    assert "show every phase" in browser.text("#model-status")
    browser.duo.select_dcc_dropdown("#model-group", value="Worst CRS grade")
    wait_until(lambda: browser.query().get("group") == "crs_group")
    browser.wait_for_text("#model-summary-table", "No CRS")
    browser.duo.select_dcc_dropdown("#model-group", value="Extramedullary disease")  # a covariate of the study
    wait_until(lambda: browser.query().get("group") == "cov:extramedullary_disease")
    browser.wait_for_text("#model-summary-table", "Yes")
    browser.idle()
    browser.screenshot("ck-model")
    assert browser.severe_logs() == []


def test_the_cohort_pages_group_by_a_covariate(demo, cohort):
    from analysis.nca import nca
    from analysis.views.kinetics import CohortSettings, cohort_view

    assert "cov:high_risk_cytogenetics" in demo.groupings and "cov:age" in demo.groupings
    view = cohort_view(demo, nca(demo.study.measurements, intervals=[(0, 28)]),
                       CohortSettings(grouping="cov:high_risk_cytogenetics"))
    assert view.groups == ["No", "Yes"]
    high_risk = demo.study.subjects["high_risk_cytogenetics"].astype(str).str.upper().eq("TRUE").sum()
    assert view.patients_by_group["Yes"] == high_risk
    model = model_view(demo, cohort, ModelSettings(grouping="cov:age"))
    assert model.groups == ["<65 years", "≥65 years"] and model.grouping_label == "Age group"
    assert model.summary["group"].isin(model.groups).all()


def test_a_study_too_small_for_any_fit_still_draws_every_figure_and_table():
    from components.ck_model import comparison_figure, status_frame
    from data_access.importer import read_study_files
    from tests.conftest import make_files

    study, _ = validate(read_study_files(make_files()), "tiny")
    study.version = 1
    data = StudyData.of(study)
    cohort = fit_cohort(study.measurements)
    assert not any(f.fitted for f in cohort.fits.values())
    for grouping in data.groupings:
        view = model_view(data, cohort, ModelSettings(grouping=grouping))
        for build in (fits_figure, comparison_figure, diagnostics_figure):
            assert build(view, "note", screen())["layout"]
        assert len(summary_frame(view)) and status_frame(view)["Profiles"].sum() == len(cohort.fits)
