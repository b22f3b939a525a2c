"""The app in a real headless Chromium: every page opens without browser or callback errors."""
import time

import pytest
from dash.testing.application_runners import import_app

from data_access.importer import import_path
from data_access.store import list_studies
from tests.conftest import DEMO_DIR, VALID_TABLES

PAGES = {
    "/": "Study overview: demo v1",
    "/patients": "Patient DM-001",
    "/patients/DM-002": "Patient DM-002",
    "/kinetics": "Cohort kinetics",
    "/safety": "Adverse events",
    "/efficacy": "Swimmer plot",
    "/survival": "Kaplan-Meier",
    "/data": "Import a study",
}


@pytest.fixture(scope="module")
def app():
    return import_app("app")


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def severe_logs(dash_duo):
    return [entry for entry in dash_duo.get_logs() or [] if entry["level"] == "SEVERE"]


def open_page(dash_duo, path, expected_text):
    dash_duo.wait_for_page(url=dash_duo.server_url + path)
    dash_duo.wait_for_contains_text("#_pages_content", expected_text, timeout=10)


def test_every_page_opens_without_errors(dash_duo, app):
    dash_duo.start_server(app)
    for path, text in PAGES.items():
        open_page(dash_duo, path, text)
        assert severe_logs(dash_duo) == [], path
    nav = [a.text for a in dash_duo.find_elements(".cs-nav-link")]
    assert nav == ["Overview", "Patients", "Kinetics", "Safety", "Efficacy", "Survival", "Data"]


def test_overview_summarises_the_demo_study_and_says_it_is_simulated(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/", "Study overview")
    assert dash_duo.find_element("#kpi-infused .cs-kpi-value").text == "62"
    assert dash_duo.find_element("#kpi-dose-levels .cs-kpi-value").text == "3"
    assert dash_duo.find_element("#kpi-follow-up .cs-kpi-value").text.endswith("months")
    assert "SIMULATED DATA" in dash_duo.find_element("#simulated-banner").text
    wait_until(lambda: dash_duo.find_element("#simulated-badge").is_displayed())
    doses = [r.text for r in dash_duo.find_elements("#overview-dose-table tbody tr")]
    assert doses == ["150e6 CAR+ T cells 12 19 %", "300e6 CAR+ T cells 22 35 %", "450e6 CAR+ T cells 28 45 %"]
    analytes = dash_duo.find_element("#overview-sample-table").text
    assert "CAR transgene" in analytes and "Interleukin-6" in analytes and "Clonal plasma cells" in analytes
    dash_duo.find_element("#overview-follow-up .main-svg")
    dash_duo.driver.save_screenshot(str(screenshot_dir() / "overview.png"))
    assert severe_logs(dash_duo) == []


def test_unknown_address_shows_the_404_page(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/no/such/page", "Page not found")
    assert "There is no page at this address." in dash_duo.find_element("#not-found").text
    assert severe_logs(dash_duo) == []


def test_study_selector_is_kept_in_the_url_and_versions_can_be_picked(dash_duo, app):
    if "second-trial" not in set(list_studies()["name"]):
        import_path(DEMO_DIR, "second-trial", source="test")  # real data, not flagged simulated
        import_path(DEMO_DIR, "second-trial", source="test")
    dash_duo.start_server(app)
    open_page(dash_duo, "/", "demo")
    dash_duo.select_dcc_dropdown("#study-select", value="second-trial")
    dash_duo.wait_for_contains_text("#_pages_content", "Study overview: second-trial v2", timeout=10)
    assert dash_duo.driver.current_url.endswith("/?study=second-trial")
    wait_until(lambda: not dash_duo.find_element("#simulated-badge").is_displayed())
    assert not dash_duo.find_elements("#simulated-banner")
    # the navigation keeps the study; an older version is addressable and selectable
    assert dash_duo.find_element("#\\{\\\"index\\\"\\:\\\"\\/data\\\"\\,\\\"type\\\"\\:\\\"nav-link\\\"\\}") \
        .get_attribute("href").endswith("/data?study=second-trial")
    dash_duo.select_dcc_dropdown("#study-version", value="v1")
    dash_duo.wait_for_contains_text("#_pages_content", "Study overview: second-trial v1", timeout=10)
    assert dash_duo.driver.current_url.endswith("/?study=second-trial&version=1")
    dash_duo.driver.back()
    dash_duo.wait_for_contains_text("#_pages_content", "Study overview: second-trial v2", timeout=10)
    open_page(dash_duo, "/?study=nope", "No such study")
    assert severe_logs(dash_duo) == []


def test_data_page_upload_valid_study_is_stored(dash_duo, app, tmp_path):
    for name, text in VALID_TABLES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    dash_duo.start_server(app)
    open_page(dash_duo, "/data", "Import a study")
    upload = dash_duo.find_element("#data-upload input[type=file]")
    upload.send_keys("\n".join(str(tmp_path / name) for name in VALID_TABLES))
    dash_duo.wait_for_contains_text("#data-selected-files", "subjects.csv", timeout=10)
    dash_duo.find_element("#data-name").send_keys("uploaded-study")
    dash_duo.find_element("#data-import").click()
    dash_duo.wait_for_contains_text("#data-result", "Stored 'uploaded-study' version 1", timeout=15)
    dash_duo.wait_for_contains_text("#data-studies-grid", "uploaded-study", timeout=10)
    dash_duo.wait_for_contains_text("#data-log-grid", "upload", timeout=10)
    assert "uploaded-study" in set(list_studies()["name"])
    dash_duo.driver.save_screenshot(str(screenshot_dir() / "data.png"))
    assert severe_logs(dash_duo) == []


def test_data_page_upload_invalid_study_lists_every_error_and_stores_nothing(dash_duo, app, tmp_path):
    for name, text in VALID_TABLES.items():
        (tmp_path / name).write_text(text.replace("250,pg/mL", "250,mg/dL").replace("S1,CRS,2", "S1,CRS,7"),
                                     encoding="utf-8")
    before = len(list_studies())
    dash_duo.start_server(app)
    open_page(dash_duo, "/data", "Import a study")
    dash_duo.find_element("#data-upload input[type=file]").send_keys(
        "\n".join(str(tmp_path / name) for name in VALID_TABLES))
    dash_duo.find_element("#data-name").send_keys("broken-study")
    dash_duo.find_element("#data-import").click()
    dash_duo.wait_for_contains_text("#data-result", "Not stored: 'broken-study' has 2 error(s)", timeout=15)
    grid = dash_duo.find_element("#data-report-grid").text
    assert "unit 'mg/dL' is not a unit of il6" in grid and "grade '7' is not a CTCAE grade 1-5" in grid
    time.sleep(0.5)
    assert len(list_studies()) == before
    dash_duo.driver.save_screenshot(str(screenshot_dir() / "data-errors.png"))
    assert severe_logs(dash_duo) == []


def screenshot_dir():
    from pathlib import Path

    path = Path(__file__).parent / "screenshots"
    path.mkdir(exist_ok=True)
    return path
