"""Figure and layout builders for the Overview page."""
from __future__ import annotations

import numpy as np
import pandas as pd
from dash import html

from analysis.views.overview import OverviewView
from components.frame import Canvas, frame
from components.layout import card, kpi, simple_table
from components.number_format import fmt_day, fmt_dose, fmt_months
from components.text import plain, plain_short
from components.theme import INK, dose_colors
from data_access.catalogue import specimen_label

FOLLOW_UP_TITLE = "Follow-up per patient"


def follow_up_figure(view: OverviewView, note: str, canvas: Canvas) -> dict:
    """One dot per patient: months from infusion to last contact, by dose level; deaths as crosses."""
    levels = view.dose_levels
    colors = dose_colors(levels)
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every time
    traces = []
    size = canvas.scale(9)
    for i, level in enumerate(levels):
        group = view.follow_up[view.follow_up["dose_level"] == level]
        y = np.full(len(group), i, float) + rng.uniform(-0.18, 0.18, len(group))
        dead = group["died"].to_numpy()
        for is_dead, symbol, status in ((False, "circle", "alive at last contact"), (True, "x-thin", "died")):
            mask = dead == is_dead
            traces.append({"type": "scatter", "mode": "markers", "x": group["months"].to_numpy()[mask].tolist(),
                           "y": y[mask].tolist(), "name": f"{plain(fmt_dose(level))}: {status}", "showlegend": False,
                           "customdata": [plain_short(s) for s in group["subject_id"].to_numpy()[mask]],
                           "marker": {"symbol": symbol, "size": size + (1 if is_dead else 0), "color": colors[level],
                                      "line": {"width": 2 if is_dead else 0.5,
                                               "color": colors[level] if is_dead else INK}},
                           "hovertemplate": "%{customdata}<br>%{x:.1f} months" + (" (died)" if is_dead else "")
                                            + "<extra></extra>"})
    for symbol, name in (("circle", "Alive at last contact"), ("x-thin", "Died")):
        traces.append({"type": "scatter", "mode": "markers", "x": [None], "y": [None], "name": name,
                       "marker": {"symbol": symbol, "size": size + 1, "color": INK,
                                  "line": {"width": 2, "color": INK}}})
    longest = float(view.follow_up["months"].max()) if len(view.follow_up) else 24.0
    body = {"data": traces, "layout": {
        "xaxis": {"title": {"text": "Months since CAR-T infusion"}, "range": [0, max(24.5, longest + 0.5)], "dtick": 3},
        "yaxis": {"tickvals": list(range(len(levels))), "ticktext": [plain_short(fmt_dose(v)) for v in levels],
                  "showgrid": False,
                  "range": [-0.6, len(levels) - 0.4]}}}
    left = 40 + 8 * max((len(level) for level in levels), default=10)
    return frame(body, title=FOLLOW_UP_TITLE, canvas=canvas, plot_height=60 + 70 * max(len(levels), 1), left=left,
                 footnote="Follow-up from infusion (day 0) to last contact or death, by dose level.", note=note)


def dose_table(view: OverviewView) -> pd.DataFrame:
    doses = view.summary.doses
    return pd.DataFrame({"Dose level": doses["dose_level"].map(fmt_dose), "Patients": doses["n"].astype(int),
                         "% of infused": [f"{p:.0f}%" for p in doses["percent"]]})


def sample_table(view: OverviewView) -> pd.DataFrame:
    """Readable labels for the samples-per-analyte table."""
    samples = view.summary.samples
    return pd.DataFrame({
        "Analyte": [f"{label} ({method})" if method else label
                    for label, method in zip(samples["label"], samples["method"], strict=True)],
        "Specimen": [specimen_label(s) for s in samples["specimen"]],
        "Unit": samples["unit"],
        "Samples": samples["samples"].astype(int),
        "Patients": samples["patients"].astype(int),
        "BLQ": samples["blq"].astype(int),
        "Days covered": [f"{fmt_day(a)} to {fmt_day(b)}" for a, b in zip(samples["first_day"], samples["last_day"],
                                                                        strict=False)],
    })


def overview_kpis(view: OverviewView) -> html.Div:
    s = view.summary
    fu = s.follow_up
    follow_up = "not estimable" if np.isnan(fu.median_days) else f"{fmt_months(fu.median_days)} months"
    return html.Div(className="cs-kpis", children=[
        kpi("Patients infused", f"{s.n_infused}", kpi_id="kpi-infused"),
        kpi("Dose levels", f"{len(s.doses)}", kpi_id="kpi-dose-levels"),
        kpi("Median follow-up", follow_up, f"reverse Kaplan-Meier; range {fmt_months(fu.min_days)}–"
            f"{fmt_months(fu.max_days)} months", kpi_id="kpi-follow-up"),
        kpi("Data cut-off", f"Day {fmt_day(s.data_cutoff_day)}", "latest follow-up day recorded", kpi_id="kpi-cutoff"),
        kpi("Deaths", f"{s.n_deaths}", kpi_id="kpi-deaths"),
    ])


def overview_tables(view: OverviewView) -> html.Div:
    return html.Div(className="cs-grid-2", children=[
        card("Patients by dose level", simple_table(dose_table(view), "overview-dose-table",
                                                    ["Patients", "% of infused"])),
        card("Samples by analyte", simple_table(sample_table(view), "overview-sample-table",
                                                ["Samples", "Patients", "BLQ"])),
    ])
