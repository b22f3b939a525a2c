"""Exposure-response: the outcome (response, CRS grade >= 2) by exposure quartile with the logistic regression on log
exposure, exposure by dose level, and subgroup forest plots; state in the URL."""
from __future__ import annotations

import dash
import numpy as np
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from analysis.ck.population import expansion_rates
from analysis.exposure_response import AUC_WINDOW, METRICS, OUTCOME_NOUNS, OUTCOMES
from analysis.views.exposure_response import ERSettings, exposure_analytes, exposure_response_view
from analysis.views.reproduce import exposure_response
from components.deck import DeckTable
from components.exports import csv_bytes
from components.exposure_response import (
    FOREST_TITLE,
    NCA_NOTE,
    dose_figure,
    dose_frame,
    dose_notes,
    dose_title,
    er_figure,
    er_title,
    exposure_export_frame,
    fit_frame,
    fit_summary,
    forest_figure,
    forest_parts,
    quartile_frame,
    subgroup_frame,
)
from components.figures import graph, graph_id, loading
from components.frame import on_screen
from components.layout import card, page_header, page_root, reproduce_panel, simple_table
from components.text import patient_href
from data_access.catalogue import specimen_label
from pages._context import (
    PageContext,
    clicked_subject,
    cohort_ck,
    cohort_nca,
    context_from_state,
    one_of,
    page_context,
    single_values,
)
from pages._exports import ExportFigure, changed_state, page_state, page_state_id, register_exports

PAGE = "exposure"
dash.register_page(__name__, path="/exposure", name="Exposure–response", order=2.7,
                   title="Exposure–response · CARTscope")

DEFAULTS = {"analyte": "car_copies", "specimen": "PB", "metric": "cmax", "outcome": "response"}


class ID:
    ANALYTE = "exposure-analyte"
    SPECIMEN = "exposure-specimen"
    METRIC = "exposure-metric"
    OUTCOME = "exposure-outcome"
    RESPONSE_FIGURE = "exposure-response-figure"
    RESPONSE_TABLES = "exposure-response-tables"
    QUARTILES = "exposure-quartiles"
    FIT = "exposure-fit"
    DOSE_FIGURE = "exposure-dose-figure"
    DOSE_TABLE = "exposure-dose-table"
    FOREST_FIGURE = "exposure-forest-figure"
    SUBGROUPS = "exposure-subgroups"
    DOWNLOAD = "exposure-download"
    EXPORT_CSV = "exposure-export-csv"
    LOCATION = "exposure-location"
    REPRODUCE = "exposure-reproduce"


#: The controls in the order the update callback takes them, and the state key of each.
CONTROLS = (("analyte", ID.ANALYTE), ("specimen", ID.SPECIMEN), ("metric", ID.METRIC), ("outcome", ID.OUTCOME))


def clean_state(raw: dict, analytes: dict[str, list[str]]) -> dict:
    """URL query / control values -> a valid page state (unknown values fall back to the defaults). `analytes`:
    the analytes an exposure can come from and their specimens (analysis.views.exposure_response.exposure_analytes)."""
    state = dict(DEFAULTS)
    if state["analyte"] not in analytes and analytes:
        state["analyte"] = next(iter(analytes))
    for key, allowed in (("analyte", analytes), ("metric", METRICS), ("outcome", OUTCOMES)):
        if one_of(raw.get(key), allowed):
            state[key] = raw[key]
    specimens = analytes.get(state["analyte"]) or [DEFAULTS["specimen"]]
    state["specimen"] = raw["specimen"] if one_of(raw.get("specimen"), specimens) else specimens[0]
    return state


def view_of(context: PageContext, state: dict):
    settings = ERSettings(state["analyte"], state["specimen"], state["metric"], state["outcome"])
    return exposure_response_view(context.data, cohort_nca(context, *AUC_WINDOW), settings,
                                  model_metrics(context, settings))


def reproduce_block(context: PageContext, state: dict):
    metric = METRICS[state["metric"]]
    return reproduce_panel(*exposure_response(context.name, context.version, state["analyte"], state["specimen"],
                                              state["metric"], state["outcome"], metric.log),
                           "exposure-reproduce-panel", "the quartiles and the regression")


@callback(Output(ID.REPRODUCE, "children"), Input(page_state_id(PAGE), "data"), prevent_initial_call=True)
def update_reproduce(state):
    context = context_from_state(state)
    return reproduce_block(context, clean_state(state, exposure_analytes(context.data)))


