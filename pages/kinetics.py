"""Cohort kinetics: every patient's profile, NCA table, group summaries and exposure-response; state in the URL."""
from __future__ import annotations

from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from analysis.kinetics import (
    cohort_samples,
    cohort_summary,
    compare_groups,
    group_summary,
    paired_flow_qpcr,
    spearman,
)
from analysis.nca.options import interval_name
from components.exports import csv_bytes, excel_bytes
from components.figures import graph, graph_id, present, table_store
from components.kinetics import (
    GROUPINGS,
    box_figure,
    crs_group,
    grid_columns,
    grid_rows,
    group_order_and_colors,
    p_text,
    scatter_figure,
    spaghetti_figure,
    summary_table,
)
from components.layout import SIMULATED_NOTE, card, page_header
from data_access.schema import ANALYTES, SPECIMEN_LABELS
from pages._exports import slide_note
from pages._study import PUSH_QUERY_JS, cohort_nca, load_selected, study_bundle

dash.register_page(__name__, path="/kinetics", name="Kinetics", order=2, title="Kinetics · CARTscope")

DEFAULTS = {"analyte": "car_copies", "specimen": "PB", "group": "dose_level", "display": "colour", "scale": "log",
            "stat": "median", "start": 0.0, "end": 28.0}
STATISTICS = {"median": "median and interquartile range", "geomean": "geometric mean and 90 % interval"}


def clean_state(raw: dict) -> dict:
    """URL query / control values -> a valid page state (unknown values fall back to the defaults)."""
    state = dict(DEFAULTS)
    for key, allowed in (("analyte", ANALYTES), ("group", GROUPINGS), ("display", ("colour", "facet")),
                         ("scale", ("log", "linear")), ("stat", STATISTICS)):
        if raw.get(key) in allowed:
            state[key] = raw[key]
    if raw.get("specimen") in ANALYTES[state["analyte"]].specimens:
        state["specimen"] = raw["specimen"]
    else:
        state["specimen"] = ANALYTES[state["analyte"]].specimens[0]
    try:
        start, end = float(raw.get("start", state["start"])), float(raw.get("end", state["end"]))
        if start < end:
            state["start"], state["end"] = start, end
    except (TypeError, ValueError):
        pass
    return state


def cohort_view(bundle, state: dict, query: str, nca=None) -> dict:
    """Everything the page shows for one state: figures, tables, grid rows. `nca` defaults to the cached
    cohort NCA of the bundle's study for the state's window."""
    study = bundle.study
    patients = bundle.patients.assign(crs_group=crs_group(bundle.patients["worst_crs_grade"]),
                                      none="All patients")
    grouping = state["group"]
    group_column = "none" if grouping == "none" else grouping
    if nca is None:
        nca = cohort_nca(study.name, study.version, state["start"], state["end"])
    auc = interval_name(state["start"], state["end"])
    facts = patients[["subject_id", "dose_level", "response_group", "worst_crs_grade", "crs_group", "none"]]
    selected = nca[(nca["analyte"] == state["analyte"]) & (nca["specimen"] == state["specimen"])]
    table = selected.merge(facts, on="subject_id", how="left")
    table["group"] = table[group_column]
    samples = cohort_samples(study.measurements, state["analyte"], state["specimen"])
    samples = samples.merge(facts[["subject_id", group_column]], on="subject_id", how="left")
    samples["group"] = samples[group_column]
    groups, colors = group_order_and_colors(grouping, samples["group"])
    summary = cohort_summary(samples, state["stat"], None if grouping == "none" else "group")
    if grouping == "none":
        summary["group"] = "All patients"
    analyte = ANALYTES[state["analyte"]]
    where = f"{analyte.label}, {SPECIMEN_LABELS[state['specimen']].lower()}"
    note = (f"{study.label}. Lines: each patient (BLQ drawn at the LLOQ); bold: {STATISTICS[state['stat']]} by "
            "nominal visit day (BLQ counted as LLOQ/2; days with ≥ 3 patients).")
    note += "<br>" + SIMULATED_NOTE if study.simulated else ""
    spaghetti = spaghetti_figure(samples, summary, groups, colors, state["display"] == "facet",
                                 state["scale"] == "log", f"{analyte.label} ({analyte.unit})",
                                 "median" if state["stat"] == "median" else "geometric mean", where, note)
    labels = {"cmax": f"Cmax ({analyte.unit})", auc: f"AUC day {state['start']:g}–{state['end']:g}",
              "tmax": "Tmax (day)", "tlast": "Tlast (day)"}
    by_group = group_summary(table, ["cmax", auc, "tmax", "tlast"], None if grouping == "none" else "group")
    rank = {name: i for i, name in enumerate(groups)}  # the legend's order (dose low->high, CRS none->severe)
    by_group = by_group.sort_values("group", key=lambda g: g.map(rank), kind="stable")
    return {
        "spaghetti": spaghetti,
        "summary": summary_table(by_group, labels),
        "rows": grid_rows(table.drop(columns=["group", "none", "crs_group"]), query),
        "columns": grid_columns(auc, analyte.unit),
        **exposure_figures(nca, patients, state, auc, study),
    }


