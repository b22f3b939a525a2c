"""Admin page: the user accounts (add one; change a role, whether it may sign in, its password; grant and revoke
studies) and the audit trail (filtered by user, action, study and dates; downloaded as CSV). Admins only: others see
a notice instead, and every callback refuses them (the server also refuses them any output whose id starts with
'admin-', so every id here does). Each change is recorded in the audit trail; nothing here edits or deletes it."""
from __future__ import annotations

import io

import dash
from dash import Input, Output, State, callback, ctx, dcc, html
from werkzeug.exceptions import Forbidden

from analysis.spreadsheet import write_csv
from analysis.views.admin import (
    CSV_NAME,
    SHOWN_EVENTS,
    audit_csv_frame,
    audit_filter,
    audit_rows,
    audit_summary,
    users_rows,
)
from components.admin import audit_grid, field, forbidden_notice, form_row, outcome, users_grid
from components.layout import card, page_header, page_root
from data_access import accounts, store
from pages._auth import client_address, current_user

dash.register_page(__name__, path="/admin", name="Admin", order=99, title="Admin · CARTscope")


class ID:
    USERS = "admin-users"
    USERS_GRID = "admin-users-grid"
    CHANGED = "admin-changed"
    ADD_NAME = "admin-add-name"
    ADD_ROLE = "admin-add-role"
    ADD_EMAIL = "admin-add-email"
    ADD_PASSWORD = "admin-add-password"
    ADD = "admin-add"
    ADD_RESULT = "admin-add-result"
    EDIT_USER = "admin-edit-user"
    EDIT_ROLE = "admin-edit-role"
    EDIT_ACTIVE = "admin-edit-active"
    EDIT_PASSWORD = "admin-edit-password"
    EDIT = "admin-edit"
    EDIT_RESULT = "admin-edit-result"
    GRANT_USER = "admin-grant-user"
    GRANT_STUDY = "admin-grant-study"
    GRANT = "admin-grant"
    REVOKE = "admin-revoke"
    GRANT_RESULT = "admin-grant-result"
    AUDIT_USER = "admin-audit-user"
    AUDIT_ACTION = "admin-audit-action"
    AUDIT_STUDY = "admin-audit-study"
    AUDIT_DATES = "admin-audit-dates"
    AUDIT_SUMMARY = "admin-audit-summary"
    AUDIT = "admin-audit"
    AUDIT_GRID = "admin-audit-grid"
    DOWNLOAD = "admin-download"
    DOWNLOAD_FILE = "admin-download-file"


ROLE_OPTIONS = [{"label": r, "value": r} for r in accounts.ROLES]
ACTIVE_OPTIONS = [{"label": "may sign in", "value": "yes"}, {"label": "deactivated", "value": "no"}]
#: The audit filters, as the callbacks take them.
FILTERS = [State(ID.AUDIT_USER, "value"), State(ID.AUDIT_ACTION, "value"), State(ID.AUDIT_STUDY, "value"),
           State(ID.AUDIT_DATES, "start_date"), State(ID.AUDIT_DATES, "end_date")]


def _admin() -> accounts.User:
    """The current user, who must be an admin (a request from anyone else is refused: 403)."""
    user = current_user()
    if not user.may("administer"):
        raise Forbidden("The Admin page is for admins.")
    return user


def _log(action: str, **details) -> None:
    accounts.record(action, current_user().name, client_address(), **details)


def _options(names) -> list[dict]:
    return [{"label": n, "value": n} for n in names]


def _study_names() -> list[str]:
    return sorted(store.list_studies()["name"].unique(), key=str.lower)


def _bumped(changed) -> dict:
    """The change counter one up: the users table, the pickers and the audit table follow it."""
    count = changed.get("changes") if isinstance(changed, dict) else None
    return {"changes": (count if isinstance(count, int) else 0) + 1}


def _text(value) -> str:
    """A typed value ('' for anything a crafted request may send instead of text)."""
    return value.strip() if isinstance(value, str) else ""


