"""Safety: AE table (CTCAE v5; CRS and ICANS by ASTCT), grades by term, CRS/ICANS onset and duration, CRS grade
against IL-6 peak and CAR-T expansion."""
from __future__ import annotations

from urllib.parse import urlencode

import dash
from dash import Input, Output, State, callback, dcc, html

from analysis.kinetics import compare_groups
from analysis.safety import ae_table, grade3_onsets, has_relatedness, onset_and_duration
from components.exports import csv_bytes, excel_bytes
from components.figures import graph, table_store
from components.kinetics import box_figure, crs_group, group_order_and_colors, p_text
from components.layout import SIMULATED_NOTE, card, page_header
from components.safety import ae_grid, deck_ae_table, grade_by_term_figure, onset_table, patient_links
from data_access.schema import CRS_TERM, ICANS_TERM
from pages._exports import slide_note
from pages._study import cohort_nca, load_selected, study_bundle

dash.register_page(__name__, path="/safety", name="Safety", order=3, title="Safety · CARTscope")


def safety_tables(study, related_only: bool):
    n = len(study.subjects)
    return ae_table(study.adverse_events, n, related_only), n


def layout(study: str | None = None, version: str | None = None, attribution: str | None = None,
           slide: str | None = None, **_):
    selected, problem = load_selected(study, version)
    if problem is not None:
        return problem
    bundle = study_bundle(selected.name, selected.version)
    s = bundle.study
    can_filter = has_relatedness(s.adverse_events)
    related_only = can_filter and attribution != "all"
    table, n = safety_tables(s, related_only)
    sim = " " + SIMULATED_NOTE if s.simulated else ""
    which = "treatment-related AEs" if related_only else "all AEs"
    note = f"{s.label}. {which[0].upper() + which[1:]}; each patient counted once per term at the worst grade; n = {n}."
    patients = bundle.patients.assign(crs_group=crs_group(bundle.patients["worst_crs_grade"]))
    nca = cohort_nca(s.name, s.version, 0.0, 28.0)
    il6 = nca[nca["analyte"] == "il6"].merge(patients, on="subject_id")
    car = nca[(nca["analyte"] == "car_copies") & (nca["specimen"] == "PB")].merge(patients, on="subject_id")
    groups, colors = group_order_and_colors("crs_group", patients["crs_group"])
    crs_note = f"{s.label}. Worst CRS grade (ASTCT) per patient; box: median and quartiles." + sim
    crs_figure = box_figure(
        [("IL-6 peak (pg/mL)", il6["peak"], il6["crs_group"], p_text(*compare_groups(il6["peak"], il6["crs_group"]))),
         ("CAR transgene Cmax, blood (copies/µg gDNA)", car["cmax"], car["crs_group"],
          p_text(*compare_groups(car["cmax"], car["crs_group"])))],
        groups, colors, True, "Worst CRS grade against IL-6 peak and CAR-T expansion", crs_note)
    grade3 = grade3_onsets(s.adverse_events)
    query = "?" + urlencode({"study": selected.name, "version": selected.version})
    slide = slide_note(query) if slide == "1" else None
    return html.Div([
        dcc.Store(id="safety-key", data={"study": selected.name, "version": selected.version,
                                         "related_only": related_only, "query": query}),
        dcc.Download(id="safety-download"),
        page_header("Safety", f"{selected.label} · adverse events by CTCAE v5; CRS and ICANS by ASTCT",
                    selected.simulated),
        card("Adverse events", html.Div(className="cs-form-row", children=[
            html.Span(f"Showing {which}" + ("" if can_filter else " (the study records no attribution)") + ".",
                      id="safety-attribution"),
            dcc.Link("Show all AEs" if related_only else "Show treatment-related AEs",
                     href=f"/safety{query}&attribution={'all' if related_only else 'related'}",
                     className="cs-button cs-button-secondary") if can_filter else None,
            html.Button("Download CSV", id="safety-export-csv", className="cs-button cs-button-secondary"),
            html.Button("Download Excel", id="safety-export-xlsx", className="cs-button cs-button-secondary"),
        ]), ae_grid(table), html.P("Select a term to list its patients.", className="cs-muted"),
            html.Div(id="safety-term-patients")),
        card("Grades by term", graph("safety", "grades", grade_by_term_figure(
            table, n, f"Patients by worst grade: {which}", note + sim), f"Patients by worst grade: {which}", slide)),
        card("CRS and ICANS", onset_table([onset_and_duration(s.adverse_events, CRS_TERM),
                                           onset_and_duration(s.adverse_events, ICANS_TERM)]),
             html.P(f"{len(grade3)} grade ≥3 events in {grade3['subject_id'].nunique()} patients; median onset "
                    f"day {grade3['onset_day'].median():g}." if len(grade3) else "No grade ≥3 events.",
                    className="cs-extras"),
             graph("safety", "crs", crs_figure, "Worst CRS grade against IL-6 peak and CAR-T expansion", slide)),
        table_store("safety", "ae", f"Adverse events ({which}), patients n (%)", deck_ae_table(table)),
    ])


@callback(Output("safety-term-patients", "children"), Input("safety-ae-grid", "selectedRows"),
          State("safety-key", "data"), prevent_initial_call=True)
def show_term_patients(selected, key):
    """The patients with the selected term, at their worst grade, linking to their pages."""
    if not selected:
        return ""
    term = selected[0]["term"]
    ae = study_bundle(key["study"], key["version"]).study.adverse_events
    ae = ae[(ae["term"] == term) & (ae["related"].eq(True) if key["related_only"] else True)]
    worst = ae.groupby("subject_id")["grade"].max().reset_index().sort_values(["grade", "subject_id"],
                                                                              ascending=[False, True])
    return patient_links(worst, term, key["query"])


@callback(Output("safety-download", "data"), Input("safety-export-csv", "n_clicks"),
          Input("safety-export-xlsx", "n_clicks"), State("safety-key", "data"), prevent_initial_call=True)
def export_ae_table(_csv, _xlsx, key):
    table, _ = safety_tables(study_bundle(key["study"], key["version"]).study, key["related_only"])
    name = f"ae_table_{key['study']}_v{key['version']}"
    if dash.ctx.triggered_id == "safety-export-xlsx":
        return dcc.send_bytes(excel_bytes(table, "AEs"), f"{name}.xlsx")
    return dcc.send_bytes(csv_bytes(table), f"{name}.csv")
