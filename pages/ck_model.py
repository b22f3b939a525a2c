"""CK model: the multiphasic cellular-kinetic model fitted to every patient, compared across groups, with its
diagnostics and every patient's parameters; state in the URL."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, dcc, html

from analysis.views.ck_model import ModelSettings, model_view
from analysis.views.reproduce import ck_fits
from components.ck_model import (
    METHOD_NOTE,
    POPULATION_NOTE,
    comparison_figure,
    comparison_title,
    diagnostics_figure,
    diagnostics_title,
    fits_figure,
    fits_title,
    grid_columns,
    grid_rows,
    parameters_export_frame,
    status_frame,
    status_sentence,
    summary_frame,
)
from components.deck import DeckTable
from components.exports import csv_bytes
from components.figures import graph, graph_id, loading
from components.frame import on_screen
from components.layout import card, notice, page_header, page_root, reproduce_panel, simple_table
from data_access.catalogue import specimen_label
from pages._context import PageContext, cohort_ck, context_from_state, one_of, page_context
from pages._exports import ExportFigure, changed_state, page_state, page_state_id, register_exports

PAGE = "ck_model"
dash.register_page(__name__, path="/model", name="CK model", order=2.5, title="CK model · CARTscope")

DEFAULTS = {"analyte": "car_copies", "specimen": "PB", "group": "dose_level"}
FIGURES = ("fits", "comparison", "diagnostics")


class ID:
    ANALYTE = "model-analyte"
    SPECIMEN = "model-specimen"
    GROUP = "model-group"
    STATUS = "model-status"
    SUMMARY = "model-summary"
    GRID = "model-grid"
    DOWNLOAD = "model-download"
    EXPORT_CSV = "model-export-csv"
    REPRODUCE = "model-reproduce"


def cell_kinetic_profiles(context: PageContext) -> dict[str, list[str]]:
    """Analyte -> specimens, for the cellular-kinetic analytes of the study (what the model describes)."""
    catalogue = context.study.catalogue
    return {a: s for a, s in context.data.profiles.items() if catalogue.kind(a) == "cell_kinetics"}


def clean_state(context: PageContext, raw: dict) -> dict:
    profiles = cell_kinetic_profiles(context)
    state = dict(DEFAULTS)
    if one_of(raw.get("analyte"), profiles):
        state["analyte"] = raw["analyte"]
    elif profiles and state["analyte"] not in profiles:
        state["analyte"] = next(iter(profiles))
    specimens = profiles.get(state["analyte"], [])
    if one_of(raw.get("specimen"), specimens):
        state["specimen"] = raw["specimen"]
    elif specimens and state["specimen"] not in specimens:
        state["specimen"] = specimens[0]
    if one_of(raw.get("group"), context.data.groupings):
        state["group"] = raw["group"]
    return state


def view_of(context: PageContext, state: dict):
    settings = ModelSettings(state["analyte"], state["specimen"], state["group"])
    return model_view(context.data, cohort_ck(context, settings.analyte, settings.specimen), settings)


def layout(study: str | None = None, version: str | None = None, slide: str | None = None, **query):
    context, problem = page_context(study, version, slide)
    if problem is not None:
        return problem
    profiles = cell_kinetic_profiles(context)
    if not profiles:
        return page_root([page_header("CK model"), notice(
            "No cellular-kinetic measurements", f"{context.label} has no CAR-T measurements to fit the model to.",
            kind="warning")], context.slide, context.notes)
    state = clean_state(context, query)
    view = view_of(context, state)
    canvas = context.canvas()
    catalogue = context.study.catalogue
    return page_root([
        page_state(PAGE, {**context.params(), **state}),
        page_header("CK model", f"{context.label} · multiphasic cellular-kinetic model (Stein et al. 2019) fitted "
                    "to every patient", context.simulated),
        card("Model fits", html.Div(className="cs-controls", children=[
            html.Label(["Analyte ", dcc.Dropdown(id=ID.ANALYTE, value=state["analyte"], clearable=False,
                                                 searchable=False, className="cs-select",
                                                 options=[{"label": catalogue.label(a), "value": a}
                                                          for a in profiles])]),
            html.Label(["Specimen ", dcc.Dropdown(id=ID.SPECIMEN, value=state["specimen"], clearable=False,
                                                  searchable=False, className="cs-select",
                                                  options=[{"label": specimen_label(s), "value": s}
                                                           for s in profiles[state["analyte"]]])]),
            html.Label(["Group by ", dcc.Dropdown(id=ID.GROUP, value=state["group"], clearable=False,
                                                  searchable=False, className="cs-select",
                                                  options=[{"label": label, "value": key}
                                                           for key, label in context.data.groupings.items()])]),
        ]), html.P(status_sentence(view), id=ID.STATUS, className="cs-muted"),
            html.Div(graph(PAGE, "fits", fits_figure(view, context.note, canvas), canvas, fits_title(view))),
            html.Div(graph(PAGE, "comparison", comparison_figure(view, context.note, canvas), canvas,
                           comparison_title(view))),
            loading(html.Div(group_tables(view), id=ID.SUMMARY))),
        card("Goodness of fit", html.Div(graph(PAGE, "diagnostics", diagnostics_figure(view, context.note, canvas),
                                               canvas, diagnostics_title(view)))),
        card("Every patient's fit", html.Div(className="cs-controls", children=[
            html.Button("Download CSV", id=ID.EXPORT_CSV, className="cs-button cs-button-secondary"),
            html.Span("the numbers python -m analysis ck writes: every parameter with its 95% CI",
                      className="cs-muted"),
            dcc.Download(id=ID.DOWNLOAD),
        ]), loading(dag.AgGrid(id=ID.GRID, rowData=grid_rows(view, context.query()), columnDefs=grid_columns(view),
                               defaultColDef={"sortable": True, "filter": True, "resizable": True,
                                              "wrapHeaderText": True, "autoHeaderHeight": True},
                               dashGridOptions={"tooltipShowDelay": 300, "pagination": True,
                                                "paginationPageSize": 20, "domLayout": "autoHeight"},
                               style={"width": "100%"}))),
        card("Reproduce", html.Div(reproduce_block(context, state), id=ID.REPRODUCE)),
    ], context.slide, context.notes)


def reproduce_block(context: PageContext, state: dict) -> html.Details:
    return reproduce_panel(*ck_fits(context.name, context.version, state["analyte"], state["specimen"],
                                    state["group"]), "model-reproduce-panel", "these fits")


@callback(Output(ID.REPRODUCE, "children"), Input(page_state_id(PAGE), "data"), prevent_initial_call=True)
def update_reproduce(state):
    context = context_from_state(state)
    return reproduce_block(context, clean_state(context, state))


def group_tables(view) -> list:
    return [html.H3("Typical parameters by group", className="cs-table-title"),
            simple_table(summary_frame(view), "model-summary-table"),
            html.P(f"{POPULATION_NOTE}. {METHOD_NOTE}.", className="cs-muted"),
            html.H3("Profiles by fit status", className="cs-table-title"),
            simple_table(status := status_frame(view), "model-status-table", status.columns[1:])]


@callback(
    Output(graph_id(PAGE, "fits"), "figure"), Output(graph_id(PAGE, "comparison"), "figure"),
    Output(graph_id(PAGE, "diagnostics"), "figure"), Output(ID.SUMMARY, "children"), Output(ID.GRID, "rowData"),
    Output(ID.GRID, "columnDefs"),
    Output(ID.STATUS, "children"), Output(ID.SPECIMEN, "options"), Output(ID.SPECIMEN, "value"),
    Output(page_state_id(PAGE), "data"),
    Input(ID.ANALYTE, "value"), Input(ID.SPECIMEN, "value"), Input(ID.GROUP, "value"),
    State(page_state_id(PAGE), "data"), prevent_initial_call=True,
)
def update_model(analyte, specimen, group, previous):
    """Another analyte, specimen or grouping: the fits of that profile (fitted once per study version), compared
    across the groups."""
    context = context_from_state(previous)
    state = changed_state(previous, **clean_state(context, {"analyte": analyte, "specimen": specimen,
                                                           "group": group}))
    view = view_of(context, state)
    canvas = context.canvas()
    specimens = cell_kinetic_profiles(context).get(state["analyte"], [])
    return (on_screen(fits_figure(view, context.note, canvas), canvas),
            on_screen(comparison_figure(view, context.note, canvas), canvas),
            on_screen(diagnostics_figure(view, context.note, canvas), canvas), group_tables(view),
            grid_rows(view, context.query()), grid_columns(view), status_sentence(view),
            [{"label": specimen_label(s), "value": s} for s in specimens], state["specimen"], state)


@callback(Output(ID.DOWNLOAD, "data"), Input(ID.EXPORT_CSV, "n_clicks"), State(page_state_id(PAGE), "data"),
          prevent_initial_call=True)
def download_parameters(_clicks, state):
    context = context_from_state(state)
    view = view_of(context, clean_state(context, state))
    name = f"ck_model_{context.name}_v{context.version}_{view.settings.analyte}_{view.settings.specimen}.csv"
    return dcc.send_bytes(csv_bytes(parameters_export_frame(view)), name)


def figures(context: PageContext, state: dict, canvas, for_deck: bool) -> list[ExportFigure]:
    view = view_of(context, clean_state(context, state))
    return [ExportFigure("fits", fits_title(view), fits_figure(view, context.note, canvas)),
            ExportFigure("comparison", comparison_title(view), comparison_figure(view, context.note, canvas)),
            ExportFigure("diagnostics", diagnostics_title(view), diagnostics_figure(view, context.note, canvas))]


def tables(context: PageContext, state: dict) -> list[DeckTable]:
    view = view_of(context, clean_state(context, state))
    return [DeckTable(f"{view.where}: typical model parameters by {view.grouping_label.lower()}",
                      summary_frame(view), [POPULATION_NOTE + ".", METHOD_NOTE + ".", context.note]),
            DeckTable(f"{view.where}: model fit status", status_frame(view), [status_sentence(view), context.note])]


register_exports(PAGE, "CK model", figures, tables)
