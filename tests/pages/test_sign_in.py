"""Sign-in, roles and per-study grants, enforced by the server: the Procfile's gunicorn command with sign-in on, asked
over HTTP the way the browser asks (the sign-in form, Dash's callback requests), by users of each role; and the rules
for when the app may start at all."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess

import pytest

from data_access import accounts, store
from data_access.importer import ensure_demo_study, import_files
from pages._auth import LOCAL_USER, ROUTING_OUTPUTS, permissions_needed, startup_problem
from tests.conftest import make_files
from tests.servers import (
    PASSWORD,
    REPO,
    SECRET_KEY,
    Client,
    add_users,
    free_port,
    pattern_id,
    procfile_command,
    procfile_server,
)

USERS = {"ada": ("admin", []), "vic": ("viewer", ["alpha"]), "ana": ("analyst", ["demo"]),
         "dan": ("data-manager", ["demo"]), "lee": ("viewer", ["alpha"]), "nia": ("viewer", [])}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A server with sign-in, the demo study and a second study 'alpha', and one user of each role."""
    tmp = tmp_path_factory.mktemp("site")
    url = f"sqlite:///{tmp / 'site.db'}"
    engine = store.get_engine(url)
    ensure_demo_study(engine)
    assert import_files(make_files(), "alpha", source="test", engine=engine).stored
    add_users(url, USERS)
    with procfile_server(url, tmp) as base:
        yield base, engine


def client(site, user: str | None = None) -> Client:
    browser = Client(site[0])
    if user:
        assert browser.sign_in(user).status_code == 302
    return browser