def exposure_figures(nca, patients, state, auc, study) -> dict:
    """Cmax and AUC by response group and by CRS grade; IL-6 peak by CRS grade; flow against qPCR."""
    analyte = state["analyte"] if state["analyte"] in ("car_copies", "car_t_pct") else "car_copies"
    specimen = state["specimen"] if analyte == state["analyte"] else "PB"
    unit = ANALYTES[analyte].unit
    rows = nca[(nca["analyte"] == analyte) & (nca["specimen"] == specimen)].merge(patients, on="subject_id")
    note = f"{study.label}. Box: median and quartiles; points: patients." + (" SIMULATED DATA." if study.simulated
                                                                           else "")
    where = f"{ANALYTES[analyte].label}, {SPECIMEN_LABELS[specimen].lower()}"
    figures = {}
    for key, column in (("by_response", "response_group"), ("by_crs", "crs_group")):
        groups, colors = group_order_and_colors(column, rows[column])
        panels = [(f"Cmax ({unit})", rows["cmax"], rows[column], p_text(*compare_groups(rows["cmax"], rows[column]))),
                  (f"AUC day {state['start']:g}–{state['end']:g} ({unit}·day)", rows[auc], rows[column],
                   p_text(*compare_groups(rows[auc], rows[column])))]
        title = f"{where}: exposure by {'best response' if key == 'by_response' else 'worst CRS grade'}"
        figures[key] = box_figure(panels, groups, colors, True, title, note)
    il6 = nca[nca["analyte"] == "il6"].merge(patients, on="subject_id")
    groups, colors = group_order_and_colors("crs_group", il6["crs_group"])
    figures["il6"] = box_figure([("IL-6 peak (pg/mL)", il6["peak"], il6["crs_group"],
                                  p_text(*compare_groups(il6["peak"], il6["crs_group"])))], groups, colors, True,
                                "Serum IL-6 peak by worst CRS grade", note)
    pairs = paired_flow_qpcr(study.measurements)
    rho, p, n = spearman(pairs["car_copies"], pairs["car_t_pct"])
    test = f"Spearman ρ = {rho:.2f}, {p_text('p', p).replace('p p', 'p')}, n = {n} samples" if n >= 3 else \
        "too few paired samples"
    figures["flow"] = scatter_figure(pairs["car_copies"], pairs["car_t_pct"], pairs["subject_id"],
                                     "CAR transgene, blood (copies/µg gDNA)", "CAR+ T cells, blood (% of CD3+)", test,
                                     "Flow cytometry against qPCR (same-day blood samples)", f"{study.label}." +
                                     (" SIMULATED DATA." if study.simulated else ""))
    return figures


