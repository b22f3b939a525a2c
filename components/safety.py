"""Safety builders: AE table grid, patients by worst grade per term, CRS/ICANS onset and duration."""
from __future__ import annotations

import dash_ag_grid as dag
import pandas as pd
from dash import html

from analysis.safety import CRS_TREATMENTS
from analysis.views.safety import SafetyView
from components.frame import Canvas, frame
from components.kinetics import box_figure
from components.number_format import fmt_day, fmt_pct
from components.text import patient_href, plain
from components.theme import GRADE_COLORS, INK
from data_access.schema import CRS_TERM, ICANS_TERM


def ae_grid(view: SafetyView, grid_id: str) -> dag.AgGrid:
    table = view.ae
    rows = table.assign(any_grade_text=[f"{n} ({p:.0f}%)" for n, p in zip(table["any_grade"],
                                                                          table["any_grade_pct"], strict=True)],
                        grade_3_text=[f"{n} ({p:.0f}%)" for n, p in zip(table["grade_3_plus"],
                                                                        table["grade_3_plus_pct"], strict=True)])
    columns = [{"field": "term", "headerName": "Term (CTCAE v5)", "width": 420, "pinned": "left",
                "tooltipField": "term"},
               {"field": "any_grade_text", "headerName": "Any grade, n (%)", "comparator":
                {"function": "(a, b, na, nb) => na.data.any_grade - nb.data.any_grade"}, "width": 150},
               {"field": "grade_3_text", "headerName": "Grade ≥3, n (%)", "comparator":
                {"function": "(a, b, na, nb) => na.data.grade_3_plus - nb.data.grade_3_plus"}, "width": 150}]
    columns += [{"field": f"worst_grade_{g}", "headerName": f"G{g}", "width": 80, "type": "numericColumn",
                 "headerTooltip": f"patients whose worst grade is {g}"}
                for g in range(1, 6)]
    return dag.AgGrid(id=grid_id, rowData=rows.to_dict("records"), columnDefs=columns,
                      defaultColDef={"sortable": True, "filter": True, "resizable": True, "wrapHeaderText": True,
                                     "autoHeaderHeight": True},
                      dashGridOptions={"rowSelection": {"mode": "singleRow", "enableClickSelection": True,
                                                        "checkboxes": False}, "domLayout": "autoHeight"},
                      style={"width": "100%"})


GRADES_TITLE = "Patients by worst grade"
CRS_TITLE = "Worst CRS grade against IL-6 peak and CAR-T expansion"


def short_term(term: str) -> str:
    return "ICANS (immune effector cell neurotoxicity)" if term == ICANS_TERM else \
        "CRS (cytokine release syndrome)" if term == CRS_TERM else term


def grades_title(view: SafetyView) -> str:
    return f"{GRADES_TITLE}: {view.attribution}"


def grade_by_term_figure(view: SafetyView, note: str, canvas: Canvas, top: int = 15) -> dict:
    """Horizontal stacked bars: % of patients by worst grade, for the most frequent terms (CRS and ICANS first)."""
    shown = view.ae.head(top)
    labels = [short_term(t) for t in shown["term"]]
    terms = [plain(t) for t in labels]  # categories, ticks and hover show the term as typed, not as markup
    traces = []
    for grade in range(1, 6):
        counts = shown[f"worst_grade_{grade}"]
        if not counts.any():
            continue
        traces.append({"type": "bar", "orientation": "h", "name": f"Grade {grade}", "y": terms,
                       "x": (100 * counts / view.n_patients).tolist(), "customdata": counts.tolist(),
                       "marker": {"color": GRADE_COLORS[grade], "line": {"color": "white", "width": 0.5}},
                       "hovertemplate": f"%{{y}}: %{{customdata}} patients with worst grade {grade} "
                                        "(%{x:.0f}%)<extra></extra>"})
    left = 34 + 7 * max((len(t) for t in labels), default=10)
    body = {"data": traces, "layout": {
        "barmode": "stack", "legend": {"traceorder": "normal"},
        "xaxis": {"title": {"text": "Patients (%)"}, "range": [0, 100]},
        "yaxis": {"categoryorder": "array", "categoryarray": terms[::-1], "type": "category", "showgrid": False,
                  "tickmode": "array", "tickvals": terms, "ticktext": terms}}}
    which = view.attribution[0].upper() + view.attribution[1:]
    return frame(body, title=grades_title(view), canvas=canvas, plot_height=24 * max(len(shown), 3), left=left,
                 footnote=[f"{which} by CTCAE v5 (CRS and ICANS by ASTCT); each patient counted once per term at the "
                           f"worst grade; {len(shown)} most frequent terms; n = {view.n_patients}."], note=note)


