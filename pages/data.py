"""Data page: upload a study (CSV files, one .xlsx, or CDISC .xpt/.sas7bdat datasets), see its validation report,
browse stored studies."""
from __future__ import annotations

import base64
import binascii

import dash
from dash import Input, Output, State, callback
from flask import request

from components.data_import import data_layout, identical_view, import_log_grid, message, report_view, studies_grid
from data_access import store
from data_access.importer import import_files
from data_access.readers import SourceFile

dash.register_page(__name__, path="/data", name="Data", order=6, title="Data · CARTscope")


def layout(**_):
    return data_layout(store.list_studies(), store.import_log())


def decode_uploads(contents: list[str], filenames: list[str]) -> list[SourceFile]:
    """dcc.Upload gives 'data:<type>;base64,<data>' strings; turn them back into named bytes."""
    files = []
    for content, name in zip(contents or [], filenames or [], strict=False):
        try:
            files.append(SourceFile(name, base64.b64decode(content.split(",", 1)[1], validate=True)))
        except (IndexError, binascii.Error):
            files.append(SourceFile(name, b""))  # reported as an empty / unreadable file
    return files


def uploader() -> str:
    """Who imports through the web: the proxy's authenticated user if any, else the client address."""
    return request.headers.get("X-Forwarded-User") or request.remote_user or f"web upload from {request.remote_addr}"


@callback(Output("data-selected-files", "children"), Input("data-upload", "filename"))
def show_selected(filenames):
    return f"Selected: {', '.join(filenames)}" if filenames else "No files selected."


@callback(
    Output("data-report", "children"), Output("data-studies", "children"), Output("data-log", "children"),
    Input("data-import", "n_clicks"),
    State("data-upload", "contents"), State("data-upload", "filename"), State("data-name", "value"),
    prevent_initial_call=True,
)
def run_import(_clicks, contents, filenames, name):
    if not filenames:
        return message("Choose the study's files first."), dash.no_update, dash.no_update
    name = (name or "").strip()
    if not name:
        return message("Give the study a name (for example BCMA-01 cut-off 2026-06), then import again. Nothing "
                       "was read or stored."), dash.no_update, dash.no_update
    result = import_files(decode_uploads(contents, filenames), name, source="upload", user=uploader())
    if result.identical_to is not None:
        return identical_view(result.identical_to.__dict__), dash.no_update, dash.no_update
    stored = result.record.__dict__ if result.record else None
    return (report_view(result.report.to_records(), stored, name), studies_grid(store.list_studies()),
            import_log_grid(store.import_log()))
