"""Cohort kinetics builders: spaghetti plot with a summary band, box panels by group (zeros drawn, not dropped),
flow against qPCR, the summary-by-group and exposure tables, and the NCA grid.

Figures are plain dicts framed by components/frame.py. Patient lines are one SVG trace per group (patients split by
gaps), so thousands stay light; no WebGL trace: plotly's WebGL traces compile code at run time (regl, the Function
constructor), which the app's Content-Security-Policy refuses (no 'unsafe-eval'; pages/_requests.security_headers).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from dash import dcc

from analysis.kinetics import BLQ_LEVEL_RULE, GroupValues
from analysis.nca.options import AUC_METHOD_LABELS, BLQ_RULE_LABELS
from analysis.nca.parameters import parameter
from analysis.views.kinetics import FACT_COLUMNS, STATISTICS, CohortView
from components.frame import Canvas, frame
from components.number_format import BLANK, fmt_count, fmt_day, fmt_dose, fmt_range, fmt_sig
from components.text import markdown_link, patient_href, plain, plain_short
from components.theme import INK, MUTED, OKABE_ITO, group_colors, hex_to_rgba
from data_access.catalogue import Catalogue, specimen_label

ZERO_LABEL = "0 (all BLQ)"
FLOW_TITLE = "Flow cytometry against qPCR (same-day blood samples)"


def nca_method_note(start: float, end: float, auc_method: str, blq: str) -> str:
    """How the NCA was computed, as every kinetics footnote and export states it."""
    return (f"NCA: AUC day {start:g}–{end:g}, {AUC_METHOD_LABELS[auc_method].lower()}; BLQ rule: "
            f"{BLQ_RULE_LABELS[blq]}.")


# ---- profiles --------------------------------------------------------------------------------------------------

def spaghetti_title(view: CohortView) -> str:
    return f"{view.where}: every patient's profile"


def spaghetti_figure(view: CohortView, note: str, canvas: Canvas, facet: bool, log: bool) -> dict:
    """Every patient's profile (thin WebGL lines; click one to open the patient) with the summary line and band by
    nominal day, per group (colours, or one panel per group)."""
    s = view.settings
    groups = view.groups
    colors = group_colors(s.grouping, groups)
    panels = groups if facet else [None]
    gap = 0.03
    width = (1 - gap * (len(panels) - 1)) / len(panels)
    layout: dict = {"hovermode": "closest", "uirevision": "cohort", "annotations": []}
    traces = []
    statistic = "median" if s.statistic == "median" else "geometric mean"
    overlaid = not facet and len(groups) > 1
    for p, panel in enumerate(panels):
        suffix = "" if p == 0 else str(p + 1)
        xname, yname = f"x{suffix}", f"y{suffix}"
        layout[f"xaxis{suffix}"] = {"domain": [p * (width + gap), p * (width + gap) + width], "anchor": yname,
                                    "title": {"text": "Days since CAR-T infusion" if p == len(panels) // 2 else ""},
                                    "zeroline": False, **({} if p == 0 else {"matches": "x"})}
        layout[f"yaxis{suffix}"] = {"anchor": xname, "type": "log" if log else "linear",
                                    "title": {"text": plain(f"{view.label} ({view.unit})") if p == 0 else ""},
                                    "exponentformat": "power", **({"dtick": 1} if log else {}),
                                    **({} if p == 0 else {"matches": "y", "showticklabels": False})}
        if facet:
            layout["annotations"].append({"text": f"<b>{plain_short(fmt_dose(panel))}</b>", "xref": f"{xname} domain",
                                          "yref": "paper",
                                          "x": 0.5, "y": 1.0, "yshift": 4, "showarrow": False, "yanchor": "bottom",
                                          "font": {"size": 13, "color": colors[panel]}})
        for group in groups if not facet else [panel]:
            color = colors[group]
            rows = view.samples[view.samples["group"] == group]
            if rows.empty:
                continue
            x, y, ids = _line_arrays(rows)
            n = view.patients_by_group.get(group, 0)
            traces.append({"type": "scatter", "mode": "lines", "x": x, "y": y, "customdata": ids,
                           "name": f"{plain_short(fmt_dose(group))} (n={n})", "legendgroup": group,
                           "showlegend": False,
                           "line": {"color": hex_to_rgba(color, 0.22), "width": 1},
                           "hovertemplate": "%{customdata}<br>day %{x}: %{y:.3~s}<extra>click to open</extra>",
                           "xaxis": xname, "yaxis": yname})
            band = view.by_day[view.by_day["group"] == group]
            if band.empty:
                continue
            days = band["nominal_day"].tolist()
            traces.append({"type": "scatter", "mode": "lines", "x": days, "y": band["upper"].tolist(),
                           "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip", "legendgroup": group,
                           "xaxis": xname, "yaxis": yname})
            traces.append({"type": "scatter", "mode": "lines", "x": days, "y": band["lower"].tolist(),
                           "line": {"width": 0}, "fill": "tonexty",
                           "fillcolor": hex_to_rgba(color, 0.10 if overlaid else 0.18),  # overlapping bands stay apart
                           "showlegend": False, "hoverinfo": "skip", "legendgroup": group, "xaxis": xname,
                           "yaxis": yname})
            traces.append({"type": "scatter", "mode": "lines+markers", "x": days, "y": band["centre"].tolist(),
                           "name": f"{plain_short(fmt_dose(group))} (n={n})", "legendgroup": group,
                           "showlegend": not facet,
                           "line": {"color": color, "width": canvas.scale(4)},
                           "marker": {"size": canvas.scale(7), "color": color, "line": {"color": "white", "width": 1}},
                           "customdata": band["n"].tolist(),
                           "hovertemplate": f"<b>{plain_short(group)}</b> {statistic}<br>day %{{x}}: %{{y:.3~s}} "
                                            "(n=%{customdata})<extra></extra>", "xaxis": xname, "yaxis": yname})
    footnote = [f"Thin lines: each patient; bold: {STATISTICS[s.statistic]} by nominal visit day (days with ≥ 3 "
                f"patients). {BLQ_LEVEL_RULE}."]
    return frame({"data": traces, "layout": layout}, title=spaghetti_title(view), canvas=canvas, plot_height=440,
                 top_extra=22 if facet else 0, footnote=footnote, note=note)


def _line_arrays(rows: pd.DataFrame) -> tuple[list, list, list]:
    """One polyline per patient joined with gaps (None), so a whole group is a single WebGL trace; the ids (as
    plotly text) for each point."""
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
    ids[positions] = [plain(s) for s in rows["subject_id"]]  # shown on hover; a click unescapes it
    return x.tolist(), y.tolist(), ids.tolist()


# ---- groups ----------------------------------------------------------------------------------------------------

def zero_floor(values: list[np.ndarray]) -> float:
    """Where a log axis draws zeros: a decade below the smallest positive value."""
    positive = np.concatenate([v[v > 0] for v in values]) if values else np.zeros(0)
    if not len(positive):
        return 1.0
    return 10 ** (math.floor(math.log10(positive.min())) - 1)


def group_tick(panel: GroupValues, group: str) -> str:
    """'CRS<br>grade 1<br>n=24, 3 at 0': the group (broken into short lines, never rotated), n and zeros."""
    words, lines = group.split(" "), []
    for word in words:
        if lines and len(lines[-1]) + len(word) < 8:
            lines[-1] += " " + word
        else:
            lines.append(word)
    zeros = panel.n_zero(group)
    return ("<br>".join(plain_short(line, 24) for line in lines) + f"<br>n={panel.n(group)}"
            + (f"<br>{zeros} at 0" if zeros else ""))


def box_figure(panels: list[GroupValues], grouping: str, title: str, note: str, canvas: Canvas, log: bool = True,
               footnote: str = "") -> dict:
    """Side-by-side panels of a box and every patient per group, each headed by its test. Every patient with a
    value is drawn: on a log axis a 0 (a profile that was all BLQ) sits on a dotted line a decade below the
    smallest value, labelled '0 (all BLQ)'; the box statistics count it as the lowest value. Each group's tick
    says n and how many are 0."""
    layout: dict = {"showlegend": False, "annotations": [], "shapes": [], "boxgap": 0.35}
    traces = []
    gap = 0.17  # room for the next panel's axis title and tick labels
    width = (1 - gap * (len(panels) - 1)) / max(len(panels), 1)
    any_zero = False
    for p, panel in enumerate(panels):
        suffix = "" if p == 0 else str(p + 1)
        xname, yname = f"x{suffix}", f"y{suffix}"
        colors = group_colors(grouping, panel.groups)
        floor = zero_floor(list(panel.values.values())) if log else 0.0
        ticks = [group_tick(panel, g) for g in panel.groups]
        layout[f"xaxis{suffix}"] = {"domain": [p * (width + gap), p * (width + gap) + width], "anchor": yname,
                                    "type": "category", "categoryorder": "array", "categoryarray": ticks,
                                    "tickfont": {"size": 12}, "tickangle": 0}
        layout[f"yaxis{suffix}"] = {"anchor": xname, "type": "log" if log else "linear",
                                    "title": {"text": panel.label}, "exponentformat": "power",
                                    **({"dtick": 1} if log else {})}
        layout["annotations"].append({"text": panel.test_text, "xref": f"{xname} domain", "yref": f"{yname} domain",
                                      "x": 0.5, "y": 1.0, "yshift": 6, "showarrow": False, "yanchor": "bottom",
                                      "font": {"size": 12, "color": INK}})
        has_zero = False
        for group, tick in zip(panel.groups, ticks, strict=True):
            values = panel.values[group]
            zero = values == 0
            has_zero |= bool(zero.any()) and log
            drawn = np.where(zero, floor, values) if log else values
            color = colors[group]
            traces.append({"type": "box", "y": drawn.tolist(), "x": [tick] * len(drawn), "name": plain_short(group),
                           "boxpoints": "all", "jitter": 0.35, "pointpos": 0, "xaxis": xname, "yaxis": yname,
                           "customdata": [[plain_short(sid), v, " (all BLQ)" if z else ""] for sid, z, v in
                                          zip(panel.subjects[group], zero.tolist(), values.tolist(), strict=True)],
                           "marker": {"color": color, "size": canvas.scale(6), "opacity": 0.8},
                           "line": {"color": color}, "fillcolor": hex_to_rgba(color, 0.12),
                           "hovertemplate": f"{plain_short(group)}: %{{customdata[0]}}, "
                                            "%{customdata[1]:,.3r}%{customdata[2]}"
                                            "<extra></extra>"})
        if has_zero:
            any_zero = True
            layout["shapes"].append({"type": "line", "xref": f"{xname} domain", "yref": yname, "x0": 0, "x1": 1,
                                     "y0": floor, "y1": floor, "line": {"color": MUTED, "width": 1, "dash": "dot"},
                                     "layer": "below"})
            layout["annotations"].append({"text": ZERO_LABEL, "xref": f"{xname} domain", "yref": yname, "x": 1,
                                          "xanchor": "right", "y": math.log10(floor), "yanchor": "bottom",
                                          "showarrow": False, "font": {"size": 11, "color": MUTED}})
            top = max((v.max() for v in panel.values.values() if len(v)), default=floor)
            layout[f"yaxis{suffix}"]["range"] = [math.log10(floor) - 0.3, math.log10(max(top, floor)) + 0.3]
    notes = ["Box: median and quartiles; points: every patient; n under each group."]
    if any_zero:
        notes.append("A 0 is a profile with every sample BLQ; it counts in n, the box and the test, not in "
                     "geometric means.")
    if footnote:
        notes.append(footnote)
    tick_lines = max((t.count("<br>") + 1 for p in panels for t in (group_tick(p, g) for g in p.groups)), default=2)
    return frame({"data": traces, "layout": layout}, title=title, canvas=canvas, plot_height=360,
                 below_axis=20 + 16 * tick_lines, top_extra=22, legend="none", footnote=notes, note=note)


def flow_figure(view: CohortView, note: str, canvas: Canvas) -> dict:
    pairs = view.flow_pairs
    rho, p, n = view.flow_test
    if n >= 3:
        p_text = f"p = {p:.2g}" if p >= 0.001 else "p < 0.001"
        test = f"Spearman ρ = {rho:.2f}, {p_text}, n = {n} samples"
    else:
        test = "too few paired samples"
    keep = (pairs["car_copies"] > 0) & (pairs["car_t_pct"] > 0)
    body = {"data": [{"type": "scatter", "mode": "markers", "x": pairs.loc[keep, "car_copies"].tolist(),
                      "y": pairs.loc[keep, "car_t_pct"].tolist(), "customdata": [plain_short(s)
                                                                        for s in pairs.loc[keep, "subject_id"]],
                      "marker": {"color": OKABE_ITO[0], "size": canvas.scale(6), "opacity": 0.6},
                      "hovertemplate": "%{customdata}<br>%{x:.3~s}, %{y:.3~s}<extra></extra>"}],
            "layout": {"showlegend": False,
                       "xaxis": {"type": "log", "title": {"text": "CAR transgene, blood (copies/µg gDNA)"},
                                 "exponentformat": "power", "dtick": 1},
                       "yaxis": {"type": "log", "title": {"text": "CAR+ T cells, blood (% of CD3+)"},
                                 "exponentformat": "power", "dtick": 1},
                       "annotations": [{"text": test, "xref": "paper", "yref": "paper", "x": 0.02, "y": 0.98,
                                        "xanchor": "left", "yanchor": "top", "showarrow": False, "font": {"size": 13},
                                        "bgcolor": "rgba(255,255,255,0.8)"}]}}
    return frame(body, title=FLOW_TITLE, canvas=canvas, plot_height=360,
                 legend="none", footnote=["Quantified samples after Day 0 (BLQ left out: no pair)."], note=note)


# ---- tables ----------------------------------------------------------------------------------------------------

def _fmt(parameter_name: str):
    """The one formatter for a parameter: days as recorded, counts as whole numbers, the rest 3 significant
    digits."""
    kind = parameter(parameter_name).unit_kind
    return fmt_day if kind == "time" else fmt_count if kind == "count" else fmt_sig


def summary_frame(view: CohortView) -> pd.DataFrame:
    """n, median (range), geometric mean and CV of each parameter per group, as text, with units."""
    records = []
    for r in view.group_summary.itertuples(index=False):
        fmt = _fmt(r.parameter)
        geometric = parameter(r.parameter).unit_kind != "time"
        records.append({"Group": fmt_dose(r.group), "Parameter": parameter(r.parameter).header(view.unit),
                        "n": fmt_count(r.n), "n at 0": fmt_count(r.n_zero) if geometric else BLANK,
                        "Median": fmt(r.median), "Range": fmt_range(r.min, r.max, fmt),
                        "Geometric mean (values\u00a0>\u00a00)": fmt_sig(r.geometric_mean) if geometric else BLANK,
                        "Geometric CV %": fmt_sig(r.geometric_cv_pct) if geometric else BLANK})
    return pd.DataFrame(records)


def exposure_frame(view: CohortView) -> pd.DataFrame:
    t = view.exposure_table
    return pd.DataFrame({"Comparison": t["figure"], "Parameter": t["parameter"], "Group": t["group"],
                         "n": t["n"].map(fmt_count), "n at 0 (all BLQ)": t["n_zero"].map(fmt_count),
                         "Median": t["median"].map(fmt_sig),
                         "Range": [fmt_range(a, b) for a, b in zip(t["min"], t["max"], strict=True)],
                         "Geometric mean (values\u00a0>\u00a00)": t["geometric_mean"].map(fmt_sig), "Test": t["test"]})


#: The grid's columns after the patient: the patient facts, then parameters from the registry.
GRID_FACTS = (("dose_level", "Dose level", 128), ("best_response", "Best response", 118),
              ("worst_crs_grade", "Worst CRS grade", 104))
#: The NCA grid's parameters by the analyte's kind (`<auc>`: the AUC window's partial AUC).
GRID_PARAMETERS = {
    "cell_kinetics": ("cmax", "tmax", "<auc>", "auclast", "tlast", "half_life", "lambda_z_n_points", "r2_adj"),
    "biomarker": ("baseline", "peak", "peak_day", "peak_fold_change", "<auc>", "auclast"),
    "tumour_burden": ("baseline", "nadir", "nadir_day", "nadir_percent_reduction"),
}


def grid_parameters(view: CohortView) -> list[str]:
    return [view.settings.auc_column if name == "<auc>" else name for name in GRID_PARAMETERS[view.kind]]


def grid_columns(view: CohortView) -> list[dict]:
    """Column definitions: headers with units from the registry; numbers shown as the one formatter wrote them
    (the `<field>_text` of each row) while sorting and filtering use the values."""
    columns = [{"field": "subject_id", "headerName": "Patient", "pinned": "left", "width": 110,
                "cellRenderer": "markdown", "filter": "agTextColumnFilter"}]
    wrap = {"wrapText": True, "autoHeight": True, "cellStyle": {"lineHeight": "1.35", "paddingTop": "6px",
                                                                "paddingBottom": "6px"}}
    columns += [{"field": f, "headerName": h, "width": w, **(wrap if f == "dose_level" else {})}
                for f, h, w in GRID_FACTS]
    for name in grid_parameters(view):
        kind = parameter(name).unit_kind
        width = 150 if kind == "auc" else 132 if kind == "conc" else 104
        columns.append({"field": name, "headerName": parameter(name).header(view.unit), "type": "numericColumn",
                        "filter": "agNumberColumnFilter", "width": width,
                        "valueFormatter": {"function": f"params.data ? params.data['{name}_text'] : ''"}})
    columns.append({"field": "reason", "headerName": "Notes", "minWidth": 260, "flex": 1, "tooltipField": "reason",
                    **wrap})
    return columns


def grid_rows(view: CohortView, query: str) -> list[dict]:
    """Grid records: the patient as a link, blanks as None (JSON null), each number with its formatted text.
    Built column by column, several times faster than `to_dict("records")` on a cohort-sized table."""
    table = view.table
    columns = {"subject_id": [markdown_link(s, patient_href(s, query)) for s in table["subject_id"]]}
    for name, *_ in GRID_FACTS:
        columns[name] = [None if v is None or v != v else fmt_dose(v) for v in table[name].tolist()]
    for name in grid_parameters(view):
        values = table[name].to_numpy(dtype=float)
        columns[name] = [None if v != v else v for v in values.tolist()]
        columns[f"{name}_text"] = [_fmt(name)(v) for v in values]
    columns["reason"] = table["reason"].tolist()
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def nca_export_frame(view: CohortView) -> pd.DataFrame:
    """The NCA table as downloaded: the grid's columns (patient facts, then every parameter) with units in the
    headers, and the options it was computed with on every row."""
    s = view.settings
    table = view.table
    out = pd.DataFrame({"Patient": table["subject_id"], "Analyte": view.label,
                        "Specimen": table["specimen"]})
    for field, header, _ in GRID_FACTS:
        out[header] = table[field]
    for name in table.columns:
        if name in ("subject_id", "analyte", "specimen", "reason", *FACT_COLUMNS):
            continue
        out[parameter(name).header(view.unit)] = table[name]
    out["Notes"] = table["reason"]
    out["AUC window (days)"] = f"{s.start:g} to {s.end:g}"
    out["AUC method"] = AUC_METHOD_LABELS[s.auc_method]
    out["BLQ rule"] = BLQ_RULE_LABELS[s.blq]
    return out


#: The NCA table's parameters on a slide (the download has them all).
#: The grid's columns a slide leaves out (λz diagnostics: the grid and the downloads have them).
DECK_LEAVES_OUT = ("lambda_z_n_points", "r2_adj")


def nca_text_frame(view: CohortView) -> pd.DataFrame:
    """Every patient's main NCA parameters as text, as a slide shows them."""
    table = view.table
    out = pd.DataFrame({"Patient": table["subject_id"]})
    for field, header, _ in GRID_FACTS:
        out[header] = [BLANK if v != v else fmt_dose(str(v)) for v in table[field]]
    for name in grid_parameters(view):  # the grid's parameters for the analyte's kind
        if name not in DECK_LEAVES_OUT:
            out[parameter(name).header(view.unit)] = [_fmt(name)(v) for v in table[name]]
    return out


