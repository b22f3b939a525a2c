"""Efficacy builders: best response by dose level, response rates with exact CIs, swimmer plot."""
from __future__ import annotations

import math

import pandas as pd
from dash import html

from analysis.responses import SWIMMER_MARKS, SWIMMER_STATES, WINDOWS
from analysis.views.efficacy import EfficacyView, Swimmer
from components.frame import Canvas, frame
from components.layout import simple_table
from components.number_format import fmt_dose, fmt_pct
from components.text import plain, plain_short
from components.theme import AFTER_PROGRESSION, INK, MUTED, NOT_ASSESSED, RESPONSE_COLORS
from data_access.schema import RESPONSES

BEST_TITLE = "Best overall response (IMWG) by dose level"
RATES_TITLE = "Response rates with exact 95% confidence intervals"
SWIMMER_TITLE = "Swimmer plot: response over time, one lane per patient"
WINDOW_COLORS = dict(zip(WINDOWS, ("#0072B2", "#E69F00"), strict=True))
MARK_STYLES = dict(zip(SWIMMER_MARKS, (("triangle-right", "#009E73", 9), ("star", "#F0E442", 12),
                                        ("diamond-open", "#CC79A7", 13), ("x", "#D55E00", 10), ("square", INK, 9),
                                        ("arrow-right", MUTED, 10)), strict=True))


def best_response_figure(view: EfficacyView, note: str, canvas: Canvas) -> dict:
    """Stacked bars: % of patients by best response, per dose level and overall (n inside each block)."""
    table = view.best_by_dose
    columns = list(dict.fromkeys(table["column"]))
    sizes = table.drop_duplicates("column").set_index("column")["group_n"]
    labels = [f"{plain(fmt_dose(c)).replace(' CAR', '<br>CAR', 1).replace('All patients', 'All<br>patients')}<br>"
              f"(n={sizes[c]})" for c in columns]
    traces = []
    for response in RESPONSES:
        rows = table[table["response"] == response].set_index("column").reindex(columns)
        if not rows["patients"].any():
            continue
        # a count sits in its block, upright; blocks too thin for it (< 4% of the bar) leave it to the hover
        traces.append({"type": "bar", "name": response, "x": labels, "y": rows["percent"].tolist(),
                       "text": [str(k) if k and pct >= 4 else "" for k, pct in zip(rows["patients"], rows["percent"],
                                                                                 strict=True)],
                       "customdata": rows["patients"].tolist(), "textposition": "inside", "textangle": 0,
                       "constraintext": "none", "insidetextanchor": "middle",
                       "textfont": {"color": "white" if response in ("sCR", "CR", "PD") else INK},
                       "marker": {"color": RESPONSE_COLORS[response], "line": {"color": "white", "width": 1}},
                       "hovertemplate": f"{response}: %{{customdata}} patients (%{{y:.0f}}%)<extra></extra>"})
    body = {"data": traces, "layout": {"barmode": "stack", "legend": {"traceorder": "normal"},
                                       "yaxis": {"title": {"text": "Patients (%)"}, "range": [0, 100.5]}}}
    return frame(body, title=BEST_TITLE, canvas=canvas, plot_height=380, below_axis=84, legend="right",
                 footnote=["Best overall response by IMWG criteria from infusion until progression or the data cut-off "
                           "(sCR > CR > VGPR > PR > MR > SD > PD > NE); numbers in the bars are patients (blocks "
                           "under 4% unlabelled); all infused patients."], note=note)


def rates_figure(view: EfficacyView, note: str, canvas: Canvas) -> dict:
    """Response rates (ORR, >=VGPR, >=CR, MRD-negative) with exact 95% CIs, per assessment window."""
    rates = view.rates
    measures = list(dict.fromkeys(rates["measure"]))
    position = {m: len(measures) - 1 - i for i, m in enumerate(measures)}
    traces = []
    for w, (window, group) in enumerate(rates.groupby("window", sort=False)):
        offset = 0.12 - 0.24 * w
        color = WINDOW_COLORS.get(window, INK)
        traces.append({"type": "scatter", "mode": "markers", "name": f"Best response {window}",
                       "y": [position[m] + offset for m in group["measure"]], "x": (100 * group["rate"]).tolist(),
                       "error_x": {"type": "data", "symmetric": False, "color": color, "thickness": 2,
                                   "array": (100 * (group["ci_upper"] - group["rate"])).tolist(),
                                   "arrayminus": (100 * (group["rate"] - group["ci_lower"])).tolist()},
                       "marker": {"size": canvas.scale(11), "color": color},
                       "customdata": group[["responders", "n"]].values.tolist(),
                       "hovertemplate": f"{window}: %{{x:.1f}}% (%{{customdata[0]}}/%{{customdata[1]}})"
                                        "<extra></extra>"})
    body = {"data": traces, "layout": {
        "xaxis": {"title": {"text": "Patients (%)"}, "range": [0, 100]},
        "yaxis": {"tickvals": [position[m] for m in measures], "ticktext": measures,
                  "range": [-0.6, len(measures) - 0.4], "showgrid": False}}}
    return frame(body, title=RATES_TITLE, canvas=canvas, plot_height=300, left=130,
                 footnote=[f"All {view.n_patients} infused patients are the denominator; exact (Clopper-Pearson) 95% "
                           "CIs. MRD-negative: any MRD-negative assessment."], note=note)


