"""Cohort kinetics builders: spaghetti plot with a summary band, NCA grid, group summary, exposure-response.

Figures are plain dicts on the CARTscope theme; lines use WebGL (scattergl) so thousands stay fast.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from dash import html

from analysis.groups import ordered_dose_levels
from analysis.responses import RESPONSE_GROUPS
from components.theme import (
    CRS_GROUP_COLORS,
    INK,
    MUTED,
    OKABE_ITO,
    RESPONSE_GROUP_COLORS,
    dose_colors,
    fmt_sig,
    hex_to_rgba,
    template_json,
    wrap_note,
)

GROUPINGS = {"none": "All patients", "dose_level": "Dose level", "response_group": "Best response",
             "crs_group": "Worst CRS grade"}
CRS_LABELS = {0: "No CRS", 1: "CRS grade 1", 2: "CRS grade 2", 3: "CRS grade ≥3"}


def crs_group(worst_grade: pd.Series) -> pd.Series:
    return worst_grade.clip(upper=3).map(CRS_LABELS)


def group_order_and_colors(grouping: str, values: pd.Series) -> tuple[list[str], dict[str, str]]:
    """Groups in their natural order (dose low->high, best response first, CRS none->severe) and their colours."""
    present = set(values.dropna())
    if grouping == "dose_level":
        order = ordered_dose_levels(present)
        return order, dose_colors(order)
    if grouping == "response_group":
        order = [g for g in RESPONSE_GROUPS if g in present]
        return order, {g: RESPONSE_GROUP_COLORS[g] for g in order}
    if grouping == "crs_group":
        colors = {label: CRS_GROUP_COLORS[grade] for grade, label in CRS_LABELS.items() if label in present}
        return list(colors), colors
    return ["All patients"], {"All patients": OKABE_ITO[0]}


def _base_layout(height: int, footnote: str) -> dict:
    """Theme, margins and the footnote under the x-axis title; the bottom margin (and the figure) grows with
    the footnote's lines so none is clipped (the simulated-data line is often the last)."""
    note = wrap_note(footnote, 95 if height < 500 else 140)
    bottom = max(110, 88 + 14 * (note.count("<br>") + 1))
    return {"template": template_json(), "height": height + bottom - 110,
            "margin": {"l": 80, "r": 24, "t": 70, "b": bottom}, "hovermode": "closest", "annotations": [
                {"text": note, "xref": "paper", "yref": "paper", "x": 0, "y": 0, "yshift": -80,
                 "xanchor": "left", "yanchor": "top", "showarrow": False, "align": "left",
                 "font": {"size": 11, "color": MUTED}}]}


