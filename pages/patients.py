"""Patients: a searchable, sortable list of every patient (/patients), and one patient's facts, kinetics and clinical
course on one time axis with NCA recomputed live (/patients/<id>)."""
from __future__ import annotations

import logging
import re
from urllib.parse import unquote

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, dcc, html

from analysis.nca import NCAOptions
from analysis.nca.options import AUC_METHOD_LABELS, AUC_METHODS, BLQ_RULE_LABELS, BLQ_RULES
from analysis.views.patients import LIST_WINDOW, patient_list, patient_view
from analysis.views.reproduce import nca_table
from components.deck import DeckTable
from components.figures import graph, graph_id, loading
from components.frame import on_screen, screen
from components.kinetics import nca_method_note
from components.layout import card, notice, page_header, page_root, reproduce_panel
from components.patient import (
    DAY_RANGES,
    adverse_events_frame,
    facts_frame,
    kinetics_figure,
    kinetics_summary,
    kinetics_title,
    model_fit_frame,
    model_fit_note,
    patient_facts,
    patient_header,
    patient_list_columns,
    patient_list_frame,
    patient_list_rows,
    patient_picker,
    summary_frames,
)
from components.report import patient_report_html
from components.text import patient_href, shorten
from data_access.catalogue import DEFAULT, specimen_label
from data_access.choices import ChoiceError, record_choice
from pages._auth import audit, client_address, current_user
from pages._context import (
    WINDOW_ERROR,
    PageContext,
    cohort_ck,
    cohort_nca,
    context_from_state,
    first,
    one_of,
    page_context,
    parse_window,
    single_values,
    study_choices,
    with_choices,
)
from pages._exports import ExportFigure, changed_state, page_state, page_state_id, register_exports

PAGE = "patients"
dash.register_page(__name__, path="/patients", path_template="/patients/<subject_id>", name="Patients", order=1,
                   title="Patients · CARTscope")

DEFAULTS = {"start": "0", "end": "28", "method": "linuplogdown", "blq": "pknca", "days": "all", "panels": "",
            "fit": ""}
#: The profile the model is fitted to on this page.
MODEL_PROFILE = ("car_copies", "PB")


class ID:
    START = "patient-auc-start"
    END = "patient-auc-end"
    METHOD = "patient-auc-method"
    BLQ = "patient-blq"
    DAYS = "patient-days"
    PANELS = "patient-panels"
    FIT = "patient-model-fit"
    # the analyst's NCA choices: ids start with nca-choice- (pages/_auth: saving them needs the analyst's role)
    SELECTION = "nca-choice-selection"
    SELECTED = "nca-choice-selected"
    REASON = "nca-choice-reason"
    LAMBDA_Z = "nca-choice-lambda-z"
    AUTOMATIC = "nca-choice-automatic"
    EXCLUDE = "nca-choice-exclude"
    INCLUDE = "nca-choice-include"
    MESSAGE = "nca-choice-message"
    REVISION = "nca-choice-revision"
    REPRODUCE = "patient-reproduce"
    ERROR = "patient-options-error"
    SUMMARY = "patient-summary"
    SUMMARY_TABLE = "patient-summary-table"
    FACTS = "patient-facts"
    FIGURE = "patient-kinetics"
    REPORT = "patient-report"
    REPORT_STATUS = "patient-report-status"
    REPORT_DOWNLOAD = "patient-report-download"
    LOCATION = "patient-location"
    SELECT = "patient-select"
    PREVIOUS = "patient-prev"
    NEXT = "patient-next"
    LIST = "patient-list"
    SEARCH = "patient-list-search"


