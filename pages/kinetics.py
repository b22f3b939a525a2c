"""Cohort kinetics: every patient's profile, NCA table, group summaries and exposure-response; state in the URL."""
from __future__ import annotations

import json

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, dcc, html

import settings
from analysis.kinetics import GROUPINGS
from analysis.nca.cdisc_export import pp_adpp_zip
from analysis.nca.options import AUC_METHOD_LABELS, AUC_METHODS, BLQ_RULE_LABELS, BLQ_RULES
from analysis.views.kinetics import STATISTICS, CohortSettings, cohort_view, reproduce
from components.deck import DeckTable
from components.exports import csv_bytes, excel_bytes
from components.figures import graph, graph_id, loading
from components.frame import on_screen
from components.kinetics import (
    FLOW_TITLE,
    box_figure,
    choices_frame,
    exposure_frame,
    flow_figure,
    grid_columns,
    grid_rows,
    history_frame,
    nca_export_frame,
    nca_method_note,
    nca_text_frame,
    spaghetti_figure,
    spaghetti_title,
    summary_frame,
)
from components.layout import card, page_header, page_root, reproduce_panel, simple_table
from components.text import patient_href
from data_access.catalogue import DEFAULT, specimen_label
from data_access.choices import ChoiceError, current_table, history, named_settings, save_settings, settings_document
from pages._auth import client_address, current_user
from pages._context import (
    PageContext,
    choices_digest,
    clicked_subject,
    context_from_state,
    nca_options,
    nca_with,
    one_of,
    page_context,
    parse_window,
    single_values,
    study_choices,
)
from pages._exports import ExportFigure, changed_state, page_state, page_state_id, register_exports

PAGE = "kinetics"
dash.register_page(__name__, path="/kinetics", name="Kinetics", order=2, title="Kinetics · CARTscope")

DEFAULTS = {"analyte": "car_copies", "specimen": "PB", "group": "dose_level", "display": "colour", "scale": "log",
            "stat": "median", "start": "0", "end": "28", "method": "linuplogdown", "blq": "pknca"}
EXPOSURE = {"by_response": "Exposure by best response", "by_crs": "Exposure by worst CRS grade",
            "il6": "IL-6 peak by worst CRS grade"}


class ID:
    ANALYTE = "kinetics-analyte"
    SPECIMEN = "kinetics-specimen"
    GROUP = "kinetics-group"
    DISPLAY = "kinetics-display"
    SCALE = "kinetics-scale"
    STAT = "kinetics-stat"
    START = "kinetics-start"
    END = "kinetics-end"
    METHOD = "kinetics-method"
    BLQ = "kinetics-blq"
    WINDOW_ERROR = "kinetics-window-error"
    SUMMARY = "kinetics-summary"
    EXPOSURE_TABLE = "kinetics-exposure-table"
    GRID = "kinetics-grid"
    DOWNLOAD = "kinetics-download"
    EXPORT_CSV = "kinetics-export-csv"
    EXPORT_XLSX = "kinetics-export-xlsx"
    EXPORT_XPT = "kinetics-export-xpt"
    SETTINGS_DOWNLOAD = "kinetics-settings-download"
    REPRODUCE = "kinetics-reproduce"
    # named settings: saving needs the analyst's role (pages/_auth: ids starting settings-save)
    SETTINGS_NAME = "settings-save-name"
    SAVE_SETTINGS = "settings-save-button"
    SAVED_MESSAGE = "settings-save-message"
    SETTINGS_LIST = "kinetics-settings-list"
    LOAD_SETTINGS = "kinetics-settings-load"
    LOADED_MESSAGE = "kinetics-settings-loaded"
    EXPORT_SETTINGS = "kinetics-export-settings"
    LOCATION = "kinetics-location"


#: The state keys named settings set (the others: display, scale, statistic, stay as they are).
LOADED = ("analyte", "specimen", "group", "start", "end", "method", "blq")
#: The controls in the order the update callback takes them, and the state key of each.
CONTROLS = (("analyte", ID.ANALYTE), ("specimen", ID.SPECIMEN), ("group", ID.GROUP), ("display", ID.DISPLAY),
            ("scale", ID.SCALE), ("stat", ID.STAT), ("start", ID.START), ("end", ID.END), ("method", ID.METHOD),
            ("blq", ID.BLQ))


