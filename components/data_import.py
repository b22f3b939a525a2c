"""Layout builders for the Data page: upload form, validation report, stored studies, import log."""
from __future__ import annotations

import json

import dash_ag_grid as dag
import pandas as pd
from dash import dcc, html

from components.data_mapping import mapping_section
from components.issues import SCROLL_STYLE, issues_grid
from components.jobs import job_progress
from components.layout import card, page_header
from components.text import study_href
from data_access.schema import TABLES


def upload_form(max_file_bytes: int) -> html.Section:
    """The upload form; files over `max_file_bytes` are refused by the browser before they are sent, with a message
    (assets/upload-limit.js writes it: dcc.Upload drops such files silently)."""
    return card(
        "Import a study",
        html.P(["Give a folder's CSV files (", html.Code("subjects.csv"), ", ", html.Code("measurements.csv"),
                ", ", html.Code("adverse_events.csv"), ", ", html.Code("responses.csv"), "; optionally ",
                html.Code("analytes.csv"), ", ", html.Code("concomitant_medications.csv"), ", ",
                html.Code("time_to_event.csv"), "; docs/data-format.md) or one .xlsx workbook with a sheet per "
                "table, or a CDISC delivery: SDTM (DM, EX, PC, LB, "
                "AE, RS, ...) or ADaM (ADSL, ADPC, ADAE, ADRS, ADTTE, ...) datasets as .xpt or .sas7bdat. "
                "Column names are case-insensitive; days are "
                "days since CAR-T infusion. The whole study is validated first: if anything is wrong nothing is "
                "stored and every problem is listed below. Importing an existing name adds a new version."]),
        dcc.Upload(
            id="data-upload", multiple=True, accept=".csv,.xlsx,.xpt,.sas7bdat", max_size=max_file_bytes,
            children=html.Div(["Drop files here or ", html.A("choose files"),
                               f" (up to {max_file_bytes / 1e6:g} MB each)"]), className="cs-upload",
        ),
        html.Div(id="data-upload-too-large", className="cs-error", role="alert",
                 **{"data-max-bytes": str(max_file_bytes)}),
        html.Div(id="data-selected-files", className="cs-muted"),
        html.Div(className="cs-form-row", children=[
            html.Label("Saved mapping", htmlFor="data-mapping-pick"),
            dcc.Dropdown(id="data-mapping-pick", options=mapping_options(), placeholder="none: propose one if the "
                         "files need it", className="cs-mapping-select", clearable=True),
            html.Span(["Files in another shape (a lab export, CDISC with codes CARTscope does not know) get a "
                       "mapping step below; see ", html.Code("docs/mapping.md"), "."], className="cs-muted"),
        ]),
        html.Div(className="cs-form-row", children=[
            html.Label("Study name", htmlFor="data-name"),
            dcc.Input(id="data-name", type="text", placeholder="e.g. BCMA-01 cut-off 2026-06", debounce=False,
                      className="cs-input", maxLength=100),
            html.Button("Validate and import", id="data-import", n_clicks=0, className="cs-button"),
        ]),
        job_progress("data-progress", "data-cancel", "Cancel import"),
        html.P(["Command line: ", html.Code("python -m data_access import PATH --name NAME"), "; for other shapes ",
                html.Code("python -m data_access mapping PATH --out mapping.json"), " then ",
                html.Code("import PATH --name NAME --mapping mapping.json")], className="cs-muted"),
        card_id="data-upload-card",
    )


def mapping_options() -> list[dict]:
    """The saved mappings, newest save of each name, for the picker."""
    from data_access import store

    frame = store.list_mappings()
    return [{"label": r.name, "value": r.name,
             "title": f"saved {_when(pd.Series([r.created_at])).iloc[0]} by {r.created_by}"}
            for r in frame.itertuples()]


def report_view(report_records: list[dict], stored: dict | None, name: str,
                counts: tuple[int, int] | None = None) -> html.Div:
    """Outcome line, then the errors and warnings with file, row, column and reason (`report_records`: the report's
    shown issues, errors first; `counts`: all its errors and warnings, where the list shows only the first ones)."""
    errors, warnings = counts or (sum(r["severity"] == "error" for r in report_records),
                                  sum(r["severity"] == "warning" for r in report_records))
    if stored:
        head = html.Div(className="cs-result cs-result-ok", id="data-result", children=[
            html.Strong(f"Stored '{stored['name']}' version {stored['version']}"),
            f": {stored['n_subjects']:,} subjects, {stored['n_rows']:,} rows, {warnings:,} warning(s). ",
            dcc.Link("Open it", href=study_href(stored["name"], stored["version"])),
        ])
    else:
        head = html.Div(className="cs-result cs-result-error", id="data-result", children=[
            html.Strong(f"Not stored: '{name}' has {errors:,} error(s)"),
            f" and {warnings:,} warning(s). Nothing was changed; fix the files and import again.",
        ])
    if not report_records:
        return html.Div([head])
    grid = issues_grid("data-report-grid", report_records)
    return html.Div([head, grid])


