"""Builders for the Admin page: the users and audit tables, form rows, outcome messages and the notice non-admins
see. The page (pages/admin.py) owns the component ids and passes them in."""
from __future__ import annotations

import dash_ag_grid as dag
from dash import html

from analysis.views.admin import AUDIT_COLUMNS, USER_COLUMNS
from components.issues import SCROLL_STYLE, WHOLE_ROWS
from components.layout import notice

#: Every cell wraps, top-aligned alike (long names, e-mails, study lists, details); headers wrap too.
DEFAULT_COLUMN = {"resizable": True, "wrapText": True, "autoHeight": True, "wrapHeaderText": True,
                  "autoHeaderHeight": True, "cellStyle": {"lineHeight": "1.35", "paddingTop": "8px",
                                                          "paddingBottom": "8px"}}
#: Column widths (minimum, flex) of the two tables.
USER_WIDTHS = {"name": (130, 2), "role": (130, 1), "email": (170, 2), "active": (80, 1), "password": (135, 1),
               "studies": (170, 3), "created": (170, 2)}
AUDIT_WIDTHS = {"at": (165, 0), "user_name": (110, 1), "client": (110, 1), "action": (120, 1), "study": (110, 1),
                "subject_id": (90, 1), "detail": (220, 3)}
AUDIT_TABLE_HEIGHT = "460px"


def _columns(columns: list[tuple[str, str]], widths: dict) -> list[dict]:
    out = []
    for field, header in columns:
        minimum, flex = widths[field]
        column = {"field": field, "headerName": header, "minWidth": minimum}
        column.update({"flex": flex} if flex else {"width": minimum})
        out.append(column)
    return out


def users_grid(grid_id: str, rows: list[dict]) -> html.Div | dag.AgGrid:
    """Every account: role, e-mail, active, whether it has a password, its studies (analysis.views.admin); with no
    account yet, a line saying so (the grid is still there, for the page's callbacks and tests)."""
    whole = len(rows) <= WHOLE_ROWS
    if not rows:
        return html.Div([html.P("No user accounts yet: everyone using this server is the local user. Add the first "
                                "account below.", className="cs-muted", id="admin-users-empty"),
                         dag.AgGrid(id=grid_id, rowData=[], columnDefs=_columns(USER_COLUMNS, USER_WIDTHS),
                                    style={"display": "none"})])
    return dag.AgGrid(
        id=grid_id, rowData=rows, columnDefs=_columns(USER_COLUMNS, USER_WIDTHS),
        defaultColDef={**DEFAULT_COLUMN, "sortable": True, "filter": True},
        dashGridOptions={"domLayout": "autoHeight" if whole else "normal"},
        style={"width": "100%"} if whole else SCROLL_STYLE,
    )


def audit_grid(grid_id: str, rows: list[dict]) -> dag.AgGrid:
    """The audit events, newest first (sortable; the filters above narrow what the server sends)."""
    whole = len(rows) <= WHOLE_ROWS
    return dag.AgGrid(
        id=grid_id, rowData=rows, columnDefs=_columns(AUDIT_COLUMNS, AUDIT_WIDTHS),
        defaultColDef={**DEFAULT_COLUMN, "sortable": True},
        dashGridOptions={"domLayout": "autoHeight" if whole else "normal"},
        style={"width": "100%"} if whole else {"width": "100%", "height": AUDIT_TABLE_HEIGHT},
    )


def field(label: str, control, control_id: str, width: str | None = None) -> html.Div:
    """A label above its control, for the forms' rows."""
    return html.Div([html.Label(label, htmlFor=control_id, className="cs-study-label"), control],
                    style={"display": "flex", "flexDirection": "column", "gap": "4px", "width": width or "auto"})


def form_row(*fields, button=None) -> html.Div:
    """Fields side by side, the button aligned with their controls."""
    return html.Div([*fields, *([button] if button is not None else [])], className="cs-form-row",
                    style={"alignItems": "flex-end"})


def outcome(text: str, ok: bool) -> html.Div:
    """What a form did (green), or why it did nothing (red)."""
    return html.Div(text, className="cs-result cs-result-ok" if ok else "cs-result cs-result-error",
                    role="status" if ok else "alert")


def forbidden_notice(user_name: str, role: str) -> html.Div:
    """What a signed-in user who is not an admin sees instead of the page."""
    return notice("Admins only", f"The Admin page manages users, their study grants and the audit trail; it is for "
                  f"admins. You are signed in as {user_name} ({role}). Ask an admin if you need a change.",
                  kind="warning")
