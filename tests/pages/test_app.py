"""The app in a real headless Chromium: every page opens without browser or callback errors."""
import shutil
import time

import pandas as pd

from data_access.importer import import_path
from data_access.store import list_studies
from tests.conftest import DEMO_DIR, wait_until

PAGES = {
    "/": "Study overview: demo v1",
    "/patients": "Every patient",
    "/patients/DM-002": "Patient DM-002",
    "/kinetics": "Cohort kinetics",
    "/model": "Typical parameters by group",
    "/exposure": "Exposure and outcome",
    "/safety": "Adverse events",
    "/efficacy": "Swimmer plot",
    "/survival": "Kaplan-Meier",
    "/data": "Import a study",
    "/admin": "Audit trail",
}


def test_every_page_opens_without_errors(browser):
    for path, text in PAGES.items():
        browser.open(path, text)
        assert browser.severe_logs() == [], path
    nav = [a.text for a in browser.find_all(".cs-nav-link")]
    assert nav == ["Overview", "Patients", "Kinetics", "CK model", "Exposure–response", "Safety", "Efficacy",
                   "Survival", "Data", "Admin"]


def test_overview_summarises_the_demo_study_and_says_it_is_simulated(browser):
    browser.open("/", "Study overview")
    assert browser.text("#kpi-infused .cs-kpi-value") == "62"
    assert browser.text("#kpi-dose-levels .cs-kpi-value") == "3"
    assert browser.text("#kpi-follow-up .cs-kpi-value").endswith("months")
    assert "SIMULATED DATA" in browser.text("#simulated-banner")
    wait_until(lambda: browser.find("#simulated-badge").is_displayed())
    doses = [r.text for r in browser.find_all("#overview-dose-table tbody tr")]
    assert doses == ["150 × 10⁶ CAR+ T cells 12 19%", "300 × 10⁶ CAR+ T cells 22 35%", "450 × 10⁶ CAR+ T cells 28 45%"]
    analytes = browser.text("#overview-sample-table")
    assert "CAR transgene" in analytes and "Interleukin-6" in analytes and "Clonal plasma cells" in analytes
    browser.find("#overview-follow-up .main-svg")
    browser.idle()
    browser.screenshot("overview")
    assert browser.severe_logs() == []


def test_unknown_address_shows_the_404_page(browser):
    browser.open("/no/such/page", "Page not found")
    assert "There is no page at this address." in browser.text("#not-found")
    assert browser.severe_logs() == []


def test_study_selector_is_kept_in_the_url_and_versions_can_be_picked(browser, tmp_path):
    if "second-trial" not in set(list_studies()["name"]):
        import_path(DEMO_DIR, "second-trial", source="test")  # real data, not flagged simulated
        changed = tmp_path / "v2"
        shutil.copytree(DEMO_DIR, changed)
        subjects = pd.read_csv(changed / "subjects.csv")
        subjects.loc[0, "age"] += 1  # a corrected age: a new version
        subjects.to_csv(changed / "subjects.csv", index=False)
        assert import_path(changed, "second-trial", source="test").record.version == 2
    browser.open("/", "demo")
    browser.duo.select_dcc_dropdown("#study-select", value="second-trial")
    browser.wait_for_text("#_pages_content", "Study overview: second-trial v2")
    assert browser.url.endswith("/?study=second-trial")
    wait_until(lambda: not browser.find("#simulated-badge").is_displayed())
    assert not browser.find_all("#simulated-banner")
    nav = [a.get_attribute("href") for a in browser.find_all(".cs-nav-link")]
    assert any(href.endswith("/data?study=second-trial") for href in nav)
    browser.duo.select_dcc_dropdown("#study-version", value="v1")
    browser.wait_for_text("#_pages_content", "Study overview: second-trial v1")
    assert browser.url.endswith("/?study=second-trial&version=1")
    browser.driver.back()
    browser.wait_for_text("#_pages_content", "Study overview: second-trial v2")
    browser.open("/?study=nope", "No such study")
    assert browser.severe_logs() == []


def test_data_page_upload_valid_study_is_stored(browser, tmp_path):
    from tests.conftest import VALID_TABLES

    for name, text in VALID_TABLES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    browser.open("/data", "Import a study")
    upload = browser.find("#data-upload input[type=file]")
    upload.send_keys("\n".join(str(tmp_path / name) for name in VALID_TABLES))
    browser.wait_for_text("#data-selected-files", "subjects.csv")
    browser.find("#data-name").send_keys("uploaded-study")
    browser.find("#data-import").click()
    browser.wait_for_text("#data-result", "Stored 'uploaded-study' version 1")
    browser.wait_for_text("#data-studies-grid", "uploaded-study")
    browser.wait_for_text("#data-log-grid", "upload")
    assert "uploaded-study" in set(list_studies()["name"])
    browser.screenshot("data")
    # The same files again: nothing new is stored, and the page says so.
    browser.find("#data-import").click()
    browser.wait_for_text("#data-result", "identical to 'uploaded-study' version 1")
    assert (list_studies()["name"] == "uploaded-study").sum() == 1
    assert browser.severe_logs() == []


