"""Kaplan-Meier figure with CI bands, censor marks and a number-at-risk table under the axis; the summary table."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from dash import html

from analysis.survival import DAYS_PER_MONTH, KMEstimate
from analysis.views.survival import AT_RISK_MONTHS, SurvivalView
from components.frame import Canvas, frame
from components.number_format import fmt_dose, fmt_months
from components.text import plain_short
from components.theme import INK, OKABE_ITO, dose_colors, hex_to_rgba

METHOD_NOTE = ("Kaplan-Meier estimates as R survival computes them; shaded: pointwise 95% CI (log-log); ticks: "
               "censored; median by R's rule (midpoint of a flat stretch at 50%); NR: not reached; NE: not estimable.")
TABLE_NOTE = ("Kaplan-Meier estimates as R survival computes them; 95% CIs on the log-log scale; median by R's rule "
              "(midpoint of a flat stretch at 50%); NR: not reached; NE: not estimable (no event yet, or past the "
              "last follow-up).")


def median_text(km: KMEstimate) -> str:
    """'11.2 (8.1–15.0)' months; a median or bound that is not reached is NR."""
    low, high = km.median_ci
    return f"{fmt_months(km.median_days)} ({fmt_months(low)}–{fmt_months(high)})"


def rate_text(km: KMEstimate, months: int) -> str:
    """'62% (48–73)'; 'NE' past the last follow-up; '100% (NE)' where no event has happened (no CI there)."""
    row = km.landmarks[km.landmarks["months"] == months].iloc[0]
    if not math.isfinite(row["survival"]):
        return "NE"
    if not (math.isfinite(row["ci_lower"]) and math.isfinite(row["ci_upper"])):
        return f"{100 * row['survival']:.0f}% (NE)"
    return f"{100 * row['survival']:.0f}% ({100 * row['ci_lower']:.0f}–{100 * row['ci_upper']:.0f})"


def km_colors(view: SurvivalView) -> dict[str, str]:
    labels = [km.label for km in view.estimates]
    return dose_colors(labels) if view.by_dose else {label: OKABE_ITO[0] for label in labels}


def km_title(view: SurvivalView) -> str:
    title = view.name
    if view.by_dose:
        title += " by dose level" + (f" (log-rank\u00a0p\u00a0=\u00a0{view.logrank_p:.2g})"
                                     if view.logrank_p == view.logrank_p
                                     else "")
    return title


def km_figure(view: SurvivalView, note: str, canvas: Canvas) -> dict:
    """Step curves in months with log-log 95% CI bands and censor ticks; the legend names each curve with its
    median; numbers at risk below the axis."""
    colors = km_colors(view)
    traces = []
    for km in view.estimates:
        color = colors[km.label]
        label = plain_short(fmt_dose(km.label))
        months = np.r_[0.0, km.curve["time_days"].to_numpy() / DAYS_PER_MONTH]
        # CI bands only where defined (blank where S is 1 or 0, as R): the band starts at the first event.
        band = km.curve[["ci_lower", "ci_upper"]].to_numpy()
        traces.append({"type": "scatter", "x": months.tolist(), "y": [None, *band[:, 1].tolist()], "mode": "lines",
                       "line": {"shape": "hv", "width": 0}, "showlegend": False, "hoverinfo": "skip",
                       "connectgaps": False, "legendgroup": km.label})
        traces.append({"type": "scatter", "x": months.tolist(), "y": [None, *band[:, 0].tolist()], "mode": "lines",
                       "line": {"shape": "hv", "width": 0}, "fill": "tonexty", "fillcolor": hex_to_rgba(color, 0.15),
                       "showlegend": False, "hoverinfo": "skip", "connectgaps": False, "legendgroup": km.label})
        traces.append({"type": "scatter", "x": months.tolist(), "y": np.r_[1.0, km.curve["survival"]].tolist(),
                       "mode": "lines", "line": {"shape": "hv", "width": canvas.scale(2.5), "color": color},
                       "legendgroup": km.label,
                       "name": f"{label} (n={km.n}, {km.events} events): median {median_text(km)} "
                               "months",
                       "hovertemplate": f"{label}: %{{y:.1%}} at %{{x:.1f}} months<extra></extra>"})
        if len(km.censored_times):
            traces.append({"type": "scatter", "x": (km.censored_times / DAYS_PER_MONTH).tolist(),
                           "y": [km.survival_at(t) for t in km.censored_times], "mode": "markers",
                           "marker": {"symbol": "line-ns-open", "size": canvas.scale(9), "color": color,
                                      "line": {"width": 1.5}}, "showlegend": False, "hoverinfo": "skip",
                           "legendgroup": km.label})
    rows = len(view.estimates)
    row_px = 22
    top = -78  # below the axis title
    annotations = [{"text": "<b>Number at risk</b>", "xref": "paper", "yref": "paper", "x": 0, "xanchor": "right",
                    "xshift": -30, "y": 0, "yanchor": "middle", "yshift": top, "showarrow": False,
                    "font": {"size": 12, "color": INK}}]
    for r, km in enumerate(view.estimates):
        yshift = top - row_px * (r + 1)
        annotations.append({"text": f"<span style='color:{colors[km.label]}'>■</span> "
                                    f"{plain_short(fmt_dose(km.label))}",
                            "xref": "paper",
                            "yref": "paper", "x": 0, "xanchor": "right", "xshift": -30, "y": 0, "yanchor": "middle",
                            "yshift": yshift, "showarrow": False, "font": {"size": 12, "color": INK}})
        for month, n in zip(AT_RISK_MONTHS, view.at_risk[km.label], strict=True):
            annotations.append({"text": str(n), "x": month, "xref": "x", "y": 0, "yref": "paper", "yanchor": "middle",
                                "yshift": yshift, "showarrow": False, "font": {"size": 12}})
    longest_label = max((len(km.label) + 2 for km in view.estimates), default=14)
    body = {"data": traces, "layout": {
        "hovermode": "x unified", "legend": {"traceorder": "normal"}, "annotations": annotations,
        "xaxis": {"title": {"text": "Months since first response" if view.endpoint == "DOR" else
                            "Months since CAR-T infusion"}, "range": [0, 24.6],
                  "tickvals": list(AT_RISK_MONTHS), "zeroline": False},
        "yaxis": {"title": {"text": f"{view.name} (%)"}, "range": [0, 1.04], "tickformat": ".0%", "dtick": 0.2}}}
    return frame(body, title=km_title(view), canvas=canvas, plot_height=420, left=max(145, 40 + 7.5 * longest_label),
                 below_axis=-top + row_px * (rows + 1) - 4,
                 footnote=[f"{view.name}: {view.definition}.", METHOD_NOTE], note=note)


def km_table_frame(view: SurvivalView) -> pd.DataFrame:
    """The summary as the page and the deck show it (the same numbers as km_summary.csv, in months)."""
    rate = f"{view.endpoint} rate at"
    return pd.DataFrame([{"Group": fmt_dose(km.label), "n": km.n, "Events": km.events,
                          "Median, months (95% CI)": median_text(km),
                          f"{rate} 6 months, % (95% CI)": rate_text(km, 6),
                          f"{rate} 12 months, % (95% CI)": rate_text(km, 12),
                          f"{rate} 24 months, % (95% CI)": rate_text(km, 24)} for km in view.estimates])


def km_table(view: SurvivalView) -> html.Table:
    frame_ = km_table_frame(view)
    head = ["" if c == "Group" else c for c in frame_.columns]
    body = [html.Tr([html.Td(v, className="num" if c in ("n", "Events") else None) for c, v in row.items()])
            for _, row in frame_.iterrows()]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)], className="cs-table",
                      id="survival-table")
