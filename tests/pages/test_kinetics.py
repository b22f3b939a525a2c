"""Cohort kinetics page: state parsing as plain functions, and the page in headless Chromium."""
import html
import io
import time
import zipfile

import openpyxl
import pandas as pd
import pytest

from analysis.nca import nca
from tests.conftest import wait_until

PROFILES = {"car_copies": ["PB", "BM"], "car_t_pct": ["PB", "BM"], "il6": ["serum"]}


@pytest.mark.usefixtures("app")  # page modules register with Dash Pages on import: an app must exist
def test_state_from_the_url_is_validated_and_a_reversed_window_is_an_error():
    from pages._context import WINDOW_ERROR
    from pages.kinetics import DEFAULTS, clean_state

    assert clean_state({}, PROFILES) == (DEFAULTS, None)
    state, error = clean_state({"analyte": "il6", "specimen": "PB", "group": "nope", "scale": "linear",
                                "method": "linear", "blq": "lloq_half", "start": "7", "end": "14"}, PROFILES)
    assert (state["analyte"], state["specimen"], state["group"], state["scale"]) == ("il6", "serum", "dose_level",
                                                                                      "linear")
    assert (state["method"], state["blq"], state["start"], state["end"], error) == ("linear", "lloq_half", "7", "14",
                                                                                     None)
    state, error = clean_state({"start": "50", "end": "28"}, PROFILES)
    assert (state["start"], state["end"], error) == ("0", "28", WINDOW_ERROR)
    # only what the study measured can be chosen: an analyte it lacks falls back to the default
    state, _ = clean_state({"analyte": "crp", "specimen": "serum"}, PROFILES)
    assert (state["analyte"], state["specimen"]) == ("car_copies", "PB")
    state, _ = clean_state({}, {"XYZ": ["plasma"]})
    assert (state["analyte"], state["specimen"]) == ("XYZ", "plasma")


def test_cohort_page_controls_link_export_and_click_through(browser, app):
    browser.open("/kinetics", "Cohort kinetics")
    browser.idle()
    browser.duo.select_dcc_dropdown("#kinetics-group", value="Best response")
    browser.find("#kinetics-scale input[value=linear]").click()
    wait_until(lambda: browser.query().get("group") == "response_group" and browser.query().get("scale") == "linear")
    browser.wait_for_text("#kinetics-summary-table", "VGPR/PR")
    browser.duo.select_dcc_dropdown("#kinetics-blq", value="Every BLQ counts as LLOQ/2")
    wait_until(lambda: browser.query().get("blq") == "lloq_half")
    browser.wait_for_text("#kinetics-summary-note", "BLQ rule: Every BLQ counts as LLOQ/2")
    browser.idle()
    browser.screenshot("kinetics")

    # A copied link reproduces the view.
    link = browser.url
    browser.duo.wait_for_page(url=link)
    browser.wait_for_text("#kinetics-summary-table", "VGPR/PR")
    assert browser.find("#kinetics-scale input[value=linear]").is_selected()
    assert "LLOQ/2" in browser.text("#kinetics-blq")

    # Export the table: the grid's columns, units in the headers, the options on every row.
    browser.find("#kinetics-export-csv").click()
    exported = pd.read_csv(browser.downloaded("nca_demo_v1_car_copies_PB.csv"), encoding="utf-8-sig")
    assert len(exported) == 62
    assert {"Patient", "Dose level", "Best response", "Worst CRS grade", "Cmax (copies/µg gDNA)",
            "AUC day 0–28 (copies/µg gDNA·day)", "Tlast (day)", "Half-life (day)"} <= set(exported.columns)
    assert set(exported["BLQ rule"]) == {"Every BLQ counts as LLOQ/2"}
    assert set(exported["AUC window (days)"]) == {"0 to 28"} and set(exported["AUC method"]) == {"Linear up, log down"}
    browser.find("#kinetics-export-xlsx").click()
    book = openpyxl.load_workbook(io.BytesIO(browser.downloaded("nca_demo_v1_car_copies_PB.xlsx").read_bytes()))
    about = {row[0]: row[1] for row in book["About"].iter_rows(min_row=2, values_only=True)}
    assert about["BLQ rule"] == "Every BLQ counts as LLOQ/2" and about["AUC window (days)"] == "0 to 28"
    browser.find("#kinetics-export-xpt").click()
    archive = zipfile.ZipFile(browser.downloaded("nca_demo_v1_car_copies_PB_pp_adpp.zip"))
    assert sorted(archive.namelist()) == ["adpp.xpt", "pp.xpt"]

    # Clicking a line opens that patient.
    browser.driver.execute_script(
        "window.dash_clientside.set_props({type: 'cs-graph', page: 'kinetics', name: 'spaghetti'}, "
        "{clickData: {points: [{customdata: 'DM-005'}]}})")
    browser.wait_for_text("#_pages_content", "Patient DM-005")
    time.sleep(0.3)
    assert browser.severe_logs() == []