def clean_state(raw: dict) -> tuple[dict, str | None]:
    """URL query / control values -> a valid state (strings, as in the URL), and a message when the AUC window
    was not start < end (the default window is used instead)."""
    state = dict(DEFAULTS)
    for key, allowed in (("method", AUC_METHODS), ("blq", BLQ_RULES), ("days", DAY_RANGES)):
        if one_of(raw.get(key), allowed):
            state[key] = raw[key]
    fit = raw.get("fit")
    if isinstance(fit, list):  # the checklist's value
        fit = "on" if "on" in fit else ""
    state["fit"] = "on" if fit == "on" else ""
    panels = raw.get("panels")
    if isinstance(panels, list):  # from the control; the URL keeps a comma-separated list
        panels = ",".join(str(p) for p in panels)
    if isinstance(panels, str):
        state["panels"] = ",".join(p for p in panels.split(",") if p.replace("_", "").replace("-", "").isalnum())
    return state, parse_window(raw, state)


def method_note(view) -> str:
    start, end = view.window
    return nca_method_note(start, end, view.options.auc_method, view.options.blq)


def options_of(state: dict) -> NCAOptions:
    return NCAOptions(intervals=((float(state["start"]), float(state["end"])),), auc_method=state["method"],
                      blq=state["blq"])


def view_of(context: PageContext, state: dict):
    panels = [p for p in state.get("panels", "").split(",") if p]
    options = with_choices(options_of(state), study_choices(context))
    ck = None
    if state.get("fit") == "on" and set(MODEL_PROFILE[:1]) <= set(context.study.measurements["analyte"]):
        ck = cohort_ck(context, *MODEL_PROFILE)
    return patient_view(context.data, state["_subject"], options, panels, ck)


def layout(subject_id: str | None = None, study: str | None = None, version: str | None = None,
           slide: str | None = None, **query):
    context, problem = page_context(study, version, slide)
    if problem is not None:
        return problem
    subject_id, query = first(subject_id), single_values(query)
    if subject_id is not None:
        subject_id = unquote(subject_id)  # the path's segment, as patient_href encoded it
    if subject_id is None:
        return list_layout(context)
    ids = context.data.patients["subject_id"].tolist()
    if subject_id not in ids:
        return page_root([page_header("Patient"), notice(
            "No such patient", [f"There is no patient '{shorten(subject_id)}' in {context.label}. ",
                                dcc.Link("See the list of patients", href=f"/patients{context.query()}"),
                                f" ({len(ids)} patients)."], kind="warning")], context.slide, context.notes)
    state, error = clean_state(query)
    if error:
        error = (f"The link's AUC window (day {query.get('start')} to {query.get('end')}) needs a start day before "
                 f"its end day; showing day {state['start']} to {state['end']}.")
    state["_subject"] = subject_id
    audit("patient view", study=context.name, subject_id=subject_id, version=context.version)
    view = view_of(context, state)
    canvas = context.canvas()
    return page_root([
        page_state(PAGE, {**context.params(), **state}),
        dcc.Download(id=ID.REPORT_DOWNLOAD),
        dcc.Location(id=ID.LOCATION, refresh="callback-nav"),
        html.Div(className="cs-page-top", children=[
            page_header(f"Patient {shorten(subject_id)}",
                        f"{context.label} · {view.position + 1} of {len(ids)} patients", context.simulated),
            patient_picker(view, context.query(), ID.SELECT, ID.PREVIOUS, ID.NEXT),
        ]),
        patient_header(view, ID.FACTS),
        card("Kinetics", html.Div(className="cs-controls", children=[
            html.Label(["AUC from day ", dcc.Input(id=ID.START, type="number", value=float(state["start"]),
                                                   debounce=True, className="cs-input cs-input-day")]),
            html.Label([" to day ", dcc.Input(id=ID.END, type="number", value=float(state["end"]), debounce=True,
                                              className="cs-input cs-input-day")]),
            dcc.RadioItems(id=ID.METHOD, value=state["method"], inline=True, className="cs-radio",
                           options=[{"label": AUC_METHOD_LABELS[m].lower(), "value": m} for m in AUC_METHODS]),
            html.Label(["BLQ rule ", dcc.Dropdown(id=ID.BLQ, value=state["blq"], clearable=False, searchable=False,
                                                   options=[{"label": BLQ_RULE_LABELS[k], "value": k, "title": v}
                                                            for k, v in BLQ_RULES.items()],
                                                   className="cs-blq-select")]),
            html.Span(error or "", id=ID.ERROR, className="cs-error"),
        ]), html.Div(className="cs-controls", children=[
            html.Span("Show ", className="cs-muted"),
            dcc.RadioItems(id=ID.DAYS, value=state["days"], inline=True, className="cs-radio",
                           options=[{"label": label, "value": key} for key, (label, _) in DAY_RANGES.items()]),
            html.Label(["Panels ", dcc.Dropdown(id=ID.PANELS, value=[p.key for p in view.panels], multi=True,
                                                clearable=False, searchable=False, className="cs-panels-select",
                                                options=[{"label": f"{p.label} ({p.unit})", "value": p.key}
                                                         for p in view.available_panels])]),
            dcc.Checklist(id=ID.FIT, value=["on"] if state["fit"] == "on" else [], className="cs-radio",
                          options=[{"label": " Model fit (blood transgene)", "value": "on"}]),
            html.Button("Download patient report (HTML)", id=ID.REPORT, className="cs-button cs-button-secondary"),
            html.Span(id=ID.REPORT_STATUS, className="cs-error", role="status"),
        ]), choices_controls(), loading(html.Div(kinetics_summary(view, ID.SUMMARY_TABLE), id=ID.SUMMARY)),
            html.Div(graph(PAGE, "kinetics", kinetics_figure(view, context.note, canvas, state["days"]), canvas,
                           kinetics_title(view)), id=ID.FIGURE),
            card_id="patient-kinetics-card"),
        card("Reproduce", html.Div(reproduce_block(context, state), id=ID.REPRODUCE)),
    ], context.slide, context.notes)


