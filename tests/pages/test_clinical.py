"""Safety, efficacy and survival pages in headless Chromium, and the numbers they show equal the endpoints CLI's
files (`python -m analysis endpoints`): one computation, two outputs."""
import subprocess
import sys
import time

import pandas as pd
import pytest

from analysis.survival import DAYS_PER_MONTH
from components.number_format import fmt_dose
from tests.conftest import DEMO_DIR, REPO, wait_until


@pytest.fixture(scope="module")
def endpoints_csv(tmp_path_factory):
    out = tmp_path_factory.mktemp("endpoints")
    subprocess.run([sys.executable, "-m", "analysis", "endpoints", str(DEMO_DIR), "--out", str(out)], cwd=REPO,
                   check=True, capture_output=True)
    return {name: pd.read_csv(out / f"{name}.csv") for name in ("km_summary", "response_rates", "ae_table")}


def months(days) -> str:
    return "NR" if pd.isna(days) else f"{days / DAYS_PER_MONTH:.1f}"


def table_rows(browser, selector: str) -> list[list[str]]:
    return [[td.text for td in tr.find_elements("css selector", "td")]
            for tr in browser.find_all(f"{selector} tbody tr")]


def test_survival_medians_on_screen_are_the_csvs(browser, endpoints_csv):
    km = endpoints_csv["km_summary"]
    browser.open("/survival", "Kaplan-Meier")
    for endpoint, label in (("PFS", "Progression-free survival"), ("OS", "Overall survival"),
                            ("DOR", "Duration of response")):
        browser.find(f"#survival-endpoint input[value={endpoint}]").click()
        browser.wait_for_text("#survival-figure", label)
        wait_until(lambda e=endpoint: browser.query().get("endpoint", "PFS") == e)
        browser.idle()
        expected = km[(km["endpoint"] == endpoint) & (km["stratum"] == "All")].iloc[0]
        row = table_rows(browser, "#survival-table")[0]
        assert row[0] == "All patients" and int(row[1]) == expected["n"] and int(row[2]) == expected["events"]
        assert row[3] == (f"{months(expected['median_days'])} ({months(expected['median_ci_lower'])}–"
                          f"{months(expected['median_ci_upper'])})"), endpoint
    browser.find("#survival-strata input").click()
    browser.wait_for_text("#survival-figure", "by dose level")
    browser.idle()
    for row in table_rows(browser, "#survival-table"):
        expected = km[(km["endpoint"] == "DOR") & (km["stratum"].map(fmt_dose) == row[0])].iloc[0]
        assert row[3].split(" ")[0] == months(expected["median_days"])
    assert "endpoint=DOR" in browser.url and "strata=dose" in browser.url
    legend = browser.text("#survival-figure")
    assert "median" in legend  # medians in the legend, not in a box over the curves
    browser.screenshot("survival")
    assert browser.severe_logs() == []


def test_efficacy_rates_on_screen_are_the_csvs(browser, endpoints_csv):
    rates = endpoints_csv["response_rates"]
    browser.open("/efficacy", "Swimmer plot")
    shown = table_rows(browser, "#efficacy-rates-table")
    assert len(shown) == len(rates)
    for row, expected in zip(shown, rates.itertuples(index=False), strict=True):
        assert row[:2] == [expected.window, expected.measure]
        assert row[2] == f"{expected.responders} / {expected.n}"
        assert row[3] == f"{100 * expected.rate:.1f}%"
        assert row[4] == f"{100 * expected.ci_lower:.1f}% – {100 * expected.ci_upper:.1f}%"
    browser.find("#efficacy-sort input[value=dose]").click()
    wait_until(lambda: browser.query().get("sort") == "dose")
    browser.idle()
    browser.screenshot("efficacy")
    browser.driver.execute_script(
        "window.dash_clientside.set_props({type: 'cs-graph', page: 'efficacy', name: 'swimmer'}, "
        "{clickData: {points: [{customdata: 'DM-007'}]}})")
    browser.wait_for_text("#_pages_content", "Patient DM-007")
    assert browser.severe_logs() == []


def test_safety_drill_down_lists_the_csvs_patients_per_term(browser, endpoints_csv):
    ae = endpoints_csv["ae_table"]
    browser.open("/safety", "Adverse events")
    assert "Showing treatment-related AEs" in browser.text("#safety-attribution")
    browser.wait_for_text("#safety-ae-grid", "Cytokine release syndrome")
    for index in range(3):
        cell = browser.find(f"#safety-ae-grid .ag-center-cols-container .ag-row[row-index='{index}'] .ag-cell")
        term = browser.driver.execute_script(
            f"return dash_ag_grid.getApi('safety-ae-grid').getDisplayedRowAtIndex({index}).data.term;")
        cell.click()
        browser.wait_for_text("#safety-term-patients", f"Patients with {term}")
        time.sleep(0.3)
        expected = int(ae.loc[ae["term"] == term, "any_grade"].iloc[0])
        assert f"({expected}):" in browser.text("#safety-term-patients")
        assert len(browser.find_all("#safety-term-patients a")) == expected
    browser.screenshot("safety")
    link = browser.find("#safety-term-patients a")
    subject = link.text.split(" ")[0]
    link.click()
    browser.wait_for_text("#_pages_content", f"Patient {subject}")
    assert browser.severe_logs() == []