def spaghetti_figure(samples: pd.DataFrame, summary: pd.DataFrame, groups: list[str], colors: dict[str, str],
                     facet: bool, log: bool, y_title: str, statistic_label: str, title: str, footnote: str) -> dict:
    """Every patient's profile (thin WebGL lines; click one to open the patient) with the summary line and band.

    `samples`: subject_id, day, level, group. `summary`: group, nominal_day, centre, lower, upper.
    """
    panels = groups if facet else [None]
    layout = _base_layout(520, footnote)
    layout["title"] = {"text": title}
    layout["legend"] = {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"}
    traces = []
    gap = 0.03
    width = (1 - gap * (len(panels) - 1)) / len(panels)
    for p, panel in enumerate(panels):
        suffix = "" if p == 0 else str(p + 1)
        xname, yname = f"x{suffix}", f"y{suffix}"
        layout[f"xaxis{suffix}"] = {"domain": [p * (width + gap), p * (width + gap) + width], "anchor": yname,
                                    "title": {"text": "Days since CAR-T infusion"}, "zeroline": False,
                                    **({} if p == 0 else {"matches": "x"})}
        layout[f"yaxis{suffix}"] = {"anchor": xname, "type": "log" if log else "linear",
                                    "title": {"text": y_title if p == 0 else None},
                                    "exponentformat": "power", **({} if p == 0 else {"matches": "y",
                                                                                      "showticklabels": False})}
        if facet:
            layout["annotations"].append({"text": f"<b>{panel}</b>", "xref": f"{xname} domain", "yref": "paper",
                                          "x": 0.5, "y": 1.0, "yshift": 4, "showarrow": False, "yanchor": "bottom",
                                          "font": {"size": 13, "color": colors[panel]}})
        for group in groups if not facet else [panel]:
            color = colors[group]
            rows = samples[samples["group"] == group] if group != "All patients" or facet else samples
            if rows.empty:
                continue
            x, y, ids = _line_arrays(rows)
            n = rows["subject_id"].nunique()
            traces.append({"type": "scattergl", "mode": "lines", "x": x, "y": y, "customdata": ids,
                           "name": f"{group} (n={n})", "legendgroup": group, "showlegend": False,
                           "line": {"color": hex_to_rgba(color, 0.22),
                                    "width": 1},
                           "hovertemplate": "%{customdata}<br>day %{x}: %{y:.4g}<extra>click to open</extra>",
                           "xaxis": xname, "yaxis": yname})
            s = summary[summary["group"] == group] if "group" in summary else summary
            if len(s):
                traces.append({"type": "scatter", "mode": "lines", "x": s["nominal_day"].tolist(),
                               "y": s["upper"].tolist(), "line": {"width": 0}, "showlegend": False,
                               "hoverinfo": "skip", "legendgroup": group, "xaxis": xname, "yaxis": yname})
                traces.append({"type": "scatter", "mode": "lines", "x": s["nominal_day"].tolist(),
                               "y": s["lower"].tolist(), "line": {"width": 0}, "fill": "tonexty",
                               "fillcolor": hex_to_rgba(color, 0.18),
                               "showlegend": False, "hoverinfo": "skip", "legendgroup": group,
                               "xaxis": xname, "yaxis": yname})
                traces.append({"type": "scatter", "mode": "lines+markers", "x": s["nominal_day"].tolist(),
                               "y": s["centre"].tolist(), "name": f"{group} (n={n})",
                               "legendgroup": group, "showlegend": not facet,
                               "line": {"color": color, "width": 4}, "marker": {"size": 7, "color": color,
                                                                                 "line": {"color": "white",
                                                                                          "width": 1}},
                               "customdata": s["n"].tolist(),
                               "hovertemplate": f"<b>{group}</b> {statistic_label}<br>day %{{x}}: %{{y:.4g}} "
                                                "(n=%{customdata})<extra></extra>",
                               "xaxis": xname, "yaxis": yname})
    layout["uirevision"] = "cohort"
    return {"data": traces, "layout": layout}


def _line_arrays(rows: pd.DataFrame) -> tuple[list, list, list]:
    """One polyline per patient joined with gaps (None), so a whole group is a single WebGL trace."""
    rows = rows.sort_values(["subject_id", "day"])
    breaks = np.r_[rows["subject_id"].to_numpy()[1:] != rows["subject_id"].to_numpy()[:-1], False]
    n = len(rows) + int(breaks.sum())
    x = np.empty(n, dtype=object)
    y = np.empty(n, dtype=object)
    ids = np.empty(n, dtype=object)
    positions = np.arange(len(rows)) + np.r_[0, np.cumsum(breaks)[:-1]]
    x[:], y[:], ids[:] = None, None, None
    x[positions] = rows["day"].to_numpy()
    y[positions] = rows["level"].to_numpy()
    ids[positions] = rows["subject_id"].to_numpy()
    return x.tolist(), y.tolist(), ids.tolist()


def box_figure(panels: list[tuple[str, pd.Series, pd.Series, str]], groups: list[str], colors: dict[str, str],
               log: bool, title: str, footnote: str) -> dict:
    """Side-by-side panels of box + every point per group, each titled with its test's p-value.

    `panels`: (y title, values, group labels, test text)."""
    layout = _base_layout(430, footnote)
    layout["title"] = {"text": title}
    layout["showlegend"] = False
    traces = []
    gap = 0.1
    width = (1 - gap * (len(panels) - 1)) / len(panels)
    for p, (y_title, values, labels, test) in enumerate(panels):
        suffix = "" if p == 0 else str(p + 1)
        xname, yname = f"x{suffix}", f"y{suffix}"
        layout[f"xaxis{suffix}"] = {"domain": [p * (width + gap), p * (width + gap) + width], "anchor": yname,
                                    "categoryorder": "array", "categoryarray": groups, "type": "category"}
        layout[f"yaxis{suffix}"] = {"anchor": xname, "type": "log" if log else "linear",
                                    "title": {"text": y_title}, "exponentformat": "power"}
        layout["annotations"].append({"text": test, "xref": f"{xname} domain", "yref": f"{yname} domain", "x": 0.5,
                                      "y": 1.0, "yshift": 6, "showarrow": False, "yanchor": "bottom",
                                      "font": {"size": 12, "color": INK}})
        frame = pd.DataFrame({"value": values, "group": labels}).dropna()
        if log:
            frame = frame[frame["value"] > 0]
        for group in groups:
            v = frame.loc[frame["group"] == group, "value"]
            traces.append({"type": "box", "y": v.tolist(), "x": [group] * len(v), "name": group,
                           "boxpoints": "all", "jitter": 0.35, "pointpos": 0, "xaxis": xname, "yaxis": yname,
                           "marker": {"color": colors[group], "size": 6, "opacity": 0.8},
                           "line": {"color": colors[group]}, "fillcolor": hex_to_rgba(colors[group], 0.12),
                           "hovertemplate": f"{group}: %{{y:.4g}}<extra></extra>"})
    return {"data": traces, "layout": layout}


def scatter_figure(x: pd.Series, y: pd.Series, ids: pd.Series, x_title: str, y_title: str, test: str,
                   title: str, footnote: str) -> dict:
    layout = _base_layout(430, footnote)
    layout["title"] = {"text": title}
    layout["xaxis"] = {"type": "log", "title": {"text": x_title}, "exponentformat": "power"}
    layout["yaxis"] = {"type": "log", "title": {"text": y_title}, "exponentformat": "power"}
    layout["annotations"].append({"text": test, "xref": "paper", "yref": "paper", "x": 0.02, "y": 0.98,
                                  "xanchor": "left", "yanchor": "top", "showarrow": False, "font": {"size": 13}})
    keep = (x > 0) & (y > 0)
    return {"data": [{"type": "scattergl", "mode": "markers", "x": x[keep].tolist(), "y": y[keep].tolist(),
                      "customdata": ids[keep].tolist(), "marker": {"color": OKABE_ITO[0], "size": 6, "opacity": 0.6},
                      "hovertemplate": "%{customdata}<br>%{x:.4g}, %{y:.4g}<extra></extra>"}], "layout": layout}


def p_text(test: str, p: float) -> str:
    if not test or p != p:
        return "too few patients for a test"
    return f"{test} p = {p:.2g}" if p >= 0.001 else f"{test} p < 0.001"


DAY_PARAMETERS = ("tmax", "tlast")


def summary_table(summary: pd.DataFrame, labels: dict[str, str]) -> tuple[html.Table, pd.DataFrame]:
    """n, median (range), geometric mean and geometric CV % per group and parameter (HTML, and a frame)."""
    head = ["Group", "Parameter", "n", "Median", "Range", "Geometric mean", "Geometric CV %"]
    records = []
    for r in summary.itertuples(index=False):
        fmt = (lambda v: "–" if v != v else f"{v:g}") if r.parameter in DAY_PARAMETERS else fmt_sig
        records.append([r.group, labels.get(r.parameter, r.parameter), str(r.n), fmt(r.median),
                        f"{fmt(r.min)} – {fmt(r.max)}", fmt_sig(r.geometric_mean), fmt_sig(r.geometric_cv_pct)])
    frame = pd.DataFrame(records, columns=head)
    rows = [html.Tr([html.Td(v, className="num" if i >= 2 else None) for i, v in enumerate(record)])
            for record in records]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="cs-table",
                      id="kinetics-summary-table"), frame


