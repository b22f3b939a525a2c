"""CK model page builders: individual fits over the data by group with the typical curve, the groups' typical
parameters with their intervals, goodness-of-fit diagnostics, and the tables. Figures are plain dicts framed by
components/frame.py; the numbers come from analysis.views.ck_model."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.ck import model
from analysis.ck.fit import CONVERGED
from analysis.ck.model import CK_BY_NAME
from analysis.ck.population import usable
from analysis.nca.parameters import UNIT_KINDS
from analysis.views.ck_model import ModelView
from components.frame import Canvas, frame
from components.number_format import BLANK, fmt_dose, fmt_range, fmt_sig
from components.text import markdown_link, patient_href, plain, plain_short
from components.theme import INK, MUTED, group_colors, hex_to_rgba

METHOD_NOTE = ("Model: Stein et al. 2019 multiphasic (exponential expansion at rate ρ to Tmax, then contraction α "
               "and persistence β of a fraction FB), fitted per patient by maximum likelihood on the log scale, BLQ "
               "samples censored (M3)")
POPULATION_NOTE = ("Typical values: two-stage, per-patient estimates on the log scale weighted by their precision "
                   "(DerSimonian-Laird random effects), 95% CI; CV: between-patient")
#: The parameters the comparison figure shows, in its panels' order.
COMPARED = ("cmax", "doubling_time", "tmax", "contraction_half_life", "persistence_half_life", "fb")


def unit_of(name: str, conc_unit: str) -> str:
    return UNIT_KINDS[CK_BY_NAME[name].unit_kind].format(conc=conc_unit)


def header(name: str, conc_unit: str) -> str:
    unit = unit_of(name, conc_unit)
    return f"{CK_BY_NAME[name].label} ({unit})" if unit else CK_BY_NAME[name].label


def fits_title(view: ModelView) -> str:
    return f"{view.where}: individual model fits" + ("" if view.settings.grouping == "none"
                                                      else f" by {view.grouping_label.lower()}")


def fits_figure(view: ModelView, note: str, canvas: Canvas) -> dict:
    """One panel per group: every sample (BLQ hollow, at the LLOQ), every patient's fitted curve (thin), and the
    group's typical curve (bold) with the interquartile band of its patients' fitted curves."""
    groups = view.groups
    colors = group_colors(view.settings.grouping, groups)
    gap = 0.025
    width = (1 - gap * (len(groups) - 1)) / max(len(groups), 1)
    layout: dict = {"hovermode": "closest", "annotations": [], "showlegend": True}
    traces: list[dict] = []
    positive = view.observations.loc[view.observations["observed"] > 0, "observed"]
    low = math.floor(math.log10(positive.min() / 3)) if len(positive) else 0
    high = math.ceil(math.log10(positive.max() * 2)) if len(positive) else 1
    curves = {c.group: c for c in view.curves}
    last_day = float(view.observations["day"].max()) if len(view.observations) else 28.0
    grid = view.curves[0].days if view.curves else np.linspace(0, last_day, 200)
    shown = grid <= last_day
    for p, group in enumerate(groups):
        suffix = "" if p == 0 else str(p + 1)
        xname, yname = f"x{suffix}", f"y{suffix}"
        color = colors[group]
        layout[f"xaxis{suffix}"] = {"domain": [p * (width + gap), p * (width + gap) + width], "anchor": yname,
                                    "title": {"text": "Days since CAR-T infusion" if p == len(groups) // 2 else ""},
                                    "zeroline": False, "range": [-5, last_day * 1.02],
                                    **({} if p == 0 else {"matches": "x"})}
        layout[f"yaxis{suffix}"] = {"anchor": xname, "type": "log", "range": [low, high], "dtick": 1,
                                    "exponentformat": "power",
                                    "title": {"text": plain(f"{view.label} ({view.unit})") if p == 0 else ""},
                                    **({} if p == 0 else {"matches": "y", "showticklabels": False})}
        counts = view.status_counts.loc[group] if group in view.status_counts.index else pd.Series(dtype=int)
        fitted = int(counts.drop(labels=["not fitted"], errors="ignore").sum())
        layout["annotations"].append({"text": f"<b>{plain_short(fmt_dose(group))}</b> (fitted {fitted} of "
                                              f"{int(counts.sum())})",
                                      "xref": f"{xname} domain", "yref": "paper", "x": 0.5, "y": 1.0, "yshift": 4,
                                      "showarrow": False, "yanchor": "bottom", "font": {"size": 13, "color": INK}})
        obs = view.observations[view.observations["group"] == group]
        for blq, name in ((False, "Samples"), (True, "BLQ samples (at the LLOQ)")):
            part = obs[obs["blq"] == blq]
            traces.append({"type": "scatter", "mode": "markers", "x": part["day"].tolist(),
                           "y": part["observed"].tolist(), "name": name, "legendgroup": name, "showlegend": p == 0,
                           "marker": {"size": canvas.scale(5), "color": hex_to_rgba(MUTED, 0.55) if not blq else
                                      "rgba(0,0,0,0)", "symbol": "circle-open" if blq else "circle",
                                      "line": {"color": MUTED, "width": 1}},
                           "customdata": [plain(s) for s in part["subject_id"]],
                           "hovertemplate": "%{customdata}, day %{x}: %{y:.3~s}<extra></extra>",
                           "xaxis": xname, "yaxis": yname})
        members = view.parameters[(view.parameters["group"] == group)]["subject_id"]
        xs, ys = [], []
        for subject_id in members:
            fit = view.cohort.fits.get(subject_id)
            if fit is None or not fit.fitted:
                continue
            end = min(float(fit.days.max()), last_day)
            days = grid[grid <= end]
            xs += [*days.tolist(), None]
            ys += [*model.curve(fit.theta, days).tolist(), None]
        traces.append({"type": "scatter", "mode": "lines", "x": xs, "y": ys, "name": "Each patient's fit",
                       "legendgroup": "fits", "showlegend": p == 0, "hoverinfo": "skip",
                       "line": {"color": hex_to_rgba(color, 0.35), "width": 1}, "xaxis": xname, "yaxis": yname})
        curve = curves.get(group)
        if curve is not None:
            days = curve.days[shown].tolist()
            traces.append({"type": "scatter", "mode": "lines", "x": days, "y": curve.q3[shown].tolist(),
                           "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip", "xaxis": xname,
                           "yaxis": yname})
            traces.append({"type": "scatter", "mode": "lines", "x": days, "y": curve.q1[shown].tolist(),
                           "line": {"width": 0}, "fill": "tonexty", "fillcolor": hex_to_rgba(color, 0.2),
                           "name": "Interquartile range of the fits", "legendgroup": "band", "showlegend": p == 0,
                           "hoverinfo": "skip", "xaxis": xname, "yaxis": yname})
            traces.append({"type": "scatter", "mode": "lines", "x": days, "y": curve.typical[shown].tolist(),
                           "name": "Typical curve", "legendgroup": "typical", "showlegend": p == 0,
                           "line": {"color": color, "width": canvas.scale(3.5)}, "hoverinfo": "skip",
                           "xaxis": xname, "yaxis": yname})
    footnote = [f"{METHOD_NOTE}. Typical curve: the model at the group's typical parameters "
                "(two-stage); band: interquartile range of the group's individual fitted curves. "
                f"Residual SD {fmt_sig(view.cohort.residual_sd)} on the log scale, {view.cohort.residual_sd_note}."]
    return frame({"data": traces, "layout": layout}, title=fits_title(view), canvas=canvas, plot_height=400,
                 top_extra=22, footnote=footnote, note=note)


def comparison_title(view: ModelView) -> str:
    return f"{view.where}: model parameters" + ("" if view.settings.grouping == "none"
                                                else f" by {view.grouping_label.lower()}")


def comparison_figure(view: ModelView, note: str, canvas: Canvas) -> dict:
    """A panel per parameter (COMPARED): each patient's estimate (dots) and the group's typical value with its 95%
    CI (bar), groups down the y axis, log x axis."""
    groups = view.groups
    colors = group_colors(view.settings.grouping, groups)
    columns, rows = 3, 2
    gap_x, gap_y = 0.06, 0.2
    width = (1 - gap_x * (columns - 1)) / columns
    height = (1 - gap_y * (rows - 1)) / rows
    layout: dict = {"hovermode": "closest", "annotations": [], "showlegend": False}
    traces: list[dict] = []
    summary = view.summary.set_index(["group", "parameter"])
    labels = [f"{plain_short(fmt_dose(g))}" for g in groups]
    for k, name in enumerate(COMPARED):
        suffix = "" if k == 0 else str(k + 1)
        xname, yname = f"x{suffix}", f"y{suffix}"
        col, row = k % columns, k // columns
        x0, y1 = col * (width + gap_x), 1 - row * (height + gap_y)
        layout[f"xaxis{suffix}"] = {"domain": [x0, x0 + width], "anchor": yname, "type": "log",
                                    "exponentformat": "power", "title": {"text": header(name, view.unit),
                                                                         "font": {"size": 13}}}
        layout[f"yaxis{suffix}"] = {"domain": [y1 - height, y1], "anchor": xname, "type": "category",
                                    "categoryorder": "array", "categoryarray": labels[::-1],
                                    "showticklabels": col == 0, "showgrid": False,
                                    "range": [-0.6, len(groups) - 0.4]}
        for g, group in enumerate(groups):
            label = labels[g]
            part = view.parameters[view.parameters["group"] == group]
            values = part.loc[usable(part, name), name].dropna()  # the population summary's own rule
            values = values[values > 0]
            traces.append({"type": "scatter", "mode": "markers", "x": values.tolist(),
                           "y": [label] * len(values), "xaxis": xname, "yaxis": yname,
                           "marker": {"size": canvas.scale(5), "color": hex_to_rgba(colors[group], 0.45)},
                           "hovertemplate": f"{plain(CK_BY_NAME[name].label)}: %{{x:.3~s}}<extra></extra>"})
            if (group, name) in summary.index and summary.loc[(group, name), "n"] > 0:
                s = summary.loc[(group, name)]
                traces.append({"type": "scatter", "mode": "markers", "x": [s["typical"]], "y": [label],
                               "xaxis": xname, "yaxis": yname,
                               "error_x": {"type": "data", "symmetric": False,
                                           "array": [s["upper"] - s["typical"]],
                                           "arrayminus": [s["typical"] - s["lower"]], "color": INK,
                                           "thickness": canvas.scale(2), "width": canvas.scale(6)},
                               "marker": {"size": canvas.scale(11), "color": colors[group], "symbol": "diamond",
                                          "line": {"color": INK, "width": 1}},
                               "hovertemplate": (f"{label}: typical %{{x:.3~s}} ({fmt_sig(s['lower'])}–"
                                                 f"{fmt_sig(s['upper'])}), n={int(s['n'])}<extra></extra>")})
    footnote = [f"Dots: each patient's estimate; diamonds and bars: the group's typical value and its 95% CI. "
                f"{POPULATION_NOTE}. Contraction, persistence and FB only from fits showing every phase. "
                f"{METHOD_NOTE}."]
    return frame({"data": traces, "layout": layout}, title=comparison_title(view), canvas=canvas, plot_height=430,
                 left=max(110, 12 + 7.5 * max(len(x) for x in labels)), below_axis=52, footnote=footnote, note=note)


def diagnostics_title(view: ModelView) -> str:
    return f"{view.where}: goodness of fit"


def diagnostics_figure(view: ModelView, note: str, canvas: Canvas) -> dict:
    """Observed against predicted (log-log, with the line of identity), and standardised residuals against day
    and against the prediction (lines at 0 and ±2), quantifiable samples of every fitted patient."""
    obs = view.observations[~view.observations["blq"].astype(bool)]
    colors = group_colors(view.settings.grouping, view.groups)
    gap = 0.08
    width = (1 - 2 * gap) / 3
    layout: dict = {"hovermode": "closest", "annotations": [], "shapes": []}
    traces: list[dict] = []
    panels = (("predicted", "observed", "Predicted", "Observed", True, True),
              ("day", "residual", "Days since CAR-T infusion", "Standardised residual", False, False),
              ("predicted", "residual", "Predicted", "Standardised residual", True, False))
    lo = hi = None
    if len(obs):
        both = np.concatenate([obs["observed"].to_numpy(), obs["predicted"].to_numpy()])
        both = both[both > 0]
        lo, hi = math.floor(math.log10(both.min())), math.ceil(math.log10(both.max()))
    for k, (x, y, x_title, y_title, log_x, log_y) in enumerate(panels):
        suffix = "" if k == 0 else str(k + 1)
        xname, yname = f"x{suffix}", f"y{suffix}"
        unit = f" ({view.unit})"
        layout[f"xaxis{suffix}"] = {"domain": [k * (width + gap), k * (width + gap) + width], "anchor": yname,
                                    "type": "log" if log_x else "linear", "exponentformat": "power",
                                    "title": {"text": plain(x_title + (unit if log_x else "")),
                                              "font": {"size": 13}}, "zeroline": False}
        layout[f"yaxis{suffix}"] = {"anchor": xname, "type": "log" if log_y else "linear", "exponentformat": "power",
                                    "title": {"text": plain(y_title + (unit if log_y else "")), "font": {"size": 13}},
                                    "zeroline": False}
        if log_x and log_y and lo is not None:
            layout[f"xaxis{suffix}"]["range"] = layout[f"yaxis{suffix}"]["range"] = [lo, hi]
            traces.append({"type": "scatter", "mode": "lines", "x": [10 ** lo, 10 ** hi], "y": [10 ** lo, 10 ** hi],
                           "line": {"color": INK, "width": 1, "dash": "dash"}, "hoverinfo": "skip",
                           "showlegend": False, "xaxis": xname, "yaxis": yname})
        if not log_y:
            for level, dash in ((0, "solid"), (2, "dot"), (-2, "dot")):
                layout["shapes"].append({"type": "line", "xref": f"{xname} domain", "yref": yname, "x0": 0, "x1": 1,
                                         "y0": level, "y1": level, "line": {"color": INK, "width": 1, "dash": dash},
                                         "layer": "below"})
        for group in view.groups:
            part = obs[obs["group"] == group]
            traces.append({"type": "scatter", "mode": "markers", "x": part[x].tolist(), "y": part[y].tolist(),
                           "name": plain_short(fmt_dose(group)), "legendgroup": group,
                           "showlegend": k == 0 and len(view.groups) > 1,
                           "marker": {"size": canvas.scale(6), "color": hex_to_rgba(colors[group], 0.6)},
                           "customdata": [plain(s) for s in part["subject_id"]],
                           "hovertemplate": "%{customdata}: %{x:.3~s}, %{y:.3~s}<extra></extra>",
                           "xaxis": xname, "yaxis": yname})
    footnote = ["Quantifiable samples of every fitted patient (BLQ samples have no residual). Standardised residual: "
                "ln(observed / predicted) over the residual SD; dotted lines at ±2. Dashed line: identity. "
                f"{METHOD_NOTE}."]
    return frame({"data": traces, "layout": layout}, title=diagnostics_title(view), canvas=canvas, plot_height=340,
                 below_axis=58, footnote=footnote, note=note, legend="top" if len(view.groups) > 1 else "none")


# ---- tables ---------------------------------------------------------------------------------------------------

SUMMARY_TABLE_PARAMETERS = ("cmax", "tmax", "rho", "doubling_time", "alpha", "contraction_half_life", "fb", "beta",
                            "persistence_half_life", "auc_0_28_fit", "day_below_lloq")


def summary_frame(view: ModelView) -> pd.DataFrame:
    """One row per parameter, one column per group: 'typical (95% CI) · CV % · n' as text."""
    summary = view.summary.set_index(["group", "parameter"])
    rows = []
    for name in SUMMARY_TABLE_PARAMETERS:
        row = {"Parameter": header(name, view.unit)}
        for group in view.groups:
            s = summary.loc[(group, name)] if (group, name) in summary.index else None
            if s is None or not s["n"] > 0:
                row[fmt_dose(group)] = BLANK
                continue
            row[fmt_dose(group)] = (f"{fmt_sig(s['typical'])} ({fmt_range(s['lower'], s['upper'])}); "
                                    f"CV {s['between_cv_pct']:.0f}%; n={int(s['n'])}")
        rows.append(row)
    return pd.DataFrame(rows)


def status_frame(view: ModelView) -> pd.DataFrame:
    """Profiles by group and fit status."""
    counts = view.status_counts.copy()
    counts.index = [fmt_dose(g) for g in counts.index]
    counts.insert(0, "Profiles", counts.sum(axis=1))
    return counts.reset_index(names="Group")


#: The parameters of the patients' grid, in its columns' order.
GRID_PARAMETERS = ("cmax", "tmax", "doubling_time", "contraction_half_life", "persistence_half_life", "fb",
                   "auc_0_28_fit", "day_below_lloq")


def grid_columns(view: ModelView) -> list[dict]:
    """Each parameter's estimate (sorted and filtered by value, shown with its 95% CI as the formatter wrote it),
    then the fit's status and note."""
    wrap = {"wrapText": True, "autoHeight": True, "cellStyle": {"lineHeight": "1.35", "paddingTop": "6px",
                                                                "paddingBottom": "6px"}}
    columns = [{"field": "subject_id", "headerName": "Patient", "pinned": "left", "width": 110,
                "cellRenderer": "markdown", "filter": "agTextColumnFilter"},
               {"field": "group", "headerName": view.grouping_label, "width": 140, **wrap},
               {"field": "status", "headerName": "Fit", "width": 150, **wrap}]
    for name in GRID_PARAMETERS:
        columns.append({"field": name, "headerName": header(name, view.unit), "type": "numericColumn",
                        "filter": "agNumberColumnFilter", "width": 150, **wrap,
                        "valueFormatter": {"function": f"params.data ? params.data['{name}_text'] : ''"}})
    columns.append({"field": "reason", "headerName": "Notes", "minWidth": 260, "flex": 1, "tooltipField": "reason",
                    **wrap})
    return columns


