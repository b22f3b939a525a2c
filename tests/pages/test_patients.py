"""Patient page: logic as plain functions, and the page in headless Chromium."""
import time

import pytest
from dash.testing.application_runners import import_app

from analysis.nca import nca
from components.patient import fmt_day
from components.theme import fmt_sig
from data_access.readers import files_from_path, read_files
from data_access.validate import validate
from tests.conftest import DEMO_DIR
from tests.pages.test_app import open_page, screenshot_dir, severe_logs, wait_until


@pytest.fixture(scope="module")
def demo_measurements():
    study, _ = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    return study.measurements


@pytest.fixture(scope="module")
def app():
    return import_app("app")


def expected_auc(measurements, subject, start, end, **kwargs):
    rows = measurements[(measurements["subject_id"] == subject) & (measurements["analyte"] == "car_copies")
                        & (measurements["specimen"] == "PB")]
    return nca(rows, intervals=[(start, end)], **kwargs).iloc[0]


def test_patient_view_numbers_come_from_the_engine(demo_measurements):
    from components.patient import kinetics_summary
    from data_access.study import Study

    rows = demo_measurements[demo_measurements["subject_id"] == "DM-003"]
    params = nca(rows, intervals=[(0, 14)])
    summary = kinetics_summary(params, (0, 14), "auc_0_14")
    table = summary.children[0]
    blood = next(r for r in table.children[1].children if r.id == "summary-car_copies-PB")
    expected = expected_auc(demo_measurements, "DM-003", 0, 14)
    assert blood.children[3].children == fmt_sig(expected["auc_0_14"])
    assert blood.children[2].children == fmt_day(expected["tmax"])
    assert Study  # the summary needs no study object: plain data in, layout out


def test_kinetics_figure_shares_one_time_axis(demo_measurements):
    from analysis.nca import NCAOptions
    from analysis.nca.engine import curves, run_nca
    from components.patient import kinetics_figure

    rows = demo_measurements[demo_measurements["subject_id"] == "DM-010"]
    options = NCAOptions(intervals=((0, 28),))
    figure = kinetics_figure(rows, run_nca(rows, options), curves(rows, options), (0, 28), (-30, 740), "note")
    layout = figure["layout"]
    assert [layout[f"xaxis{s}"].get("matches") for s in ("2", "3", "4")] == ["x", "x", "x"]
    assert layout["yaxis"]["type"] == "log" and layout["yaxis4"]["type"] == "log"
    assert layout["yaxis2"]["type"] == "linear"
    names = {t.get("name") for t in figure["data"]}
    assert {"AUC day 0–28", "Peak (Cmax)", "BLQ (drawn at LLOQ)"} <= names
    assert any(str(n).startswith("λz points") for n in names)
    five = [s for s in layout["shapes"] if s.get("yref") == "y3" and s.get("y0") == 5.0]
    assert len(five) == 1  # the IMWG 5 % plasma-cell line
    blood = next(t for t in figure["data"] if t.get("name") == "Blood" and t["yaxis"] == "y")
    assert "circle-open" in blood["marker"]["symbol"]  # BLQ samples hollow


def test_patient_page_in_the_browser(dash_duo, app, demo_measurements):
    dash_duo.start_server(app)
    open_page(dash_duo, "/patients/DM-003", "Patient DM-003")
    assert dash_duo.find_element("#patient-dose").text.endswith("150e6 CAR+ T cells")
    first = expected_auc(demo_measurements, "DM-003", 0, 28)
    auc_cell = "#summary-car_copies-PB td:nth-child(4)"
    assert dash_duo.find_element(auc_cell).text == fmt_sig(first["auc_0_28"])

    end = dash_duo.find_element("#patient-auc-end")
    end.clear()
    end.send_keys("14\n")
    changed = expected_auc(demo_measurements, "DM-003", 0, 14)
    dash_duo.wait_for_text_to_equal(auc_cell, fmt_sig(changed["auc_0_14"]), timeout=10)
    assert "AUC day 0–14" in dash_duo.find_element("#patient-summary-table thead").text
    wait_until(lambda: "end=14" in dash_duo.driver.current_url)

    dash_duo.find_element("#patient-auc-method input[value=linear]").click()
    linear = expected_auc(demo_measurements, "DM-003", 0, 14, auc_method="linear")
    dash_duo.wait_for_text_to_equal(auc_cell, fmt_sig(linear["auc_0_14"]), timeout=10)
    dash_duo.driver.save_screenshot(str(screenshot_dir() / "patient.png"))

    dash_duo.find_element("#patient-next").click()
    dash_duo.wait_for_contains_text("#_pages_content", "Patient DM-004", timeout=10)
    assert "/patients/DM-004" in dash_duo.driver.current_url
    dash_duo.find_element("#patient-prev").click()
    dash_duo.wait_for_contains_text("#_pages_content", "Patient DM-003", timeout=10)
    dash_duo.select_dcc_dropdown("#patient-select", value="DM-020")
    dash_duo.wait_for_contains_text("#_pages_content", "Patient DM-020", timeout=10)
    assert "/patients/DM-020" in dash_duo.driver.current_url
    time.sleep(0.3)
    assert severe_logs(dash_duo) == []


def test_unknown_patient_is_a_friendly_notice(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/patients/XX-999", "No such patient")
    text = dash_duo.find_element("#_pages_content").text
    assert "There is no patient 'XX-999' in demo" in text and "DM-062" in text
    assert severe_logs(dash_duo) == []


def test_clinical_tracks_share_the_time_axis(demo_measurements):
    import pandas as pd

    from analysis.nca import NCAOptions
    from analysis.nca.engine import curves, run_nca
    from components.patient import kinetics_figure
    from data_access.schema import CRS_TERM

    rows = demo_measurements[demo_measurements["subject_id"] == "DM-003"]
    options = NCAOptions(intervals=((0, 28),))
    clinical = {"responses": pd.DataFrame({"day": [28.0, 90.0], "response": ["PR", "PD"]}),
                "adverse_events": pd.DataFrame({"term": [CRS_TERM, "Anemia"], "grade": [2, 3],
                                                "onset_day": [2.0, 1.0], "resolution_day": [6.0, None]}),
                "last_contact_day": 300.0, "death_day": 300.0, "progression_day": 90.0}
    figure = kinetics_figure(rows, run_nca(rows, options), curves(rows, options), (0, 28), (-30, 310), "n",
                             clinical)
    layout = figure["layout"]
    assert layout["xaxis5"]["matches"] == "x" and layout["yaxis5"]["type"] == "category"
    assert layout["yaxis5"]["categoryarray"] == ["Anemia", "ICANS", "CRS", "Response"]
    bars = [t for t in figure["data"] if t["type"] == "bar"]
    assert [(t["y"][0], t["text"][0]) for t in bars] == [("Response", "PR"), ("Response", "after PD"),
                                                           ("CRS", "G2"), ("Anemia", "G3")]
    anemia = bars[-1]
    assert anemia["base"] == [1.0] and anemia["x"] == [299.0]  # ongoing: drawn to last contact
    markers = {t["name"]: t["x"] for t in figure["data"] if t.get("name") in ("Progression", "Death")}
    assert markers == {"Progression": [90.0], "Death": [300.0]}
