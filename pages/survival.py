"""Survival: PFS, OS and duration of response by Kaplan-Meier, optionally by dose level with a log-rank test."""
from __future__ import annotations

from urllib.parse import urlencode

import dash
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from analysis.groups import ordered_dose_levels
from analysis.survival import ENDPOINTS, kaplan_meier, logrank, number_at_risk, time_to_event
from components.figures import graph, graph_id, present, table_store
from components.layout import SIMULATED_NOTE, card, page_header
from components.survival import DAYS_PER_MONTH, MONTH_TICKS, km_figure, km_table
from components.theme import OKABE_ITO, dose_colors
from pages._exports import slide_note
from pages._study import PUSH_QUERY_JS, load_selected, study_bundle

dash.register_page(__name__, path="/survival", name="Survival", order=5, title="Survival · CARTscope")

DEFINITIONS = {
    "PFS": ("Progression-free survival", "from infusion to first progression (IMWG PD) or death; censored at the "
            "last response assessment"),
    "OS": ("Overall survival", "from infusion to death from any cause; censored at last contact"),
    "DOR": ("Duration of response", "among responders (PR or better), from first response to progression or "
            "death; censored at the last response assessment"),
}


def survival_view(study, endpoint: str, by_dose: bool) -> tuple[dict, tuple]:
    tte = time_to_event(study.subjects, study.responses)
    data = tte[tte["endpoint"] == endpoint]
    dose = data["subject_id"].map(study.subjects.set_index("subject_id")["dose_level"])
    groups = [("All patients", data)] if not by_dose else [(d, data[dose == d]) for d in ordered_dose_levels(dose)]
    estimates = [kaplan_meier(g["time_days"], g["event"], label) for label, g in groups if len(g)]
    colors = {"All patients": OKABE_ITO[0]} if not by_dose else dose_colors([e.label for e in estimates])
    at_risk = {e.label: number_at_risk(g["time_days"], [m * DAYS_PER_MONTH for m in MONTH_TICKS])
               for e, (_, g) in zip(estimates, [x for x in groups if len(x[1])], strict=True)}
    name, definition = DEFINITIONS[endpoint]
    note = (f"{study.label}. {name}: {definition}.<br>Kaplan-Meier estimates; shaded: 95% CI (log-log); "
            "ticks: censored; NR: not reached; NE: not estimable.")
    title = name
    if by_dose:
        p = logrank(data["time_days"], data["event"], dose)
        title += f" by dose level (log-rank p = {p:.2g})" if p == p else ""
    note += ("<br>" + SIMULATED_NOTE) if study.simulated else ""
    figure = km_figure(estimates, colors, at_risk, title, f"{name} (%)", note)
    return figure, km_table(estimates)


def layout(study: str | None = None, version: str | None = None, endpoint: str = "PFS", strata: str = "none",
           slide: str | None = None, **_):
    selected, problem = load_selected(study, version)
    if problem is not None:
        return problem
    endpoint = endpoint if endpoint in ENDPOINTS else "PFS"
    by_dose = strata == "dose"
    figure, table = survival_view(study_bundle(selected.name, selected.version).study, endpoint, by_dose)
    key = {"study": selected.name, "version": selected.version}
    note = slide_note("?" + urlencode(key)) if slide == "1" else None
    return html.Div([
        dcc.Store(id="survival-key", data={**key, "slide_note": note}),
        dcc.Store(id="survival-url-state"), html.Span(id="survival-url-sink", hidden=True),
        page_header("Survival", f"{selected.label} · PFS, OS and duration of response", selected.simulated),
        card("Kaplan-Meier", html.Div(className="cs-controls", children=[
            dcc.RadioItems(id="survival-endpoint", value=endpoint, inline=True, className="cs-radio",
                           options=[{"label": DEFINITIONS[e][0], "value": e} for e in ENDPOINTS]),
            dcc.Checklist(id="survival-strata", value=["dose"] if by_dose else [], inline=True, className="cs-radio",
                          options=[{"label": "by dose level (log-rank test)", "value": "dose"}]),
        ]), html.Div(graph("survival", "km", figure, DEFINITIONS[endpoint][0], note), id="survival-figure"),
            html.Div(table[0], id="survival-summary"), table_store("survival", "km", "Kaplan-Meier summary", table[1])),
    ])


@callback(Output(graph_id("survival", "km"), "figure"), Output("survival-summary", "children"),
          Output({"type": "cs-table", "page": "survival", "name": "km"}, "data"),
          Output({"type": "cs-graph-title", "page": "survival", "name": "km"}, "data"),
          Output("survival-url-state", "data"), Input("survival-endpoint", "value"),
          Input("survival-strata", "value"), State("survival-key", "data"), prevent_initial_call=True)
def update_survival(endpoint, strata, key):
    by_dose = "dose" in (strata or [])
    figure, table = survival_view(study_bundle(key["study"], key["version"]).study, endpoint, by_dose)
    query = {"study": key["study"], "version": key["version"], "endpoint": endpoint,
             "strata": "dose" if by_dose else "none", **({"slide": "1"} if key["slide_note"] is not None else {})}
    return (present(figure, key["slide_note"]), table[0], table_store("survival", "km", "Kaplan-Meier summary",
                                                                       table[1]).data,
            DEFINITIONS[endpoint][0], "?" + urlencode(query))


clientside_callback(PUSH_QUERY_JS, Output("survival-url-sink", "children"), Input("survival-url-state", "data"),
                    prevent_initial_call=True)
