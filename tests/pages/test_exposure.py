"""Exposure-response page: state parsing, the page in headless Chromium on the demo study, and its callbacks
refused for a study the user was not granted (the Procfile's server with sign-in)."""
import base64
import time

import pytest

from data_access import accounts, store
from data_access.importer import ensure_demo_study, import_files
from tests.conftest import fixed_port, make_files, wait_until
from tests.servers import Client, add_users, pattern_id, procfile_server

ANALYTES = {"car_copies": ["PB", "BM"], "car_t_pct": ["PB", "BM"]}


@pytest.mark.usefixtures("app")  # page modules register with Dash Pages on import: an app must exist
def test_state_from_the_url_is_validated():
    from pages.exposure import DEFAULTS, clean_state

    assert clean_state({}, ANALYTES) == DEFAULTS
    assert clean_state({"analyte": "car_t_pct", "specimen": "BM", "metric": "auc_0_28", "outcome": "crs2"},
                       ANALYTES) == {"analyte": "car_t_pct", "specimen": "BM", "metric": "auc_0_28",
                                     "outcome": "crs2"}
    unknown = clean_state({"analyte": "il6", "specimen": "serum", "metric": "x", "outcome": ["crs2"]}, ANALYTES)
    assert unknown == DEFAULTS  # not an exposure analyte, no such metric, a list is not a value
    assert clean_state({}, {"car_t_abs": ["PB"]})["analyte"] == "car_t_abs"


def test_the_page_draws_on_the_demo_and_a_control_change_updates_the_figure(browser):
    browser.open("/exposure", "Exposure and outcome")
    browser.idle()
    assert browser.severe_logs() == []
    assert "SIMULATED DATA" in browser.text("#simulated-banner")
    assert "Response (≥PR) by Cmax (CAR transgene, blood)" in browser.text("#exposure-response-figure")
    assert "Logistic regression: OR per 10-fold exposure" in browser.text("#exposure-response-figure")
    assert "Subgroups: response, CRS grade ≥2 and PFS hazard ratio" in browser.text("#exposure-forest-figure")
    assert "High-risk cytogenetics" in browser.text("#exposure-subgroups")
    assert len(browser.find_all(".cs-export-menu")) == 3  # PNG/SVG/PDF of every figure, drawn on the server
    before = browser.text("#exposure-quartiles")

    browser.find("#exposure-outcome input[value=crs2]").click()
    browser.wait_for_text("#exposure-response-figure", "CRS grade ≥2 by Cmax (CAR transgene, blood)")
    browser.find("#exposure-metric input[value=auc_0_28]").click()
    browser.wait_for_text("#exposure-response-figure", "CRS grade ≥2 by AUC day 0–28")
    wait_until(lambda: browser.query().get("outcome") == "crs2" and browser.query().get("metric") == "auc_0_28")
    browser.idle()
    assert browser.text("#exposure-quartiles") != before and "AUC day 0–28" in browser.text("#exposure-quartiles")
    trace_names = browser.driver.execute_script(
        "return document.querySelector('#exposure-response-figure .js-plotly-plot').data.map(t => t.name);")
    assert "Logistic regression, 95% CI" in trace_names and "Exposure quartile: % (exact 95% CI)" in trace_names
    browser.screenshot("exposure")

    browser.duo.wait_for_page(url=browser.url)  # a copied link reproduces the view
    browser.wait_for_text("#exposure-response-figure", "CRS grade ≥2 by AUC day 0–28")
    assert browser.find("#exposure-outcome input[value=crs2]").is_selected()

    browser.driver.execute_script(  # a click on a patient's point opens that patient
        "window.dash_clientside.set_props({type: 'cs-graph', page: 'exposure', name: 'response'}, "
        "{clickData: {points: [{customdata: 'DM-007'}]}})")
    browser.wait_for_text("#_pages_content", "Patient DM-007")
    time.sleep(0.3)
    assert browser.severe_logs() == []