def layout(**_):
    user = current_user()
    if not user.may("administer"):
        return page_root([page_header("Admin"), forbidden_notice(user.name, user.role)], None)
    users = accounts.list_users()
    names = _options(users["name"])
    choices = accounts.audit_choices()
    dropdown = {"style": {"width": "100%"}}
    return page_root([
        page_header("Admin", f"Users, their study grants and the audit trail. Signed in as {user.name} "
                    f"({user.role}); every change here is recorded in the audit trail."),
        dcc.Store(id=ID.CHANGED, data={"changes": 0}),
        card("Users", html.Div(users_grid(ID.USERS_GRID, users_rows(users)), id=ID.USERS),
             html.P("Viewers see the studies granted to them; analysts may also export (figures, tables, decks, "
                    "reports); data managers may also import and map; admins see every study and manage users.",
                    className="cs-muted"), card_id="admin-users-card"),
        html.Div(className="cs-grid-2-even", children=[
            card("Add a user",
                 form_row(field("Name", dcc.Input(id=ID.ADD_NAME, type="text", maxLength=accounts.NAME_LENGTH,
                                                  className="cs-input", style={"width": "100%"}), ID.ADD_NAME, "48%"),
                          field("Role", dcc.Dropdown(id=ID.ADD_ROLE, options=ROLE_OPTIONS, value="viewer",
                                                     clearable=False, **dropdown), ID.ADD_ROLE, "48%")),
                 form_row(field("E-mail (optional)", dcc.Input(id=ID.ADD_EMAIL, type="email", maxLength=200,
                                                               className="cs-input", style={"width": "100%"}),
                                ID.ADD_EMAIL, "48%"),
                          field(f"Initial password (optional, {accounts.MIN_PASSWORD_LENGTH}+ characters)",
                                dcc.Input(id=ID.ADD_PASSWORD, type="password", autoComplete="new-password",
                                          className="cs-input", style={"width": "100%"}), ID.ADD_PASSWORD, "48%")),
                 form_row(html.Button("Add user", id=ID.ADD, n_clicks=0, className="cs-button"),
                          html.Span("Without a password the account signs in only by single sign-on or through a "
                                    "trusted proxy.", className="cs-muted")),
                 html.Div(id=ID.ADD_RESULT), card_id="admin-add-card"),
            card("Change a user",
                 form_row(field("User", dcc.Dropdown(id=ID.EDIT_USER, options=names, placeholder="choose a user",
                                                     **dropdown), ID.EDIT_USER, "48%"),
                          field("Role", dcc.Dropdown(id=ID.EDIT_ROLE, options=ROLE_OPTIONS, clearable=False,
                                                     placeholder="unchanged", **dropdown), ID.EDIT_ROLE, "48%")),
                 form_row(field("Sign-in", dcc.RadioItems(id=ID.EDIT_ACTIVE, options=ACTIVE_OPTIONS, inline=True,
                                                          className="cs-radio"), ID.EDIT_ACTIVE, "48%"),
                          field("New password (optional)", dcc.Input(id=ID.EDIT_PASSWORD, type="password",
                                                                     autoComplete="new-password",
                                                                     className="cs-input", style={"width": "100%"}),
                                ID.EDIT_PASSWORD, "48%")),
                 form_row(html.Button("Save changes", id=ID.EDIT, n_clicks=0, className="cs-button"),
                          html.Span("The last active admin cannot be demoted or deactivated.", className="cs-muted")),
                 html.Div(id=ID.EDIT_RESULT), card_id="admin-edit-card"),
        ]),
        card("Study grants",
             form_row(field("User", dcc.Dropdown(id=ID.GRANT_USER, options=names, placeholder="choose a user",
                                                 **dropdown), ID.GRANT_USER, "260px"),
                      field("Study (every version)", dcc.Dropdown(id=ID.GRANT_STUDY, options=_options(_study_names()),
                                                                  placeholder="choose a study", **dropdown),
                            ID.GRANT_STUDY, "320px"),
                      html.Button("Grant", id=ID.GRANT, n_clicks=0, className="cs-button"),
                      html.Button("Revoke", id=ID.REVOKE, n_clicks=0, className="cs-button cs-button-secondary")),
             html.P("Admins see every study without grants.", className="cs-muted"),
             html.Div(id=ID.GRANT_RESULT), card_id="admin-grants-card"),
        card("Audit trail",
             form_row(field("User", dcc.Dropdown(id=ID.AUDIT_USER, options=_options(choices["user_name"]),
                                                 placeholder="any user", **dropdown), ID.AUDIT_USER, "200px"),
                      field("Action", dcc.Dropdown(id=ID.AUDIT_ACTION, options=_options(accounts.AUDIT_ACTIONS),
                                                   placeholder="any action", **dropdown), ID.AUDIT_ACTION, "200px"),
                      field("Study", dcc.Dropdown(id=ID.AUDIT_STUDY, options=_options(choices["study"]),
                                                  placeholder="any study", **dropdown), ID.AUDIT_STUDY, "200px"),
                      field("Dates (UTC, both included)",
                            dcc.DatePickerRange(id=ID.AUDIT_DATES, display_format="YYYY-MM-DD", clearable=True,
                                                start_date_placeholder_text="from", end_date_placeholder_text="to",
                                                first_day_of_week=1), ID.AUDIT_DATES),
                      button=html.Button("Download CSV", id=ID.DOWNLOAD, n_clicks=0,
                                         className="cs-button cs-button-secondary")),
             html.P(id=ID.AUDIT_SUMMARY, className="cs-muted"),
             html.Div(audit_grid(ID.AUDIT_GRID, []), id=ID.AUDIT),
             dcc.Download(id=ID.DOWNLOAD_FILE),
             html.P("The audit trail is append-only: the database refuses to change or delete its rows. The CSV holds "
                    "every event the filters match.", className="cs-muted"),
             card_id="admin-audit-card"),
    ], None)  # no figures: slide mode changes nothing here


