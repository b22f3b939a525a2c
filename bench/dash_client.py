"""A client that speaks Dash's HTTP protocol the way the browser does: POST /_dash-update-component with the
callback's output, outputs, inputs, state, changedPropIds and parsedChangedPropsIds (built from
/_dash-dependencies, as the renderer builds them; Dash 4.4's renderer also adds an `endId` query parameter, which
only background callbacks read), and a navigation as the renderer sends it (the page router and the shell's
callbacks that follow the address; compared against Chromium's network log of the app). Used by bench/load.py
and the fault tests (tests/faults)."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import requests

CALLBACK_PATH = "/_dash-update-component"


def page_state_key(page: str) -> str:
    """How Dash names a page's state store (a pattern-matching id) in its dependency list, with `.data`."""
    return json.dumps({"page": page, "type": "cs-page-state"}, separators=(",", ":")) + ".data"


def _output(spec: str) -> dict:
    component, prop = spec.rsplit(".", 1)
    return {"id": json.loads(component) if component.startswith("{") else component, "property": prop}


def _outputs(output: str) -> list[dict] | dict:
    if output.startswith(".."):
        return [_output(o) for o in output.strip(".").split("...")]
    return _output(output.split("@")[0])


def _key(dependency: dict) -> str:
    return f"{dependency['id']}.{dependency['property']}"