#: Lane labels smaller than this (px on the canvas) are left out: the deck splits the lanes over slides instead.
MIN_LANE_FONT = 8


def swimmer_figure(swimmer: Swimmer, note: str, canvas: Canvas, lanes: list[str] | None = None,
                   part: str = "") -> dict:
    """One lane per patient from infusion to last contact, coloured by the response at each assessment; markers
    for first response, CR, MRD negativity, progression and death; an arrow when follow-up continues. `lanes`
    draws only those patients (a deck splits long cohorts over slides, on one shared day axis); `part` is added
    to the title."""
    order = lanes if lanes is not None else swimmer.order
    keep = set(order)
    segments = swimmer.segments[swimmer.segments["subject_id"].isin(keep)]
    marks = swimmer.marks[swimmer.marks["subject_id"].isin(keep)]
    colors = {**RESPONSE_COLORS, "not yet assessed": NOT_ASSESSED, "after progression": AFTER_PROGRESSION}
    n = max(len(order), 1)
    if canvas.width is None:
        plot_height, lane_px = 18 * n, 18.0
    else:  # the title, legend, axis and footnote take about 260 px of a slide (130 without title and footnote)
        plot_height = canvas.height
        lane_px = (canvas.height - (260 if canvas.chrome else 130)) / n
    lane_font = min(11 if canvas.width is None else 12, math.floor(lane_px * 0.75))
    labelled = lane_font >= MIN_LANE_FONT
    traces = []
    for state in SWIMMER_STATES:  # the legend in one order, always
        rows = segments[segments["state"] == state]
        if rows.empty:
            continue
        traces.append({"type": "bar", "orientation": "h", "name": state, "x": (rows["stop"] - rows["start"]).tolist(),
                       "base": rows["start"].tolist(), "y": [plain(s) for s in rows["subject_id"]],
                       "customdata": [plain(s) for s in rows["subject_id"]], "width": 0.7,
                       "marker": {"color": colors[state], "line": {"color": "#AEB8C2", "width": 0.5}
                                  if state == "not yet assessed" else {"width": 0}},
                       "hovertemplate": f"%{{y}}: {state}, day %{{base}} to %{{x:.0f}} days later"
                                        "<extra>click to open</extra>"})
    for mark in MARK_STYLES:
        rows = marks[marks["mark"] == mark]
        if rows.empty:
            continue
        symbol, color, size = MARK_STYLES[mark]
        size = min(canvas.scale(size), max(lane_px * 1.1, 7))  # within its lane, yet never too small to see
        traces.append({"type": "scatter", "mode": "markers", "name": mark, "x": rows["day"].tolist(),
                       "y": [plain(s) for s in rows["subject_id"]],
                       "customdata": [plain(s) for s in rows["subject_id"]],
                       "marker": {"symbol": symbol, "color": color, "size": size,
                                  "line": {"color": color if symbol.endswith("-open") else "white",
                                           "width": 2 if symbol.endswith("-open") else 1}},
                       "hovertemplate": f"%{{y}}: {mark.lower()}, day %{{x}}<extra></extra>"})
    last = float(swimmer.segments["stop"].max()) if len(swimmer.segments) else 30.0
    body = {"data": traces, "layout": {
        "barmode": "overlay", "bargap": 0.25, "legend": {"traceorder": "normal", "itemsizing": "constant"},
        "xaxis": {"title": {"text": "Days since CAR-T infusion"}, "zeroline": False,
                  "range": [-0.02 * last, 1.04 * last]},  # the whole cohort's range, on every part
        "yaxis": {"type": "category", "categoryorder": "array", "categoryarray": [plain(s) for s in order[::-1]],
                  "showgrid": False, "tickmode": "array", "tickvals": [plain(s) for s in order] if labelled else [],
                  "ticktext": [plain_short(s, 24) for s in order] if labelled else [],
                  "tickfont": {"size": lane_font / canvas.scale(1)}}}}  # the frame scales it back to lane_font
    footnote = ["Lanes from infusion to last contact, coloured by the response recorded at each assessment until "
                "the next one."]
    if not labelled:
        footnote.append(f"{n} patients: lanes unlabelled at this size (the PowerPoint export labels every lane).")
    return frame(body, title=SWIMMER_TITLE + part, canvas=canvas, plot_height=plot_height,
                 left=70 if labelled else 30, footnote=footnote, note=note)


def rates_table_frame(view: EfficacyView) -> pd.DataFrame:
    """The rates as text, as the page and the deck show them."""
    r = view.rates
    return pd.DataFrame({"Assessment window": r["window"], "Measure": r["measure"],
                         "Responders / n": [f"{k} / {n}" for k, n in zip(r["responders"], r["n"], strict=True)],
                         "Rate": [fmt_pct(x, 1) for x in r["rate"]],
                         "Exact 95% CI": [f"{fmt_pct(lo, 1)} – {fmt_pct(hi, 1)}"
                                          for lo, hi in zip(r["ci_lower"], r["ci_upper"], strict=True)]})


def rates_table(view: EfficacyView) -> html.Table:
    return simple_table(rates_table_frame(view), "efficacy-rates-table", ("Responders / n", "Rate", "Exact 95% CI"))
