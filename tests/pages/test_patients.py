"""Patients: the list and the patient page, as plain functions and in headless Chromium."""
import time

import pytest

from analysis.nca import NCAOptions, nca
from analysis.views.common import StudyData
from analysis.views.patients import patient_list, patient_view
from components.number_format import fmt_day, fmt_sig
from data_access.readers import files_from_path, read_files
from data_access.validate import validate
from tests.conftest import DEMO_DIR, wait_until


@pytest.fixture(scope="module")
def demo():
    study, _ = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    study.version = 1
    return StudyData.of(study)


def expected_auc(measurements, subject, start, end, **kwargs):
    rows = measurements[(measurements["subject_id"] == subject) & (measurements["analyte"] == "car_copies")
                        & (measurements["specimen"] == "PB")]
    return nca(rows, intervals=[(start, end)], **kwargs).iloc[0]


def test_patient_summary_numbers_come_from_the_engine(demo):
    from components.patient import summary_frames

    view = patient_view(demo, "DM-003", NCAOptions(intervals=((0, 14),)))
    frames = dict(summary_frames(view))
    blood = frames["car_copies"].set_index("Specimen").loc["Blood"]
    expected = expected_auc(demo.study.measurements, "DM-003", 0, 14)
    assert blood["AUC day 0–14 (copies/µg gDNA·day)"] == fmt_sig(expected["auc_0_14"])
    assert blood["Tmax (day)"] == fmt_day(expected["tmax"]) and blood["Half-life (day)"] == fmt_sig(
        expected["half_life"])
    assert list(frames["car_t_pct"].columns[:3]) == ["Specimen", "Cmax (%)", "Tmax (day)"]


def test_the_list_has_one_row_per_patient_with_the_cohort_numbers(demo):
    table = patient_list(demo, nca(demo.study.measurements, intervals=[(0, 28)]))
    assert len(table) == 62 and table["subject_id"].is_unique
    row = table.set_index("subject_id").loc["DM-003"]
    expected = expected_auc(demo.study.measurements, "DM-003", 0, 28)
    assert row["auc_0_28"] == pytest.approx(expected["auc_0_28"]) and row["cmax"] == pytest.approx(expected["cmax"])
    assert (row["best_response"], row["worst_crs_grade"], bool(row["os_event"]), row["os_days"]) == ("SD", 1, True,
                                                                                                      315)


def test_kinetics_figure_shares_one_time_axis_with_mrd_on_the_clinical_track(demo):
    from components.frame import screen
    from components.patient import kinetics_figure

    view = patient_view(demo, "DM-010", NCAOptions(intervals=((0, 28),)))
    figure = kinetics_figure(view, "note", screen())
    layout = figure["layout"]
    assert [layout[f"xaxis{s}"].get("matches") for s in ("2", "3", "4", "5")] == ["x", "x", "x", "x"]
    assert layout["yaxis"]["type"] == "log" and layout["yaxis4"]["type"] == "log"
    assert layout["yaxis5"]["type"] == "category" and layout["yaxis5"]["categoryarray"][-3:] == ["ICANS", "CRS",
                                                                                                 "Response"]
    names = {t.get("name") for t in figure["data"]}
    assert {"AUC day 0–28", "Peak (Cmax)", "BLQ (at LLOQ/2)", "MRD negative"} <= names
    mrd = next(t for t in figure["data"] if t.get("name") == "MRD negative")
    assert mrd["x"] == view.mrd.loc[view.mrd["mrd_negative"], "day"].tolist() and set(mrd["y"]) == {"Response"}
    legend = next(t for t in figure["data"] if t.get("name") == "Blood" and t.get("showlegend", True))
    assert legend["x"] == [None] and "symbol" not in legend["marker"]  # the legend's marker is filled
    blood = next(t for t in figure["data"] if t.get("name") == "CAR transgene, blood" and t["yaxis"] == "y")
    assert "circle-open" in blood["marker"]["symbol"]  # BLQ samples hollow
    lloq = view.measurements.loc[view.measurements["blq"] & (view.measurements["analyte"] == "car_copies"), "lloq"]
    assert set(lloq / 2) <= set(blood["y"])  # drawn at LLOQ/2, as the cohort page draws and summarises them