def reproduce_block(context: PageContext, state: dict) -> html.Details:
    """The blood transgene NCA of this patient, as the summary's first table shows it."""
    analyte, specimen = MODEL_PROFILE
    return reproduce_panel(*nca_table(context.name, context.version, analyte, specimen, float(state["start"]),
                                      float(state["end"]), state["method"], state["blq"],
                                      bool(study_choices(context)), subject_id=state["_subject"]),
                           "patient-reproduce-panel", "this patient's blood transgene NCA")


@callback(Output(ID.REPRODUCE, "children"), Input(page_state_id(PAGE), "data"),
          Input(ID.REVISION, "data"), prevent_initial_call=True)
def update_reproduce(state, _revision):
    context = context_from_state(state)
    if not state.get("_subject"):
        return dash.no_update
    return reproduce_block(context, {**state, **clean_state(state)[0]})


def choices_controls() -> html.Div:
    """Click samples in the figure to select them; then use them as the lambda-z points of their profile, or leave
    them out of the NCA (a reason is needed either way), or undo."""
    return html.Div(className="cs-controls cs-nca-choices", children=[
        dcc.Store(id=ID.SELECTION, data={}), dcc.Store(id=ID.REVISION, data={"n": 0}),
        html.Span("Click samples in the figure to select them.", id=ID.SELECTED, className="cs-muted"),
        dcc.Input(id=ID.REASON, type="text", placeholder="Reason (needed to leave out or choose λz points)",
                  maxLength=500, className="cs-input cs-input-reason", debounce=False),
        html.Button("Use as λz points", id=ID.LAMBDA_Z, className="cs-button cs-button-secondary"),
        html.Button("Automatic λz", id=ID.AUTOMATIC, className="cs-button cs-button-secondary"),
        html.Button("Leave out of NCA", id=ID.EXCLUDE, className="cs-button cs-button-secondary"),
        html.Button("Put back", id=ID.INCLUDE, className="cs-button cs-button-secondary"),
        html.Span(id=ID.MESSAGE, className="cs-error", role="status"),
    ])