def _controls(state: dict) -> html.Div:
    specimens = ANALYTES[state["analyte"]].specimens
    return html.Div(className="cs-controls", children=[
        html.Label(["Analyte ", dcc.Dropdown(id="kinetics-analyte", value=state["analyte"], clearable=False,
                                             options=[{"label": a.label, "value": k} for k, a in ANALYTES.items()],
                                             className="cs-select-wide")]),
        html.Label(["Specimen ", dcc.Dropdown(id="kinetics-specimen", value=state["specimen"], clearable=False,
                                              options=[{"label": SPECIMEN_LABELS[s], "value": s} for s in specimens],
                                              className="cs-select")]),
        html.Label(["Group by ", dcc.Dropdown(id="kinetics-group", value=state["group"], clearable=False,
                                              options=[{"label": v, "value": k} for k, v in GROUPINGS.items()],
                                              className="cs-select")]),
        dcc.RadioItems(id="kinetics-display", value=state["display"], inline=True, className="cs-radio",
                       options=[{"label": "colour", "value": "colour"}, {"label": "facets", "value": "facet"}]),
        dcc.RadioItems(id="kinetics-scale", value=state["scale"], inline=True, className="cs-radio",
                       options=[{"label": "log", "value": "log"}, {"label": "linear", "value": "linear"}]),
        dcc.RadioItems(id="kinetics-stat", value=state["stat"], inline=True, className="cs-radio",
                       options=[{"label": "median + IQR", "value": "median"},
                                {"label": "geo. mean + 90 %", "value": "geomean"}]),
        html.Label(["AUC day ", dcc.Input(id="kinetics-start", type="number", value=state["start"], debounce=True,
                                          className="cs-input cs-input-day"),
                    " to ", dcc.Input(id="kinetics-end", type="number", value=state["end"], debounce=True,
                                      className="cs-input cs-input-day")]),
    ])


GRAPHS = {"spaghetti": "Cohort profiles", "by_response": "Exposure by best response",
          "by_crs": "Exposure by worst CRS grade", "il6": "IL-6 peak by worst CRS grade",
          "flow": "Flow cytometry against qPCR"}


def _graph(name: str, figure: dict, note: str | None):
    return html.Div(graph("kinetics", name, figure, GRAPHS[name], note), id=f"kinetics-{name.replace('_', '-')}")


def layout(study: str | None = None, version: str | None = None, slide: str | None = None, **query):
    selected, problem = load_selected(study, version)
    if problem is not None:
        return problem
    state = clean_state(query)
    study_params = {"study": selected.name, "version": selected.version}
    note = slide_note("?" + urlencode(study_params)) if slide == "1" else None
    view = cohort_view(study_bundle(selected.name, selected.version), state,
                       "?" + urlencode({"study": selected.name, "version": selected.version}))
    return html.Div([
        dcc.Store(id="kinetics-key", data={**study_params, "slide_note": note}),
        dcc.Store(id="kinetics-url-state"), html.Span(id="kinetics-url-sink", hidden=True),
        dcc.Location(id="kinetics-location", refresh="callback-nav"),
        dcc.Download(id="kinetics-download"),
        page_header("Cohort kinetics", f"{selected.label} · click a line to open that patient", selected.simulated),
        card("Profiles", _controls(state), _graph("spaghetti", view["spaghetti"], note)),
        card("Summary by group", html.Div(view["summary"][0], id="kinetics-summary"),
             table_store("kinetics", "summary", "Summary by group", view["summary"][1])),
        card("NCA of every patient", html.Div(className="cs-form-row", children=[
            html.Button("Download CSV", id="kinetics-export-csv", className="cs-button cs-button-secondary"),
            html.Button("Download Excel", id="kinetics-export-xlsx", className="cs-button cs-button-secondary"),
        ]), dag.AgGrid(id="kinetics-grid", rowData=view["rows"], columnDefs=view["columns"],
                       defaultColDef={"sortable": True, "filter": True, "resizable": True},
                       dashGridOptions={"tooltipShowDelay": 300, "pagination": True, "paginationPageSize": 20},
                       style={"height": "560px", "width": "100%"})),
        card("Exposure and response", html.Div(className="cs-grid-2-even", children=[
            _graph("by_response", view["by_response"], note), _graph("by_crs", view["by_crs"], note),
            _graph("il6", view["il6"], note), _graph("flow", view["flow"], note),
        ])),
    ])


STATE_INPUTS = [Input(f"kinetics-{name}", "value") for name in ("analyte", "specimen", "group", "display", "scale",
                                                                  "stat", "start", "end")]