def model_metrics(context: PageContext, settings) -> pd.DataFrame | None:
    """The model's metrics (the fitted expansion rate) of the chosen profile, when it is a cellular-kinetic one and
    the chosen metric is one of them: the model is fitted (once per study version) only then."""
    if METRICS[settings.metric].source != "model":
        return None
    if context.study.catalogue.kind(settings.analyte) != "cell_kinetics":
        return pd.DataFrame({"subject_id": context.data.patients["subject_id"], "rho": np.nan})
    return expansion_rates(cohort_ck(context, settings.analyte, settings.specimen).parameters)


def _select(control_id, value, options, class_name="cs-select"):
    return dcc.Dropdown(id=control_id, value=value, clearable=False, searchable=False, options=options,
                        className=class_name)


def specimen_options(analytes: dict[str, list[str]], analyte: str) -> list[dict]:
    return [{"label": specimen_label(s), "value": s} for s in analytes.get(analyte, [])]


def _controls(context: PageContext, state: dict, view) -> html.Div:
    analytes, catalogue = exposure_analytes(context.data), context.study.catalogue
    return html.Div(className="cs-controls", children=[
        html.Label(["Exposure from ", _select(ID.ANALYTE, state["analyte"], [
            {"label": catalogue.label(a), "value": a} for a in analytes], "cs-select-wide")]),
        html.Label(["Specimen ", _select(ID.SPECIMEN, state["specimen"], specimen_options(analytes, state["analyte"]))
                    ]),
        html.Span("Exposure", className="cs-muted"),
        dcc.RadioItems(id=ID.METRIC, value=view.settings.metric, inline=True, className="cs-radio",
                       options=[{"label": METRICS[key].label, "value": key} for key in view.metrics]),
        html.Span("Outcome", className="cs-muted"),
        dcc.RadioItems(id=ID.OUTCOME, value=state["outcome"], inline=True, className="cs-radio",
                       options=[{"label": label, "value": key} for key, label in OUTCOMES.items()]),
    ])


def _graph(name: str, figure: dict, canvas, title: str, element_id: str):
    return html.Div(graph(PAGE, name, figure, canvas, title), id=element_id)


def dose_table(view) -> html.Div:
    frame = dose_frame(view)
    return html.Div([simple_table(frame, "exposure-dose-summary", frame.columns[2:]),
                     *[html.P(line, className="cs-muted") for line in dose_notes(view)]])


def response_tables(view) -> html.Div:
    quartiles = quartile_frame(view)
    fit = fit_frame(view.fit)
    return html.Div(className="cs-grid-2-even", children=[
        simple_table(quartiles, ID.QUARTILES, quartiles.columns[2:]),
        html.Div([simple_table(fit, ID.FIT, ("Estimate", "SE", "p")),
                  html.P(fit_summary(view.fit), className="cs-muted")]),
    ])


def layout(study: str | None = None, version: str | None = None, slide: str | None = None, **query):
    context, problem = page_context(study, version, slide)
    if problem is not None:
        return problem
    state = clean_state(single_values(query), exposure_analytes(context.data))
    view = view_of(context, state)
    state["metric"] = view.settings.metric
    canvas = context.canvas()
    half = context.canvas(half=True)
    subgroups = subgroup_frame(view.subgroups)
    return page_root([
        page_state(PAGE, {**context.params(), **state}),
        dcc.Location(id=ID.LOCATION, refresh="callback-nav"),
        dcc.Download(id=ID.DOWNLOAD),
        page_header("Exposure–response", f"{context.label} · outcome by CAR-T exposure; subgroups · click a point "
                    "to open that patient", context.simulated),
        card("Exposure and outcome", _controls(context, state, view),
             _graph("response", er_figure(view, context.note, canvas), canvas, er_title(view), ID.RESPONSE_FIGURE),
             loading(html.Div(response_tables(view), id=ID.RESPONSE_TABLES)),
             html.Div(className="cs-form-row", children=[
                 html.Button("Download CSV", id=ID.EXPORT_CSV, className="cs-button cs-button-secondary"),
                 html.Span("Every patient's exposure and outcomes (units in the headers).", className="cs-muted"),
             ])),
        card("Exposure by dose level", html.Div(className="cs-grid-2-even", children=[
            _graph("dose", dose_figure(view, context.note, half), half, dose_title(view), ID.DOSE_FIGURE),
            loading(html.Div(dose_table(view), id=ID.DOSE_TABLE))])),
        card("Subgroups", _graph("forest", forest_figure(view.subgroups, context.note, canvas), canvas, FOREST_TITLE,
                                ID.FOREST_FIGURE),
             simple_table(subgroups, ID.SUBGROUPS, ("n", "PFS events"))),
        card("Reproduce", html.Div(reproduce_block(context, state), id=ID.REPRODUCE)),
    ], context.slide, context.notes)


