"""Patients whose ids hold URL-special characters, other letters or markup open from every link the app makes:
ids are percent-encoded in links and decoded in the /patients/<id> route; in figures they are text, not markup."""
import importlib
import json
from urllib.parse import quote

import pytest
from selenium.common.exceptions import StaleElementReferenceException

from components.text import shorten
from data_access import store
from data_access.importer import import_files
from tests.conftest import make_files, wait_until

STUDY = "odd-ids"
LONG = "long-" + "x" * 85
IDS = ["B", "B?x=1", "A/B", "A#1", "Zoë", "%41", "S 1", "<b>bold</b>", "P%{y}", LONG]
SUBJECTS = "".join(f'"{s}",150e6 CAR+ T cells,60,M,100,,4,TRUE\n' for s in IDS)
FILES = {
    "subjects.csv": "subject_id,dose_level,age,sex,last_contact_day,death_day,prior_lines,high_risk_cytogenetics\n"
                    + SUBJECTS,
    "measurements.csv": "subject_id,analyte,specimen,day,value,unit,lloq,blq\n"
                        + "".join(f'"{s}",car_copies,PB,{d},{v},copies/µg gDNA,20,\n' for s in IDS
                                  for d, v in ((1, 100), (7, 15000), (28, 900))),
    "adverse_events.csv": "subject_id,term,grade,onset_day,resolution_day,serious,related\n"
                          '"<b>bold</b>",Rash <b>x</b><br>y,1,2,6,FALSE,TRUE\n'
                          '"B",Rash <b>x</b><br>y,2,3,9,FALSE,TRUE\n'
                          '"P%{y}",Rash %{x},2,3,9,FALSE,TRUE\n',
    "responses.csv": "subject_id,day,response,mrd_negative\n" + "".join(f'"{s}",28,PR,\n' for s in IDS),
}


@pytest.fixture(scope="module")
def odd_study(app):
    result = import_files(make_files(FILES), STUDY, source="test", engine=store.get_engine())
    assert result.stored or result.identical_to, result.report.to_text()
    return STUDY


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


