"""Requests nobody meant: fuzzed addresses, crafted callback requests, oversize bodies, spoofed identity headers, a
deleted cache folder. The server answers each on purpose (200 with a visible message, 400, 413), never with a 500,
a blank page or a stack trace. Driven through Flask's test client: the same routing, callbacks and JSON as a
browser's requests, without a browser."""
from __future__ import annotations

import importlib
import io
import json
import logging
import shutil
import time
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

CALLBACK = "/_dash-update-component"


@pytest.fixture(scope="module")
def dash_app(app):
    """The app the browser tests serve (tests/conftest.py): a second app instance in the same run would take the
    pages' callbacks on its first request."""
    return app


@pytest.fixture
def client(dash_app):
    return dash_app.server.test_client()


@pytest.fixture(scope="module")
def dependencies(dash_app):
    return json.loads(dash_app.server.test_client().get("/_dash-dependencies").data)


def _prop(spec: str) -> dict:
    component, prop = spec.rsplit(".", 1)
    return {"id": json.loads(component) if component.startswith("{") else component, "property": prop}


def callback_body(dependencies: list[dict], output_part: str, values: dict | None = None,
                  changed: str | None = None) -> dict:
    """The body the Dash renderer posts for the callback whose output names `output_part`, with `values` by
    'id.property' (others None)."""
    values = values or {}
    dep = next(d for d in dependencies if output_part in d["output"])
    outputs = [_prop(o) for o in dep["output"].strip(".").split("...")]
    inputs = [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in dep["inputs"]]
    return {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": inputs,
            "state": [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in dep["state"]],
            "changedPropIds": [changed or f"{inputs[0]['id']}.{inputs[0]['property']}"]}


def render(client, dependencies, path: str, search: str = "") -> tuple[int, str]:
    """What the page router answers for an address: (status, the page's JSON text)."""
    body = callback_body(dependencies, "_pages_content",
                         {"_pages_location.pathname": path, "_pages_location.search": search},
                         "_pages_location.pathname")
    response = client.post(CALLBACK, json=body)
    return response.status_code, response.get_data(as_text=True)


# ---- identity: no header names the importer unless a trusted proxy is configured ------------------------------

def _uploader(dash_app, headers: dict, environ: dict | None = None) -> str:
    from pages.data import uploader

    with dash_app.server.test_request_context("/", headers=headers,
                                               environ_base={"REMOTE_ADDR": "203.0.113.7", **(environ or {})}):
        return uploader()


def test_import_log_records_no_identity_from_client_headers(dash_app, monkeypatch):
    monkeypatch.delenv("CARTSCOPE_TRUSTED_PROXY_USER_HEADER", raising=False)
    spoofed = {"X-Forwarded-User": "admin", "X-Forwarded-For": "10.0.0.1"}
    assert _uploader(dash_app, spoofed, {"REMOTE_USER": "mallory"}) == "web upload from 203.0.113.7"


def test_import_log_records_the_trusted_proxys_user_header(dash_app, monkeypatch):
    monkeypatch.setenv("CARTSCOPE_TRUSTED_PROXY_USER_HEADER", "X-Auth-Request-User")
    assert _uploader(dash_app, {"X-Auth-Request-User": "jdoe", "X-Forwarded-User": "admin"}) == "jdoe"
    assert _uploader(dash_app, {"X-Forwarded-User": "admin"}) == "web upload from 203.0.113.7"


def test_the_client_address_comes_from_x_forwarded_for_only_behind_configured_proxies(monkeypatch):
    from flask import Flask, request

    from pages._requests import trust_proxies

    for proxies, expected in (("0", "203.0.113.7"), ("1", "198.51.100.9")):
        monkeypatch.setenv("CARTSCOPE_TRUSTED_PROXIES", proxies)
        server = Flask(__name__)  # not a Dash app: its first request would take the pages' callbacks
        trust_proxies(server)
        server.add_url_rule("/whoami", "whoami", lambda: request.remote_addr)
        answer = server.test_client().get("/whoami", headers={"X-Forwarded-For": "198.51.100.9"},
                                              environ_base={"REMOTE_ADDR": "203.0.113.7"})
        assert answer.get_data(as_text=True) == expected


# ---- size: an oversize request is refused before it is read -------------------------------------------------------

