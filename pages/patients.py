"""Patient page: one patient's facts and kinetics on one time axis, with NCA recomputed live."""
from __future__ import annotations

from urllib.parse import urlencode

import dash
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from analysis.nca import NCAOptionError, NCAOptions
from analysis.nca.engine import curves, run_nca
from analysis.nca.options import AUC_METHODS, BLQ_RULES
from components.figures import graph, graph_id, present
from components.layout import SIMULATED_NOTE, card, notice, page_header
from components.patient import (
    kinetics_figure,
    kinetics_summary,
    nca_footnote,
    patient_facts,
    patient_header,
    patient_picker,
    summary_frame,
    x_range_for,
)
from components.report import patient_report_html
from pages._exports import slide_note
from pages._study import PUSH_QUERY_JS, load_selected, study_bundle, study_query

dash.register_page(__name__, path="/patients", path_template="/patients/<subject_id>", name="Patients", order=1,
                   title="Patient · CARTscope")

DEFAULTS = {"start": 0.0, "end": 28.0, "method": "linuplogdown", "blq": "pknca"}


def patient_view(bundle, subject_id: str, start: float, end: float, method: str, blq: str, full: bool = False):
    """Everything the page shows for one patient and one set of NCA options: (figure, summary); with `full`
    also the NCA parameters."""
    study = bundle.study
    rows = bundle.measurements_by_subject.get(subject_id, study.measurements.iloc[:0])
    options = NCAOptions(intervals=((start, end),), auc_method=method, blq=blq)
    params = run_nca(rows, options)
    facts = bundle.patients.set_index("subject_id").loc[subject_id]
    clinical = {"responses": study.responses[study.responses["subject_id"] == subject_id],
                "adverse_events": study.adverse_events[study.adverse_events["subject_id"] == subject_id],
                "last_contact_day": float(facts["last_contact_day"]), "death_day": facts["death_day"],
                "progression_day": facts["progression_day"]}
    figure = kinetics_figure(rows, params, curves(rows, options), (start, end),
                             x_range_for(rows, facts["last_contact_day"]),
                             nca_footnote(f"{study.label}, patient {subject_id}", study.simulated, method, blq),
                             clinical)
    summary = kinetics_summary(params, (start, end), options.interval_names[0])
    return (figure, summary, params, options) if full else (figure, summary)


