"""The Data page's mapping step in a real headless Chromium: a wide lab export is detected, its proposed mapping is
edited in the grid, previewed and imported."""
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from data_access.store import list_mappings, load_study

PATIENTS = "Patient ID,Cohort,Age,Gender,Last contact day\nL-1,300e6,64,Female,120\nL-2,450e6,51,Male,60\n"
WIDE_LABS = ("Patient ID,Study Day,IL-6,CRP (mg/dL),Ferritin (ug/L)\n"
             "L-1,1,0.25,3.2,800\nL-1,7,0.04,1.1,650\nL-2,1,1.5,<0.5,\n")


def cell(browser, grid: str, column_text: str, field: str):
    """The grid cell of `field` in the row whose Column is `column_text`."""
    return browser.driver.find_element(By.XPATH, (
        f"//div[@id='{grid}']//div[contains(@class,'ag-row ') and .//div[@col-id='column' and "
        f"normalize-space()='{column_text}']]//div[@col-id='{field}']"))


def test_a_wide_lab_export_is_mapped_edited_previewed_and_imported(browser, tmp_path):
    (tmp_path / "patients.csv").write_text(PATIENTS, encoding="utf-8")
    (tmp_path / "cytokines_wide.csv").write_text(WIDE_LABS, encoding="utf-8")
    browser.open("/data", "Import a study")
    browser.find("#data-upload input[type=file]").send_keys(
        f"{tmp_path / 'patients.csv'}\n{tmp_path / 'cytokines_wide.csv'}")
    browser.wait_for_text("#data-map-detected", "cytokines_wide.csv: measurements (wide: one column per analyte)")
    assert "patients.csv: subjects" in browser.text("#data-map-detected")
    assert "unit not in the header, pg/mL assumed" in browser.text("#data-map-undecided")
    unit = cell(browser, "data-map-columns", "IL-6", "unit")
    assert unit.text == "pg/mL"
    assert cell(browser, "data-map-columns", "Patient ID", "field").text == "subject_id"
    # The lab reports IL-6 in ng/mL: say so in the grid.
    unit.click()
    editor = browser.find("#data-map-columns .ag-cell-inline-editing input")
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys("ng/mL", Keys.ENTER)
    browser.wait_for_text("#data-map-columns", "ng/mL")
    browser.find("#data-map-preview").click()
    browser.wait_for_text("#data-map-preview-result", "the mapping reads cleanly")
    browser.wait_for_text("#data-map-preview-measurements", "il6")
    browser.driver.execute_script("window.scrollTo(0, document.getElementById('data-map-card').offsetTop - 110)")
    browser.idle()
    browser.screenshot("data-mapping")
    rows = browser.driver.execute_script(
        "const out = []; dash_ag_grid.getApi('data-map-preview-measurements').forEachNode(n => out.push(n.data));"
        "return out;")
    il6 = {(r["subject_id"], r["day"]): r["value"] for r in rows if r["analyte"] == "il6"}
    assert il6[("L-1", "1")] == "250" and il6[("L-2", "1")] == "1500"  # ng/mL -> pg/mL
    browser.find("#data-map-name").send_keys("central lab wide")
    browser.find("#data-map-save").click()
    browser.wait_for_text("#data-map-saved", "Saved as 'central lab wide'")
    assert "central lab wide" in set(list_mappings()["name"])
    browser.find("#data-name").send_keys("wide-lab-study")
    browser.find("#data-map-import").click()
    browser.wait_for_text("#data-result", "Stored 'wide-lab-study' version 1")
    browser.wait_for_text("#data-studies-grid", "wide-lab-study")
    study = load_study("wide-lab-study")
    values = study.measurements.set_index(["subject_id", "analyte", "day"])["value"]
    assert values[("L-1", "il6", 7.0)] == 40.0 and values[("L-1", "crp", 1.0)] == 32.0
    assert study.subjects["sex"].tolist() == ["F", "M"]
    browser.driver.execute_script("window.scrollTo(0, document.getElementById('data-map-preview-out').offsetTop - 110)")
    browser.idle()
    browser.screenshot("data-mapping-imported")
    assert browser.severe_logs() == []