@callback(
    Output(graph_id("kinetics", "spaghetti"), "figure"), Output("kinetics-summary", "children"),
    Output({"type": "cs-table", "page": "kinetics", "name": "summary"}, "data"),
    Output("kinetics-grid", "rowData"), Output("kinetics-grid", "columnDefs"),
    Output(graph_id("kinetics", "by_response"), "figure"), Output(graph_id("kinetics", "by_crs"), "figure"),
    Output(graph_id("kinetics", "il6"), "figure"), Output(graph_id("kinetics", "flow"), "figure"),
    Output("kinetics-url-state", "data"),
    *STATE_INPUTS, State("kinetics-key", "data"), prevent_initial_call=True,
)
def update_cohort(analyte, specimen, group, display, scale, stat, start, end, key):
    """Recompute the cohort view for new controls, and put the state in the URL."""
    state = clean_state({"analyte": analyte, "specimen": specimen, "group": group, "display": display,
                         "scale": scale, "stat": stat, "start": start, "end": end})
    query = {"study": key["study"], "version": key["version"]}
    view = cohort_view(study_bundle(key["study"], key["version"]), state, "?" + urlencode(query))
    url = "?" + urlencode({**query, **{k: (f"{v:g}" if isinstance(v, float) else v) for k, v in state.items()},
                           **({"slide": "1"} if key.get("slide_note") is not None else {})})
    note = key.get("slide_note")
    return (present(view["spaghetti"], note), view["summary"][0],
            table_store("kinetics", "summary", "Summary by group", view["summary"][1]).data, view["rows"],
            view["columns"], present(view["by_response"], note), present(view["by_crs"], note),
            present(view["il6"], note), present(view["flow"], note), url)


@callback(Output("kinetics-specimen", "options"), Output("kinetics-specimen", "value"),
          Input("kinetics-analyte", "value"), State("kinetics-specimen", "value"), prevent_initial_call=True)
def specimens_for_analyte(analyte, specimen):
    specimens = ANALYTES[analyte].specimens
    return ([{"label": SPECIMEN_LABELS[s], "value": s} for s in specimens],
            specimen if specimen in specimens else specimens[0])


@callback(Output("kinetics-location", "href"), Input(graph_id("kinetics", "spaghetti"), "clickData"),
          State("kinetics-key", "data"), prevent_initial_call=True)
def open_clicked_patient(click, key):
    """Clicking a patient's line opens that patient."""
    subject = (click or {}).get("points", [{}])[0].get("customdata")
    if not isinstance(subject, str):
        return dash.no_update
    return f"/patients/{subject}?" + urlencode({"study": key["study"], "version": key["version"]})


@callback(Output("kinetics-download", "data"), Input("kinetics-export-csv", "n_clicks"),
          Input("kinetics-export-xlsx", "n_clicks"), State("kinetics-url-state", "data"),
          State("kinetics-analyte", "value"), State("kinetics-specimen", "value"), State("kinetics-start", "value"),
          State("kinetics-end", "value"), State("kinetics-key", "data"), prevent_initial_call=True)
def export_table(_csv, _xlsx, _url, analyte, specimen, start, end, key):
    """The NCA table as shown (every patient, selected analyte and specimen) as CSV or Excel."""
    state = clean_state({"analyte": analyte, "specimen": specimen, "start": start, "end": end})
    nca = cohort_nca(key["study"], key["version"], state["start"], state["end"])
    table = nca[(nca["analyte"] == state["analyte"]) & (nca["specimen"] == state["specimen"])]
    name = f"nca_{key['study']}_v{key['version']}_{state['analyte']}_{state['specimen']}"
    if dash.ctx.triggered_id == "kinetics-export-xlsx":
        return dcc.send_bytes(excel_bytes(table, "NCA"), f"{name}.xlsx")
    return dcc.send_bytes(csv_bytes(table), f"{name}.csv")


clientside_callback(PUSH_QUERY_JS, Output("kinetics-url-sink", "children"), Input("kinetics-url-state", "data"),
                    prevent_initial_call=True)