class CountingStream(io.RawIOBase):
    """A request body that says it is huge and counts what the server reads of it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), 1 << 16)
        buffer[:n] = b"x" * n
        self.read_bytes += n
        return n


def test_oversize_callback_request_is_refused_unread(client):
    import settings

    stream = CountingStream()
    environ = EnvironBuilder(path=CALLBACK, method="POST", content_type="application/json").get_environ()
    environ.update({"wsgi.input": stream, "CONTENT_LENGTH": "400000000", "REMOTE_ADDR": "127.0.0.1"})
    started = time.monotonic()
    _body, status, _headers = run_wsgi_app(client.application, environ)
    assert status.startswith("413")
    assert stream.read_bytes < 1_000_000 and time.monotonic() - started < 5
    # an upload of files up to the file limit still fits
    assert settings.max_request_bytes() > 4 / 3 * settings.max_file_bytes()


def test_upload_refuses_oversize_files_in_the_browser(client):
    import settings

    status, page = render(client, json.loads(client.get("/_dash-dependencies").data), "/data")
    assert status == 200
    upload = json.loads(page)["response"]["_pages_content"]["children"]
    text = json.dumps(upload)
    assert f'"max_size": {settings.max_file_bytes()}' in text
    assert "data-upload-too-large" in text


# ---- the cache folder comes back when deleted --------------------------------------------------------------------

def test_deleted_cache_folder_is_made_again(client, dependencies):
    import settings
    from data_access.cache import cache

    folder = Path(settings.cache_config()["CACHE_DIR"])
    shutil.rmtree(folder, ignore_errors=True)
    assert render(client, dependencies, "/kinetics", "?start=0&end=17")[0] == 200
    assert folder.is_dir()
    cache.set("fuzz-probe", 42)
    assert cache.get("fuzz-probe") == 42


# ---- malformed callback requests: 400, and a real error is a 500 without detail ---------------------------------

MALFORMED = {
    "not JSON": b"{not json",
    "JSON list": b"[1, 2]",
    "no output": json.dumps({"inputs": [], "state": []}).encode(),
    "output not a string": json.dumps({"output": ["x"], "outputs": [], "inputs": []}).encode(),
    "unknown output": json.dumps({"output": "nope.children", "outputs": {"id": "nope", "property": "children"},
                                  "inputs": []}).encode(),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_callback_requests_answer_400(client, name):
    response = client.post(CALLBACK, data=MALFORMED[name], content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]


def _shape_breakers(body: dict) -> dict[str, dict]:
    return {
        "inputs missing": {k: v for k, v in body.items() if k != "inputs"},
        "inputs not a list": {**body, "inputs": {"id": "x"}},
        "one input too few": {**body, "inputs": body["inputs"][:-1]},
        "input without id": {**body, "inputs": [{"property": "value"}] * len(body["inputs"])},
        "outputs a string": {**body, "outputs": "x"},
        "state a string": {**body, "state": "x"},
        "changedPropIds a dict": {**body, "changedPropIds": {"a": 1}},
    }


def test_callback_requests_of_the_wrong_shape_answer_400(client, dependencies):
    body = callback_body(dependencies, "patient-summary.children")
    for name, broken in _shape_breakers(body).items():
        response = client.post(CALLBACK, json=broken)
        assert response.status_code == 400, (name, response.get_data(as_text=True)[:300])


def test_a_real_error_answers_500_without_detail_and_is_logged(dash_app, client, dependencies, monkeypatch):
    patients = importlib.import_module("pages.patients")

    def broken(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(patients, "clean_state", broken)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    dash_app.server.logger.addHandler(handler)
    try:
        body = callback_body(dependencies, "patient-summary.children",
                             {"patient-auc-start.value": 0, "patient-auc-end.value": 28})
        response = client.post(CALLBACK, json=body)
    finally:
        dash_app.server.logger.removeHandler(handler)
    text = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret internals" not in text and "Traceback" not in text
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in records)


# ---- fuzzed addresses: every page answers with a page, and says what it did instead --------------------------

PAGES = ["/", "/patients", "/patients/DM-001", "/kinetics", "/efficacy", "/survival", "/safety", "/data", "/nope"]
BAD_QUERIES = [
    "?version=9223372036854775808", "?version=2147483648", "?version=-1", "?version=0", "?version=abc",
    "?version=1e3", "?version=1&version=2", "?study=a&study=b", "?study=demo&study=demo", "?study=%00",
    "?study=" + "x" * 5000, "?study=%3Cb%3Ex%3C%2Fb%3E", "?start=-inf&end=inf", "?start=nan&end=28",
    "?start=1e308&end=1e309", "?start=-50&end=-10", "?start=28&end=0", "?start=a&start=b&end=c",
    "?start=%F0%9F%92%A9", "?slide=foo", "?slide=16x9&slide=4x3", "?slide=%00",
    "?method=foo&blq=bar&days=x&panels=%00", "?method=a&method=b&panels=x&panels=y", "?analyte=nope&specimen=XX",
    "?analyte=a&analyte=b&group=a&group=b", "?sort=zzz&sort=y", "?endpoint=ZZ&strata=%00", "?endpoint=a&endpoint=b",
    "?attribution=foo&attribution=bar", "?subject_id=DM-001", "?subject_id=a&subject_id=b", "?%ZZ=1", "?=x",
]


def short(query: str) -> str:
    return query if len(query) < 40 else query[:36] + "..."


@pytest.mark.parametrize("query", BAD_QUERIES, ids=short)
@pytest.mark.parametrize("path", PAGES)
def test_every_page_answers_every_bad_address(client, dependencies, path, query):
    status, text = render(client, dependencies, path, query)
    assert status == 200, text[:300]
    assert "Traceback" not in text


@pytest.mark.parametrize("query", BAD_QUERIES, ids=short)
def test_the_study_selector_follows_every_bad_address(client, dependencies, query):
    body = callback_body(dependencies, "study-select.options", {"url.search": query}, "url.search")
    response = client.post(CALLBACK, json=body)
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("query, message", [
    ("?study=demo&version=2147483648", "The address asked for version 2147483648 of 'demo', which does not exist; "
                                       "showing the newest (version 1)."),
    ("?version=9223372036854775808", "version 9223372036854775808 of 'demo', which does not exist"),
    ("?version=abc", "version abc of 'demo', which does not exist"),
    ("?slide=foo", "slide mode 'foo', which does not exist"),
    ("?study=demo&study=other", "The address gives 'study' 2 times; using the first, 'demo'."),
])
@pytest.mark.parametrize("path", ["/", "/patients/DM-001", "/kinetics", "/safety"])
def test_a_bad_address_falls_back_with_a_message(client, dependencies, path, query, message):
    status, text = render(client, dependencies, path, query)
    assert status == 200 and "address-note" in text
    assert message in json.loads(text)["response"]["_pages_content"]["children"]["props"]["children"][0][
        "props"]["children"][0]["props"]["children"]


@pytest.mark.parametrize("path", ["/patients/DM-001", "/kinetics"])
@pytest.mark.parametrize("query", ["?start=-inf&end=inf", "?start=nan&end=28", "?start=1e308&end=1e309"])
def test_an_impossible_auc_window_falls_back_with_a_message(client, dependencies, path, query):
    status, text = render(client, dependencies, path, query)
    assert status == 200 and "needs a start day before its end day; showing day 0 to 28" in text


# ---- crafted callback requests: values of the wrong type never make a 500 -----------------------------------------

WRONG_VALUES = [["x", 1], {"a": [1]}, {"points": [], "rowId": ["x"]}, {"points": [1]}, "x\x00", 1e308, -1, True,
                None, ""]


def test_every_callback_survives_values_of_the_wrong_type(client, dependencies):
    """Every input and state at once, then only the controls' values (which the callbacks check themselves)."""
    failures = []
    for dep in dependencies:
        if dep.get("clientside_function"):
            continue
        for value in WRONG_VALUES:
            for properties in (None, ("value",)):
                body = callback_body(dependencies, dep["output"])
                for item in body["inputs"] + body["state"]:
                    if properties is None or item["property"] in properties:
                        item["value"] = value
                response = client.post(CALLBACK, json=body)
                if response.status_code not in (200, 204, 400):
                    failures.append((dep["output"][:80], value, properties, response.status_code))
    assert failures == []


@pytest.mark.parametrize("rows", [[1, 2], [{"x": 1}], [{"file": None}], [["file", "column"]]], ids=str)
@pytest.mark.parametrize("output", ["data-map-saved.children", "data-map-preview-out.children"])
def test_mapping_grids_with_rows_the_page_does_not_make_answer_400(client, dependencies, rows, output):
    """A valid-looking mapping state with grid rows the Data page never makes (not objects, without their keys)."""
    state = {"mapping": {"files": {"labs.csv": {"table": "measurements", "columns": {}}}}}
    body = callback_body(dependencies, output, {"data-map-save.n_clicks": 1, "data-map-preview.n_clicks": 1,
                                                "data-map-name.value": "lab-x", "data-map-columns.rowData": rows,
                                                "data-map-tests.rowData": rows, "data-map-values.rowData": rows,
                                                "data-mapping-state.data": state, "data-upload.contents": ["x"],
                                                "data-upload.filename": ["labs.csv"]})
    assert client.post(CALLBACK, json=body).status_code == 400