def _render(client, path: str, search: str = f"?study={STUDY}") -> dict:
    dependencies = json.loads(client.get("/_dash-dependencies").data)
    dep = next(d for d in dependencies if "_pages_content" in d["output"])
    body = {"output": dep["output"], "outputs": [{"id": "_pages_content", "property": "children"},
                                                 {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "changedPropIds": ["_pages_location.pathname"]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.loads(response.data)["response"]["_pages_content"]["children"]


def _find(node, component_id: str):
    """The component with this id in a layout's JSON."""
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == component_id:
            return node
        node = list(node.get("props", {}).values())
    if isinstance(node, list):
        for child in node:
            found = _find(child, component_id)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize("subject", IDS)
def test_each_patient_opens_from_its_encoded_address(odd_study, client, subject):
    page = _render(client, "/patients/" + quote(subject, safe=""))
    assert "No such patient" not in json.dumps(page)
    assert _find(page, "patient-select")["props"]["value"] == subject


def test_next_links_walk_every_patient(odd_study, client):
    """From the first patient, the app's own Next links reach every patient, each one the link names."""
    order = _find(_render(client, "/patients/B"), "patient-select")["props"]["options"]
    path, seen = f"/patients/{quote(order[0], safe='')}?study={STUDY}", []
    while path:
        page = _render(client, *path.split("?", 1)[0:1], "?" + path.split("?", 1)[1])
        assert "No such patient" not in json.dumps(page), path
        seen.append(_find(page, "patient-select")["props"]["value"])
        href = _find(page, "patient-next")["props"]["href"]
        path = None if href == "#" else href
    assert seen == order and sorted(seen) == sorted(IDS)


def test_every_list_link_is_encoded(odd_study, client):
    rows = _find(_render(client, "/patients"), "patient-list")["props"]["rowData"]
    links = {row["id"]: row["subject_id"] for row in rows}
    assert links["B?x=1"] == r"[B?x=1](/patients/B%3Fx%3D1?study=odd-ids&version=1)"
    assert links["<b>bold</b>"].startswith(r"[\<b\>bold\</b\>](/patients/%3Cb%3Ebold%3C%2Fb%3E?")
    cohort = _find(_render(client, "/kinetics"), "kinetics-grid")["props"]["rowData"]
    assert {r["subject_id"].split("](")[1].split("?")[0] for r in cohort} == {
        "/patients/" + quote(s, safe="") for s in IDS}


def _title(browser) -> str:
    try:
        return browser.text(".cs-page-title")
    except StaleElementReferenceException:  # the page is being drawn again
        return ""


def test_the_browser_follows_next_to_unicode_and_query_like_ids(odd_study, browser):
    browser.open(f"/patients/%2541?study={STUDY}", "Patient %41")  # the first patient
    reached = []
    for _ in range(len(IDS) - 1):
        before = _title(browser)
        browser.find("#patient-next").click()
        wait_until(lambda before=before: _title(browser) not in ("", before), timeout=15)
        assert "No such patient" not in browser.text("#_pages_content")
        reached.append(_title(browser).removeprefix("Patient "))
    assert sorted(reached) == sorted(shorten(i) for i in set(IDS) - {"%41"})
    assert browser.severe_logs() == []


# ---- text from the data is text in figures, and long ids are cut for display --------------------------------------

#: Markup, and hover placeholders, that come from the data (plotly would read them instead of showing them).
MARKUP = ("<b>bold</b>", "<b>x</b>", "<br>y", "P%{y}", "Rash %{x}")


def _shown_strings(node, key=None, path=""):
    """Every string a figure shows, with where (meta carries the title and footnote for exports, and is not
    shown)."""
    if key == "meta":
        return
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _shown_strings(v, k, f"{path}.{k}")
    elif isinstance(node, list):
        for v in node:
            yield from _shown_strings(v, key, path)


def test_figures_show_ids_and_terms_as_text_not_markup(odd_study):
    from pages import efficacy, kinetics, overview, patients, safety, survival
    from pages._context import page_context

    context, _ = page_context(STUDY, None, None)
    shown = []
    for module, state in ((patients, {"_subject": "<b>bold</b>"}), (patients, {"_subject": "B"}),
                          (patients, {"_subject": "P%{y}"}), (kinetics, {}),
                          (kinetics, {"display": "facet"}), (overview, {}), (safety, {}), (efficacy, {}),
                          (survival, {})):
        for figure in module.figures(context, state, context.canvas(), False):
            shown += [(f"{module.__name__}:{figure.name}{path}", text) for path, text in _shown_strings(figure.figure)]
    leaked = [(where, text) for where, text in shown if any(m in text for m in MARKUP)]
    assert leaked == []
    shown = [text for _, text in shown]
    assert any("&lt;b&gt;bold&lt;/b&gt;" in text for text in shown)  # the id is shown, as typed
    assert any("Rash &lt;b&gt;x&lt;/b&gt;&lt;br&gt;y" in text for text in shown)


def test_a_long_id_is_cut_in_titles_and_the_page_header(odd_study, client):
    from pages import patients
    from pages._context import page_context

    context, _ = page_context(STUDY, None, None)
    figure = patients.figures(context, {"_subject": LONG}, context.canvas(), False)[0]
    assert LONG not in figure.title and len(figure.title) < 100 and figure.title.startswith("Patient long-xxx")
    page = json.dumps(_render(client, "/patients/" + LONG))
    assert f"Patient {LONG}" not in page and "Patient long-xxx" in page


def test_the_report_says_when_it_cannot_be_made(odd_study, client, monkeypatch):
    patients = importlib.import_module("pages.patients")
    assert patients.report_file_name(LONG) == f"patient_{LONG[:60]}_report.html"
    assert patients.report_file_name("<b>bold</b>") == "patient_b_bold_b_report.html"
    assert patients.report_file_name("DM-003") == "patient_DM-003_report.html"

    def broken(*_args, **_kwargs):
        raise RuntimeError("no report")

    monkeypatch.setattr(patients, "patient_report_html", broken)
    dependencies = json.loads(client.get("/_dash-dependencies").data)
    dep = next(d for d in dependencies if "patient-report-download" in d["output"])
    state = {"page": "patients", "study": STUDY, "version": "1", "_subject": LONG}
    body = {"output": dep["output"], "outputs": [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]}
                                                 for o in dep["output"].strip(".").split("...")],
            "inputs": [{"id": "patient-report", "property": "n_clicks", "value": 1}],
            "state": [{"id": {"page": "patients", "type": "cs-page-state"}, "property": "data", "value": state}],
            "changedPropIds": ["patient-report.n_clicks"]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert "could not be made" in response.get_data(as_text=True)


@pytest.mark.parametrize("page, figure_name", [("kinetics", "spaghetti"), ("efficacy", "swimmer")])
def test_a_click_on_a_figure_opens_the_patient_it_shows(odd_study, client, page, figure_name):
    from pages._context import page_context

    module = importlib.import_module(f"pages.{page}")
    context, _ = page_context(STUDY, None, None)
    figure = next(f.figure for f in module.figures(context, {}, context.canvas(), False) if f.name == figure_name)
    shown = {c for trace in figure["data"] for c in (trace.get("customdata") or []) if isinstance(c, str)}
    assert "&lt;b&gt;bold&lt;/b&gt;" in shown  # hover shows the id as typed
    dependencies = json.loads(client.get("/_dash-dependencies").data)
    dep = next(d for d in dependencies if d["output"] == f"{page}-location.href"
               and any(i["property"] == "clickData" for i in d["inputs"]))
    state = {"page": page, "study": STUDY, "version": "1"}
    body = {"output": dep["output"], "outputs": {"id": f"{page}-location", "property": "href"},
            "inputs": [{"id": dep["inputs"][0]["id"], "property": "clickData",
                        "value": {"points": [{"customdata": "&lt;b&gt;bold&lt;/b&gt;"}]}}],
            "state": [{"id": {"page": page, "type": "cs-page-state"}, "property": "data", "value": state}],
            "changedPropIds": [f"{dep['inputs'][0]['id']}.clickData"]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    href = json.loads(response.data)["response"][f"{page}-location"]["href"]
    assert href == f"/patients/%3Cb%3Ebold%3C%2Fb%3E?study={STUDY}&version=1"