def test_marrow_exposure_counts_the_patients_left_out(browser):
    browser.open("/exposure?analyte=car_t_pct&specimen=BM", "Exposure and outcome")
    browser.idle()
    assert "patients left out of the analysis" in browser.text("#exposure-response-figure")
    assert "CAR+ T cells, bone marrow: exposure by dose level" in browser.text("#exposure-dose-figure")
    assert browser.severe_logs() == []


# ---- access ------------------------------------------------------------------------------------------------------

USERS = {"ada": ("admin", []), "ana": ("analyst", ["demo"]), "vic": ("viewer", ["alpha"]),
         "val": ("viewer", ["demo"])}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exposure-site")
    url = f"sqlite:///{tmp / 'site.db'}"
    engine = store.get_engine(url)
    ensure_demo_study(engine)
    assert import_files(make_files(), "alpha", source="test", engine=engine).stored
    add_users(url, USERS)
    with procfile_server(url, tmp, port=fixed_port(1)) as base:
        yield base, engine


def signed_in(site, user: str) -> Client:
    client = Client(site[0])
    assert client.sign_in(user).status_code == 302
    return client


def page_state(client: Client, search: str) -> dict:
    """The exposure page's state store as the page draws it for `search`."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if props.get("id") == {"type": "cs-page-state", "page": "exposure"}:
                found.append(props["data"])
            for value in (props.values() if "props" in node else node.values()):
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(client.page("/exposure", search).json())
    assert found, "no state store on the exposure page"
    return found[0]


STATE_KEY = pattern_id(page="exposure", type="cs-page-state") + ".data"


def test_a_crafted_callback_for_a_study_not_granted_answers_403(site):
    ana = signed_in(site, "ana")
    state = page_state(ana, "?study=demo")
    update = {"exposure-outcome.value": "crs2", "exposure-metric.value": "cmax", "exposure-analyte.value": "car_copies",
              "exposure-specimen.value": "PB", STATE_KEY: state}
    answer = ana.callback("exposure-response-tables.children", update, "exposure-outcome.value")
    assert answer.status_code == 200 and "Q4" in answer.text
    vic = signed_in(site, "vic")
    for output in ("exposure-response-tables.children", "exposure-specimen.options", "exposure-location.href"):
        refused = vic.callback(output, update, "exposure-outcome.value")
        assert refused.status_code == 403 and "DM-0" not in refused.text, output
    assert "demo" in set(accounts.audit_events(user_name="vic", action="access refused", engine=site[1])["study"])


def test_the_download_needs_the_export_permission_and_is_recorded(site):
    values = {"exposure-export-csv.n_clicks": 1}
    ana = signed_in(site, "ana")
    state = page_state(ana, "?study=demo")
    answer = ana.callback("exposure-download.data", {**values, STATE_KEY: state}, "exposure-export-csv.n_clicks")
    assert answer.status_code == 200
    download = answer.json()["response"]["exposure-download"]["data"]
    text = base64.b64decode(download["content"]).decode("utf-8-sig") if download.get("base64") else \
        download["content"]
    assert text.startswith("Patient,Dose level,Best response,Responder (≥PR)") and text.count("\nDM-0") == 62
    assert download["filename"] == "exposure_demo_v1_car_copies_PB.csv"
    exports = accounts.audit_events(user_name="ana", action="export", engine=site[1])
    assert "exposure-download" in exports["detail"].iloc[0]
    val = signed_in(site, "val")  # a viewer of the same study: sees the page, may not take a file away
    assert val.callback("exposure-download.data", {**values, STATE_KEY: page_state(val, "?study=demo")},
                        "exposure-export-csv.n_clicks").status_code == 403


def test_a_study_too_small_for_a_regression_is_drawn_and_says_why(site):
    """'alpha' has two patients: the page draws, says no regression could be fitted and why, and gives no HR."""
    page = signed_in(site, "ada").page("/exposure", "?study=alpha")
    assert page.status_code == 200
    assert "too few patients (2; a fit needs at least 10)" in page.text and "Subgroups" in page.text