# ---- users ----------------------------------------------------------------------------------------------------------

@callback(Output(ID.ADD_RESULT, "children"), Output(ID.CHANGED, "data", allow_duplicate=True),
          Output(ID.ADD_NAME, "value"), Output(ID.ADD_EMAIL, "value"), Output(ID.ADD_PASSWORD, "value"),
          Input(ID.ADD, "n_clicks"), State(ID.ADD_NAME, "value"), State(ID.ADD_ROLE, "value"),
          State(ID.ADD_EMAIL, "value"), State(ID.ADD_PASSWORD, "value"), State(ID.CHANGED, "data"),
          prevent_initial_call=True)
def add_user(_clicks, name, role, email, password, changed):
    admin = _admin()
    name, email, password = _text(name), _text(email), password if isinstance(password, str) else ""
    keep = (dash.no_update,) * 3
    if not name:
        return outcome("Give the user a name.", False), dash.no_update, *keep
    try:
        user = accounts.add_user(name, role if isinstance(role, str) else "", email=email or None,
                                 password=password or None, by=admin.name)
    except accounts.AccountError as error:
        return outcome(f"Not added: {error}.", False), dash.no_update, dash.no_update, dash.no_update, ""
    _log("user added", detail={"user": user.name, "role": user.role, "email": user.email,
                               "password": "set" if user.has_password else "none"})
    return (outcome(f"Added {user.name} ({user.role}){' with a password' if user.has_password else ''}.", True),
            _bumped(changed), "", "", "")


@callback(Output(ID.EDIT_ROLE, "value"), Output(ID.EDIT_ACTIVE, "value"), Output(ID.EDIT_PASSWORD, "value"),
          Input(ID.EDIT_USER, "value"), prevent_initial_call=True)
def show_user(name):
    """The chosen user's role and sign-in state, to change."""
    _admin()
    user = accounts.find_user(name) if isinstance(name, str) else None
    if user is None:
        return None, None, ""
    return user.role, "yes" if user.active else "no", ""


@callback(Output(ID.EDIT_RESULT, "children"), Output(ID.CHANGED, "data", allow_duplicate=True),
          Output(ID.EDIT_PASSWORD, "value", allow_duplicate=True),
          Input(ID.EDIT, "n_clicks"), State(ID.EDIT_USER, "value"), State(ID.EDIT_ROLE, "value"),
          State(ID.EDIT_ACTIVE, "value"), State(ID.EDIT_PASSWORD, "value"), State(ID.CHANGED, "data"),
          prevent_initial_call=True)
def change_user(_clicks, name, role, active, password, changed):
    admin = _admin()
    user = accounts.find_user(name) if isinstance(name, str) and name else None
    if user is None:
        return outcome("Choose a user to change.", False), dash.no_update, dash.no_update
    changes = {}
    if isinstance(role, str) and role != user.role:
        changes["role"] = role
    if active in ("yes", "no") and (active == "yes") != user.active:
        changes["active"] = active == "yes"
    if isinstance(password, str) and password:
        changes["password"] = password
    if not changes:
        return outcome(f"Nothing to change for {user.name}.", False), dash.no_update, dash.no_update
    try:
        accounts.change_user_keeping_an_admin(user.name, by=admin.name, **changes)
    except accounts.AccountError as error:
        return outcome(f"Not changed: {error}.", False), dash.no_update, ""
    said = {**changes, **({"password": "changed"} if "password" in changes else {})}
    _log("user changed", detail={"user": user.name, **said})
    words = [f"role {changes['role']}" if "role" in changes else "",
             ("may sign in" if changes["active"] else "deactivated") if "active" in changes else "",
             "new password set" if "password" in changes else ""]
    return outcome(f"Changed {user.name}: {', '.join(w for w in words if w)}.", True), _bumped(changed), ""