def clean_state(raw: dict, profiles: dict[str, list[str]], kind_of=DEFAULT.kind,
                groupings: dict[str, str] = GROUPINGS) -> tuple[dict, str | None]:
    """URL query / control values -> a valid page state (strings, as in the URL; unknown values fall back to the
    defaults), and a message when the AUC window was not start < end (the default window is used instead).
    `profiles`: the study's analytes and their specimens (StudyData.profiles); only those can be chosen. Without a
    scale, the analyte's kind (`kind_of`, the study's catalogue) decides it."""
    state = dict(DEFAULTS)
    if state["analyte"] not in profiles and profiles:
        state["analyte"] = next(iter(profiles))
    for key, allowed in (("analyte", profiles), ("group", groupings), ("display", ("colour", "facet")),
                         ("scale", ("log", "linear")), ("stat", STATISTICS), ("method", AUC_METHODS),
                         ("blq", BLQ_RULES)):
        if one_of(raw.get(key), allowed):
            state[key] = raw[key]
    specimens = profiles.get(state["analyte"]) or [DEFAULTS["specimen"]]
    state["specimen"] = raw["specimen"] if one_of(raw.get("specimen"), specimens) else specimens[0]
    if not one_of(raw.get("scale"), ("log", "linear")):
        state["scale"] = default_scale(kind_of(state["analyte"]))
    return state, parse_window(raw, state)


def default_scale(kind: str) -> str:
    """Tumour burden (plasma cells, M-protein) reads best on a linear axis from 0; levels that span decades on log."""
    return "linear" if kind == "tumour_burden" else "log"


def settings_of(state: dict) -> CohortSettings:
    return CohortSettings(analyte=state["analyte"], specimen=state["specimen"], grouping=state["group"],
                          statistic=state["stat"], start=float(state["start"]), end=float(state["end"]),
                          auc_method=state["method"], blq=state["blq"])


def view_of(context: PageContext, state: dict):
    s = settings_of(state)
    options = nca_options(context, s.start, s.end, s.auc_method, s.blq)
    nca_key = (settings.database_url(), context.name, context.version, s.start, s.end, s.auc_method, s.blq,
               choices_digest(options))
    return cohort_view(context.data, nca_with(context, options), s, nca_key)


def page_figures(context: PageContext, state: dict, view, canvas, half) -> dict[str, dict]:
    """Every figure of the page for one state: spaghetti at full width, the rest in two columns."""
    s = view.settings
    method = nca_method_note(s.start, s.end, s.auc_method, s.blq)
    out = {"spaghetti": spaghetti_figure(view, context.note, canvas, state["display"] == "facet",
                                         state["scale"] == "log")}
    for key, exposure in view.exposure.items():
        grouping = "response_group" if key == "by_response" else "crs_group"
        out[key] = box_figure(exposure.panels, grouping, exposure.title, context.note, half,
                              footnote="" if key == "il6" else method)  # the IL-6 peak is not from a window
    out["flow"] = flow_figure(view, context.note, half)
    return out


def summary_table(view):
    frame = summary_frame(view)
    return simple_table(frame, "kinetics-summary-table", frame.columns[2:])


def exposure_table(view):
    frame = exposure_frame(view)
    return simple_table(frame, ID.EXPOSURE_TABLE, frame.columns[3:])


def summary_note(view) -> str:
    s = view.settings
    return nca_method_note(s.start, s.end, s.auc_method, s.blq) + " Geometric means and CVs are of the values above 0."


def _select(control_id, value, options, class_name="cs-select"):
    return dcc.Dropdown(id=control_id, value=value, clearable=False, searchable=False, options=options,
                        className=class_name)


