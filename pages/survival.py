"""Survival: PFS, OS and duration of response by Kaplan-Meier, optionally by dose level with a log-rank test."""
from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dcc, html

from analysis.survival import DEFINITIONS, ENDPOINTS
from analysis.views.reproduce import endpoint_tables
from analysis.views.survival import survival_view
from components.deck import DeckTable
from components.figures import graph, graph_id, loading
from components.frame import on_screen
from components.layout import card, page_header, page_root, reproduce_panel
from components.survival import TABLE_NOTE, km_figure, km_table, km_table_frame, km_title
from pages._context import PageContext, context_from_state, page_context
from pages._exports import ExportFigure, changed_state, page_state, page_state_id, register_exports

PAGE = "survival"
dash.register_page(__name__, path="/survival", name="Survival", order=5, title="Survival · CARTscope")


class ID:
    ENDPOINT = "survival-endpoint"
    STRATA = "survival-strata"
    FIGURE = "survival-figure"
    SUMMARY = "survival-summary"


def parse(state: dict) -> tuple[str, bool]:
    endpoint = state.get("endpoint") if state.get("endpoint") in ENDPOINTS else "PFS"
    return endpoint, state.get("strata") == "dose"


def layout(study: str | None = None, version: str | None = None, endpoint: str = "PFS", strata: str = "none",
           slide: str | None = None, **_):
    context, problem = page_context(study, version, slide)
    if problem is not None:
        return problem
    endpoint, by_dose = parse({"endpoint": endpoint, "strata": strata})
    view = survival_view(context.data, endpoint, by_dose)
    return page_root([
        page_state(PAGE, {**context.params(), "endpoint": endpoint, "strata": "dose" if by_dose else "none"}),
        page_header("Survival", f"{context.label} · PFS, OS and duration of response", context.simulated),
        card("Kaplan-Meier", html.Div(className="cs-controls", children=[
            dcc.RadioItems(id=ID.ENDPOINT, value=endpoint, inline=True, className="cs-radio",
                           options=[{"label": DEFINITIONS[e][0], "value": e} for e in ENDPOINTS]),
            dcc.Checklist(id=ID.STRATA, value=["dose"] if by_dose else [], inline=True, className="cs-radio",
                          options=[{"label": "by dose level (log-rank test)", "value": "dose"}]),
        ]), html.Div(graph(PAGE, "km", km_figure(view, context.note, context.canvas()), context.canvas(),
                           km_title(view)), id=ID.FIGURE),
            loading(html.Div(km_table(view), id=ID.SUMMARY))),
        card("Reproduce", reproduce_panel(*endpoint_tables(context.name, context.version, "survival"),
                                          "survival-reproduce", "these tables")),
    ], context.slide, context.notes)


@callback(Output(graph_id(PAGE, "km"), "figure"), Output(ID.SUMMARY, "children"), Output(page_state_id(PAGE), "data"),
          Input(ID.ENDPOINT, "value"), Input(ID.STRATA, "value"), State(page_state_id(PAGE), "data"),
          prevent_initial_call=True)
def update_survival(endpoint, strata, state):
    state = changed_state(state, endpoint=endpoint, strata="dose" if isinstance(strata, list) and "dose" in strata
                          else "none")
    context = context_from_state(state)
    view = survival_view(context.data, *parse(state))
    canvas = context.canvas()
    return on_screen(km_figure(view, context.note, canvas), canvas), km_table(view), state


def figures(context: PageContext, state: dict, canvas, for_deck: bool) -> list[ExportFigure]:
    view = survival_view(context.data, *parse(state))
    return [ExportFigure("km", km_title(view), km_figure(view, context.note, canvas))]


def tables(context: PageContext, state: dict) -> list[DeckTable]:
    view = survival_view(context.data, *parse(state))
    return [DeckTable(f"{view.name}: Kaplan-Meier summary", km_table_frame(view),
                      [f"{view.name}: {view.definition}. Medians in months.", TABLE_NOTE, context.note])]


register_exports(PAGE, "survival", figures, tables)