# ---- the analyst's choices ---------------------------------------------------------------------------------------

CHOICE_WORDS = {"exclude": "left out", "include": "put back", "lambda_z": "λz points chosen",
                "lambda_z_auto": "automatic λz again"}


def choices_frame(table: pd.DataFrame, query: str, catalogue: Catalogue) -> pd.DataFrame:
    """The choices in force (data_access.choices.current_table) as the page lists them."""
    links = [dcc.Link(plain_short(s), href=patient_href(s, query)) for s in table["subject_id"]]
    return pd.DataFrame({"Patient": links,
                         "Profile": [f"{catalogue.label(a)}, {specimen_label(p).lower()}"
                                     for a, p in zip(table["analyte"], table["specimen"], strict=True)],
                         "Choice": table["choice"], "Day(s)": table["days"], "Reason": table["reason"]})


def history_frame(changes: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """Every change, oldest first: when, who, patient, profile, what, day(s), why."""
    days = [", ".join(f"{d:g}" for d in ds) if isinstance(ds, list) else ("" if d != d else f"{d:g}")
            for d, ds in zip(changes["day"], changes["days"], strict=True)]
    return pd.DataFrame({"When (UTC)": changes["at"].dt.strftime("%Y-%m-%d %H:%M:%S"), "Who": changes["user_name"],
                         "Patient": changes["subject_id"],
                         "Profile": [f"{catalogue.label(a)}, {specimen_label(p).lower()}"
                                     for a, p in zip(changes["analyte"], changes["specimen"], strict=True)],
                         "Change": changes["action"].map(CHOICE_WORDS), "Day(s)": days, "Reason": changes["reason"]})