def _controls(context: PageContext, state: dict, error: str | None) -> html.Div:
    profiles, catalogue = context.data.profiles, context.data.study.catalogue
    return html.Div(className="cs-controls", children=[
        html.Label(["Analyte ", _select(ID.ANALYTE, state["analyte"], [{"label": catalogue.label(a), "value": a}
                                                                        for a in profiles], "cs-select-wide")]),
        html.Label(["Specimen ", _select(ID.SPECIMEN, state["specimen"], specimen_options(profiles, state["analyte"]))
                    ]),
        html.Label(["Group by ", _select(ID.GROUP, state["group"], [{"label": v, "value": k}
                                                                    for k, v in context.data.groupings.items()],
                                                   "cs-select-wide")]),
        dcc.RadioItems(id=ID.DISPLAY, value=state["display"], inline=True, className="cs-radio",
                       options=[{"label": "colour", "value": "colour"}, {"label": "facets", "value": "facet"}]),
        dcc.RadioItems(id=ID.SCALE, value=state["scale"], inline=True, className="cs-radio",
                       options=[{"label": "log", "value": "log"}, {"label": "linear", "value": "linear"}]),
        dcc.RadioItems(id=ID.STAT, value=state["stat"], inline=True, className="cs-radio",
                       options=[{"label": "median + IQR", "value": "median"},
                                {"label": "geo. mean + 90%", "value": "geomean"}]),
        html.Div(className="cs-controls-row", children=[
            html.Label(["AUC from day ", dcc.Input(id=ID.START, type="number", value=float(state["start"]),
                                                   debounce=True, className="cs-input cs-input-day"),
                        " to day ", dcc.Input(id=ID.END, type="number", value=float(state["end"]), debounce=True,
                                              className="cs-input cs-input-day")]),
            dcc.RadioItems(id=ID.METHOD, value=state["method"], inline=True, className="cs-radio",
                           options=[{"label": AUC_METHOD_LABELS[m].lower(), "value": m} for m in AUC_METHODS]),
            html.Label(["BLQ rule ", _select(ID.BLQ, state["blq"], [{"label": BLQ_RULE_LABELS[k], "value": k,
                                                                     "title": v} for k, v in BLQ_RULES.items()],
                                             "cs-blq-select")]),
            html.Span(error or "", id=ID.WINDOW_ERROR, className="cs-error"),
        ]),
    ])


def _graph(name: str, figure: dict, canvas, title: str):
    return html.Div(graph(PAGE, name, figure, canvas, title), id=f"kinetics-{name.replace('_', '-')}")


def layout(study: str | None = None, version: str | None = None, slide: str | None = None, **query):
    context, problem = page_context(study, version, slide)
    if problem is not None:
        return problem
    query = single_values(query)
    state, error = clean_state(query, context.data.profiles, context.study.catalogue.kind,
                               context.data.groupings)
    if error:
        error = (f"The link's AUC window (day {query.get('start')} to {query.get('end')}) needs a start day before "
                 f"its end day; showing day {state['start']} to {state['end']}.")
    view = view_of(context, state)
    canvas, half = context.canvas(), context.canvas(half=True)
    figures = page_figures(context, state, view, canvas, half)
    return page_root([
        page_state(PAGE, {**context.params(), **state}),
        dcc.Location(id=ID.LOCATION, refresh="callback-nav"),
        dcc.Download(id=ID.DOWNLOAD),
        page_header("Cohort kinetics", f"{context.label} · click a line to open that patient", context.simulated),
        card("Profiles", _controls(context, state, error),
             _graph("spaghetti", figures["spaghetti"], canvas, spaghetti_title(view))),
        card("Summary by group", loading(html.Div(summary_table(view),
                                                  id=ID.SUMMARY)),
             html.P(summary_note(view), className="cs-muted", id="kinetics-summary-note")),
        card("NCA of every patient", html.Div(className="cs-form-row", children=[
            html.Button("Download CSV", id=ID.EXPORT_CSV, className="cs-button cs-button-secondary"),
            html.Button("Download Excel", id=ID.EXPORT_XLSX, className="cs-button cs-button-secondary"),
            html.Button("Download PP + ADPP (XPT, zip)", id=ID.EXPORT_XPT, className="cs-button cs-button-secondary",
                        title="CDISC SDTM PP and ADaM ADPP datasets, SAS transport v5 (docs/cdisc.md)"),
            html.Span("Units in the column headers; the download also records the AUC window, method and BLQ rule.",
                      className="cs-muted"),
        ]), html.Div(reproduce_block(context, state), id=ID.REPRODUCE),
            loading(dag.AgGrid(id=ID.GRID, rowData=grid_rows(view, context.query()), columnDefs=grid_columns(view),
                               defaultColDef={"sortable": True, "filter": True, "resizable": True,
                                              "wrapHeaderText": True, "autoHeaderHeight": True},
                               dashGridOptions={"tooltipShowDelay": 300, "pagination": True,
                                                "paginationPageSize": 20, "domLayout": "autoHeight"},
                               style={"width": "100%"}))),
        card("The analyst's NCA choices", choices_block(context, state), card_id="kinetics-choices"),
        card("Exposure and response", html.Div(className="cs-grid-2-even", children=[
            _graph(key, figures[key], half, view.exposure[key].title) for key in EXPOSURE
        ] + [_graph("flow", figures["flow"], half, FLOW_TITLE)]),
            loading(html.Div(exposure_table(view),
                             id="kinetics-exposure"))),
    ], context.slide, context.notes)


