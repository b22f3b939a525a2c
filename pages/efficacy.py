"""Efficacy: best response by dose level, ORR / >=VGPR / >=CR with exact CIs, swimmer plot (click to open)."""
from __future__ import annotations

import math

import dash
from dash import Input, Output, State, callback, dcc, html

from analysis.views.efficacy import efficacy_view
from analysis.views.reproduce import endpoint_tables
from components.deck import DeckTable
from components.efficacy import (
    BEST_TITLE,
    RATES_TITLE,
    SWIMMER_TITLE,
    best_response_figure,
    rates_figure,
    rates_table,
    rates_table_frame,
    swimmer_figure,
)
from components.figures import graph, graph_id
from components.frame import on_screen
from components.layout import card, page_header, page_root, reproduce_panel
from components.text import patient_href
from pages._context import PageContext, clicked_subject, context_from_state, page_context
from pages._exports import ExportFigure, changed_state, page_state, page_state_id, register_exports

PAGE = "efficacy"
dash.register_page(__name__, path="/efficacy", name="Efficacy", order=4, title="Efficacy · CARTscope")
#: A deck slide shows at most this many swimmer lanes, so every lane is labelled legibly (a 4:3 slide's legend
#: takes more rows, leaving less height for lanes).
LANES_PER_SLIDE = {"16:9": 32, "4:3": 24}


class ID:
    SORT = "efficacy-sort"
    SWIMMER = "efficacy-swimmer"
    LOCATION = "efficacy-location"


def layout(study: str | None = None, version: str | None = None, sort: str = "duration", slide: str | None = None,
           **_):
    context, problem = page_context(study, version, slide)
    if problem is not None:
        return problem
    view = efficacy_view(context.data, sort)
    half = context.canvas(half=True)
    return page_root([
        page_state(PAGE, {**context.params(), "sort": view.sort}),
        dcc.Location(id=ID.LOCATION, refresh="callback-nav"),
        page_header("Efficacy", f"{context.label} · response by IMWG criteria", context.simulated),
        html.Div(className="cs-grid-2-even", children=[
            card("Best response", graph(PAGE, "best", best_response_figure(view, context.note, half), half,
                                        BEST_TITLE)),
            card("Response rates", graph(PAGE, "rates", rates_figure(view, context.note, half), half, RATES_TITLE),
                 rates_table(view)),
        ]),
        card("Swimmer plot", html.Div(className="cs-controls", children=[
            dcc.RadioItems(id=ID.SORT, value=view.sort, inline=True, className="cs-radio",
                           options=[{"label": "longest follow-up first", "value": "duration"},
                                    {"label": "by dose level", "value": "dose"}]),
            html.Span("Click a lane to open that patient.", className="cs-muted"),
        ]), html.Div(graph(PAGE, "swimmer", swimmer_figure(view.swimmer, context.note, context.canvas()),
                           context.canvas(), SWIMMER_TITLE), id=ID.SWIMMER)),
        card("Reproduce", reproduce_panel(*endpoint_tables(context.name, context.version, "efficacy"),
                                          "efficacy-reproduce", "these tables")),
    ], context.slide, context.notes)


@callback(Output(graph_id(PAGE, "swimmer"), "figure"), Output(page_state_id(PAGE), "data"),
          Input(ID.SORT, "value"), State(page_state_id(PAGE), "data"), prevent_initial_call=True)
def sort_swimmer(sort, state):
    context = context_from_state(state)
    view = efficacy_view(context.data, sort)
    canvas = context.canvas()
    return on_screen(swimmer_figure(view.swimmer, context.note, canvas), canvas), changed_state(state, sort=view.sort)


@callback(Output(ID.LOCATION, "href"), Input(graph_id(PAGE, "swimmer"), "clickData"),
          State(page_state_id(PAGE), "data"), prevent_initial_call=True)
def open_lane(click, state):
    """Clicking a lane (or a marker on it) opens that patient."""
    subject = clicked_subject(click)
    if subject is None:
        return dash.no_update
    return patient_href(subject, context_from_state(state).query())


def figures(context: PageContext, state: dict, canvas, for_deck: bool) -> list[ExportFigure]:
    view = efficacy_view(context.data, state.get("sort", "duration"))
    out = [ExportFigure("best", BEST_TITLE, best_response_figure(view, context.note, canvas)),
           ExportFigure("rates", RATES_TITLE, rates_figure(view, context.note, canvas))]
    order = view.swimmer.order
    parts = math.ceil(len(order) / LANES_PER_SLIDE[canvas.aspect or "16:9"]) if for_deck else 1
    for i in range(max(parts, 1)):
        size = math.ceil(len(order) / max(parts, 1))
        lanes = order[i * size:(i + 1) * size] if parts > 1 else None
        part = f" ({i + 1} of {parts})" if parts > 1 else ""
        out.append(ExportFigure("swimmer", SWIMMER_TITLE + part,
                                swimmer_figure(view.swimmer, context.note, canvas, lanes, part)))
    return out


def tables(context: PageContext, state: dict) -> list[DeckTable]:
    view = efficacy_view(context.data, state.get("sort", "duration"))
    return [DeckTable("Response rates (exact 95% CIs)", rates_table_frame(view),
                      [f"All {view.n_patients} infused patients are the denominator; exact (Clopper-Pearson) 95% "
                       "CIs.", context.note])]


register_exports(PAGE, "efficacy", figures, tables)