def test_patient_list_search_sort_and_click_through(browser):
    browser.open("/patients", "Every patient")
    browser.idle()
    count = "return dash_ag_grid.getApi('patient-list').getDisplayedRowCount();"
    wait_until(lambda: browser.driver.execute_script(count) == 62)
    browser.find("#patient-list-search").send_keys("sCR")
    wait_until(lambda: 0 < browser.driver.execute_script(count) < 62)
    rows = browser.driver.execute_script(
        "const api = dash_ag_grid.getApi('patient-list'); const out = [];"
        "api.forEachNodeAfterFilterAndSort(n => out.push(n.data.best_response)); return out;")
    assert rows and set(rows) == {"sCR"}
    browser.find("#patient-list-search").clear()
    header = [h for h in browser.find_all("#patient-list .ag-header-cell") if "Cmax" in h.text][0]
    header.find_element("css selector", ".ag-header-cell-label").click()  # sort by Cmax, ascending
    time.sleep(0.5)
    values = browser.driver.execute_script(
        "const api = dash_ag_grid.getApi('patient-list'); const out = [];"
        "api.forEachNodeAfterFilterAndSort(n => out.push(n.data.cmax)); return out;")
    assert values == sorted(values, key=lambda v: (v is not None, v))
    browser.screenshot("patients-list")
    cell = browser.find("#patient-list .ag-center-cols-container .ag-row[row-index='0'] [col-id='dose_level']")
    subject = browser.driver.execute_script(
        "const api = dash_ag_grid.getApi('patient-list'); let out = null;"
        "api.forEachNodeAfterFilterAndSort(n => { if (out === null) out = n.data.id; }); return out;")
    cell.click()
    browser.wait_for_text("#_pages_content", f"Patient {subject}")
    assert browser.severe_logs() == []


def test_patient_page_in_the_browser(browser, demo):
    browser.open("/patients/DM-003", "Patient DM-003")
    assert browser.text("#patient-dose").endswith("150 × 10⁶ CAR+ T cells")  # the dose as people write it
    first = expected_auc(demo.study.measurements, "DM-003", 0, 28)
    auc_cell = "#summary-car_copies-PB td:nth-child(4)"
    assert browser.text(auc_cell) == fmt_sig(first["auc_0_28"])
    options = browser.text("#patient-blq")
    assert "PKNCA default" in options and "pknca" not in options  # plain words, not codes

    end = browser.find("#patient-auc-end")
    end.clear()
    end.send_keys("14\n")
    changed = expected_auc(demo.study.measurements, "DM-003", 0, 14)
    browser.duo.wait_for_text_to_equal(auc_cell, fmt_sig(changed["auc_0_14"]), timeout=10)
    assert "AUC day 0–14" in browser.text("#patient-summary-table")
    wait_until(lambda: browser.query().get("end") == "14")

    browser.find("#patient-auc-method input[value=linear]").click()
    linear = expected_auc(demo.study.measurements, "DM-003", 0, 14, auc_method="linear")
    browser.duo.wait_for_text_to_equal(auc_cell, fmt_sig(linear["auc_0_14"]), timeout=10)
    browser.find("#patient-days input[value='28']").click()
    wait_until(lambda: browser.query().get("days") == "28")
    x_range = browser.driver.execute_script(
        "return document.querySelector('#patient-kinetics .js-plotly-plot')._fullLayout.xaxis.range;")
    assert x_range == [-7, 30]
    browser.idle()
    browser.screenshot("patient")

    browser.find("#patient-next").click()
    browser.wait_for_text("#_pages_content", "Patient DM-004")
    assert "/patients/DM-004" in browser.url
    browser.find("#patient-prev").click()
    browser.wait_for_text("#_pages_content", "Patient DM-003")
    browser.duo.select_dcc_dropdown("#patient-select", value="DM-020")
    browser.wait_for_text("#_pages_content", "Patient DM-020")
    assert "/patients/DM-020" in browser.url
    time.sleep(0.3)
    assert browser.severe_logs() == []