def choices_block(context: PageContext, state: dict) -> html.Div:
    """The choices in force for this study version (samples left out, lambda-z points chosen by hand, each with
    its reason) and their whole history: who, when, what, why."""
    chosen = study_choices(context)
    table = current_table(chosen)
    changes = history(context.name, context.version)
    catalogue = context.study.catalogue
    in_force = (simple_table(choices_frame(table, context.query(), catalogue), "kinetics-choices-table")
                if len(table) else
                html.P("None: every NCA uses every sample and PKNCA's automatic lambda-z. Make choices on a patient's "
                       "page (click samples in the figure).", className="cs-muted"))
    return html.Div([
        html.Div(className="cs-form-row", children=[
            html.Button("Download settings (JSON)", id=ID.EXPORT_SETTINGS, className="cs-button cs-button-secondary",
                        title="the choices and this page's NCA options: python -m analysis nca STUDY --settings FILE"),
            html.Span(f"{counted(len(chosen.exclusions), 'sample')} left out, "
                      f"{counted(len(chosen.lambda_z_points), 'profile')} with chosen λz points; applied to every NCA "
                      f"of {context.label}, its exports and, with the settings file, the command line.",
                      className="cs-muted"),
            dcc.Download(id=ID.SETTINGS_DOWNLOAD)]),
        in_force,
        html.Details([html.Summary(f"History ({len(changes)} changes)"),
                      simple_table(history_frame(changes, catalogue), "kinetics-choices-history")])
        if len(changes) else None,
        html.H3("Named settings", className="cs-table-title"),
        html.Div(className="cs-form-row", children=[
            html.Label(["Load ", dcc.Dropdown(id=ID.SETTINGS_LIST, options=settings_options(context),
                                              placeholder="saved settings of this study", clearable=True,
                                              searchable=True, className="cs-select-wide")]),
            html.Button("Load", id=ID.LOAD_SETTINGS, className="cs-button cs-button-secondary"),
            html.Span(id=ID.LOADED_MESSAGE, className="cs-muted", role="status"),
        ]),
        html.Div(className="cs-form-row cs-nca-choices", children=[
            dcc.Input(id=ID.SETTINGS_NAME, type="text", placeholder="Name, e.g. 'primary analysis'", maxLength=100,
                      className="cs-input"),
            html.Button("Save these settings", id=ID.SAVE_SETTINGS, className="cs-button cs-button-secondary",
                        title="the analyte, specimen, grouping, AUC window, method and BLQ rule of this page, and "
                              "the choices in force; shared with everyone who may see this study"),
            html.Span(id=ID.SAVED_MESSAGE, className="cs-error", role="status"),
        ]),
    ])


def settings_options(context: PageContext) -> list[dict]:
    saved = named_settings(context.name)
    return [{"label": f"{n} (saved by {who}, {at:%Y-%m-%d})", "value": n}
            for n, who, at in zip(saved["name"], saved["saved_by"], saved["saved_at"], strict=True)]


def page_settings(context: PageContext, state: dict) -> dict:
    """This page's settings as a settings document: the options the command line reads (intervals, AUC method, BLQ
    rule), the page's own (analyte, specimen, grouping), and the analyst's choices in force."""
    s = settings_of(state)
    return settings_document(study_choices(context), study=context.name, version=context.version, options={
        "intervals": [[s.start, s.end]], "auc_method": s.auc_method, "blq": s.blq, "analyte": s.analyte,
        "specimen": s.specimen, "grouping": s.grouping})


@callback(Output(ID.SAVED_MESSAGE, "children"), Output(ID.SETTINGS_LIST, "options"),
          Input(ID.SAVE_SETTINGS, "n_clicks"), State(ID.SETTINGS_NAME, "value"), State(page_state_id(PAGE), "data"),
          prevent_initial_call=True)
def save_named_settings(_clicks, name, state):
    context = context_from_state(state)
    try:
        save_settings(context.name, name, page_settings(context, state), user=current_user().name,
                      client=client_address())
    except ChoiceError as error:
        return str(error), dash.no_update
    return f"Saved as '{name.strip()}'.", settings_options(context)


@callback(*[Output(control, "value", allow_duplicate=True) for key, control in CONTROLS if key in LOADED],
          Output(ID.LOADED_MESSAGE, "children"), Input(ID.LOAD_SETTINGS, "n_clicks"), State(ID.SETTINGS_LIST, "value"),
          State(page_state_id(PAGE), "data"), prevent_initial_call=True)