def list_layout(context: PageContext) -> html.Div:
    table = patient_list(context.data, cohort_nca(context, *LIST_WINDOW))
    return page_root([
        page_state(PAGE, {**context.params(), "_subject": ""}),
        dcc.Location(id=ID.LOCATION, refresh="callback-nav"),
        page_header("Patients", f"{context.label} · {len(table)} patients · search, sort, click a row to open",
                    context.simulated),
        card("Every patient", html.Div(className="cs-form-row", children=[
            dcc.Input(id=ID.SEARCH, type="search", placeholder="Search: id, dose, response, status …",
                      debounce=False, className="cs-input"),
            html.Span(f"Cmax and AUC: CAR transgene in blood ({DEFAULT.unit('car_copies')}); PFS and OS in days "
                      "since infusion.", className="cs-muted"),
        ]), dag.AgGrid(id=ID.LIST, rowData=patient_list_rows(table, context.query()), columnDefs=patient_list_columns(),
                       defaultColDef={"sortable": True, "filter": True, "resizable": True, "wrapHeaderText": True,
                                      "autoHeaderHeight": True},
                       getRowId="params.data.id",
                       dashGridOptions={"pagination": True, "paginationPageSize": 25, "animateRows": False,
                                        "paginationPageSizeSelector": [25, 50, 100],
                                        "rowStyle": {"cursor": "pointer"}, "domLayout": "autoHeight"},
                       style={"width": "100%"})),
    ], context.slide, context.notes)


@callback(Output(ID.LIST, "dashGridOptions"), Input(ID.SEARCH, "value"), State(ID.LIST, "dashGridOptions"),
          prevent_initial_call=True)
def search_patients(text, options):
    return {**(options or {}), "quickFilterText": text or ""}


@callback(Output(ID.LOCATION, "href", allow_duplicate=True), Input(ID.LIST, "cellClicked"),
          State(page_state_id(PAGE), "data"), prevent_initial_call=True)
def open_from_list(cell, state):
    """A click on any cell of a row opens that patient (rows are identified by the patient)."""
    subject = cell.get("rowId") if isinstance(cell, dict) else None
    if not isinstance(subject, str) or not subject:
        return dash.no_update
    return patient_href(subject, context_from_state(state).query())


@callback(
    Output(graph_id(PAGE, "kinetics"), "figure"), Output(ID.SUMMARY, "children"), Output(ID.ERROR, "children"),
    Output(page_state_id(PAGE), "data"),
    Input(ID.START, "value"), Input(ID.END, "value"), Input(ID.METHOD, "value"), Input(ID.BLQ, "value"),
    Input(ID.DAYS, "value"), Input(ID.PANELS, "value"), Input(ID.FIT, "value"), Input(ID.REVISION, "data"),
    State(page_state_id(PAGE), "data"), prevent_initial_call=True,
)
def update_kinetics(start, end, method, blq, days, panels, fit, _revision, previous):
    """Recompute this patient's NCA for a new AUC window, AUC method or BLQ rule; show another day range or
    other analyte panels; show or hide the model fit."""
    state, error = clean_state({"start": "" if start is None else start, "end": "" if end is None else end,
                                "method": method, "blq": blq, "days": days, "panels": panels or [],
                                "fit": fit or []})
    if error or start is None or end is None:
        return dash.no_update, dash.no_update, WINDOW_ERROR, dash.no_update
    state = changed_state(previous, **state)
    context = context_from_state(state)
    view = view_of(context, state)
    canvas = context.canvas()
    return (on_screen(kinetics_figure(view, context.note, canvas, state["days"]), canvas),
            kinetics_summary(view, ID.SUMMARY_TABLE), "", state)


@callback(Output(ID.SELECTION, "data"), Output(ID.SELECTED, "children"),
          Input(graph_id(PAGE, "kinetics"), "clickData"), State(ID.SELECTION, "data"), prevent_initial_call=True)
def select_sample(click, selection):
    """A click on a sample adds it to the selection (on another profile: starts a new one); a second click on it
    takes it out."""
    selection = toggle_sample(selection, click)
    return selection, selection_text(selection)


@callback(Output(ID.REVISION, "data"), Output(ID.MESSAGE, "children"), Output(ID.SELECTION, "data",
                                                                              allow_duplicate=True),
          Output(ID.SELECTED, "children", allow_duplicate=True),
          Input(ID.LAMBDA_Z, "n_clicks"), Input(ID.AUTOMATIC, "n_clicks"), Input(ID.EXCLUDE, "n_clicks"),
          Input(ID.INCLUDE, "n_clicks"), State(ID.SELECTION, "data"), State(ID.REASON, "value"),
          State(ID.REVISION, "data"), State(page_state_id(PAGE), "data"), prevent_initial_call=True)