def test_data_page_upload_invalid_study_lists_every_error_sorted_and_stores_nothing(browser, tmp_path):
    from tests.conftest import VALID_TABLES

    for name, text in VALID_TABLES.items():
        (tmp_path / name).write_text(text.replace("250,pg/mL", "250,mg/dL").replace("S1,CRS,2", "S1,CRS,7")
                                     .replace("S1,car_copies,PB,7,15000", "S1,car_copies,PB,7,-3"),
                                     encoding="utf-8")
    before = len(list_studies())
    browser.open("/data", "Import a study")
    browser.find("#data-upload input[type=file]").send_keys("\n".join(str(tmp_path / n) for n in VALID_TABLES))
    browser.find("#data-name").send_keys("broken-study")
    browser.find("#data-import").click()
    browser.wait_for_text("#data-result", "Not stored: 'broken-study' has 3 error(s)")
    grid = browser.text("#data-report-grid")
    assert "unit 'mg/dL' is not a unit of il6" in grid and "grade '7' is not a CTCAE grade 1-5" in grid
    rows = browser.driver.execute_script(
        "const api = dash_ag_grid.getApi('data-report-grid'); const out = [];"
        "api.forEachNodeAfterFilterAndSort(n => out.push([n.data.file, n.data.row])); return out;")
    assert rows == sorted(rows, key=lambda r: (r[0], r[1] if isinstance(r[1], int) else -1))
    assert [r[0] for r in rows] == ["adverse_events.csv", "measurements.csv", "measurements.csv"]
    time.sleep(0.5)
    assert len(list_studies()) == before
    browser.screenshot("data-errors")
    assert browser.severe_logs() == []


def test_data_page_empty_study_name_gets_its_own_message(browser, tmp_path):
    from tests.conftest import VALID_TABLES

    for name, text in VALID_TABLES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    browser.open("/data", "Import a study")
    browser.find("#data-upload input[type=file]").send_keys("\n".join(str(tmp_path / n) for n in VALID_TABLES))
    browser.find("#data-import").click()
    browser.wait_for_text("#data-result", "Give the study a name")
    assert "error(s)" not in browser.text("#data-result")
    assert browser.severe_logs() == []


def test_a_large_upload_is_stored_whole(browser, tmp_path):
    from bench.importing import write_csv_study

    write_csv_study(tmp_path / "big", 1_500)  # about 175,000 measurement rows, 8 MB
    paths = "\n".join(str(p) for p in sorted((tmp_path / "big").iterdir()))
    browser.open("/data", "Import a study")
    browser.find("#data-upload input[type=file]").send_keys(paths)
    browser.wait_for_text("#data-selected-files", "measurements.csv")
    browser.find("#data-name").send_keys("large-upload")
    browser.find("#data-import").click()
    browser.wait_for_text("#data-result", "Stored 'large-upload' version 1", timeout=90)
    record = list_studies().set_index("name").loc["large-upload"]
    assert record["n_subjects"] == 1_500 and record["n_rows"] > 170_000
    assert browser.find("#data-import").is_enabled() and browser.severe_logs() == []


def test_data_page_outcome_counts_every_error_not_only_the_listed_ones(app):
    """The report lists the first 50 errors of a column; the outcome line counts them all."""
    from data_access.importer import import_files
    from pages.data import outcome
    from tests.conftest import VALID_TABLES, make_files

    bad_rows = "".join(f"S1,car_copies,PB,day {i},15000,copies/µg gDNA,20,FALSE\n" for i in range(80))
    result = import_files(make_files({"measurements.csv": VALID_TABLES["measurements.csv"] + bad_rows}),
                          "counted", source="test")
    assert len(result.report.errors) == 50 and result.report.n_errors == 80
    report, _studies, _log = outcome(result, "counted", None)
    assert "'counted' has 80 error(s)" in str(report)


def test_a_mapping_name_the_store_cannot_take_is_refused_with_the_reason(app):
    from pages.data import save_mapping

    state = {"mapping": {}}
    assert save_mapping(1, "", [], [], [], state)[0] == "Not saved: give the mapping a name."
    assert save_mapping(1, "x" * 101, [], [], [], state)[0] == \
        "Not saved: mapping name is 101 characters long; at most 100 are allowed."
