"""Exposure-response builders: the outcome by exposure quartile with the logistic regression curve and every patient
(xgxr's exposure-response plot), exposure by dose level, the subgroup forest plot, and their tables."""
from __future__ import annotations

import math
import zlib

import numpy as np
import pandas as pd

from analysis.exposure_response import AUC_WINDOW, Z95, LogisticFit, excluded_text
from analysis.subgroups import AGE_CUT, ALL_PATIENTS, PRIOR_LINES_CUT, Subgroups
from analysis.views.exposure_response import ExposureResponseView
from components.frame import Canvas, frame
from components.kinetics import box_figure, nca_method_note
from components.number_format import BLANK, fmt_ci, fmt_count, fmt_dose, fmt_p, fmt_pct, fmt_range, fmt_sig
from components.text import plain, plain_short
from components.theme import GRID, INK, MUTED, OKABE_ITO, dose_colors, hex_to_rgba

FOREST_TITLE = "Subgroups: response, CRS grade ≥2 and PFS hazard ratio"
NCA_NOTE = nca_method_note(*AUC_WINDOW, "linuplogdown", "pknca")
OUTCOME_DEFINITIONS = {
    "response": "Response: best overall response PR or better by IMWG, from infusion to progression or the data "
                "cut-off (a patient never assessed counts as a non-responder).",
    "crs2": "CRS grade ≥2: worst cytokine release syndrome grade 2 or higher (ASTCT).",
}
FIT_METHOD = ("Logistic regression of the outcome on {scale} (maximum likelihood); band: its 95% CI, Wald (delta "
              "method on the linear predictor).")
JITTER = 4.0  # ± percentage points around 0% and 100%


def pct_ci(rate, low, high) -> str:
    """'42% (15–72)'."""
    if rate != rate:
        return BLANK
    return f"{fmt_pct(rate)} ({100 * low:.0f}–{100 * high:.0f})"


def odds_ratio_text(fit: LogisticFit) -> str:
    """'OR per 10-fold exposure 20.8 (95% CI 3.89–111), p < 0.001'."""
    per = "per 10-fold exposure" if fit.log else "per unit of exposure"
    low, high = fit.odds_ratio_ci
    return f"OR {per} {fmt_sig(fit.odds_ratio)} (95% CI {fmt_sig(low)}–{fmt_sig(high)}), {fmt_p(fit.p_value)}"


def fit_summary(fit: LogisticFit) -> str:
    """One sentence on the fit (or why there is none), as the page and the deck state it."""
    if not fit.fitted:
        return f"No logistic regression: {fit.reason}."
    return f"Logistic regression on {fit.n} patients ({fit.events} with the outcome): {odds_ratio_text(fit)}."


OUTCOME_AXIS = {"response": "Patients with response ≥PR (%)", "crs2": "Patients with CRS grade ≥2 (%)"}


def er_title(view: ExposureResponseView) -> str:
    """'Response (≥PR) by Cmax (CAR transgene, blood)': short enough for one line on a 4:3 slide."""
    return f"{view.outcome_label} by {view.metric.label} ({view.where})"


def fit_heading(fit: LogisticFit) -> str:
    """The line above the plot: the odds ratio, or that there is no fit (the footnote says why)."""
    return f"Logistic regression: {odds_ratio_text(fit)}" if fit.fitted else \
        "No logistic regression (the footnote says why)"


def _jitter(subject_id: str) -> float:
    """A patient's vertical offset: the same on every redraw and for every metric (from the id)."""
    return (zlib.crc32(str(subject_id).encode()) % 1000 / 999 - 0.5) * 2 * JITTER