def find_prop(tree, component_id, prop: str):
    """The `prop` of the component with `component_id` in a layout (a Dash component tree as JSON), or None."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and props.get("id") == component_id and prop in props:
                return props[prop]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def find_ids(tree, kind: str) -> list[dict]:
    """Every pattern-matching id of `kind` ({"type": kind, ...}) in a layout, in document order."""
    found, stack = [], [tree]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and isinstance(props.get("id"), dict) and props["id"].get("type") == kind:
                found.append(props["id"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _closed_before_answering(error: requests.ConnectionError) -> bool:
    """Whether the connection was reset or closed with no answer begun (the keep-alive race), not refused."""
    text = str(error)
    return "Connection aborted" in text and ("reset by peer" in text or "RemoteDisconnected" in text)


@dataclass
class Answer:
    """One request: what it was, its HTTP status (or the name of the error when none came), seconds, the body."""

    name: str
    status: int | str
    seconds: float
    body: object = None
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


class DashClient:
    """One browser: a session (cookies, a kept-alive connection) on the app at `base`."""

    def __init__(self, base: str, dependencies: list[dict] | None = None, timeout: float = 60):
        self.base = base
        self.session = requests.Session()
        self.timeout = timeout
        self._dependencies = dependencies
        self._nav_ids: list[dict] | None = None
        self.retries = 0  # requests sent again because the server had closed the kept-alive connection
        self.location: tuple[str, str] | None = None  # the address bar (pathname, search) after the last navigation

    @property
    def dependencies(self) -> list[dict]:
        """The app's callbacks (/_dash-dependencies), asked for once (after signing in, when the app needs it)."""
        if self._dependencies is None:
            self._dependencies = self.get_json("/_dash-dependencies")
        return self._dependencies

    @dependencies.setter
    def dependencies(self, value: list[dict]) -> None:
        self._dependencies = value

    def get_json(self, path: str):
        response = self.session.get(self.base + path, timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def sign_in(self, name: str, password: str) -> None:
        """The sign-in form: GET /login for its csrf_token, POST the name and password; a 302 sets the cookie."""
        form = self.session.get(f"{self.base}/login", timeout=self.timeout)
        form.raise_for_status()
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', form.text)
        if not match:
            raise RuntimeError("GET /login has no csrf_token field")
        answer = self.session.post(f"{self.base}/login", data={"name": name, "password": password,
                                                               "csrf_token": match.group(1) or match.group(2)},
                                   allow_redirects=False, timeout=self.timeout)
        if answer.status_code != 302:
            raise RuntimeError(f"sign-in of {name} answered {answer.status_code}, not 302")

    def callback(self, fragment: str) -> dict:
        """The declared callback whose output contains `fragment`."""
        matching = [d for d in self.dependencies if fragment in d["output"]]
        if len(matching) != 1:
            raise KeyError(f"{len(matching)} callbacks have an output containing {fragment!r}")
        return matching[0]

    def body(self, fragment: str, values: dict, changed: list[str]) -> dict:
        """The request the renderer sends for the callback with output `fragment`: each input and state with its
        value from `values` ("id.property" -> value; for an ALL dependency the list of {id, property, value})."""
        dependency = self.callback(fragment)

        def item(d):
            value = values.get(_key(d))
            if '["ALL"]' in d["id"]:
                return value or []
            return {"id": json.loads(d["id"]) if d["id"].startswith("{") else d["id"], "property": d["property"],
                    "value": value}

        return {"output": dependency["output"], "outputs": _outputs(dependency["output"]),
                "inputs": [item(d) for d in dependency["inputs"]], "state": [item(d) for d in dependency["state"]],
                "changedPropIds": changed, "parsedChangedPropsIds": changed}

    def post(self, name: str, fragment: str, values: dict, changed: list[str]) -> Answer:
        body = self.body(fragment, values, changed)
        started = time.perf_counter()
        try:
            try:
                response = self.session.post(self.base + CALLBACK_PATH, json=body, timeout=self.timeout)
            except requests.ConnectionError as error:
                if not _closed_before_answering(error):
                    raise
                # The server closed the kept-alive connection (its keep-alive timeout) as the request went out on
                # it: a browser sends the request again on a new connection, and so does this client, once.
                self.retries += 1
                response = self.session.post(self.base + CALLBACK_PATH, json=body, timeout=self.timeout)
        except requests.RequestException as error:
            return Answer(name, type(error).__name__, time.perf_counter() - started, text=str(error))
        elapsed = time.perf_counter() - started
        try:
            parsed = response.json() if response.status_code == 200 else None
        except ValueError:
            parsed = None
        return Answer(name, response.status_code, elapsed, parsed, "" if parsed is not None else response.text)

    def nav_ids(self) -> list[dict]:
        if self._nav_ids is None:
            self._nav_ids = find_ids(self.get_json("/_dash-layout"), "nav-link")
        return self._nav_ids

    def navigate(self, pathname: str, search: str, full_load: bool = False) -> list[Answer]:
        """What the renderer sends when the address becomes pathname + search, as recorded from Chromium's network
        log: on a page load (the first address of a session, or `full_load`) the study selector, the page router
        and the navigation links; on a link within the app, the router and the navigation links for what
        changed, and the selector only when the query changed."""
        first = full_load or self.location is None
        old_path, old_search = self.location or (None, None)
        self.location = (pathname, search)
        changed = [part for part, new, old in (("pathname", pathname, old_path), ("search", search, old_search))
                   if first or new != old]
        if not changed:
            return []
        nav = [{"id": i, "property": "id", "value": i} for i in self.nav_ids()]
        answers = []
        if "search" in changed:
            answers.append(self.post("study selector", "study-select.options", {"url.search": search}, ["url.search"]))
        answers.append(self.post("page", "_pages_content.children", {"_pages_location.pathname": pathname,
                                                                     "_pages_location.search": search},
                                 [f"_pages_location.{part}" for part in changed]))
        answers.append(self.post("navigation", '"nav-link"}.href', {
            "url.search": search, "url.pathname": pathname, '{"index":["ALL"],"type":"nav-link"}.id': nav},
            [f"url.{part}" for part in changed]))
        return answers


def router(answers: list[Answer]) -> Answer:
    """The page router's answer among a navigation's."""
    return next(a for a in answers if a.name == "page")


def page_state(answer: Answer, page: str):
    """The page's state store after `answer`: the one a page's layout (the router's answer) starts with, or the
    one an update callback wrote; None when the answer has neither."""
    if not answer.ok or not isinstance(answer.body, dict):
        return None
    response = answer.body.get("response", {})
    written = response.get(json.dumps({"page": page, "type": "cs-page-state"}, separators=(",", ":")), {})
    if isinstance(written, dict) and isinstance(written.get("data"), dict):
        return written["data"]
    content = response.get("_pages_content", {}).get("children")
    return find_prop(content, {"page": page, "type": "cs-page-state"}, "data")


#: The cohort page's controls, in the order its update callback takes them (pages/kinetics.py CONTROLS).
KINETICS_CONTROLS = ("analyte", "specimen", "group", "display", "scale", "stat", "start", "end", "method", "blq")
#: The patient page's NCA controls and the state key each one shows (pages/patients.py).
PATIENT_CONTROLS = {"start": "patient-auc-start", "end": "patient-auc-end", "method": "patient-auc-method",
                    "blq": "patient-blq", "days": "patient-days", "panels": "patient-panels"}


def _number(value):
    return float(value) if isinstance(value, str) and value.strip() else value


def cohort_update(client: DashClient, state: dict, changed: str = "end", **changes) -> Answer:
    """The cohort (kinetics) page's update after the user changed controls: the controls show `state` (the page's
    state store) with `changes`, the AUC window days as numbers."""
    shown = {**state, **changes}
    values = {f"kinetics-{key}.value": _number(shown[key]) if key in ("start", "end") else shown[key]
              for key in KINETICS_CONTROLS}
    values[page_state_key("kinetics")] = state
    return client.post("cohort update", "kinetics-summary.children", values, [f"kinetics-{changed}.value"])


def patient_window(client: DashClient, state: dict, start: float, end: float, method: str | None = None) -> Answer:
    """The patient page's update after a new AUC window (and AUC method) was typed."""
    shown = {**state, "start": start, "end": end, "method": method or state.get("method", "linuplogdown")}
    values = {f"{control}.value": shown.get(key) for key, control in PATIENT_CONTROLS.items()}
    values["patient-panels.value"] = [p for p in str(shown.get("panels") or "").split(",") if p]
    values[page_state_key("patients")] = state
    return client.post("AUC window", "patient-summary.children", values, ["patient-auc-end.value"])


def swimmer_sort(client: DashClient, state: dict, sort: str) -> Answer:
    """The efficacy page's swimmer plot sorted another way."""
    return client.post("efficacy sort", '"swimmer","page":"efficacy","type":"cs-graph"}.figure',
                       {"efficacy-sort.value": sort, page_state_key("efficacy"): state}, ["efficacy-sort.value"])
