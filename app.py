"""CARTscope: the app factory, the server (for gunicorn: `app:server`), the cache and the shell's callbacks.

Run `python app.py` (HOST and PORT override 127.0.0.1:8050). Configuration is by environment
variables; see README.md.
"""
from __future__ import annotations

import dash
from dash import ALL, Dash, Input, Output, State, callback, ctx
from flask import Flask, request
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

import settings
from components.layout import app_shell
from data_access import store
from data_access.cache import init_cache
from data_access.importer import ensure_demo_study
from pages._context import SLIDE_CODES, SLIDE_PARAMS, query_params, resolve_selection, study_query
from pages._exports import register_export_callbacks


def create_app() -> Dash:
    """Build the Dash app: pages, cache, database (seeded with the demo study on first start), shell."""
    app = Dash(__name__, use_pages=True, title="CARTscope", suppress_callback_exceptions=True,
               update_title=None)
    configure_server(app)
    init_cache(app.server)
    ensure_demo_study()
    nav_pages = [{"name": p["name"], "path": p["relative_path"]}
                 for p in sorted(dash.page_registry.values(), key=lambda p: p.get("order") or 0)
                 if p["path"] != "/404"]
    app.layout = app_shell(nav_pages, dash.page_container)
    register_export_callbacks(app)
    return app


def configure_server(app: Dash) -> None:
    """The request limits and checks around Dash: bodies over CARTSCOPE_MAX_REQUEST_MB are refused (413) before
    they are read; a callback request the Dash renderer could not have sent answers 400; an error in the app
    answers 500 with no detail (the traceback goes to the log); proxies are trusted only as configured."""
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes()
    trust_proxies(server)
    callback_path = app.config.routes_pathname_prefix + "_dash-update-component"

    @server.before_request
    def refuse_malformed_callback_requests():
        if request.path == callback_path and request.method == "POST":
            problem = callback_request_problem(request.get_json(silent=True), app.callback_map)
            if problem:
                raise BadRequest(f"Not a callback request this app answers: {problem}.")

    @server.errorhandler(Exception)
    def answer_without_detail(error):
        if isinstance(error, HTTPException):
            return error
        server.logger.exception("Error answering %s %s", request.method, request.path)
        return InternalServerError()


def trust_proxies(server: Flask) -> None:
    """Take the client address from X-Forwarded-For only behind CARTSCOPE_TRUSTED_PROXIES proxies (default none)."""
    if settings.trusted_proxy_count():
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=settings.trusted_proxy_count())


#: The JSON type the browser sends for each input or state property the app's callbacks read (None, i.e. null, is
#: always possible); `value` is left to the callbacks, which check it against what their control offers.
PROPERTY_TYPES = {"n_clicks": int, "data": dict, "search": str, "pathname": str, "id": dict, "dashGridOptions": dict,
                  "cellClicked": dict, "clickData": dict, "selectedRows": list, "rowData": list, "filename": list,
                  "contents": list}
#: Properties whose lists hold text only (the upload's files and their names).
TEXT_LISTS = ("filename", "contents")


def _is_prop(item) -> bool:
    return isinstance(item, dict) and isinstance(item.get("id"), str | dict) and isinstance(item.get("property"), str)


def _has_valid_value(item: dict) -> bool:
    value, kind = item.get("value"), PROPERTY_TYPES.get(item["property"])
    if item["property"] == "pathname":  # a page's address always has a path
        return isinstance(value, str) and value.startswith("/")
    if value is None or kind is None:
        return True
    if not isinstance(value, kind) or kind is int and isinstance(value, bool):
        return False
    return item["property"] not in TEXT_LISTS or all(isinstance(v, str) for v in value)


def _are_props(items, declared: list) -> bool:
    """The inputs or state of a request: one entry per declared dependency, each a {id, property, value} (a list of
    them for a pattern-matching ALL dependency) whose value has the type the browser sends."""
    if not (isinstance(items, list) and len(items) == len(declared)):
        return False
    for item, dependency in zip(items, declared, strict=True):
        matches_many = '["ALL"]' in dependency["id"] or '["ALLSMALLER"]' in dependency["id"]
        if isinstance(item, list) != matches_many or not all(
                _is_prop(i) and _has_valid_value(i) for i in (item if matches_many else [item])):
            return False
    return True


def callback_request_problem(body, callback_map: dict) -> str | None:
    """Why a /_dash-update-component body is not one the Dash renderer sends for one of `callback_map`'s callbacks
    (not JSON, an unknown output, inputs or state missing or of the wrong shape), or None when it is."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    declared = callback_map.get(body.get("output")) if isinstance(body.get("output"), str) else None
    if declared is None:
        return "no callback has that output"
    outputs = body.get("outputs")
    if not (_is_prop(outputs) or isinstance(outputs, list) and all(
            _is_prop(o) or isinstance(o, list) and all(_is_prop(i) for i in o) for o in outputs)):
        return "'outputs' is not a list of {id, property}"
    if not _are_props(body.get("inputs"), declared["inputs"]):
        return "'inputs' does not match the callback's inputs"
    if not _are_props(body.get("state", []), declared["state"]):
        return "'state' does not match the callback's state"
    changed = body.get("changedPropIds", [])
    if not (isinstance(changed, list) and all(isinstance(c, str) for c in changed)):
        return "'changedPropIds' is not a list of strings"
    return None


@callback(
    Output("url", "search"), Output("study-select", "options"), Output("study-select", "value"),
    Output("study-version", "options"), Output("study-version", "value"), Output("simulated-badge", "hidden"),
    Output("slide-mode", "value"),
    Input("url", "search"), Input("study-select", "value"), Input("study-version", "value"),
)
def sync_study_selector(search, name, version):
    """The URL names the study; picking one in the selector rewrites the URL (so links and back work)."""
    trigger = ctx.triggered_id
    chosen_version = None if trigger == "study-select" else version
    selection = resolve_selection(store.list_studies(), search, name, chosen_version,
                                  from_selector=trigger in ("study-select", "study-version"))
    new_search = selection.search if selection.search != (search or "") else dash.no_update
    aspect = SLIDE_CODES.get(query_params(search).get("slide", ""))
    slide = SLIDE_PARAMS[aspect] if aspect else ""
    return (new_search, selection.study_options, selection.name, selection.version_options,
            selection.version or selection.newest, not selection.simulated, slide)


@callback(
    Output({"type": "nav-link", "index": ALL}, "href"), Output({"type": "nav-link", "index": ALL}, "className"),
    Input("url", "search"), Input("url", "pathname"), State({"type": "nav-link", "index": ALL}, "id"),
)
def keep_study_in_nav(search, pathname, link_ids):
    """Navigation links carry the selected study along and mark the current page."""
    query = study_query(search)
    paths = [link["index"] for link in link_ids]
    current = max((p for p in paths if p == "/" and pathname == "/" or p != "/" and (pathname or "").startswith(p)),
                  key=len, default=None)
    return ([p + query for p in paths],
            ["cs-nav-link active" if p == current else "cs-nav-link" for p in paths])


app = create_app()
server = app.server

if __name__ == "__main__":
    app.run(host=settings.host(), port=settings.port(), debug=settings.debug())