def page_state(layout: dict, page: str) -> dict:
    """The page state store's data in a page's layout (what the page's callbacks get as State)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if props.get("id") == {"type": "cs-page-state", "page": page}:
                found.append(props["data"])
            for value in (node.values() if "props" not in node else props.values()):
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(layout)
    assert found, f"no state store for page {page}"
    return found[0]


def test_without_a_session_every_route_is_refused(site):
    http = Client(site[0]).http
    for path in ("/", "/patients/S1?study=alpha", "/kinetics?study=demo", "/data", "/assets/cartscope.css",
                 "/login/sso/callback"):  # single sign-on is not configured here: not an open route
        answer = http.get(site[0] + path, allow_redirects=False, timeout=30)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next="), path
    for path in ("/_dash-layout", "/_dash-dependencies", "/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.js"):
        assert http.get(site[0] + path, timeout=30).status_code == 401, path
    answer = http.post(site[0] + "/_dash-update-component", json={"output": "x"}, timeout=30)
    assert answer.status_code == 401 and "alpha" not in answer.text
    ada = client(site, "ada")
    stranger = Client(site[0])
    stranger._dependencies = ada.dependencies  # the requests a signed-in browser would send, without its session
    servers = [d["output"] for d in ada.dependencies if not d.get("clientside_function")]
    assert len(servers) > 30
    for output in servers:
        assert stranger.callback(output, {"url.search": "?study=demo"}).status_code == 401, output


def test_sign_in_sets_a_protected_session_cookie_and_goes_where_the_user_was_going(site):
    browser = Client(site[0])
    answer = browser.sign_in("ana", next_path="/kinetics?study=demo")
    assert answer.status_code == 302 and answer.headers["Location"] == "/kinetics?study=demo"
    cookie = answer.headers["Set-Cookie"]
    assert "cartscope_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert browser.http.get(site[0] + "/_dash-layout", timeout=30).status_code == 200
    shown = browser.callback("cs-user.children", {"url.pathname": "/"}).json()["response"]["cs-user"]["children"]
    assert "ana" in json.dumps(shown) and "Sign out" in json.dumps(shown)


def test_sign_in_never_leaves_the_app(site):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        answer = Client(site[0]).sign_in("ana", next_path=target)
        assert answer.headers["Location"] == "/", target


def test_wrong_password_unknown_user_and_a_missing_form_token_are_refused(site):
    for name, password in (("ana", "wrong password here"), ("nobody", PASSWORD)):
        answer = Client(site[0]).sign_in(name, password)
        assert answer.status_code == 401 and "Wrong user name or password." in answer.text
        assert "cartscope_session" not in answer.headers.get("Set-Cookie", "") or "_user_id" not in answer.text
    browser = Client(site[0])
    answer = browser.http.post(site[0] + "/login", data={"name": "ana", "password": PASSWORD}, allow_redirects=False)
    assert answer.status_code == 400 and "expired" in answer.text
    assert browser.http.get(site[0] + "/_dash-layout", timeout=30).status_code == 401


def test_repeated_failures_lock_the_account_out_even_for_the_right_password(site):
    for _ in range(accounts.LOCKOUT_AFTER):
        assert Client(site[0]).sign_in("lee", "not the password!").status_code == 401
    answer = Client(site[0]).sign_in("lee")
    assert answer.status_code == 429 and re.search(r"Try again in \d+ seconds", answer.text)
    events = accounts.audit_events(user_name="lee", engine=site[1])
    assert (events["action"] == "sign-in failed").sum() == accounts.LOCKOUT_AFTER + 1
    assert "locked out" in events["detail"].iloc[0]


def test_a_viewer_sees_only_the_studies_granted(site):
    vic = client(site, "vic")
    selector = vic.callback("study-select.options", {"url.search": "?study=demo"}, "url.search").json()["response"]
    assert [o["value"] for o in selector["study-select"]["options"]] == ["alpha"]
    page = vic.page("/patients", "?study=demo")
    assert page.status_code == 200 and "No such study" in page.text and "DM-0" not in page.text
    assert "alpha" in page.text  # the notice lists what they may see
    shell = vic.callback("cs-user.children", {"url.pathname": "/"}).json()["response"]["cs-shell"]
    assert shell["className"] == "cs-no-exports cs-no-imports cs-not-admin"  # the server refuses them anyway
    assert "demo" in set(accounts.audit_events(user_name="vic", action="access refused", engine=site[1])["study"])


def test_a_user_granted_nothing_is_told_so(site):
    page = client(site, "nia").page("/kinetics").text
    assert "No study shared with you yet" in page and "DM-0" not in page and "alpha" not in page


def test_a_crafted_callback_for_a_study_not_granted_answers_403(site):
    ana = client(site, "ana")
    state = page_state(ana.page("/survival", "?study=demo").json(), "survival")
    update = {"survival-endpoint.value": "PFS", pattern_id(page="survival", type="cs-page-state") + ".data": state}
    assert ana.callback("survival-summary.children", update, "survival-endpoint.value").status_code == 200
    vic = client(site, "vic")
    answer = vic.callback("survival-summary.children", update, "survival-endpoint.value")
    assert answer.status_code == 403 and "DM-0" not in answer.text
    refused = accounts.audit_events(user_name="vic", action="access refused", engine=site[1])
    assert "demo" in set(refused["study"])


def test_no_callback_answers_a_viewer_about_a_study_not_granted(site):
    """Every server callback that can be asked about a study (the address's ?study=, the selector, a page's
    state), asked about one the user may not see: 403 (or 204, nothing, when only unclicked buttons set it off and
    the role may not use them), whatever else the request holds."""
    vic = client(site, "vic")
    answered, asked = [], 0
    for dep in vic.dependencies:
        if dep.get("clientside_function") or any(kind in dep["output"] for kind in ROUTING_OUTPUTS):
            continue
        values = {}
        for item in dep["inputs"] + dep["state"]:
            key = f"{item['id']}.{item['property']}"
            if item["property"] == "search":
                values[key] = "?study=demo"
            elif item["property"] == "data" and "cs-page-state" in item["id"]:
                values[key] = {"page": json.loads(item["id"])["page"], "study": "demo", "version": 1}
            elif item["id"] == "study-select":
                values[key] = "demo"
        if values:
            asked += 1
            answer = vic.callback(dep["output"], values)
            # 204: set off by buttons never clicked, for a role that may not use them: nothing answered either
            if answer.status_code not in (403, 204) or answer.content and "DM-0" in answer.text:
                answered.append((dep["output"], answer.status_code))
    assert asked >= 15 and answered == []


def test_exports_need_the_analyst_role_and_are_recorded(site):
    ana = client(site, "ana")
    state = page_state(ana.page("/kinetics", "?study=demo").json(), "kinetics")
    key = pattern_id(page="kinetics", type="cs-page-state") + ".data"
    values = {"kinetics-export-csv.n_clicks": 1, key: state}
    answer = ana.callback("kinetics-download.data", values, "kinetics-export-csv.n_clicks")
    assert answer.status_code == 200
    download = answer.json()["response"]["kinetics-download"]["data"]
    assert "DM-0" in (base64.b64decode(download["content"]).decode("utf-8-sig") if download.get("base64")
                      else download["content"])
    exports = accounts.audit_events(user_name="ana", action="export", engine=site[1])
    assert exports["study"].iloc[0] == "demo" and "kinetics-download" in exports["detail"].iloc[0]
    vic = client(site, "vic")
    alpha = page_state(vic.page("/kinetics", "?study=alpha").json(), "kinetics")
    assert vic.callback("kinetics-download.data", {**values, key: alpha}, "kinetics-export-csv.n_clicks"
                        ).status_code == 403
    for output in ("deck-download.data", "patient-report-download.data", "safety-download.data"):
        assert permissions_needed([output.split(".")[0]]) == {"export"}


def test_buttons_appearing_on_a_page_are_neither_refused_nor_recorded_as_exports(site):
    """Dash asks the shared figure-export callback when a page's export buttons appear (never clicked): no export,
    no 403 for a viewer, nothing in the audit trail; a click is a real request (refused to a viewer, recorded)."""
    button = {"format": "png", "name": "km", "page": "survival", "type": "cs-export"}
    changed = pattern_id(**button) + ".n_clicks"

    def ask(user: str, clicks):
        browser = client(site, user)
        state = page_state(browser.page("/survival", "?study=alpha" if user == "vic" else "?study=demo").json(),
                           "survival")
        body = browser.body("cs-export-file.data", changed=changed)
        body["inputs"][0] = [{"id": button, "property": "n_clicks", "value": clicks}]
        body["state"][0] = [{"id": {"page": "survival", "type": "cs-page-state"}, "property": "data", "value": state}]
        return browser.http.post(site[0] + "/_dash-update-component", json=body, timeout=60)

    for user in ("vic", "ana"):
        before = accounts.audit_events(user_name=user, action="export", engine=site[1])
        refused = accounts.audit_events(user_name=user, action="access refused", engine=site[1])
        assert ask(user, None).status_code in (200, 204), user
        assert len(accounts.audit_events(user_name=user, action="export", engine=site[1])) == len(before)
        assert len(accounts.audit_events(user_name=user, action="access refused", engine=site[1])) == len(refused)
    assert ask("vic", 1).status_code == 403
    assert ask("ana", 1).status_code == 200
    assert accounts.audit_events(user_name="ana", action="export", engine=site[1])["detail"].str.contains(
        "cs-export").any()


def test_imports_need_the_data_manager_role(site):
    for user, status in (("ana", 403), ("dan", 200)):
        answer = client(site, user).callback("data-selected-files.children", {"data-upload.filename": ["x.csv"]},
                                             "data-upload.filename")
        assert answer.status_code == status, user


def test_the_data_page_lists_granted_studies_to_a_data_manager_and_nothing_to_others(site):
    dan = client(site, "dan").page("/data").text
    assert "demo" in dan and "alpha" not in dan
    ana = client(site, "ana").page("/data").text
    assert "Importing needs the data-manager role" in ana and "import_log" not in ana and "demo" not in ana


def upload_values(name: str) -> dict:
    files = make_files()
    return {"data-import.n_clicks": 1, "data-name.value": name, "data-upload.filename": [f.name for f in files],
            "data-upload.contents": [f"data:text/csv;base64,{base64.b64encode(f.data).decode()}" for f in files]}


def test_a_data_manager_imports_a_new_study_sees_it_and_cannot_take_a_name_they_may_not_see(site):
    dan = client(site, "dan")
    answer = dan.job("data-report.children", upload_values("beta"), "data-import.n_clicks")
    assert "beta" in json.dumps(answer["data-studies"]) and "alpha" not in json.dumps(answer["data-studies"])
    assert store.find_study("beta", engine=site[1]).imported_by == "dan"
    assert accounts.granted_studies(accounts.find_user("dan", engine=site[1]), engine=site[1]) == {"demo", "beta"}
    event = accounts.audit_events(action="import", study="beta", engine=site[1]).iloc[0]
    assert (event["user_name"], event["client"]) == ("dan", "127.0.0.1")
    refused = dan.job("data-report.children", upload_values("alpha"), "data-import.n_clicks")
    assert "belongs to a study you have no access to" in json.dumps(refused)
    assert store.find_study("alpha", engine=site[1]).version == 1


def test_views_are_recorded_with_user_time_and_address(site):
    ana = client(site, "ana")
    ana.page("/patients/DM-001", "?study=demo")
    ana.page("/patients/DM-001", "?study=demo")  # drawn again at once (a first page load draws twice)
    views = accounts.audit_events(user_name="ana", action="patient view", engine=site[1])
    assert len(views) == 1
    assert views["subject_id"].iloc[0] == "DM-001" and views["client"].iloc[0] == "127.0.0.1"
    assert views["study"].iloc[0] == "demo" and views["at"].notna().all()


def test_sign_out_needs_the_form_and_ends_the_session(site):
    ana = client(site, "ana")
    assert ana.http.post(site[0] + "/logout", data={}, allow_redirects=False).status_code == 400
    form = ana.http.get(site[0] + "/logout", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    answer = ana.http.post(site[0] + "/logout", data={"csrf_token": token}, allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert ana.http.get(site[0] + "/_dash-layout", timeout=30).status_code == 401
    assert "sign-out" in set(accounts.audit_events(user_name="ana", engine=site[1])["action"])


def test_every_download_in_the_app_needs_the_export_permission(app):
    downloads = {o for key in app.callback_map for o in key.strip(".").split("...") if "download" in o}
    assert downloads
    for output in downloads:
        component = output.rsplit(".", 1)[0]
        kind = json.loads(component)["type"] if component.startswith("{") else component
        assert "export" in permissions_needed([kind]), output


# ---- when the app may start -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("env", "main", "problem"), [
    ({}, True, None),                                                   # the README's first command
    ({"HOST": "0.0.0.0"}, True, "will not serve on 0.0.0.0 without sign-in"),
    ({"SERVER_SOFTWARE": "gunicorn/23.0.0"}, False, "will not serve under gunicorn without sign-in"),
    ({"CARTSCOPE_SECRET_KEY": "short"}, False, "needs at least 32"),
    ({"CARTSCOPE_SECRET_KEY": SECRET_KEY}, False, "no one can sign in"),
    ({"CARTSCOPE_DEBUG": "1", "HOST": "0.0.0.0"}, True, "CARTSCOPE_DEBUG=1 is for one developer"),
    ({"CARTSCOPE_SECRET_KEY": SECRET_KEY, "CARTSCOPE_OIDC_ISSUER": "https://idp.example"}, False,
     "CARTSCOPE_OIDC_ISSUER is set but CARTSCOPE_OIDC_CLIENT_ID and CARTSCOPE_OIDC_CLIENT_SECRET not"),
])
def test_the_app_refuses_to_start_open_beyond_this_computer(monkeypatch, tmp_path, env, main, problem):
    for name in ("HOST", "SERVER_SOFTWARE", "CARTSCOPE_SECRET_KEY", "CARTSCOPE_DEBUG", "CARTSCOPE_OIDC_ISSUER",
                 "CARTSCOPE_TRUSTED_PROXY_USER_HEADER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CARTSCOPE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found = startup_problem(run_as_main=main)
    assert found is None if problem is None else problem in found


def test_with_an_admin_sign_in_may_start(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    monkeypatch.setenv("CARTSCOPE_DATABASE_URL", url)
    monkeypatch.setenv("CARTSCOPE_SECRET_KEY", SECRET_KEY)
    add_users(url, {"root": ("admin", [])})
    assert startup_problem(run_as_main=False) is None


def test_gunicorn_without_sign_in_exits_saying_why(tmp_path):
    env = {"CARTSCOPE_DATABASE_URL": f"sqlite:///{tmp_path / 'open.db'}", "CARTSCOPE_SECRET_KEY": ""}
    result = subprocess.run(procfile_command(free_port()), cwd=REPO, env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "will not serve under gunicorn without sign-in" in result.stdout + result.stderr


def test_single_user_mode_answers_this_computer_only(app):
    client = app.server.test_client()
    assert client.get("/_dash-layout").status_code == 200
    refused = client.get("/_dash-layout", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert refused.status_code == 403 and "single local user" in refused.get_data(as_text=True)
    assert LOCAL_USER.may("administer")