def message(text: str) -> html.Div:
    """A problem with the request itself (no files, no name), before anything is read."""
    return html.Div(text, className="cs-result cs-result-error", id="data-result")


def identical_view(newest: dict) -> html.Div:
    """The files are the ones the newest version was imported from: nothing new was stored."""
    return html.Div(className="cs-result cs-result-ok", id="data-result", children=[
        html.Strong(f"Not stored: these files are identical to '{newest['name']}' version {newest['version']}"),
        f" (imported {newest['imported_at']:%Y-%m-%d %H:%M} by {newest['imported_by']}); nothing changed. ",
        dcc.Link("Open it", href=study_href(newest["name"], newest["version"])),
    ])


def _when(values: pd.Series) -> pd.Series:
    """Import times as 'YYYY-MM-DD HH:MM UTC' (stored in UTC)."""
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.strftime("%Y-%m-%d %H:%M UTC")


def _grid(grid_id: str, frame: pd.DataFrame, columns: list[dict]) -> dag.AgGrid:
    """A grid as tall as its rows (up to 12), scrolling beyond; long text wraps."""
    small = len(frame) <= 12
    return dag.AgGrid(
        id=grid_id, rowData=frame.to_dict("records"), columnDefs=columns,
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "wrapHeaderText": True,
                       "autoHeaderHeight": True},
        dashGridOptions={"domLayout": "autoHeight" if small else "normal"},
        style={"width": "100%"} if small else SCROLL_STYLE,
    )


WRAP = {"wrapText": True, "autoHeight": True, "cellStyle": {"lineHeight": "1.35", "paddingTop": "6px",
                                                            "paddingBottom": "6px"}}


def studies_grid(studies: pd.DataFrame) -> dag.AgGrid:
    frame = studies.copy()
    if not frame.empty:
        frame["imported_at"] = _when(frame["imported_at"])
        frame["simulated"] = frame["simulated"].map({True: "yes", False: ""})
        frame["n_rows"] = frame["n_rows"].map(lambda n: f"{int(n):,}")
    columns = [("name", "Study", 2), ("version", "Version", 1), ("n_subjects", "Patients", 1), ("n_rows", "Rows", 1),
               ("simulated", "Simulated", 1), ("imported_at", "Imported", 2), ("imported_by", "Imported by", 2)]
    return _grid("data-studies-grid", frame.reindex(columns=[c for c, *_ in columns]),
                 [{"field": c, "headerName": h, "flex": f, "minWidth": 90, **(WRAP if c == "name" else {})}
                  for c, h, f in columns])


def import_log_grid(log: pd.DataFrame) -> dag.AgGrid:
    frame = log.copy()
    if not frame.empty:
        frame["imported_at"] = _when(frame["imported_at"])
        frame["files"] = frame["files"].map(lambda f: ", ".join(x["name"] for x in json.loads(f)))
        frame["row_counts"] = frame["row_counts"].map(
            lambda c: ", ".join(f"{t}: {n:,}" for t, n in json.loads(c).items() if t in TABLES))
        frame["checksum"] = frame["checksum"].str[:12]
    columns = [("imported_at", "Imported", 175), ("imported_by", "By", 130), ("source", "Source", 80),
               ("name", "Study", 110), ("version", "Version", 80), ("files", "Files", 220),
               ("row_counts", "Rows per table", 240), ("checksum", "Checksum (SHA-256)", 130)]
    return _grid("data-log-grid", frame.reindex(columns=[c for c, *_ in columns]),
                 [{"field": c, "headerName": h, "minWidth": w, "flex": 1,
                   **(WRAP if c in ("files", "row_counts", "imported_by") else {})} for c, h, w in columns])


def data_layout(studies: pd.DataFrame, log: pd.DataFrame, max_file_bytes: int) -> html.Div:
    return html.Div([
        page_header("Data", "Import studies, see what is stored and who imported what."),
        upload_form(max_file_bytes),
        dcc.Store(id="data-mapping-state"),
        mapping_section(),
        html.Div(id="data-report"),
        card("Stored studies", html.Div(studies_grid(studies), id="data-studies")),
        card("Import log", html.Div(import_log_grid(log), id="data-log")),
    ])