@callback(
    Output(graph_id(PAGE, "response"), "figure"), Output(ID.RESPONSE_TABLES, "children"),
    Output(graph_id(PAGE, "dose"), "figure"), Output(ID.DOSE_TABLE, "children"), Output(ID.METRIC, "options"),
    Output(page_state_id(PAGE), "data"),
    *[Input(control, "value") for _, control in CONTROLS], State(page_state_id(PAGE), "data"),
    prevent_initial_call=True,
)
def update_exposure(*values):
    """The figures and tables for new controls; the state (and so the address bar) follows."""
    *controls, previous = values
    context = context_from_state(previous)
    state = clean_state(dict(zip([key for key, _ in CONTROLS], controls, strict=True)),
                        exposure_analytes(context.data))
    view = view_of(context, state)
    canvas, half = context.canvas(), context.canvas(half=True)
    return (on_screen(er_figure(view, context.note, canvas), canvas), response_tables(view),
            on_screen(dose_figure(view, context.note, half), half), dose_table(view),
            [{"label": METRICS[key].label, "value": key} for key in view.metrics],
            changed_state(previous, **{**state, "metric": view.settings.metric}))


@callback(Output(ID.SPECIMEN, "options"), Output(ID.SPECIMEN, "value"),
          Input(ID.ANALYTE, "value"), State(ID.SPECIMEN, "value"), State(page_state_id(PAGE), "data"),
          prevent_initial_call=True)
def specimens_for_analyte(analyte, specimen, state):
    """The specimens the study measured the chosen analyte in."""
    analytes = exposure_analytes(context_from_state(state).data)
    specimens = analytes.get(analyte) or [specimen]
    return specimen_options(analytes, analyte), specimen if specimen in specimens else specimens[0]


@callback(Output(ID.LOCATION, "href"), Input(graph_id(PAGE, "response"), "clickData"),
          State(page_state_id(PAGE), "data"), prevent_initial_call=True)
def open_clicked_patient(click, state):
    """Clicking a patient's point opens that patient."""
    subject = clicked_subject(click)
    if subject is None:
        return dash.no_update
    return patient_href(subject, context_from_state(state).query())


@callback(Output(ID.DOWNLOAD, "data"), Input(ID.EXPORT_CSV, "n_clicks"), State(page_state_id(PAGE), "data"),
          prevent_initial_call=True)
def export_table(_clicks, state):
    """Every patient's exposure metrics and outcomes, with units and how the NCA was computed, as CSV."""
    context = context_from_state(state)
    view = view_of(context, clean_state(state, exposure_analytes(context.data)))
    s = view.settings
    return dcc.send_bytes(csv_bytes(exposure_export_frame(view)),
                          f"exposure_{context.name}_v{context.version}_{s.analyte}_{s.specimen}.csv")


def figures(context: PageContext, state: dict, canvas, for_deck: bool) -> list[ExportFigure]:
    view = view_of(context, clean_state(state, exposure_analytes(context.data)))
    out = [ExportFigure("response", er_title(view), er_figure(view, context.note, canvas)),
           ExportFigure("dose", dose_title(view), dose_figure(view, context.note, canvas))]
    parts = forest_parts(view.subgroups) if for_deck else [None]
    for i, covariates in enumerate(parts):
        part = f" ({i + 1} of {len(parts)})" if len(parts) > 1 else ""
        out.append(ExportFigure("forest", FOREST_TITLE + part,
                                forest_figure(view.subgroups, context.note, canvas, covariates, part)))
    return out


def tables(context: PageContext, state: dict) -> list[DeckTable]:
    view = view_of(context, clean_state(state, exposure_analytes(context.data)))
    return [DeckTable(f"{view.outcome_label} by {view.metric.label} quartile (exact 95% CIs)", quartile_frame(view),
                      ["Exact (Clopper-Pearson) 95% CIs.", NCA_NOTE, context.note]),
            DeckTable(f"Logistic regression of {OUTCOME_NOUNS[view.settings.outcome]} on "
                      f"{'log10 ' if view.metric.log else ''}{view.metric.label}",
                      fit_frame(view.fit), [fit_summary(view.fit), "Wald standard errors, CIs and p-value.",
                                            context.note]),
            DeckTable(f"{view.where}: exposure by dose level", dose_frame(view),
                      [*dose_notes(view), NCA_NOTE, context.note]),
            DeckTable("Subgroups: ORR, CRS grade ≥2 and PFS hazard ratio", subgroup_frame(view.subgroups),
                      ["Exact 95% CIs; PFS hazard ratio against the first level of each subgroup (Cox, Efron ties, "
                       "Wald 95% CI).", *view.subgroups.notes, context.note])]


register_exports(PAGE, "exposure-response", figures, tables)