def load_named_settings(_clicks, name, state):
    """Put a saved setting's analyte, specimen, grouping, window, method and BLQ rule into the controls (the page
    then updates as for any change). Its choices are the study version's own, already in force."""
    context = context_from_state(state)
    saved = named_settings(context.name)
    row = saved[saved["name"] == name]
    if row.empty:
        return (*[dash.no_update] * len(LOADED), "Choose saved settings first.")
    options = row["document"].iloc[0].get("options", {})
    (start, end), = options.get("intervals", [[state["start"], state["end"]]])[:1]
    wanted = {"analyte": options.get("analyte"), "specimen": options.get("specimen"), "group": options.get("grouping"),
              "start": float(start), "end": float(end), "method": options.get("auc_method"), "blq": options.get("blq")}
    clean, _ = clean_state({k: str(v) if k in ("start", "end") else v for k, v in wanted.items() if v is not None},
                           context.data.profiles, context.study.catalogue.kind, context.data.groupings)
    values = [float(clean[key]) if key in ("start", "end") else clean[key]
              for key, _ in CONTROLS if key in LOADED]
    return (*values, f"Loaded '{name}' (saved by {row['saved_by'].iloc[0]}).")


def reproduce_block(context: PageContext, state: dict) -> html.Details:
    """The command line and the Python that give this table (with the analyst's choices, from the settings file)."""
    command, python = reproduce(context.name, context.version, settings_of(state), bool(study_choices(context)))
    return reproduce_panel(command, python, "kinetics-reproduce-panel")


@callback(Output(ID.REPRODUCE, "children"), Input(page_state_id(PAGE), "data"), prevent_initial_call=True)
def update_reproduce(state):
    return reproduce_block(context_from_state(state), state)


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@callback(Output(ID.SETTINGS_DOWNLOAD, "data"), Input(ID.EXPORT_SETTINGS, "n_clicks"),
          State(page_state_id(PAGE), "data"), prevent_initial_call=True)
def download_settings(_clicks, state):
    context = context_from_state(state)
    document = page_settings(context, state)
    return dcc.send_string(json.dumps(document, indent=1), f"settings_{context.name}_v{context.version}.json",
                           type="application/json")


@callback(
    Output(graph_id(PAGE, "spaghetti"), "figure"), Output(ID.SUMMARY, "children"),
    Output(ID.GRID, "rowData"), Output(ID.GRID, "columnDefs"),
    *[Output(graph_id(PAGE, key), "figure") for key in (*EXPOSURE, "flow")],
    Output("kinetics-exposure", "children"), Output("kinetics-summary-note", "children"),
    Output(ID.WINDOW_ERROR, "children"), Output(page_state_id(PAGE), "data"),
    *[Input(control, "value") for _, control in CONTROLS], State(page_state_id(PAGE), "data"),
    prevent_initial_call=True,
)
def update_cohort(*values):
    """Recompute the cohort view for new controls, and keep the state (the address bar follows it)."""
    *controls, previous = values
    raw = dict(zip([key for key, _ in CONTROLS], controls, strict=True))
    context = context_from_state(previous)
    state, error = clean_state(raw, context.data.profiles, context.study.catalogue.kind, context.data.groupings)
    if error:
        return *([dash.no_update] * 10), error, dash.no_update
    view = view_of(context, state)
    canvas, half = context.canvas(), context.canvas(half=True)
    figures = page_figures(context, state, view, canvas, half)
    return (on_screen(figures["spaghetti"], canvas), summary_table(view),
            grid_rows(view, context.query()), grid_columns(view),
            *[on_screen(figures[key], half) for key in (*EXPOSURE, "flow")],
            exposure_table(view),
            summary_note(view), "", changed_state(previous, **state))


def specimen_options(profiles: dict[str, list[str]], analyte: str) -> list[dict]:
    return [{"label": specimen_label(s), "value": s} for s in profiles.get(analyte, [])]


@callback(Output(ID.SPECIMEN, "options"), Output(ID.SPECIMEN, "value"), Output(ID.SCALE, "value"),
          Input(ID.ANALYTE, "value"), State(ID.SPECIMEN, "value"), State(page_state_id(PAGE), "data"),
          prevent_initial_call=True)
