"""Efficacy: best response by dose level, ORR / >=VGPR / >=CR with exact CIs, swimmer plot (click to open)."""
from __future__ import annotations

from urllib.parse import urlencode

import dash
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from analysis.responses import PRIMARY_WINDOW_DAYS, best_response_within, mrd_negative_ever, response_rates
from components.efficacy import best_response_figure, rates_figure, rates_table, swimmer_figure, swimmer_order
from components.layout import SIMULATED_NOTE, card, page_header
from pages._study import load_selected, study_bundle

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


def layout(study: str | None = None, version: str | None = None, sort: str = "duration", **_):
    selected, problem = load_selected(study, version)
    if problem is not None:
        return problem
    bundle = study_bundle(selected.name, selected.version)
    view = efficacy_view(bundle)
    sort = sort if sort in ("duration", "dose") else "duration"
    return html.Div([
        dcc.Store(id="efficacy-key", data={"study": selected.name, "version": selected.version}),
        dcc.Location(id="efficacy-location", refresh="callback-nav"),
        page_header("Efficacy", f"{selected.label} · response by IMWG criteria", selected.simulated),
        html.Div(className="cs-grid-2-even", children=[
            card("Best response", dcc.Graph(id="efficacy-best", figure=view["best"], config={"displaylogo": False})),
            card("Response rates", dcc.Graph(id="efficacy-rates", figure=view["rates"],
                                             config={"displaylogo": False}), view["table"]),
        ]),
        card("Swimmer plot", html.Div(className="cs-controls", children=[
            dcc.RadioItems(id="efficacy-sort", value=sort, inline=True, className="cs-radio",
                           options=[{"label": "longest follow-up first", "value": "duration"},
                                    {"label": "by dose level", "value": "dose"}]),
            html.Span("Click a lane to open that patient.", className="cs-muted"),
        ]), dcc.Graph(id="efficacy-swimmer", figure=swimmer(bundle, sort), config={"displaylogo": False})),
    ])


def swimmer(bundle, sort: str) -> dict:
    study = bundle.study
    note = (f"{study.label}. Lanes from infusion to last contact, coloured by the response recorded at each "
            "assessment until the next one.") + ((" " + SIMULATED_NOTE) if study.simulated else "")
    return swimmer_figure(bundle.patients, study.responses, swimmer_order(bundle.patients, sort), note)


@callback(Output("efficacy-swimmer", "figure"), Input("efficacy-sort", "value"), State("efficacy-key", "data"),
          prevent_initial_call=True)
def sort_swimmer(sort, key):
    return swimmer(study_bundle(key["study"], key["version"]), sort)


@callback(Output("efficacy-location", "href"), Input("efficacy-swimmer", "clickData"), State("efficacy-key", "data"),
          prevent_initial_call=True)
def open_lane(click, key):
    """Clicking a lane (or a marker on it) opens that patient."""
    subject = (click or {}).get("points", [{}])[0].get("customdata")
    if not isinstance(subject, str):
        return dash.no_update
    return f"/patients/{subject}?" + urlencode(key)