def estimate_text(value, lower, upper) -> str:
    """'7,460 (4,970 – 11,200)'; the estimate alone where it has no interval; blank without an estimate."""
    if pd.isna(value):
        return BLANK
    return f"{fmt_sig(value)} ({fmt_range(lower, upper)})" if pd.notna(lower) and pd.notna(upper) else fmt_sig(value)


def grid_rows(view: ModelView, query: str) -> list[dict]:
    table = view.parameters
    columns = {"subject_id": [markdown_link(s, patient_href(s, query) + ("&" if "?" in patient_href(s, query)
                                                                           else "?") + "fit=on")
                              for s in table["subject_id"]],
               "group": [fmt_dose(g) if isinstance(g, str) else BLANK for g in table["group"]],
               "status": table["status"].tolist()}
    for name in GRID_PARAMETERS:
        values = table[name].to_numpy(dtype=float)
        columns[name] = [None if v != v else v for v in values.tolist()]
        columns[f"{name}_text"] = [estimate_text(v, lo, hi) for v, lo, hi in
                                   zip(values, table[f"{name}_lower"], table[f"{name}_upper"], strict=True)]
    columns["reason"] = table["reason"].fillna("").tolist()
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def parameters_export_frame(view: ModelView) -> pd.DataFrame:
    """Every patient's fit as downloaded: the numbers `python -m analysis ck` writes, with the group."""
    table = view.parameters.drop(columns="group")
    table.insert(1, "analyte", view.settings.analyte)
    table.insert(2, "specimen", view.settings.specimen)
    table.insert(3, view.settings.grouping, view.parameters["group"])
    return table


def status_sentence(view: ModelView) -> str:
    table = view.parameters
    supported = int(((table["status"] == CONVERGED) & (table["reason"].fillna("") == "")).sum())
    return (f"{len(table)} profiles: {supported} show every phase; "
            + "; ".join(f"{v} {k}" for k, v in table["status"].value_counts().items() if k != CONVERGED)
            + f". Residual SD {fmt_sig(view.cohort.residual_sd)} on the log scale, {view.cohort.residual_sd_note}.")