def test_mrd_results_are_in_the_patient_facts(browser, demo):
    mrd = demo.study.responses.dropna(subset=["mrd_negative"])
    negative = mrd[mrd["mrd_negative"].astype(bool)].sort_values("day").groupby("subject_id").first()
    subject = negative.index[0]
    browser.open(f"/patients/{subject}", f"Patient {subject}")
    assert browser.text("#patient-mrd") == f"MRD\nNegative (first day {fmt_day(negative.loc[subject, 'day'])})"
    untested = sorted(set(demo.patients["subject_id"]) - set(mrd["subject_id"]))[0]
    browser.open(f"/patients/{untested}", f"Patient {untested}")
    assert browser.text("#patient-mrd") == "MRD\nNot tested"
    assert browser.severe_logs() == []


def test_unknown_patient_is_a_friendly_notice(browser):
    browser.open("/patients/XX-999", "No such patient")
    text = browser.text("#_pages_content")
    assert "There is no patient 'XX-999' in demo" in text and "See the list of patients" in text
    assert browser.severe_logs() == []


def test_clinical_tracks_are_in_the_figure(browser):
    browser.open("/patients/DM-003", "Patient DM-003")
    browser.wait_for_text("#patient-kinetics", "Response")
    text = browser.text("#patient-kinetics")
    assert "CRS" in text and "ICANS" in text
    assert browser.severe_logs() == []


def test_the_model_fit_on_the_patient_page_is_the_cohort_fit(demo):
    """The curve and the parameters are the cohort fit's for this patient: the numbers `python -m analysis ck`
    writes."""
    from analysis.ck.cohort import fit_cohort
    from analysis.ck.model import curve
    from components.frame import screen
    from components.number_format import fmt_range
    from components.patient import MODEL_FIT_NAME, kinetics_figure, model_fit_frame

    cohort = fit_cohort(demo.study.measurements)
    view = patient_view(demo, "DM-003", NCAOptions(intervals=((0, 28),)), ck=cohort)
    fit = view.model_fit
    assert fit.fit is cohort.fits["DM-003"] and fit.fit.fitted
    figure = kinetics_figure(view, "note", screen())
    line = next(t for t in figure["data"] if t.get("name") == MODEL_FIT_NAME)
    assert line["yaxis"] == "y" and line["y"] == pytest.approx(curve(fit.fit.theta, line["x"]).tolist())
    assert "multiphasic cellular-kinetic model" in str(figure["layout"]["annotations"])
    table = model_fit_frame(fit, "copies/µg gDNA").set_index("Parameter")
    row = cohort.parameters.set_index("subject_id").loc["DM-003"]
    assert table.loc["Cmax (fitted) (copies/µg gDNA)", "Estimate"] == fmt_sig(row["cmax"])
    assert table.loc["ρ, expansion rate (1/day)", "95% CI"] == fmt_range(row["rho_lower"], row["rho_upper"])
    assert any(name.startswith("FB") for name in table.index) == bool(row["fb"] == row["fb"])  # none when blank
    unfitted = next(s for s, f in cohort.fits.items() if not f.fitted)
    other = patient_view(demo, unfitted, NCAOptions(intervals=((0, 28),)), ck=cohort)
    names = {t.get("name") for t in kinetics_figure(other, "note", screen())["data"]}
    assert MODEL_FIT_NAME not in names and "not fitted" in str(kinetics_figure(other, "n", screen())["layout"])


def test_the_model_fit_toggle_in_the_browser(browser):
    browser.open("/patients/DM-003", "Patient DM-003")
    assert browser.driver.find_elements("css selector", "#patient-summary-table-model") == []
    browser.find("#patient-model-fit input").click()
    browser.wait_for_text("#patient-summary-table-model", "Model fit")
    wait_until(lambda: browser.query().get("fit") == "on")
    names = browser.driver.execute_script(
        "return document.querySelector('#patient-kinetics .js-plotly-plot').data.map(t => t.name);")
    assert "Model fit" in names
    assert browser.severe_logs() == []
