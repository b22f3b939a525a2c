"""CARTscope: the app factory, the server (for gunicorn: `app:server`), the cache and the shell's callbacks.

Run `python app.py` (HOST and PORT override 127.0.0.1:8050). Configuration is by environment
variables; see README.md.
"""
from __future__ import annotations

import dash
from dash import ALL, Dash, Input, Output, State, callback, ctx

import settings
from components.layout import NO_EXPORTS, NO_IMPORTS, NOT_ADMIN, app_shell, user_menu
from data_access import store
from data_access.cache import init_cache
from data_access.importer import ensure_demo_study
from pages._auth import configure_sign_in, current_user, signing_in, startup_problem, visible_studies
from pages._context import SLIDE_CODES, SLIDE_PARAMS, query_params, resolve_selection, study_query
from pages._exports import register_export_callbacks
from pages._jobs import job_manager
from pages._requests import configure_server, security_headers


def create_app(*, run_as_main: bool = False) -> Dash:
    """Build the Dash app: pages, cache, database (seeded with the demo study on first start), shell, sign-in.
    Refuses (SystemExit, saying why) to build an app that would serve without sign-in beyond this computer."""
    if problem := startup_problem(run_as_main=run_as_main):
        raise SystemExit(problem)
    app = Dash(__name__, use_pages=True, title="CARTscope", suppress_callback_exceptions=True,
               update_title=None, background_callback_manager=job_manager())
    configure_server(app)
    init_cache(app.server)
    ensure_demo_study()
    nav_pages = [{"name": p["name"], "path": p["relative_path"]}
                 for p in sorted(dash.page_registry.values(), key=lambda p: p.get("order") or 0)
                 if p["path"] != "/404"]
    app.layout = app_shell(nav_pages, dash.page_container)
    register_export_callbacks(app)
    warm_up(app)
    security_headers(app)
    configure_sign_in(app, single_user=settings.secret_key() is None)
    return app


def warm_up(app: Dash) -> None:
    """Do Dash's first-request set-up (collecting the pages' callbacks, the pages router) now, once. Left to the
    first request, it races: Dash marks it done before doing it, so a second thread of a fresh worker answers
    "Callback function not found" while the first is still collecting."""
    with app.server.test_request_context("/"):
        app.server.preprocess_request()


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
    selection = resolve_selection(visible_studies(store.list_studies()), search, name, chosen_version,
                                  from_selector=trigger in ("study-select", "study-version"))
    new_search = selection.search if selection.search != (search or "") else dash.no_update
    aspect = SLIDE_CODES.get(query_params(search).get("slide", ""))
    slide = SLIDE_PARAMS[aspect] if aspect else ""
    return (new_search, selection.study_options, selection.name, selection.version_options,
            selection.version or selection.newest, not selection.simulated, slide)


@callback(Output("cs-user", "children"), Output("cs-shell", "className"), Input("url", "pathname"))
def show_user(_pathname):
    """The header names the signed-in user (nobody in single-user mode); export controls show to those who may
    export, the Data page's link to those who may import, the Admin page's link to admins."""
    user = current_user()
    classes = [name for name, hidden in ((NO_EXPORTS, not user.may("export")), (NO_IMPORTS, not user.may("import")),
                                         (NOT_ADMIN, not user.may("administer"))) if hidden]
    return user_menu(user.name, user.role) if signing_in() else [], " ".join(classes)


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


app = create_app(run_as_main=__name__ == "__main__")
server = app.server
celery_app = app._background_manager.celery_app  # the jobs' Celery app (`celery -A app:celery_app worker`), or None

if __name__ == "__main__":
    app.run(host=settings.host(), port=settings.port(), debug=settings.debug())