def save_choice(_lambda_z, _automatic, _exclude, _include, selection, reason, revision, state):
    """Record the analyst's choice for the selected samples (who, when, why; data_access/choices.py), then let the
    summary and the figure recompute."""
    context = context_from_state(state)
    action = {ID.LAMBDA_Z: "lambda_z", ID.AUTOMATIC: "lambda_z_auto", ID.EXCLUDE: "exclude",
              ID.INCLUDE: "include"}[dash.ctx.triggered_id]
    try:
        said = record_selection(context, state.get("_subject"), clean_selection(selection),
                                action, reason if isinstance(reason, str) else "")
    except ChoiceError as error:
        return dash.no_update, str(error), dash.no_update, dash.no_update
    return {"n": (revision or {}).get("n", 0) + 1}, said, {}, "Click samples in the figure to select them."


@callback(Output(ID.REPORT_DOWNLOAD, "data"), Output(ID.REPORT_STATUS, "children"), Input(ID.REPORT, "n_clicks"),
          State(page_state_id(PAGE), "data"), running=[(Output(ID.REPORT, "disabled"), True, False)],
          prevent_initial_call=True)
def download_report(_clicks, state):
    """One self-contained HTML file: header, kinetics summary and the interactive panels (works offline); or a
    message saying it could not be made (never a download that silently does not come)."""
    context = context_from_state(state)
    try:
        view = view_of(context, {**state, **clean_state(state)[0]})
        report = patient_report_html(
            f"Patient {view.subject_id}", f"{context.label} · {method_note(view)}",
            patient_facts(view), [(view.catalogue.label(a), f) for a, f in summary_frames(view)],
            kinetics_figure(view, context.note, screen(), state.get("days", "all")),
            context.note if context.simulated else None)
    except Exception:
        logging.getLogger(__name__).exception("Patient report for %r failed", state.get("_subject"))
        return dash.no_update, "The report could not be made (the error is in the server log)."
    return dcc.send_string(report, report_file_name(view.subject_id), type="text/html"), ""


def toggle_sample(selection: dict | None, click: dict | None) -> dict:
    """The selection after a click on the figure: {analyte, specimen, days}. Only samples (points whose trace
    carries the analyte and specimen) count."""
    selection = dict(selection) if isinstance(selection, dict) else {}
    points = click.get("points") if isinstance(click, dict) else None
    point = points[0] if isinstance(points, list) and points and isinstance(points[0], dict) else {}
    data = point.get("customdata")
    day = point.get("x")
    if not (isinstance(data, list) and len(data) >= 4 and isinstance(day, int | float) and not isinstance(day, bool)
            and all(isinstance(v, str) for v in data[2:4])):
        return selection
    if not isinstance(selection.get("days"), list):
        selection = {}
    analyte, specimen, day = str(data[2]), str(data[3]), float(point["x"])
    if (selection.get("analyte"), selection.get("specimen")) != (analyte, specimen):
        selection = {"analyte": analyte, "specimen": specimen, "days": []}
    days = set(selection.get("days", []))
    days ^= {day}
    selection["days"] = sorted(days)
    return selection


def clean_selection(selection) -> dict:
    """A selection as the page keeps it ({analyte, specimen, days}), or {} for anything else a request sends."""
    if not isinstance(selection, dict):
        return {}
    analyte, specimen, days = selection.get("analyte"), selection.get("specimen"), selection.get("days")
    if not (isinstance(analyte, str) and isinstance(specimen, str) and isinstance(days, list)
            and all(isinstance(d, int | float) and not isinstance(d, bool) for d in days)):
        return {}
    return {"analyte": analyte, "specimen": specimen, "days": sorted({float(d) for d in days})}


