"""Layout builders for the Data page's mapping step: what was detected, the proposed mapping in editable grids
(columns -> fields, test codes -> analytes, words -> categories), a preview of the rows as they would be stored.

The grids hold the rows data_access.mapping.column_rows / code_rows / value_rows give, and the page turns them back
into a mapping with data_access.mapping.from_rows; nothing here reads files or the store."""
from __future__ import annotations

import dash_ag_grid as dag
import pandas as pd
from dash import dcc, html

from components.issues import issues_grid
from components.jobs import job_progress
from components.layout import card
from data_access.catalogue import KINDS, SPECIMENS
from data_access.mapping import (
    CATEGORIES,
    DATE_FIELDS,
    DAY_ZERO_FIELD,
    KEEP,
    code_rows,
    column_rows,
    value_rows,
)
from data_access.schema import TABLE_SPECS, TABLES

#: What a column can be mapped to, whatever its table ("" leaves it out; the check says which fit which table).
FIELD_CHOICES: list[str] = ["", *dict.fromkeys(
    f for t in TABLES if t != "analytes" for f in (*TABLE_SPECS[t].known, *DATE_FIELDS.get(t, {}))),
    DAY_ZERO_FIELD, KEEP, "analyte value"]
_EDIT = {"editable": True, "cellClass": "cs-editable"}
_WRAP = {"wrapText": True, "autoHeight": True, "cellStyle": {"lineHeight": "1.35", "paddingTop": "6px",
                                                             "paddingBottom": "6px"}}


def _select(values) -> dict:
    return {"cellEditor": "agSelectCellEditor", "cellEditorParams": {"values": list(values)}, **_EDIT}


def _editable_grid(grid_id: str, rows: list[dict], columns: list[dict]) -> dag.AgGrid:
    """An editable grid as tall as its rows (up to 14), scrolling beyond; one click edits a cell."""
    small = len(rows) <= 14
    return dag.AgGrid(
        id=grid_id, rowData=rows, columnDefs=columns,
        defaultColDef={"resizable": True, "wrapHeaderText": True, "autoHeaderHeight": True, "minWidth": 90},
        dashGridOptions={"domLayout": "autoHeight" if small else "normal", "singleClickEdit": True,
                         "stopEditingWhenCellsLoseFocus": True},
        style={"width": "100%"} if small else {"height": "420px", "width": "100%"},
    )


def detected_view(mapping: dict) -> html.Ul:
    """One line per file, sheet or dataset: what it was taken for (CDISC: the dataset and its SAS label)."""
    items = []
    for label, entry in mapping.get("files", {}).items():
        if "dataset" in entry:
            what = f"{entry['dataset']}" + (f" — {entry['label']}" if entry.get("label") else "") + \
                f", {entry.get('records', 0):,} records"
        else:
            what = (entry.get("table") or "table not recognised") + (" (wide: one column per analyte)"
                                                                    if entry.get("layout") == "wide" else "")
        items.append(html.Li([html.Code(label), f": {what}"]))
    return html.Ul(items, id="data-map-detected", className="cs-map-list")