def _number(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def layout(subject_id: str | None = None, study: str | None = None, version: str | None = None, start=None,
           end=None, method=None, blq=None, slide=None, **_):
    selected, problem = load_selected(study, version)
    if problem is not None:
        return problem
    bundle = study_bundle(selected.name, selected.version)
    ids = bundle.patients["subject_id"].tolist()
    query = study_query(f"?{urlencode({k: v for k, v in (('study', study), ('version', version)) if v})}")
    if subject_id is None:
        subject_id = ids[0]
    if subject_id not in ids:
        return html.Div([page_header("Patient"), notice(
            "No such patient", [f"There is no patient '{subject_id}' in {selected.label}. Patients: ",
                                *_patient_links(ids, query)], kind="warning")])
    start, end = _number(start, DEFAULTS["start"]), _number(end, DEFAULTS["end"])
    method = method if method in AUC_METHODS else DEFAULTS["method"]
    blq = blq if blq in BLQ_RULES else DEFAULTS["blq"]
    try:
        figure, summary = patient_view(bundle, subject_id, start, end, method, blq)
    except NCAOptionError:
        start, end = DEFAULTS["start"], DEFAULTS["end"]
        figure, summary = patient_view(bundle, subject_id, start, end, method, blq)
    position = ids.index(subject_id)
    prev_href = f"/patients/{ids[position - 1]}{query}" if position > 0 else None
    next_href = f"/patients/{ids[position + 1]}{query}" if position < len(ids) - 1 else None
    covariates = selected.covariate_columns
    note = slide_note(f"?study={selected.name}&version={selected.version}") if slide == "1" else None
    return html.Div([
        dcc.Store(id="patient-key", data={"study": selected.name, "version": selected.version,
                                          "subject_id": subject_id, "query": query, "slide_note": note}),
        dcc.Download(id="patient-report-download"),
        dcc.Location(id="patient-location", refresh="callback-nav"),
        html.Div(className="cs-page-top", children=[
            page_header(f"Patient {subject_id}", f"{selected.label} · {position + 1} of {len(ids)} patients",
                        selected.simulated),
            patient_picker(ids, subject_id, prev_href, next_href),
        ]),
        patient_header(bundle.patients.set_index("subject_id").loc[subject_id].rename(subject_id), covariates),
        card("Kinetics", html.Div(className="cs-controls", children=[
            html.Label(["AUC from day ", dcc.Input(id="patient-auc-start", type="number", value=start, debounce=True,
                                                    className="cs-input cs-input-day")]),
            html.Label([" to day ", dcc.Input(id="patient-auc-end", type="number", value=end, debounce=True,
                                              className="cs-input cs-input-day")]),
            dcc.RadioItems(id="patient-auc-method", value=method, inline=True, className="cs-radio",
                           options=[{"label": "linear-up/log-down", "value": "linuplogdown"},
                                    {"label": "linear", "value": "linear"}]),
            html.Label(["BLQ rule ", dcc.Dropdown(id="patient-blq", value=blq, clearable=False, searchable=False,
                                                   options=[{"label": k, "value": k, "title": v}
                                                            for k, v in BLQ_RULES.items()],
                                                   className="cs-blq-select")]),
            html.Span(id="patient-options-error", className="cs-error"),
            html.Button("Download patient report (HTML)", id="patient-report", className="cs-button "
                        "cs-button-secondary"),
        ]), html.Div(summary, id="patient-summary"),
            html.Div(graph("patients", "kinetics", present(figure, note), f"Patient {subject_id} kinetics"),
                     id="patient-kinetics"),
            card_id="patient-kinetics-card"),
        dcc.Store(id="patient-url-state"), html.Span(id="patient-url-sink", hidden=True),
    ])


def _patient_links(ids: list[str], query: str) -> list:
    links = []
    for i, sid in enumerate(ids):
        links += [", " if i else "", dcc.Link(sid, href=f"/patients/{sid}{query}")]
    return links


@callback(
    Output(graph_id("patients", "kinetics"), "figure"), Output("patient-summary", "children"),
    Output("patient-options-error", "children"), Output("patient-url-state", "data"),
    Input("patient-auc-start", "value"), Input("patient-auc-end", "value"), Input("patient-auc-method", "value"),
    Input("patient-blq", "value"), State("patient-key", "data"), prevent_initial_call=True,
)
def update_kinetics(start, end, method, blq, key):
    """Recompute this patient's NCA for a new AUC window, AUC method or BLQ rule."""
    try:
        figure, summary = patient_view(study_bundle(key["study"], key["version"]), key["subject_id"],
                                       float(start), float(end), method, blq)
    except (TypeError, ValueError, NCAOptionError):
        return dash.no_update, dash.no_update, "The AUC window needs a start day before its end day.", dash.no_update
    query = {"study": key["study"], "version": key["version"], "start": f"{float(start):g}",
             "end": f"{float(end):g}", "method": method, "blq": blq,
             **({"slide": "1"} if key.get("slide_note") is not None else {})}
    return present(figure, key.get("slide_note")), summary, "", "?" + urlencode(query)


@callback(Output("patient-report-download", "data"), Input("patient-report", "n_clicks"),
          State("patient-auc-start", "value"), State("patient-auc-end", "value"),
          State("patient-auc-method", "value"), State("patient-blq", "value"), State("patient-key", "data"),
          running=[(Output("patient-report", "disabled"), True, False)], prevent_initial_call=True)
def download_report(_clicks, start, end, method, blq, key):
    """One self-contained HTML file: header, kinetics summary and the interactive panels (works offline)."""
    bundle = study_bundle(key["study"], key["version"])
    try:
        start, end = float(start), float(end)
        figure, _, params, options = patient_view(bundle, key["subject_id"], start, end, method, blq, full=True)
    except (TypeError, ValueError, NCAOptionError):
        figure, _, params, options = patient_view(bundle, key["subject_id"], 0.0, 28.0, method, blq, full=True)
        start, end = 0.0, 28.0
    row = bundle.patients.set_index("subject_id").loc[key["subject_id"]]
    study = bundle.study
    report = patient_report_html(
        f"Patient {key['subject_id']}", f"{study.label} · kinetics with AUC day {start:g}–{end:g}, {method}, "
                                        f"BLQ rule {blq}", patient_facts(row, study.covariate_columns),
        summary_frame(params, (start, end), options.interval_names[0]), "", figure,
        SIMULATED_NOTE if study.simulated else None)
    return dcc.send_string(report, f"patient_{key['subject_id']}_report.html", type="text/html")


@callback(Output("patient-location", "href"), Input("patient-select", "value"), State("patient-key", "data"),
          prevent_initial_call=True)
def open_patient(subject_id, key):
    if not subject_id or subject_id == key["subject_id"]:
        return dash.no_update
    return f"/patients/{subject_id}{key['query']}"


clientside_callback(PUSH_QUERY_JS, Output("patient-url-sink", "children"), Input("patient-url-state", "data"),
                    prevent_initial_call=True)