def grid_columns(auc_column: str, unit: str) -> list[dict]:
    number = {"function": "params.value == null ? '–' : d3.format(',.4~r')(params.value)"}
    day = {"function": "params.value == null ? '–' : d3.format('~g')(params.value)"}

    def col(field, header, formatter=number, width=120, **extra):
        return {"field": field, "headerName": header, "valueFormatter": formatter, "type": "numericColumn",
                "filter": "agNumberColumnFilter", "width": width, **extra}

    return [
        {"field": "subject_id", "headerName": "Patient", "pinned": "left", "width": 110, "cellRenderer": "markdown",
         "filter": "agTextColumnFilter"},
        {"field": "dose_level", "headerName": "Dose level", "width": 160},
        {"field": "response_group", "headerName": "Best response", "width": 130},
        {"field": "worst_crs_grade", "headerName": "Worst CRS", "width": 110, "type": "numericColumn"},
        col("cmax", f"Cmax ({unit})"), col("tmax", "Tmax (day)", day, 105),
        col(auc_column, f"AUC {auc_column[4:].replace('_', '–')} ({unit}·day)", width=170),
        col("auclast", f"AUClast ({unit}·day)", width=160), col("tlast", "Tlast (day)", day, 105),
        col("half_life", "Half-life (days)", width=130), col("lambda_z_n_points", "λz points", day, 100),
        col("r2_adj", "Adj. R²", width=100),
        {"field": "reason", "headerName": "Notes", "width": 320, "tooltipField": "reason"},
    ]


def grid_rows(table: pd.DataFrame, query: str) -> list[dict]:
    """Grid records: the patient as a link, blanks as None (JSON null). Built column by column with
    `tolist()`, which is several times faster than `to_dict("records")` on a cohort-sized table."""
    columns = {}
    for name in table.columns:
        values, blank = table[name].tolist(), table[name].isna().to_numpy()
        if blank.any():
            values = [None if is_blank else v for v, is_blank in zip(values, blank, strict=True)]
        columns[name] = values
    columns["subject_id"] = [f"[{s}](/patients/{s}{query})" for s in table["subject_id"]]
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def safe_float(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v
