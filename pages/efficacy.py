"""Efficacy: best response by dose level, ORR / >=VGPR / >=CR with exact CIs, swimmer plot (click to open)."""
from __future__ import annotations

from urllib.parse import urlencode

import dash
import pandas as pd
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from analysis.responses import PRIMARY_WINDOW_DAYS, best_response_within, mrd_negative_ever, response_rates
from components.efficacy import best_response_figure, rates_figure, rates_table, swimmer_figure, swimmer_order
from components.figures import graph, graph_id, present, table_store
from components.layout import SIMULATED_NOTE, card, page_header
from pages._exports import slide_note
from pages._study import PUSH_QUERY_JS, load_selected, study_bundle

dash.register_page(__name__, path="/efficacy", name="Efficacy", order=4, title="Efficacy · CARTscope")


def efficacy_view(bundle) -> dict:
    study, patients = bundle.study, bundle.patients
    sim = ("<br>" + SIMULATED_NOTE) if study.simulated else ""
    best = patients.set_index("subject_id")["best_response"]
    within = best_response_within(study.responses, patients["subject_id"], PRIMARY_WINDOW_DAYS)
    overall = response_rates(best, mrd_negative_ever(study.responses)).assign(window="to progression or data cut-off")
    first6 = response_rates(within.set_index("subject_id")["best_response"]).assign(window="first 6 months")
    rates = pd.concat([overall, first6], ignore_index=True)
    note = (f"{study.label}. Best overall response by IMWG criteria from infusion until progression or the data "
            "cut-off (sCR > CR > VGPR > PR > MR > SD > PD > NE); all infused patients.")
    rate_note = (f"{study.label}. All {len(best)} infused patients are the denominator; exact (Clopper-Pearson) 95% "
                 "CIs. MRD-negative: any MRD-negative assessment.")
    return {"best": best_response_figure(patients, note + sim), "rates": rates_figure(rates, rate_note + sim),
            "table": rates_table(rates)}


def layout(study: str | None = None, version: str | None = None, sort: str = "duration", slide: str | None = None,
           **_):
    selected, problem = load_selected(study, version)
    if problem is not None:
        return problem
    bundle = study_bundle(selected.name, selected.version)
    view = efficacy_view(bundle)
    sort = sort if sort in ("duration", "dose") else "duration"
    key = {"study": selected.name, "version": selected.version}
    note = slide_note("?" + urlencode(key)) if slide == "1" else None
    return html.Div([
        dcc.Store(id="efficacy-key", data={**key, "slide_note": note}),
        dcc.Store(id="efficacy-url-state"), html.Span(id="efficacy-url-sink", hidden=True),
        dcc.Location(id="efficacy-location", refresh="callback-nav"),
        page_header("Efficacy", f"{selected.label} · response by IMWG criteria", selected.simulated),
        html.Div(className="cs-grid-2-even", children=[
            card("Best response", graph("efficacy", "best", view["best"], "Best overall response by dose level", note)),
            card("Response rates", graph("efficacy", "rates", view["rates"], "Response rates", note),
                 view["table"][0], table_store("efficacy", "rates", "Response rates (exact 95% CIs)",
                                                view["table"][1])),
        ]),
        card("Swimmer plot", html.Div(className="cs-controls", children=[
            dcc.RadioItems(id="efficacy-sort", value=sort, inline=True, className="cs-radio",
                           options=[{"label": "longest follow-up first", "value": "duration"},
                                    {"label": "by dose level", "value": "dose"}]),
            html.Span("Click a lane to open that patient.", className="cs-muted"),
        ]), html.Div(graph("efficacy", "swimmer", present(swimmer(bundle, sort), note), "Swimmer plot"),
                     id="efficacy-swimmer")),
    ])


def swimmer(bundle, sort: str) -> dict:
    study = bundle.study
    note = (f"{study.label}. Lanes from infusion to last contact, coloured by the response recorded at each "
            "assessment until the next one.") + ((" " + SIMULATED_NOTE) if study.simulated else "")
    return swimmer_figure(bundle.patients, study.responses, swimmer_order(bundle.patients, sort), note)


@callback(Output(graph_id("efficacy", "swimmer"), "figure"), Output("efficacy-url-state", "data"),
          Input("efficacy-sort", "value"), State("efficacy-key", "data"), prevent_initial_call=True)
def sort_swimmer(sort, key):
    query = {"study": key["study"], "version": key["version"], "sort": sort,
             **({"slide": "1"} if key["slide_note"] is not None else {})}
    return present(swimmer(study_bundle(key["study"], key["version"]), sort), key["slide_note"]), \
        "?" + urlencode(query)


@callback(Output("efficacy-location", "href"), Input(graph_id("efficacy", "swimmer"), "clickData"),
          State("efficacy-key", "data"), prevent_initial_call=True)
def open_lane(click, key):
    """Clicking a lane (or a marker on it) opens that patient."""
    subject = (click or {}).get("points", [{}])[0].get("customdata")
    if not isinstance(subject, str):
        return dash.no_update
    return f"/patients/{subject}?" + urlencode({"study": key["study"], "version": key["version"]})


clientside_callback(PUSH_QUERY_JS, Output("efficacy-url-sink", "children"), Input("efficacy-url-state", "data"),
                    prevent_initial_call=True)