def crs_figure(view: SafetyView, note: str, canvas: Canvas) -> dict:
    return box_figure(view.crs_panels, "crs_group", CRS_TITLE, note, canvas,
                      footnote="Worst CRS grade (ASTCT) per patient; Cmax from the cohort NCA.")


def onset_table(view: SafetyView, table_id: str) -> html.Table:
    """CRS and ICANS: patients, onset and duration of the first episode, ongoing."""
    summaries = view.onsets
    def describe(values, unit="day"):
        median, low, high = values
        return "–" if median != median else f"{unit} {median:g} ({low:g}–{high:g})" if unit == "day" else \
            f"{median:g} days ({low:g}–{high:g})"

    head = ["Syndrome (first episode)", "Patients", "Onset, median (range)", "Duration, median (range)",
            "Ongoing at last contact"]
    body = [html.Tr([html.Td(s["term"]), html.Td(s["patients"], className="num"), html.Td(describe(s["onset"])),
                     html.Td(describe(s["duration"], "days")), html.Td(s["ongoing"], className="num")])
            for s in summaries]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)], className="cs-table",
                      id=table_id)


def grade3_text(view: SafetyView) -> str:
    g = view.grade3
    if not len(g):
        return "No grade ≥3 events."
    return (f"{view.attribution[0].upper() + view.attribution[1:]}: {len(g)} grade ≥3 events (an event counted "
            f"each time it occurred) in {g['subject_id'].nunique()} of {view.n_patients} patients; median onset day "
            f"{fmt_day(g['onset_day'].median())}.")


def patient_links(subjects: pd.DataFrame, term: str, query: str) -> html.Div:
    """Patients with one term, worst grade first, each linking to the patient page."""
    from dash import dcc

    items = [html.Strong(f"Patients with {term} ({len(subjects)}): ")]
    for i, row in enumerate(subjects.itertuples(index=False)):
        items += [", " if i else "", dcc.Link(f"{row.subject_id} (G{row.grade})",
                                              href=patient_href(row.subject_id, query))]
    return html.Div(items, className="cs-extras", style={"color": INK})


def ae_table_frame(view: SafetyView) -> pd.DataFrame:
    """Every term, as a compact text table (the deck continues it over slides)."""
    shown = view.ae
    return pd.DataFrame({"Term": shown["term"],
                         "Any grade, n (%)": [f"{n} ({p:.0f}%)" for n, p in zip(shown["any_grade"],
                                                                              shown["any_grade_pct"], strict=True)],
                         "Grade ≥3, n (%)": [f"{n} ({p:.0f}%)" for n, p in zip(shown["grade_3_plus"],
                                                                             shown["grade_3_plus_pct"],
                                                                             strict=True)]})


def treatment_frame(view: SafetyView) -> pd.DataFrame:
    """Patients given each CRS/ICANS treatment, n (%), by worst CRS grade; classes nobody received are left out."""
    t = view.treatments
    given = [name for name in CRS_TREATMENTS if t[name].sum() > 0]
    out = pd.DataFrame({"Worst CRS grade": t["group"], "Patients": t["n"].astype(int)})
    for name in given:
        out[f"{name}, n (%)"] = [f"{n} ({fmt_pct(p / 100)})" if n else "0" for n, p in zip(t[name], t[f"{name} %"],
                                                                                    strict=True)]
    return out


TREATMENT_NOTE = ("Patients given each treatment for CRS or ICANS at least once (concomitant medications; "
                  "prophylaxis not counted), by the patient's worst CRS grade (ASTCT).")