@callback(Output(ID.GRANT_RESULT, "children"), Output(ID.CHANGED, "data", allow_duplicate=True),
          Input(ID.GRANT, "n_clicks"), Input(ID.REVOKE, "n_clicks"), State(ID.GRANT_USER, "value"),
          State(ID.GRANT_STUDY, "value"), State(ID.CHANGED, "data"), prevent_initial_call=True)
def grant_or_revoke(_grant, _revoke, name, study, changed):
    admin = _admin()
    user = accounts.find_user(name) if isinstance(name, str) and name else None
    if user is None or not isinstance(study, str) or study not in set(_study_names()):
        return outcome("Choose a user and a stored study.", False), dash.no_update
    if ctx.triggered_id == ID.REVOKE:
        if not accounts.revoke(user.name, study):
            return outcome(f"{user.name} had no grant for {study}; nothing changed.", False), dash.no_update
        _log("revoke", study=study, detail={"user": user.name})
        return outcome(f"Revoked {study} from {user.name}.", True), _bumped(changed)
    if not accounts.grant(user.name, study, by=admin.name):
        return outcome(f"{user.name} already has {study}; nothing changed.", False), dash.no_update
    _log("grant", study=study, detail={"user": user.name})
    note = " (as an admin they see every study anyway)" if user.sees_every_study else ""
    return outcome(f"Granted {study} to {user.name}{note}.", True), _bumped(changed)


@callback(Output(ID.USERS, "children"), Output(ID.EDIT_USER, "options"), Output(ID.GRANT_USER, "options"),
          Output(ID.AUDIT_USER, "options"), Output(ID.AUDIT_STUDY, "options"),
          Input(ID.CHANGED, "data"), prevent_initial_call=True)
def refresh(_changed):
    """After a change: the users table, and the names the pickers offer."""
    _admin()
    users = accounts.list_users()
    choices = accounts.audit_choices()
    names = _options(users["name"])
    return (users_grid(ID.USERS_GRID, users_rows(users)), names, names, _options(choices["user_name"]),
            _options(choices["study"]))


# ---- the audit trail ---------------------------------------------------------------------------------------------

def _filtered(user, action, study, start, end):
    return audit_filter(user, action, study, start, end, accounts.AUDIT_ACTIONS)


@callback(Output(ID.AUDIT, "children"), Output(ID.AUDIT_SUMMARY, "children"),
          Input(ID.AUDIT_USER, "value"), Input(ID.AUDIT_ACTION, "value"), Input(ID.AUDIT_STUDY, "value"),
          Input(ID.AUDIT_DATES, "start_date"), Input(ID.AUDIT_DATES, "end_date"), Input(ID.CHANGED, "data"))
def show_audit(user, action, study, start, end, _changed):
    _admin()
    chosen, problem = _filtered(user, action, study, start, end)
    events = accounts.audit_events(**chosen.query(), limit=SHOWN_EVENTS + 1)
    summary = audit_summary(len(events), chosen)
    return audit_grid(ID.AUDIT_GRID, audit_rows(events)), f"{problem} {summary}" if problem else summary


@callback(Output(ID.DOWNLOAD_FILE, "data"), Input(ID.DOWNLOAD, "n_clicks"), *FILTERS, prevent_initial_call=True)
def download_audit(_clicks, user, action, study, start, end):
    """Every event the filters match, as CSV (text that could run as a formula is neutralised)."""
    _admin()
    chosen, _ = _filtered(user, action, study, start, end)
    events = accounts.audit_events(**chosen.query(), limit=None)
    buffer = io.StringIO()
    write_csv(audit_csv_frame(events), buffer)
    _log("export", detail={"what": "audit trail", "format": "csv", "events": len(events),
                           "filter": chosen.describe()})
    return dcc.send_bytes(buffer.getvalue().encode("utf-8-sig"), CSV_NAME, type="text/csv")