def test_cartscope_tables_keep_the_direct_path(browser, tmp_path):
    from tests.conftest import VALID_TABLES

    for name, text in VALID_TABLES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    browser.open("/data", "Import a study")
    browser.find("#data-upload input[type=file]").send_keys("\n".join(str(tmp_path / n) for n in VALID_TABLES))
    browser.wait_for_text("#data-selected-files", "subjects.csv")
    browser.idle()
    assert not browser.find("#data-map-card").is_displayed()
    assert browser.severe_logs() == []


def test_a_saved_mapping_is_picked_for_the_next_delivery(browser, tmp_path):
    from data_access import store
    from data_access.mapping import dump_mapping, propose_mapping
    from data_access.readers import SourceFile

    first = [SourceFile("patients.csv", PATIENTS.encode()), SourceFile("cytokines_wide.csv", WIDE_LABS.encode())]
    mapping = propose_mapping(first)
    mapping["files"]["cytokines_wide.csv"]["analyte_columns"]["IL-6"]["unit"] = "ng/mL"
    mapping["files"]["cytokines_*.csv"] = mapping["files"].pop("cytokines_wide.csv")
    store.save_mapping("picked lab", dump_mapping(mapping))
    (tmp_path / "patients.csv").write_text(PATIENTS, encoding="utf-8")
    (tmp_path / "cytokines_2025-07.csv").write_text(WIDE_LABS + "L-2,28,0.01,0.9,300\n", encoding="utf-8")
    browser.open("/data", "Import a study")
    browser.duo.select_dcc_dropdown("#data-mapping-pick", value="picked lab")
    browser.find("#data-upload input[type=file]").send_keys(
        f"{tmp_path / 'patients.csv'}\n{tmp_path / 'cytokines_2025-07.csv'}")
    browser.wait_for_text("#data-map-using", "Using the saved mapping 'picked lab'")
    assert cell(browser, "data-map-columns", "IL-6", "unit").text == "ng/mL"
    assert cell(browser, "data-map-columns", "IL-6", "examples").text == "0.25, 0.04, 1.5"
    browser.find("#data-name").send_keys("picked-mapping-study")
    browser.find("#data-map-import").click()
    browser.wait_for_text("#data-result", "Stored 'picked-mapping-study' version 1")
    values = load_study("picked-mapping-study").measurements.set_index(["subject_id", "analyte", "day"])["value"]
    assert values[("L-2", "il6", 28.0)] == 10.0
    log = store.import_log()
    assert log.iloc[0]["name"] == "picked-mapping-study" and "picked lab" in log.iloc[0]["mapping"]
    assert browser.severe_logs() == []


def test_cdisc_with_unknown_test_codes_offers_the_mapping_and_keeps_the_direct_import(browser, tmp_path):
    import pyreadstat

    from tests.data_access.test_cdisc import sdtm_delivery, write

    write(tmp_path / "sdtm", sdtm_delivery())
    lb = pyreadstat.read_xport(str(tmp_path / "sdtm" / "lb.xpt"))[0]
    pyreadstat.write_xport(lb, str(tmp_path / "sdtm" / "lb.xpt"), table_name="LB", file_format_version=5,
                           file_label="Laboratory Test Results")
    browser.open("/data", "Import a study")
    browser.find("#data-upload input[type=file]").send_keys(
        "\n".join(str(p) for p in sorted((tmp_path / "sdtm").iterdir())))
    browser.wait_for_text("#data-map-detected", "lb.xpt: LB — Laboratory Test Results, 3 records")
    assert "Optional: 'Validate and import' above" in browser.text("#data-map-card")
    assert "Vector copy number" in browser.text("#data-map-tests")
    browser.find("#data-name").send_keys("cdisc-direct")
    browser.find("#data-import").click()
    browser.wait_for_text("#data-result", "Stored 'cdisc-direct' version 1")
    assert set(load_study("cdisc-direct").analytes["code"]) == {"TNFA", "VCN"}
    assert browser.severe_logs() == []