def mapping_panel(mapping: dict, frames: dict[str, pd.DataFrame] | None, saved_name: str | None = None,
                  required: bool = True) -> html.Div:
    """The mapping step's body: detected files, the three editable grids, what is undecided, preview and save (the
    import button follows it in `mapping_section`).
    `required` False: the files can also be imported as they are (a CDISC delivery whose unknown test codes are
    declared from the data), with the button above."""
    kind = mapping.get("kind", "tables")
    intro = ("These files are not in CARTscope's format. Below is how CARTscope proposes to read them; edit any "
             "cell (click it), preview the rows as they would be stored, then import. ") if kind == "tables" else (
        f"This {kind.upper()} delivery has test codes or values CARTscope's reader does not know. Say what they mean "
        "below (click a cell to edit), preview, then import. ")
    if not required:
        intro += ("Optional: 'Validate and import' above imports the delivery as it is, declaring the test codes as "
                  "shown. ")
    parts: list = [
        html.P([intro, "A mapping can be saved by name and picked for the next delivery of the same shape."]),
        html.Div([html.Strong("Detected"), detected_view(mapping)]),
    ]
    if saved_name:
        parts.insert(0, html.P(f"Using the saved mapping '{saved_name}'.", className="cs-muted",
                               id="data-map-using"))
    columns = column_rows(mapping, frames)
    if columns:
        parts += [html.H3("Columns → fields", className="cs-map-heading"), _editable_grid("data-map-columns", columns, [
            {"field": "file", "headerName": "File", "minWidth": 120, "flex": 1, **_WRAP},
            {"field": "column", "headerName": "Column", "minWidth": 110, "flex": 1, **_WRAP},
            {"field": "examples", "headerName": "Examples", "minWidth": 110, "flex": 1, **_WRAP},
            {"field": "table", "headerName": "Table", "width": 140, **_select(["", *TABLES])},
            {"field": "layout", "headerName": "Layout", "width": 90, **_select(["long", "wide"])},
            {"field": "field", "headerName": "Field", "width": 150, **_select(FIELD_CHOICES)},
            {"field": "analyte", "headerName": "Analyte", "width": 110, **_EDIT},
            {"field": "unit", "headerName": "Unit", "width": 110, **_EDIT},
            {"field": "specimen", "headerName": "Specimen", "width": 100, **_select(["", *SPECIMENS])}])]
    else:  # the grids are always there (hidden when empty): the page's callbacks read them
        parts.append(html.Div(_editable_grid("data-map-columns", [], []), hidden=True))
    tests = code_rows(mapping)
    parts += [html.H3("Test codes → analytes", className="cs-map-heading"),
              _editable_grid("data-map-tests", tests, [
                  {"field": "code", "headerName": "Test code", "width": 140},
                  {"field": "analyte", "headerName": "Analyte", "width": 140, **_EDIT},
                  {"field": "label", "headerName": "Label (new analytes)", "minWidth": 160, "flex": 1, **_EDIT},
                  {"field": "unit", "headerName": "Unit", "width": 130, **_EDIT},
                  {"field": "specimen", "headerName": "Specimen", "width": 110, **_select(["", *SPECIMENS])},
                  {"field": "kind", "headerName": "Kind (new analytes)", "width": 160, **_select(["", *KINDS])}])
              if tests else html.Div([html.P("No test codes to translate.", className="cs-muted"),
                                      html.Div(_editable_grid("data-map-tests", [], []), hidden=True)])]
    values = value_rows(mapping)
    everything = sorted({c for cs in CATEGORIES.values() for c in cs}, key=str.lower)
    parts += [html.H3("Values → categories", className="cs-map-heading"),
              _editable_grid("data-map-values", values, [
                  {"field": "category", "headerName": "Category", "width": 130},
                  {"field": "value", "headerName": "Value in the files", "minWidth": 180, "flex": 1},
                  {"field": "becomes", "headerName": "Becomes", "minWidth": 120, **_select(["", *everything])}])
              if values else html.Div([html.P("No category values to translate.", className="cs-muted"),
                                       html.Div(_editable_grid("data-map-values", [], []), hidden=True)])]
    if mapping.get("undecided"):
        parts.append(html.Details([html.Summary(f"{len(mapping['undecided'])} thing(s) CARTscope could not decide "
                                                "on its own"),
                                   html.Ul([html.Li(u) for u in mapping["undecided"]])],
                                  open=True, className="cs-map-undecided", id="data-map-undecided"))
    parts += [
        html.Div(className="cs-form-row", children=[
            html.Button("Preview", id="data-map-preview", n_clicks=0, className="cs-button cs-button-secondary"),
            html.Span("Save mapping as", className="cs-map-save-label"),
            dcc.Input(id="data-map-name", type="text", placeholder="e.g. central lab, wide", className="cs-input",
                      maxLength=100, value=saved_name or ""),
            html.Button("Save mapping", id="data-map-save", n_clicks=0, className="cs-button cs-button-secondary"),
            html.Span(id="data-map-saved", className="cs-muted"),
        ]),
        job_progress("data-map-progress", "data-map-cancel", "Cancel import"),
        html.Div(id="data-map-preview-out"),
    ]
    return html.Div(parts)


def mapping_section() -> html.Div:
    """The mapping step's card, drawn with the page and shown when an upload needs a mapping: its body (the
    proposal, `mapping_panel`) comes with the upload; the import button is always there."""
    return html.Div(id="data-map-section", style={"display": "none"}, children=card(
        "Map the files to CARTscope", html.Div(id="data-mapping-panel"),
        html.Div(className="cs-form-row", children=[
            html.Button("Import with this mapping", id="data-map-import", n_clicks=0, className="cs-button")]),
        card_id="data-map-card"))


def preview_view(tables: dict[str, pd.DataFrame], report_records: list[dict]) -> html.Div:
    """The first rows of each table as they would be stored, or every problem that stops the import."""
    errors = [r for r in report_records if r["severity"] == "error"]
    if errors or not tables:
        head = html.Div(className="cs-result cs-result-error", id="data-map-preview-result", children=[
            html.Strong(f"This mapping gives {len(errors)} error(s)"), " and nothing would be stored: see below."])
        grid = issues_grid("data-map-preview-issues", report_records)
        return html.Div([head, grid])
    blocks: list = [html.Div(className="cs-result cs-result-ok", id="data-map-preview-result", children=[
        html.Strong("Preview: the mapping reads cleanly"),
        f" ({len(report_records)} warning(s)). The first rows of each table as they would be stored:"])]
    if report_records:
        blocks.append(html.Ul([html.Li(f"{r['file']}{', row ' + str(r['row']) if r['row'] else ''}: {r['message']}")
                               for r in report_records], className="cs-map-list cs-muted"))
    for table, frame in tables.items():
        shown = frame.copy()
        for column in shown.columns:
            shown[column] = shown[column].map(_shown)
        blocks += [html.H3(table, className="cs-map-heading"), dag.AgGrid(
            id=f"data-map-preview-{table}", rowData=shown.to_dict("records"),
            columnDefs=[{"field": c, "headerName": c, "minWidth": 90, "flex": 1} for c in shown.columns],
            defaultColDef={"resizable": True}, dashGridOptions={"domLayout": "autoHeight"}, style={"width": "100%"})]
    return html.Div(blocks)


def _shown(value) -> str:
    """A stored value as the preview shows it: numbers without trailing zeros, true/false, blank for none."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if pd.api.types.is_bool(value):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)
