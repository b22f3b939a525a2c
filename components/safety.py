"""Safety builders: AE table grid, patients by worst grade per term, CRS/ICANS onset and duration."""
from __future__ import annotations

import dash_ag_grid as dag
import pandas as pd
from dash import html

from components.theme import GRADE_COLORS, INK, MUTED, template_json, wrap_note


def ae_grid(table: pd.DataFrame) -> dag.AgGrid:
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
    return dag.AgGrid(id="safety-ae-grid", rowData=rows.to_dict("records"), columnDefs=columns,
                      defaultColDef={"sortable": True, "filter": True, "resizable": True},
                      dashGridOptions={"rowSelection": {"mode": "singleRow", "enableClickSelection": True},
                                       "domLayout": "autoHeight"},
                      style={"width": "100%"})


def grade_by_term_figure(table: pd.DataFrame, n_patients: int, title: str, footnote: str, top: int = 15) -> dict:
    """Horizontal stacked bars: % of patients by worst grade, for the most frequent terms (CRS and ICANS first)."""
    shown = table.head(top)
    terms = [t if len(t) < 40 else t.replace("Immune effector cell-associated neurotoxicity syndrome",
                                             "ICANS (immune effector cell neurotoxicity)") for t in shown["term"]]
    traces = []
    for grade in range(1, 6):
        counts = shown[f"worst_grade_{grade}"]
        if not counts.any():
            continue
        traces.append({"type": "bar", "orientation": "h", "name": f"Grade {grade}", "y": terms,
                       "x": (100 * counts / n_patients).tolist(), "customdata": counts.tolist(),
                       "marker": {"color": GRADE_COLORS[grade], "line": {"color": "white", "width": 0.5}},
                       "hovertemplate": f"%{{y}}: %{{customdata}} patients with worst grade {grade} "
                                        "(%{x:.0f}%)<extra></extra>"})
    height = 160 + 28 * len(shown)
    return {"data": traces, "layout": {
        "template": template_json(), "height": height, "barmode": "stack", "title": {"text": title},
        "margin": {"l": 300, "r": 30, "t": 80, "b": 100},
        "xaxis": {"title": {"text": "Patients (%)"}, "range": [0, 100]},
        "yaxis": {"categoryorder": "array", "categoryarray": terms[::-1], "type": "category", "showgrid": False},
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "traceorder": "normal"},
        "annotations": [{"text": wrap_note(footnote, 140), "xref": "paper", "yref": "paper", "x": 0, "y": 0,
                         "yshift": -60, "xanchor": "left", "yanchor": "top", "showarrow": False, "align": "left",
                         "font": {"size": 11, "color": MUTED}}]}}


def onset_table(summaries: list[dict]) -> html.Table:
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
                      id="safety-onset-table")


def patient_links(subjects: pd.DataFrame, term: str, query: str) -> html.Div:
    """Patients with one term, worst grade first, each linking to the patient page."""
    from dash import dcc

    items = [html.Strong(f"Patients with {term}: ")]
    for i, row in enumerate(subjects.itertuples(index=False)):
        items += [", " if i else "", dcc.Link(f"{row.subject_id} (G{row.grade})",
                                              href=f"/patients/{row.subject_id}{query}")]
    return html.Div(items, className="cs-extras", style={"color": INK})


def deck_ae_table(table: pd.DataFrame, top: int = 14) -> pd.DataFrame:
    """The most frequent terms as a compact table for a slide."""
    shown = table.head(top)
    return pd.DataFrame({"Term": shown["term"],
                         "Any grade, n (%)": [f"{n} ({p:.0f}%)" for n, p in zip(shown["any_grade"],
                                                                              shown["any_grade_pct"], strict=True)],
                         "Grade ≥3, n (%)": [f"{n} ({p:.0f}%)" for n, p in zip(shown["grade_3_plus"],
                                                                             shown["grade_3_plus_pct"],
                                                                             strict=True)]})
