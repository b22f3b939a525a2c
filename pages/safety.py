"""Safety: AE table (CTCAE v5; CRS and ICANS by ASTCT), grades by term, CRS/ICANS onset and duration, CRS grade
against IL-6 peak and CAR-T expansion."""
from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dcc, html

from analysis.safety import term_patients
from analysis.views.reproduce import endpoint_tables
from analysis.views.safety import safety_view
from components.deck import DeckTable
from components.exports import csv_bytes, excel_bytes
from components.figures import graph, loading
from components.layout import card, page_header, page_root, reproduce_panel, simple_table
from components.safety import (
    CRS_TITLE,
    TREATMENT_NOTE,
    ae_grid,
    ae_table_frame,
    crs_figure,
    grade3_text,
    grade_by_term_figure,
    grades_title,
    onset_table,
    patient_links,
    treatment_frame,
)
from pages._context import PageContext, cohort_nca, context_from_state, page_context
from pages._exports import ExportFigure, page_state, page_state_id, register_exports

PAGE = "safety"
dash.register_page(__name__, path="/safety", name="Safety", order=3, title="Safety · CARTscope")


class ID:
    GRID = "safety-ae-grid"
    ATTRIBUTION = "safety-attribution"
    TERM_PATIENTS = "safety-term-patients"
    ONSETS = "safety-onset-table"
    TREATMENTS = "safety-treatment-table"
    DOWNLOAD = "safety-download"
    EXPORT_CSV = "safety-export-csv"
    EXPORT_XLSX = "safety-export-xlsx"


def view_of(context: PageContext, state: dict):
    return safety_view(context.data, cohort_nca(context), state.get("attribution"))


def layout(study: str | None = None, version: str | None = None, attribution: str | None = None,
           slide: str | None = None, **_):
    context, problem = page_context(study, version, slide)
    if problem is not None:
        return problem
    view = view_of(context, {"attribution": attribution})
    state = {**context.params(), "attribution": "related" if view.related_only else "all"}
    switch = context.query(attribution="all" if view.related_only else "related")
    return page_root([
        page_state(PAGE, state),
        dcc.Download(id=ID.DOWNLOAD),
        page_header("Safety", f"{context.label} · adverse events by CTCAE v5; CRS and ICANS by ASTCT",
                    context.simulated),
        card("Adverse events", html.Div(className="cs-form-row", children=[
            html.Span(f"Showing {view.attribution}" + ("" if view.can_filter else " (the study records no "
                                                                                  "attribution)") + ".",
                      id=ID.ATTRIBUTION),
            dcc.Link("Show all AEs" if view.related_only else "Show treatment-related AEs", href=f"/safety{switch}",
                     className="cs-button cs-button-secondary") if view.can_filter else None,
            html.Button("Download CSV", id=ID.EXPORT_CSV, className="cs-button cs-button-secondary"),
            html.Button("Download Excel", id=ID.EXPORT_XLSX, className="cs-button cs-button-secondary"),
        ]), ae_grid(view, ID.GRID), html.P(grade3_text(view), className="cs-extras"),
            html.P("Select a term to list its patients.", className="cs-muted"),
            loading(html.Div(id=ID.TERM_PATIENTS))),
        card("Grades by term", graph(PAGE, "grades", grade_by_term_figure(view, context.note, context.canvas()),
                                     context.canvas(), grades_title(view))),
        card("CRS and ICANS", onset_table(view, ID.ONSETS),
             graph(PAGE, "crs", crs_figure(view, context.note, context.canvas()), context.canvas(), CRS_TITLE)),
        card("CRS and ICANS treatment",
             simple_table(frame := treatment_frame(view), ID.TREATMENTS, frame.columns[1:]),
             html.P(TREATMENT_NOTE, className="cs-muted")) if view.treatments is not None else None,
        card("Reproduce", reproduce_panel(*endpoint_tables(context.name, context.version, "safety"),
                                          "safety-reproduce", "these tables")),
    ], context.slide, context.notes)


@callback(Output(ID.TERM_PATIENTS, "children"), Input(ID.GRID, "selectedRows"), State(page_state_id(PAGE), "data"),
          prevent_initial_call=True)
def show_term_patients(selected, state):
    """The patients with the selected term, at their worst grade, linking to their pages."""
    if not selected:
        return ""
    context = context_from_state(state)
    term = selected[0]["term"]
    related_only = state.get("attribution") == "related"
    return patient_links(term_patients(context.study.adverse_events, term, related_only), term, context.query())


@callback(Output(ID.DOWNLOAD, "data"), Input(ID.EXPORT_CSV, "n_clicks"), Input(ID.EXPORT_XLSX, "n_clicks"),
          State(page_state_id(PAGE), "data"), prevent_initial_call=True)
def export_ae_table(_csv, _xlsx, state):
    context = context_from_state(state)
    table = view_of(context, state).ae
    name = f"ae_table_{context.name}_v{context.version}"
    if dash.ctx.triggered_id == ID.EXPORT_XLSX:
        return dcc.send_bytes(excel_bytes(table, "AEs"), f"{name}.xlsx")
    return dcc.send_bytes(csv_bytes(table), f"{name}.csv")


def figures(context: PageContext, state: dict, canvas, for_deck: bool) -> list[ExportFigure]:
    view = view_of(context, state)
    return [ExportFigure("grades", grades_title(view), grade_by_term_figure(view, context.note, canvas)),
            ExportFigure("crs", CRS_TITLE, crs_figure(view, context.note, canvas))]


def tables(context: PageContext, state: dict) -> list[DeckTable]:
    view = view_of(context, state)
    out = [DeckTable(f"Adverse events ({view.attribution}), patients n (%)", ae_table_frame(view),
                     [f"CTCAE v5; CRS and ICANS by ASTCT; each patient counted once per term at the worst grade; "
                      f"n = {view.n_patients}.", context.note])]
    if view.treatments is not None:
        out.append(DeckTable("CRS and ICANS treatment by worst CRS grade", treatment_frame(view),
                             [TREATMENT_NOTE, context.note]))
    return out


register_exports(PAGE, "safety", figures, tables)