def selection_text(selection: dict) -> str:
    if not selection.get("days"):
        return "Click samples in the figure to select them."
    label = DEFAULT.label(selection["analyte"])
    return (f"Selected: {label}, {specimen_label(selection['specimen']).lower()}, day "
            + ", ".join(f"{d:g}" for d in selection["days"]))


def record_selection(context: PageContext, subject_id: str, selection: dict, action: str, reason: str | None) -> str:
    """Store one choice per selected sample (leave out, put back) or one for the profile (lambda-z points,
    automatic); returns what was done, in words. ChoiceError says what is missing."""
    if not subject_id:
        raise ChoiceError("open a patient first")
    if action != "lambda_z_auto" and not selection.get("days"):
        raise ChoiceError("select samples first: click them in the figure")
    analyte, specimen = selection.get("analyte"), selection.get("specimen")
    if action == "lambda_z_auto" and not analyte:
        analyte, specimen = "car_copies", "PB"
    user, client = current_user().name, client_address()
    common = dict(reason=reason or "", user=user, client=client)
    if action in ("lambda_z", "lambda_z_auto"):
        record_choice(context.name, context.version, subject_id, analyte, specimen, action,
                      days=selection.get("days"), **common)
        return ("λz from the chosen points" if action == "lambda_z" else "λz chosen automatically again") + "."
    for day in selection["days"]:
        record_choice(context.name, context.version, subject_id, analyte, specimen, action, day=day, **common)
    n = len(selection["days"])
    return f"{n} sample{'s' if n > 1 else ''} {'left out of' if action == 'exclude' else 'put back into'} the NCA."


def report_file_name(subject_id: str) -> str:
    """'patient_DM-001_report.html': the id in ASCII letters, digits, '.', '_' and '-' (others become '_'), cut to
    60 characters, so any browser and file system can save it."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(subject_id)).strip("_.")[:60] or "unnamed"
    return f"patient_{safe}_report.html"


@callback(Output(ID.LOCATION, "href"), Input(ID.SELECT, "value"), State(page_state_id(PAGE), "data"),
          prevent_initial_call=True)
def open_patient(subject_id, state):
    if not subject_id or subject_id == state.get("_subject"):
        return dash.no_update
    return patient_href(subject_id, context_from_state(state).query())


def figures(context: PageContext, state: dict, canvas, for_deck: bool) -> list[ExportFigure]:
    if not state.get("_subject"):
        return []
    clean, _ = clean_state(state)
    state = {**state, **clean}
    view = view_of(context, state)
    return [ExportFigure("kinetics", kinetics_title(view), kinetics_figure(view, context.note, canvas,
                                                                           state["days"]))]


def tables(context: PageContext, state: dict) -> list[DeckTable]:
    if not state.get("_subject"):
        rows = patient_list_rows(patient_list(context.data, cohort_nca(context, *LIST_WINDOW)), "")
        return [DeckTable("Every patient", patient_list_frame(rows),
                          [f"Cmax and AUC day 0–28: CAR transgene in blood ({DEFAULT.unit('car_copies')}).",
                           context.note])]
    clean, _ = clean_state(state)
    state = {**state, **clean}
    view = view_of(context, state)
    method = method_note(view)
    out = [DeckTable(f"Patient {view.subject_id}: facts", facts_frame(view), [context.note])]
    out += [DeckTable(f"Patient {view.subject_id}: {view.catalogue.label(a)} NCA", f.drop(columns="_id"),
                      [method, context.note]) for a, f in summary_frames(view)]
    if view.model_fit is not None and view.model_fit.fit.fitted:
        fit = view.model_fit
        out.append(DeckTable(f"Patient {view.subject_id}: model fit", model_fit_frame(
            fit, view.catalogue.unit(fit.analyte)), [model_fit_note(fit, view.catalogue), context.note]))
    if len(view.adverse_events):
        out.append(DeckTable(f"Patient {view.subject_id}: adverse events", adverse_events_frame(view),
                             ["CTCAE v5; CRS and ICANS by ASTCT; days since CAR-T infusion.", context.note]))
    return out


register_exports(PAGE, "patients", figures, tables)