def test_a_window_with_start_after_end_is_refused_with_a_message(browser):
    browser.open("/kinetics?start=50&end=28", "Cohort kinetics")
    assert "needs a start day before its end day; showing day 0 to 28" in browser.text("#kinetics-window-error")
    assert "AUC day 0–28" in browser.text("#kinetics-summary-table")
    start = browser.find("#kinetics-start")
    start.clear()
    start.send_keys("40\n")
    browser.wait_for_text("#kinetics-window-error", "The AUC window needs a start day before its end day.")
    time.sleep(0.5)
    assert "AUC day 0–28" in browser.text("#kinetics-summary-table")  # the last valid view stays
    assert browser.query().get("start") != "40"  # the address bar never holds a window that was refused
    start.clear()
    start.send_keys("7\n")
    browser.wait_for_text("#kinetics-summary-table", "AUC day 7–28")
    assert browser.text("#kinetics-window-error") == "" and browser.query()["start"] == "7"
    assert browser.severe_logs() == []


def test_grid_numbers_are_the_engines_through_the_one_formatter(browser):
    from components.number_format import fmt_sig
    from data_access.readers import files_from_path, read_files
    from data_access.validate import validate
    from tests.conftest import DEMO_DIR

    study, _ = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    expected = nca(study.measurements[study.measurements["subject_id"] == "DM-003"], intervals=[(0, 28)])
    blood = expected[(expected["analyte"] == "car_copies") & (expected["specimen"] == "PB")].iloc[0]
    browser.open("/kinetics", "NCA of every patient")
    browser.idle()
    row, cell = browser.driver.execute_script(
        "const api = dash_ag_grid.getApi('kinetics-grid'); let out = null;"
        "api.forEachNode(n => { if (n.data.subject_id.includes('DM-003')) out = n; });"
        "return [out.data, api.getCellValue({rowNode: out, colKey: 'auc_0_28', useFormatter: true})];")
    assert row["auc_0_28_text"] == fmt_sig(blood["auc_0_28"]) == cell
    headers = " ".join(h.text for h in browser.find_all("#kinetics-grid .ag-header-cell-text"))
    assert "AUC day 0–28 (copies/µg gDNA·day)" in headers.replace("\n", " ")
    clipped = browser.driver.execute_script(
        "return [...document.querySelectorAll('#kinetics-grid .ag-header-cell-text')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)"
        ".map(e => e.textContent);")
    assert clipped == []  # headers wrap instead of being cut off
    assert browser.severe_logs() == []