def specimens_for_analyte(analyte, specimen, state):
    """The specimens the study measured the chosen analyte in, and the axis its kind reads best on."""
    data = context_from_state(state).data
    specimens = data.profiles.get(analyte) or [specimen]
    return (specimen_options(data.profiles, analyte), specimen if specimen in specimens else specimens[0],
            default_scale(data.study.catalogue.kind(analyte)))


@callback(Output(ID.LOCATION, "href"), Input(graph_id(PAGE, "spaghetti"), "clickData"),
          State(page_state_id(PAGE), "data"), prevent_initial_call=True)
def open_clicked_patient(click, state):
    """Clicking a patient's line opens that patient."""
    subject = clicked_subject(click)
    if subject is None:
        return dash.no_update
    return patient_href(subject, context_from_state(state).query())


def cdisc_download(context: PageContext, state: dict) -> tuple[bytes, str]:
    """The NCA of the selected analyte and specimen (every patient, the page's window, method and BLQ rule) as CDISC
    PP and ADPP transport files in a zip, and its file name; STUDYID is the study's name."""
    s = settings_of(state)
    options = nca_options(context, s.start, s.end, s.auc_method, s.blq)
    result = nca_with(context, options)
    result = result[(result["analyte"] == s.analyte) & (result["specimen"] == s.specimen)]
    catalogue = context.study.catalogue
    data = pp_adpp_zip(result, context.name, {s.analyte: catalogue.unit(s.analyte)}, context.study.subjects,
                       options=options, analyte_names={s.analyte: catalogue.label(s.analyte)})
    return data, f"nca_{context.name}_v{context.version}_{s.analyte}_{s.specimen}_pp_adpp.zip"


@callback(Output(ID.DOWNLOAD, "data"), Input(ID.EXPORT_CSV, "n_clicks"), Input(ID.EXPORT_XLSX, "n_clicks"),
          Input(ID.EXPORT_XPT, "n_clicks"), State(page_state_id(PAGE), "data"), prevent_initial_call=True)
def export_table(_csv, _xlsx, _xpt, state):
    """The NCA table as the grid shows it (every patient, the selected analyte and specimen), with units and the
    options it was computed with, as CSV or Excel; or as CDISC PP and ADPP datasets."""
    context = context_from_state(state)
    if dash.ctx.triggered_id == ID.EXPORT_XPT:
        return dcc.send_bytes(*cdisc_download(context, state), type="application/zip")
    view = view_of(context, state)
    table = nca_export_frame(view)
    s = view.settings
    name = f"nca_{context.name}_v{context.version}_{s.analyte}_{s.specimen}"
    if dash.ctx.triggered_id == ID.EXPORT_XLSX:
        catalogue = context.data.study.catalogue
        about = {"Study": context.label, "Note": context.note, "Analyte": catalogue.label(s.analyte),
                 "Specimen": specimen_label(s.specimen), "Unit": catalogue.unit(s.analyte),
                 "AUC window (days)": f"{s.start:g} to {s.end:g}", "AUC method": AUC_METHOD_LABELS[s.auc_method],
                 "BLQ rule": BLQ_RULE_LABELS[s.blq], "Rules": "docs/nca.md"}
        return dcc.send_bytes(excel_bytes(table, "NCA", about), f"{name}.xlsx")
    return dcc.send_bytes(csv_bytes(table), f"{name}.csv")


def figures(context: PageContext, state: dict, canvas, for_deck: bool) -> list[ExportFigure]:
    state, _ = clean_state(state, context.data.profiles, context.study.catalogue.kind, context.data.groupings)
    view = view_of(context, state)
    built = page_figures(context, state, view, canvas, canvas)
    titles = {"spaghetti": spaghetti_title(view), **{k: view.exposure[k].title for k in EXPOSURE},
              "flow": FLOW_TITLE}
    return [ExportFigure(name, titles[name], figure) for name, figure in built.items()]


def tables(context: PageContext, state: dict) -> list[DeckTable]:
    state, _ = clean_state(state, context.data.profiles, context.study.catalogue.kind, context.data.groupings)
    view = view_of(context, state)
    s = view.settings
    notes = [nca_method_note(s.start, s.end, s.auc_method, s.blq), context.note]
    return [DeckTable(f"{view.where}: summary by group", summary_frame(view), notes),
            DeckTable(f"{view.where}: NCA of every patient", nca_text_frame(view), notes),
            DeckTable("Exposure by group", exposure_frame(view), notes)]


register_exports(PAGE, "kinetics", figures, tables)
