"""What every request passes through before a page or a callback sees it: the request size limit, the check that a
callback request is one the Dash renderer sends (else 400), errors answered without detail (500, traceback to the
log; 503 with a plain message while the database does not answer), and the proxies trusted for the client
address. `configure_server(app)` sets them up (app.py)."""
from __future__ import annotations

from dash import Dash
from flask import Flask, request
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.middleware.proxy_fix import ProxyFix

import settings


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
        if database_unavailable(error):
            server.logger.warning("The database is not answering (%s %s): %s", request.method, request.path,
                                  (str(getattr(error, "orig", error)).strip().splitlines() or [""])[0][:300])
            return database_unavailable_answer()
        server.logger.exception("Error answering %s %s", request.method, request.path)
        return InternalServerError()


#: What a request answers while the database does not (a restart, a failover, the network): 503, and a message.
DATABASE_UNAVAILABLE = ("The database is not answering right now (it may be restarting). Nothing was changed; "
                        "try again in a moment.")
#: Seconds a client is asked to wait before asking again (the Retry-After header of that answer).
DATABASE_RETRY_AFTER = 5


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database cannot be reached or dropped the connection (the server is down or
    restarting, the pool timed out waiting for a connection, SQLite's file is locked past its busy timeout or cannot
    be opened), rather than a mistake in the app (SQLite's "no such table" is an OperationalError too): such a
    request may succeed when asked again."""
    if isinstance(error, DisconnectionError | PoolTimeout) or getattr(error, "connection_invalidated", False):
        return True
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    original = getattr(error, "orig", None)
    if type(original).__module__.startswith("sqlite3"):
        return any(words in str(original).lower() for words in ("locked", "unable to open", "disk i/o"))
    return True


def database_unavailable_answer() -> ServiceUnavailable:
    return ServiceUnavailable(DATABASE_UNAVAILABLE, retry_after=DATABASE_RETRY_AFTER)


def security_headers(app: Dash) -> None:
    """Headers on every answer: a Content-Security-Policy under which Dash works (scripts only from the app itself
    and Dash's own inline scripts, by their hashes, no eval; inline styles, which plotly sets; images also from
    data:/blob: addresses; no frames, objects or other origins), no framing by other sites, no MIME sniffing, no
    referrer to other sites. Call after the app's callbacks are collected (app.warm_up): the hashes cover the
    clientside callbacks' inline scripts."""
    policy = "; ".join([
        "default-src 'self'",
        " ".join(["script-src 'self'", *app.csp_hashes()]),
        "style-src 'self' 'unsafe-inline'", "img-src 'self' data: blob:", "font-src 'self' data:",
        "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
        "frame-ancestors 'none'",
    ])
    headers = {"Content-Security-Policy": policy, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "same-origin"}

    @app.server.after_request
    def add_security_headers(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response


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