def er_figure(view: ExposureResponseView, note: str, canvas: Canvas) -> dict:
    """Every patient at 0% or 100% (jittered, coloured by dose level; click one to open the patient), the outcome's
    proportion per exposure quartile with its exact 95% CI at the quartile's median exposure (horizontal bar: the
    quartile's exposure range, 'k/n' above), and the logistic regression curve with its 95% band; log x axis."""
    points, quartiles, fit = view.points, view.quartiles, view.fit
    traces = []
    if fit.fitted:
        grid = fit.grid
        x = grid["exposure"].tolist()
        traces.append({"type": "scatter", "mode": "lines", "x": x, "y": (100 * grid["upper"]).tolist(),
                       "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False, "legendgroup": "fit"})
        traces.append({"type": "scatter", "mode": "lines", "x": x, "y": (100 * grid["lower"]).tolist(),
                       "line": {"width": 0}, "fill": "tonexty", "fillcolor": hex_to_rgba(OKABE_ITO[3], 0.15),
                       "hoverinfo": "skip", "showlegend": False, "legendgroup": "fit"})
        traces.append({"type": "scatter", "mode": "lines", "x": x, "y": (100 * grid["probability"]).tolist(),
                       "name": "Logistic regression, 95% CI", "legendgroup": "fit",
                       "line": {"color": OKABE_ITO[3], "width": canvas.scale(2.5)},
                       "customdata": (100 * grid[["lower", "upper"]]).values.tolist(),
                       "hovertemplate": "fitted %{y:.0f}% (95% CI %{customdata[0]:.0f}–%{customdata[1]:.0f}%) at "
                                        "%{x:.3~s}<extra></extra>"})
    colors = dose_colors(view.dose_levels) if view.dose_levels else {}
    for dose in view.dose_levels:
        rows = points[points["dose_level"] == dose]
        if rows.empty:
            continue
        traces.append({"type": "scatter", "mode": "markers", "name": plain_short(fmt_dose(dose)),
                       "x": rows["exposure"].tolist(),
                       "y": [100 * o + _jitter(s) for s, o in zip(rows["subject_id"], rows["outcome"], strict=True)],
                       "customdata": [plain(s) for s in rows["subject_id"]],
                       "text": ["yes" if o else "no" for o in rows["outcome"]],
                       "marker": {"color": hex_to_rgba(colors[dose], 0.75), "size": canvas.scale(7),
                                  "line": {"color": "white", "width": 0.5}},
                       "hovertemplate": f"%{{customdata}}: %{{x:.3~s}}, {plain(view.outcome_label)} %{{text}}"
                                        "<extra>click to open</extra>"})
    annotations = [{"text": fit_heading(fit), "xref": "paper", "yref": "paper", "x": 0, "xanchor": "left", "y": 1,
                    "yanchor": "bottom", "yshift": 6, "showarrow": False, "font": {"size": 13, "color": INK}}]
    if len(quartiles):
        q = quartiles
        traces.append({"type": "scatter", "mode": "markers", "name": "Exposure quartile: % (exact 95% CI)",
                       "x": q["median_exposure"].tolist(), "y": (100 * q["proportion"]).tolist(),
                       "error_y": {"type": "data", "symmetric": False, "color": INK, "thickness": 1.8,
                                   "width": canvas.scale(5),
                                   "array": (100 * (q["ci_upper"] - q["proportion"])).tolist(),
                                   "arrayminus": (100 * (q["proportion"] - q["ci_lower"])).tolist()},
                       "error_x": {"type": "data", "symmetric": False, "color": MUTED, "thickness": 1, "width": 0,
                                   "array": (q["high"] - q["median_exposure"]).tolist(),
                                   "arrayminus": (q["median_exposure"] - q["low"]).tolist()},
                       "marker": {"symbol": "square", "color": INK, "size": canvas.scale(10),
                                  "line": {"color": "white", "width": 1}},
                       "customdata": [[r.quartile, r.events, r.n, 100 * r.ci_lower, 100 * r.ci_upper,
                                       fmt_range(r.low, r.high)] for r in q.itertuples()],
                       "hovertemplate": "%{customdata[0]} (%{customdata[5]}): %{customdata[1]}/%{customdata[2]} = "
                                        "%{y:.0f}% (95% CI %{customdata[3]:.0f}–%{customdata[4]:.0f}%)"
                                        "<extra></extra>"})
        for r in q.itertuples():
            annotations.append({"text": f"{r.quartile}<br>{r.events}/{r.n}", "x": math.log10(r.median_exposure)
                                if view.metric.log else r.median_exposure, "xref": "x", "y": 100 + 2.5 * JITTER,
                                "yref": "y", "yanchor": "bottom", "showarrow": False,
                                "font": {"size": 12, "color": INK}})
    xaxis = {"title": {"text": plain(view.axis_title)}, "type": "log" if view.metric.log
             else "linear", "exponentformat": "power", "zeroline": False}
    if view.metric.log and len(points):
        low, high = math.log10(points["exposure"].min()), math.log10(points["exposure"].max())
        pad = max(0.05 * (high - low), 0.1)
        xaxis["range"] = [low - pad, high + pad]
        xaxis.update(log_ticks(*xaxis["range"]))
    body = {"data": traces, "layout": {
        "hovermode": "closest", "legend": {"traceorder": "normal"}, "annotations": annotations,
        "xaxis": xaxis,
        "yaxis": {"title": {"text": OUTCOME_AXIS[view.settings.outcome]},
                  "range": [-2.5 * JITTER, 100 + 6.5 * JITTER], "tickvals": [0, 25, 50, 75, 100], "zeroline": False}}}
    footnote = [f"Points: each patient at 0% (no) or 100% (yes), spread ±{JITTER:g} points vertically; colour: dose "
                "level. Squares: % of each exposure quartile with the outcome (k/n above) and its exact "
                "(Clopper-Pearson) 95% CI, at the quartile's median exposure; horizontal bar: its exposure range.",
                FIT_METHOD.format(scale="log10 exposure" if fit.log else "exposure") if fit.fitted
                else fit_summary(fit),
                OUTCOME_DEFINITIONS[view.settings.outcome], excluded_text(fit.excluded), NCA_NOTE]
    return frame(body, title=er_title(view), canvas=canvas, plot_height=400, top_extra=24, footnote=footnote,
                 note=note)


def log_ticks(low: float, high: float) -> dict:
    """Ticks of a log axis spanning log10 `low` to `high`: powers of ten over 3 decades or more; 1, 2, 5 times a power
    of ten (as whole numbers with thousands separators, or decimals below 1) over less, so a narrow range still has
    ticks to read."""
    if high - low >= 3:
        return {"dtick": 1}
    values = [m * 10.0 ** e for e in range(math.floor(low), math.ceil(high) + 1) for m in (1, 2, 5)]
    shown = [v for v in values if low <= math.log10(v) <= high]
    if len(shown) < 2:
        return {}
    return {"tickvals": shown, "ticktext": [f"{v:,.0f}" if v >= 1 else f"{v:g}" for v in shown]}


# ---- dose and exposure ------------------------------------------------------------------------------------------

def dose_title(view: ExposureResponseView) -> str:
    return f"{view.where}: exposure by dose level"


def dose_figure(view: ExposureResponseView, note: str, canvas: Canvas) -> dict:
    """Every exposure metric by dose level: box, every patient, n under each dose (the Kinetics page's box panels)."""
    return box_figure(view.dose_panels, "dose_level", dose_title(view), note, canvas, log=True, footnote=NCA_NOTE)


# ---- subgroups ---------------------------------------------------------------------------------------------------

FOREST_PANELS = (("orr", "ORR (≥PR), %"), ("crs2_rate", "CRS grade ≥2, %"), ("hr", "PFS hazard ratio"))
FOREST_METHOD = ("ORR: best overall response PR or better (IMWG); CRS ≥2: worst CRS grade 2 or higher (ASTCT); "
                 "exact (Clopper-Pearson) 95% CIs; dashed lines: all patients. PFS hazard ratio against the "
                 "covariate's first level (ref.) from one Cox proportional hazards model per covariate (lifelines; "
                 "Efron ties; Wald 95% CI); HR < 1: lower risk of progression or death than the reference; NE: not "
                 "estimable. CIs beyond an axis end at its edge.")
CUT_POINTS = f"Cut points: age < {AGE_CUT} / ≥ {AGE_CUT} years; prior lines ≤ {PRIOR_LINES_CUT} / > {PRIOR_LINES_CUT}."


def forest_rows(subgroups: Subgroups, covariates: list[str] | None = None) -> list[dict]:
    """The forest plot's rows top to bottom: all patients, then per covariate (all, or the labels in `covariates`) a
    heading and its levels."""
    rows, current = [], None
    for r in subgroups.table.to_dict("records"):
        if r["label"] == ALL_PATIENTS:
            rows.append({**r, "kind": "level", "text": f"<b>{ALL_PATIENTS}</b>"})
            continue
        if covariates is not None and r["label"] not in covariates:
            continue
        if r["covariate"] != current:
            current = r["covariate"]
            rows.append({"kind": "heading", "text": f"<b>{plain_short(r['label'], 40)}</b>"})
        rows.append({**r, "kind": "level", "text": "\u00a0\u00a0\u00a0" + plain_short(fmt_dose(r["level"]), 34)})
    return rows


def _hr_range(table: pd.DataFrame) -> list[float]:
    """The HR axis (log10): every estimate and CI with room, at least 0.5 to 2, at most 0.01 to 100."""
    values = table[["hr", "hr_lower", "hr_upper"]].to_numpy(float).ravel()
    values = values[np.isfinite(values) & (values > 0)]
    low, high = min([0.5, *values]), max([2.0, *values])
    low, high = max(low, 0.01), min(high, 100.0)
    return [math.log10(low) - 0.08, math.log10(high) + 0.08]


def _hr_ticks(log_range: list[float]) -> dict:
    """Ticks a reader can name on the HR axis: 0.01 ... 0.1, 0.2, 0.5, 1, 2, 5, 10 ... within the range."""
    values = [m * 10.0 ** e for e in range(-2, 3) for m in (1, 2, 5)]
    shown = [v for v in values if log_range[0] <= math.log10(v) <= log_range[1]]
    return {"tickvals": shown, "ticktext": [f"{v:g}" for v in shown]}


#: Rows of a forest plot on a slide shorter than this (px) are called small in the footnote: the deck splits them.
MIN_ROW_PX = 17
#: Row labels on a slide are never smaller than this (px); smaller rows overlap their neighbours' labels.
MIN_ROW_FONT = 7
#: Px of a slide that the title, column headings, axis titles and footnote take (without title and footnote).
FOREST_CHROME_PX = (300, 150)
#: Rows of one deck slide's forest plot, headings and the all-patients row included (the demo's six covariates take
#: 20): a deck picture is about 500 px tall (less with a long footnote), so each row gets 16 px or more. A fixed
#: number, not one from the picture's height: the deck draws every figure twice (to learn, then to fill, each
#: picture's box) and the parts must not change in between.
DECK_ROWS = 22


def forest_parts(subgroups: Subgroups) -> list[list[str]]:
    """The covariates of each slide of the deck, in order, at most DECK_ROWS rows a slide (the all-patients row on
    every one); a covariate is never split."""
    sizes = subgroups.table.groupby("label", sort=False).size()
    parts: list[list[str]] = [[]]
    used = 1
    for label in subgroups.covariates:
        rows = int(sizes[label]) + 1  # its heading and levels
        if parts[-1] and used + rows > DECK_ROWS:
            parts.append([])
            used = 1
        parts[-1].append(label)
        used += rows
    return parts


def forest_figure(subgroups: Subgroups, note: str, canvas: Canvas, covariates: list[str] | None = None,
                  part: str = "") -> dict:
    """One row per subgroup level under its covariate's heading: n, ORR and CRS >= 2 with exact 95% CIs (dashed
    line: all patients), and the PFS hazard ratio against the reference level (log axis, line at 1). `covariates`
    draws only those (a deck splits many over slides: forest_parts); `part` is added to the title."""
    rows = forest_rows(subgroups, covariates)
    count = len(rows)
    ys = list(range(count - 1, -1, -1))
    overall = subgroups.overall
    domains = {"n": [0.0, 0.06], "orr": [0.10, 0.38], "crs2_rate": [0.42, 0.70], "hr": [0.74, 1.0]}
    axes = {"n": "x", "orr": "x2", "crs2_rate": "x3", "hr": "x4"}
    if canvas.width is None:
        plot_height, row_px = 24 * count, 24.0
    else:
        plot_height = canvas.height
        row_px = (canvas.height - FOREST_CHROME_PX[0 if canvas.chrome else 1]) / max(count, 1)
    tick_px = max(min(canvas.type.tick, math.floor(row_px * 0.8)), MIN_ROW_FONT)
    layout: dict = {"hovermode": "closest", "showlegend": False, "shapes": [], "annotations": [],
                    "yaxis": {"anchor": "x", "range": [-0.6, count - 0.4], "tickvals": ys,
                              "ticktext": [r["text"] for r in rows], "showgrid": False, "zeroline": False,
                              "showline": False, "ticks": "", "tickfont": {"size": tick_px / canvas.scale(1)}}}
    layout["xaxis"] = {"domain": domains["n"], "anchor": "y", "range": [0, 1], "visible": False, "fixedrange": True}
    for key, _ in FOREST_PANELS:
        name = axes[key][1:]
        axis = {"domain": domains[key], "anchor": "y", "zeroline": False, "showgrid": True, "gridcolor": GRID,
                "title": {"text": "log scale" if key == "hr" else ""}}  # the column's heading names it
        if key == "hr":
            axis.update(type="log", range=_hr_range(subgroups.table), **_hr_ticks(_hr_range(subgroups.table)))
        else:
            axis.update(range=[0, 100], dtick=25)
        layout[f"xaxis{name}"] = axis
    # stripes behind each covariate's block, headings over every column
    block, start = 0, None
    for y, r in zip(ys, rows, strict=True):
        if r["kind"] == "heading":
            if start is not None and block % 2:
                layout["shapes"].append(_stripe(start, y + 0.5))
            block, start = block + 1, y + 0.5
    if start is not None and block % 2:
        layout["shapes"].append(_stripe(start, -0.5))
    for key, title in (("n", "n"), *FOREST_PANELS):
        layout["annotations"].append({"text": f"<b>{title}</b>", "xref": "paper", "yref": "paper",
                                      "x": sum(domains[key]) / 2, "y": 1, "yshift": 4, "yanchor": "bottom",
                                      "showarrow": False, "font": {"size": 13, "color": INK}})
    level_rows = [(y, r) for y, r in zip(ys, rows, strict=True) if r["kind"] == "level"]
    # the n column: annotations sit level with the row labels (a text trace draws a little higher)
    layout["annotations"] += [{"text": fmt_count(r["n"]), "xref": "x", "yref": "y", "x": 0.5, "y": y,
                               "showarrow": False, "font": {"size": tick_px / canvas.scale(1), "color": INK},
                               "name": "n"} for y, r in level_rows]
    traces = [{"type": "scatter", "mode": "markers", "xaxis": "x", "yaxis": "y", "x": [], "y": [],
               "hoverinfo": "skip"}]  # the n column's axes (a subplot needs a trace)
    for key, prefix, color, what in (("orr", "orr", OKABE_ITO[0], "ORR"), ("crs2_rate", "crs2", OKABE_ITO[3],
                                                                            "CRS ≥2")):
        low, high = f"{prefix}_lower", f"{prefix}_upper"
        shown = [(y, r) for y, r in level_rows if r[key] == r[key]]
        count_column = "responders" if key == "orr" else "crs2"
        traces.append({"type": "scatter", "mode": "markers", "xaxis": axes[key], "yaxis": "y",
                       "x": [100 * r[key] for _, r in shown], "y": [y for y, _ in shown],
                       "error_x": {"type": "data", "symmetric": False, "color": color, "thickness": 1.8, "width": 0,
                                   "array": [100 * (r[high] - r[key]) for _, r in shown],
                                   "arrayminus": [100 * (r[key] - r[low]) for _, r in shown]},
                       "marker": {"symbol": "square", "color": color, "size": canvas.scale(8)},
                       "customdata": [[plain_short(fmt_dose(r["level"])), r[count_column], r["n"],
                                       pct_ci(r[key], r[low], r[high])] for _, r in shown],
                       "hovertemplate": f"%{{customdata[0]}}: {what} %{{customdata[1]}}/%{{customdata[2]}} = "
                                        "%{customdata[3]}<extra></extra>"})
        layout["shapes"].append({"type": "line", "xref": axes[key], "yref": "paper", "x0": 100 * overall[key],
                                 "x1": 100 * overall[key], "y0": 0, "y1": 1, "layer": "below",
                                 "line": {"color": color, "width": 1, "dash": "dash"}})
    estimated = [(y, r) for y, r in level_rows if r["label"] != ALL_PATIENTS and not r["reference"]
                 and r["hr"] == r["hr"]]
    traces.append({"type": "scatter", "mode": "markers", "xaxis": "x4", "yaxis": "y",
                   "x": [r["hr"] for _, r in estimated], "y": [y for y, _ in estimated],
                   "error_x": {"type": "data", "symmetric": False, "color": INK, "thickness": 1.8, "width": 0,
                               "array": [r["hr_upper"] - r["hr"] for _, r in estimated],
                               "arrayminus": [r["hr"] - r["hr_lower"] for _, r in estimated]},
                   "marker": {"symbol": "diamond", "color": INK, "size": canvas.scale(9)},
                   "customdata": [[plain_short(fmt_dose(r["level"])), fmt_ci(r["hr"], r["hr_lower"], r["hr_upper"]),
                                   r["pfs_events"], r["n"]] for _, r in estimated],
                   "hovertemplate": "%{customdata[0]}: HR %{customdata[1]} (%{customdata[2]} events in "
                                    "%{customdata[3]})<extra></extra>"})
    others = [(y, r) for y, r in level_rows if r["label"] != ALL_PATIENTS and (r["reference"] or r["hr"] != r["hr"])]
    traces.append({"type": "scatter", "mode": "text", "xaxis": "x4", "yaxis": "y", "x": [1.0] * len(others),
                   "y": [y for y, _ in others], "text": ["ref." if r["reference"] else "NE" for _, r in others],
                   "textposition": "middle right", "textfont": {"color": MUTED, "size": tick_px},
                   "customdata": [plain(r["hr_note"]) for _, r in others],
                   "hovertemplate": "%{customdata}<extra></extra>"})
    layout["shapes"].append({"type": "line", "xref": "x4", "yref": "paper", "x0": 1, "x1": 1, "y0": 0, "y1": 1,
                             "layer": "below", "line": {"color": INK, "width": 1}})
    longest = max((len(r["text"].replace("<b>", "").replace("</b>", "")) for r in rows), default=10)
    footnote = [FOREST_METHOD, CUT_POINTS, *subgroups.notes]
    if row_px < MIN_ROW_PX:
        footnote.append(f"{count} rows: small at this size (the PowerPoint export splits them over slides).")
    return frame({"data": traces, "layout": layout}, title=FOREST_TITLE + part, canvas=canvas, plot_height=plot_height,
                 left=min(40 + longest * 0.56 * tick_px / canvas.scale(1), 300), top_extra=22, legend="none",
                 footnote=footnote, note=note)


def _stripe(top: float, bottom: float) -> dict:
    return {"type": "rect", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": bottom, "y1": top,
            "fillcolor": "#F3F5F8", "line": {"width": 0}, "layer": "below"}


# ---- tables -----------------------------------------------------------------------------------------------------

def quartile_frame(view: ExposureResponseView) -> pd.DataFrame:
    """The quartiles as text: exposure range, n, events, % (exact 95% CI), median exposure."""
    q = view.quartiles
    return pd.DataFrame({"Quartile": q["quartile"],
                         f"{view.metric_header} range": [fmt_range(a, b) for a, b in zip(q["low"], q["high"],
                                                                                           strict=True)],
                         "n": q["n"].map(fmt_count), "With the outcome": q["events"].map(fmt_count),
                         "% (exact 95% CI)": [pct_ci(p, a, b) for p, a, b in zip(q["proportion"], q["ci_lower"],
                                                                               q["ci_upper"], strict=True)],
                         "Median exposure": q["median_exposure"].map(fmt_sig)})


def fit_frame(fit: LogisticFit) -> pd.DataFrame:
    """The logistic regression's coefficients (per log10 unit of exposure) and the odds ratio, as text; one row
    saying why when there is no fit."""
    if not fit.fitted:
        return pd.DataFrame({"Term": ["No fit"], "Estimate": [fit.reason], "SE": [BLANK], "95% CI": [BLANK],
                             "p": [BLANK]})
    slope = "Slope (per log10 exposure)" if fit.log else "Slope (per unit of exposure)"
    odds = "Odds ratio per 10-fold exposure" if fit.log else "Odds ratio per unit"
    z = Z95
    return pd.DataFrame({
        "Term": ["Intercept", slope, odds],
        "Estimate": [fmt_sig(fit.intercept), fmt_sig(fit.slope), fmt_sig(fit.odds_ratio)],
        "SE": [fmt_sig(fit.se_intercept), fmt_sig(fit.se_slope), BLANK],
        "95% CI": [f"{fmt_sig(fit.intercept - z * fit.se_intercept)} – {fmt_sig(fit.intercept + z * fit.se_intercept)}",
                   f"{fmt_sig(fit.slope - z * fit.se_slope)} – {fmt_sig(fit.slope + z * fit.se_slope)}",
                   f"{fmt_sig(fit.odds_ratio_ci[0])} – {fmt_sig(fit.odds_ratio_ci[1])}"],
        "p": [BLANK, fmt_p(fit.p_value).replace("p\u00a0", "").replace("=\u00a0", ""), BLANK]})


def subgroup_frame(subgroups: Subgroups) -> pd.DataFrame:
    """The forest plot's numbers as text, one row per level."""
    t = subgroups.table
    hr = []
    for r in t.itertuples():
        if r.label == ALL_PATIENTS:
            hr.append(BLANK)
        elif r.reference:
            hr.append("1 (reference)")
        elif r.hr != r.hr:
            hr.append("NE")
        else:
            hr.append(fmt_ci(r.hr, r.hr_lower, r.hr_upper, lambda v: f"{float(v):.2f}"))
    return pd.DataFrame({"Subgroup": [ALL_PATIENTS if r.label == ALL_PATIENTS else r.label for r in t.itertuples()],
                         "Level": ["" if r.label == ALL_PATIENTS else fmt_dose(r.level) for r in t.itertuples()],
                         "n": t["n"].map(fmt_count),
                         "ORR, % (95% CI)": [pct_ci(*v) for v in t[["orr", "orr_lower", "orr_upper"]].values],
                         "CRS ≥2, % (95% CI)": [pct_ci(*v) for v in
                                                t[["crs2_rate", "crs2_lower", "crs2_upper"]].values],
                         "PFS events": t["pfs_events"].map(fmt_count), "PFS HR (95% CI)": hr})


def dose_frame(view: ExposureResponseView) -> pd.DataFrame:
    """Exposure by dose level as text, one row per metric and dose: n, how many are 0 (all BLQ) when any is, and the
    median (range); the tests in `dose_notes` (geometric means: the Kinetics page's summary)."""
    t = view.dose_summary
    out = pd.DataFrame({"Exposure": t["parameter"], "Dose level": t["group"].map(fmt_dose), "n": t["n"].map(fmt_count),
                        "n at 0": t["n_zero"].map(fmt_count),
                        "Median (range)": [f"{fmt_sig(m)} ({fmt_range(a, b)})" for m, a, b in
                                           zip(t["median"], t["min"], t["max"], strict=True)]})
    return out if (t["n_zero"] > 0).any() else out.drop(columns="n at 0")


def dose_notes(view: ExposureResponseView) -> list[str]:
    """Each metric's unit and its test across dose levels, under the dose table."""
    notes = [f"{panel.label}: {panel.test_text} across dose levels." for panel in view.dose_panels]
    if (view.dose_summary["n_zero"] > 0).any():
        notes.append("n at 0: profiles with every sample BLQ (exposure 0), counted in n, the median and the range.")
    return notes


def exposure_export_frame(view: ExposureResponseView) -> pd.DataFrame:
    """Every patient's exposure and outcomes as downloaded: the numbers behind the figures, units in the headers."""
    t = view.exposure
    out = pd.DataFrame({"Patient": t["subject_id"], "Dose level": t["dose_level"], "Best response": t["best_response"],
                        "Responder (≥PR)": t["responder"].map({True: "yes", False: "no"}),
                        "Worst CRS grade": t["worst_crs_grade"],
                        "CRS grade ≥2": t["crs_grade_2plus"].map({True: "yes", False: "no"})})
    for key, header in view.metrics.items():
        out[header] = t[key]
    out["Analyte"] = view.where
    out["NCA notes"] = t["nca_note"] if "nca_note" in t else ""
    out["NCA"] = NCA_NOTE
    return out
