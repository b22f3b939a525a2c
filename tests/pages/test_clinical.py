"""Safety, efficacy and survival pages in headless Chromium: open, change stratification, click through."""
import time

import pytest
from dash.testing.application_runners import import_app

from tests.pages.test_app import open_page, screenshot_dir, severe_logs


@pytest.fixture(scope="module")
def app():
    return import_app("app")


def test_survival_stratified_by_dose(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/survival", "Kaplan-Meier")
    dash_duo.wait_for_contains_text("#survival-figure", "Progression-free survival", timeout=10)
    assert "All patients" in dash_duo.find_element("#survival-table").text
    dash_duo.find_element("#survival-strata input").click()
    dash_duo.wait_for_contains_text("#survival-figure", "log-rank p", timeout=10)
    assert "450e6 CAR+ T cells" in dash_duo.find_element("#survival-table").text
    dash_duo.find_element("#survival-endpoint input[value=OS]").click()
    dash_duo.wait_for_contains_text("#survival-figure", "Overall survival by dose level", timeout=10)
    assert "endpoint=OS" in dash_duo.driver.current_url and "strata=dose" in dash_duo.driver.current_url
    dash_duo.driver.save_screenshot(str(screenshot_dir() / "survival.png"))
    assert severe_logs(dash_duo) == []


def test_efficacy_swimmer_click_opens_the_patient(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/efficacy", "Swimmer plot")
    assert "ORR (≥PR)" in dash_duo.find_element("#efficacy-rates-table").text
    dash_duo.find_element("#efficacy-sort input[value=dose]").click()
    time.sleep(0.5)
    dash_duo.driver.save_screenshot(str(screenshot_dir() / "efficacy.png"))
    dash_duo.driver.execute_script(
        "window.dash_clientside.set_props({type: 'cs-graph', page: 'efficacy', name: 'swimmer'}, "
        "{clickData: {points: [{customdata: 'DM-007'}]}})")
    dash_duo.wait_for_contains_text("#_pages_content", "Patient DM-007", timeout=10)
    assert severe_logs(dash_duo) == []


def test_safety_table_click_through_to_a_patient(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/safety", "Adverse events")
    assert "Showing treatment-related AEs" in dash_duo.find_element("#safety-attribution").text
    dash_duo.wait_for_contains_text("#safety-ae-grid", "Cytokine release syndrome", timeout=10)
    cell = dash_duo.find_element("#safety-ae-grid .ag-center-cols-container .ag-row[row-index='0'] .ag-cell")
    cell.click()
    dash_duo.wait_for_contains_text("#safety-term-patients", "Patients with Cytokine release syndrome", timeout=10)
    dash_duo.driver.save_screenshot(str(screenshot_dir() / "safety.png"))
    link = dash_duo.find_element("#safety-term-patients a")
    subject = link.text.split(" ")[0]
    link.click()
    dash_duo.wait_for_contains_text("#_pages_content", f"Patient {subject}", timeout=10)
    assert severe_logs(dash_duo) == []


def test_patient_page_has_the_clinical_tracks(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/patients/DM-003", "Patient DM-003")
    dash_duo.wait_for_contains_text("#patient-kinetics", "Response", timeout=10)
    text = dash_duo.find_element("#patient-kinetics").text
    assert "CRS" in text and "ICANS" in text
    assert severe_logs(dash_duo) == []
