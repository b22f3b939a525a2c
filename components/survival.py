"""Kaplan-Meier figure with CI bands, censor marks, a number-at-risk table under the axis and a legend table."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from dash import html

from analysis.survival import KMEstimate
from components.theme import INK, MUTED, hex_to_rgba, template_json, wrap_note

MONTH_TICKS = list(range(0, 25, 3))
DAYS_PER_MONTH = 365.25 / 12


def median_text(km: KMEstimate) -> str:
    def months(days):
        return "NR" if not math.isfinite(days) else f"{days / DAYS_PER_MONTH:.1f}"

    lo, hi = km.median_ci
    return f"{months(km.median_days)} ({months(lo)}–{months(hi)})"


def rate_text(km: KMEstimate, months: int) -> str:
    row = km.landmarks[km.landmarks["months"] == months].iloc[0]
    if not math.isfinite(row["survival"]):
        return "NE"
    return f"{100 * row['survival']:.0f}% ({100 * row['ci_lower']:.0f}–{100 * row['ci_upper']:.0f})"


def km_figure(estimates: list[KMEstimate], colors: dict[str, str], at_risk: dict[str, list[int]], title: str,
              y_title: str, footnote: str) -> dict:
    """Step curves in months with log-log 95 % CI bands and '+' censor marks; numbers at risk below."""
    rows = len(estimates)
    bottom = 170 + 24 * rows
    layout = {"template": template_json(), "height": 520 + 24 * rows, "title": {"text": title},
              "margin": {"l": 150, "r": 30, "t": 70, "b": bottom}, "hovermode": "x unified",
              "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "traceorder": "normal"},
              "xaxis": {"title": {"text": "Months since CAR-T infusion"}, "range": [0, 24.6], "tickvals": MONTH_TICKS,
                        "zeroline": False},
              "yaxis": {"title": {"text": y_title}, "range": [0, 1.04], "tickformat": ".0%", "dtick": 0.2},
              "annotations": [], "shapes": []}
    traces = []
    for km in estimates:
        color = colors[km.label]
        months = km.curve["time_days"] / DAYS_PER_MONTH
        # Start at 1 at time 0 and step after each time.
        x = np.r_[0.0, months.to_numpy()]
        traces.append({"type": "scatter", "x": x.tolist(), "y": np.r_[1.0, km.curve["ci_upper"]].tolist(),
                       "mode": "lines", "line": {"shape": "hv", "width": 0}, "showlegend": False,
                       "hoverinfo": "skip"})
        traces.append({"type": "scatter", "x": x.tolist(), "y": np.r_[1.0, km.curve["ci_lower"]].tolist(),
                       "mode": "lines", "line": {"shape": "hv", "width": 0}, "fill": "tonexty",
                       "fillcolor": hex_to_rgba(color, 0.15), "showlegend": False, "hoverinfo": "skip"})
        traces.append({"type": "scatter", "x": x.tolist(), "y": np.r_[1.0, km.curve["survival"]].tolist(),
                       "mode": "lines", "line": {"shape": "hv", "width": 2.5, "color": color},
                       "name": f"{km.label} (n={km.n}, {km.events} events)",
                       "hovertemplate": f"{km.label}: %{{y:.1%}}<extra></extra>"})
        censored = km.censored_times
        if len(censored):
            at = [km.survival_at(t) for t in censored]
            traces.append({"type": "scatter", "x": (censored / DAYS_PER_MONTH).tolist(), "y": at, "mode": "markers",
                           "marker": {"symbol": "line-ns-open", "size": 9, "color": color, "line": {"width": 1.5}},
                           "showlegend": False, "hoverinfo": "skip"})
    # Number at risk under the axis, one row per curve.
    layout["annotations"].append({"text": "<b>Number at risk</b>", "xref": "paper", "yref": "paper", "x": 0,
                                  "xanchor": "right", "y": 0, "yshift": -66, "showarrow": False, "align": "right",
                                  "font": {"size": 12, "color": INK}})
    for r, km in enumerate(estimates):
        yshift = -90 - 22 * r
        layout["annotations"].append({"text": km.label, "xref": "paper", "yref": "paper", "x": 0, "xanchor": "right",
                                      "xshift": -22, "y": 0, "yshift": yshift, "showarrow": False,
                                      "font": {"size": 12, "color": colors[km.label]}})
        for month, n in zip(MONTH_TICKS, at_risk[km.label], strict=True):
            layout["annotations"].append({"text": str(n), "x": month, "xref": "x", "y": 0, "yref": "paper",
                                          "yshift": yshift, "showarrow": False, "font": {"size": 12}})
    # Legend table: median and landmark rates.
    lines = ["<b>Median, months (95% CI) · 12-month rate (95% CI)</b>"]
    lines += [f"<span style='color:{colors[km.label]}'>■</span> {km.label}: {median_text(km)} · {rate_text(km, 12)}"
              for km in estimates]
    layout["annotations"].append({"text": "<br>".join(lines), "xref": "paper", "yref": "paper", "x": 0.99, "y": 0.99,
                                  "xanchor": "right", "yanchor": "top", "showarrow": False, "align": "left",
                                  "bgcolor": "rgba(255,255,255,0.85)", "bordercolor": "#c5ced8", "borderpad": 6,
                                  "font": {"size": 12}})
    layout["annotations"].append({"text": wrap_note(footnote, 150), "xref": "paper", "yref": "paper", "x": 0, "y": 0,
                                  "yshift": -100 - 22 * rows, "xanchor": "left", "yanchor": "top", "showarrow": False,
                                  "align": "left", "font": {"size": 11, "color": MUTED}})
    return {"data": traces, "layout": layout}


def km_table(estimates: list[KMEstimate]) -> tuple[html.Table, pd.DataFrame]:
    """The summary as an HTML table and as a frame (for exports)."""
    frame = pd.DataFrame([{"Group": km.label, "n": km.n, "Events": km.events,
                           "Median, months (95% CI)": median_text(km), "6 months": rate_text(km, 6),
                           "12 months": rate_text(km, 12), "24 months": rate_text(km, 24)} for km in estimates])
    head = ["" if c == "Group" else c for c in frame.columns]
    body = [html.Tr([html.Td(v, className="num" if c in ("n", "Events") else None) for c, v in row.items()])
            for _, row in frame.iterrows()]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)], className="cs-table",
                      id="survival-table"), frame