def test_exposure_boxes_draw_every_patient_the_table_counts(browser):
    """Marrow CAR+ % by best response: patients whose every sample is BLQ have Cmax 0; they are drawn (at the
    axis floor) and counted, so the n under each box is the n of its table row and the number of points."""
    browser.open("/kinetics?analyte=car_t_pct&specimen=BM", "Exposure and response")
    browser.idle()
    figure = browser.driver.execute_script(
        "const g = document.querySelector('#kinetics-by-response .js-plotly-plot'); return g.data.map(t => "
        "({x: t.x, y: t.y, xaxis: t.xaxis, name: t.name}));")
    table = pd.read_html(io.StringIO(browser.find("#kinetics-exposure-table").get_attribute("outerHTML")))[0]
    by_response = table[table["Comparison"].str.contains("best response") & table["Parameter"].str.startswith("Cmax")]
    drawn = {html.unescape(t["name"]): len(t["y"]) for t in figure if t["xaxis"] == "x"}  # names are plotly text
    assert drawn == dict(zip(by_response["Group"], by_response["n"], strict=True))
    zeros = dict(zip(by_response["Group"], by_response["n at 0 (all BLQ)"], strict=True))
    assert sum(zeros.values()) > 0  # the demo has all-BLQ marrow profiles: they are not dropped
    ticks = [t["x"][0] for t in figure if t["xaxis"] == "x"]
    for tick, (group, n) in zip(ticks, drawn.items(), strict=True):
        assert f"n={n}" in tick and (f"{zeros[group]} at 0" in tick) == (zeros[group] > 0)
    assert "0 (all BLQ)" in browser.text("#kinetics-by-response")
    assert browser.severe_logs() == []


def test_cohort_medians_never_fall_below_every_line(app):
    """One BLQ rule for lines and summaries: at every visit day the summary lies within the drawn levels."""
    from analysis.views.kinetics import CohortSettings, cohort_view
    from pages._context import cohort_nca, page_context

    context, _ = page_context("demo", None)
    for analyte, specimen in (("car_copies", "PB"), ("car_t_pct", "BM")):
        view = cohort_view(context.data, cohort_nca(context), CohortSettings(analyte, specimen, "none"))
        levels = view.samples.groupby("nominal_day")["level"]
        low, high = levels.min(), levels.max()
        for row in view.by_day.itertuples():
            assert low[row.nominal_day] <= row.centre <= high[row.nominal_day]


def test_pp_adpp_download_is_the_selected_profiles_nca_as_cdisc(app, tmp_path):
    import pyreadstat

    from pages._context import cohort_nca, page_context
    from pages.kinetics import DEFAULTS, cdisc_download

    context, _ = page_context("demo", None)
    state = {**DEFAULTS, "analyte": "il6", "specimen": "serum", "end": "14", "blq": "zero"}
    data, name = cdisc_download(context, state)
    assert name == "nca_demo_v1_il6_serum_pp_adpp.zip"
    zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path)
    pp, meta = pyreadstat.read_xport(str(tmp_path / "pp.xpt"))
    adpp, _ = pyreadstat.read_xport(str(tmp_path / "adpp.xpt"))
    assert meta.table_name == "PP" and set(pp["STUDYID"]) == {"demo"} and set(pp["PPCAT"]) == {"Interleukin-6"}
    expected = cohort_nca(context, 0, 14, "linuplogdown", "zero").query("analyte == 'il6' and specimen == 'serum'")
    for code, column in (("CMAX", "cmax"), ("AUCINT", "auc_0_14")):
        written = pp[pp["PPTESTCD"] == code].set_index("USUBJID")["PPSTRESN"].sort_index()
        assert written.to_numpy().tolist() == expected.set_index("subject_id")[column].sort_index().tolist(), code
    assert set(pp.loc[pp["PPTESTCD"] == "AUCINT", "PPENINT"]) == {"P14D"} and set(adpp["PPSPEC"]) == {"SERUM"}
    dose = context.study.subjects.set_index("subject_id")["dose_level"]
    assert (adpp["TRT01A"] == adpp["USUBJID"].map(dose)).all()


@pytest.mark.usefixtures("app")
def test_the_axis_follows_the_analyte_kind_unless_the_link_says():
    from data_access.catalogue import DEFAULT
    from pages.kinetics import clean_state

    profiles = {"car_copies": ["PB"], "m_protein": ["serum"]}
    assert clean_state({"analyte": "m_protein"}, profiles, DEFAULT.kind)[0]["scale"] == "linear"
    assert clean_state({"analyte": "m_protein", "scale": "log"}, profiles, DEFAULT.kind)[0]["scale"] == "log"
    assert clean_state({}, profiles, DEFAULT.kind)[0]["scale"] == "log"
