"""Patient page builders: facts header, stacked kinetics panels on one time axis, kinetics summary table.

Figures are plain dicts on the CARTscope theme (no plotly validation), so a callback stays fast.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from dash import dcc, html

from analysis.kinetics import display_level
from analysis.nca.engine import sample_curve
from analysis.overview import DAYS_PER_MONTH
from analysis.patients import status_text
from components.layout import SIMULATED_NOTE
from components.theme import (
    GRADE_COLORS,
    INK,
    MUTED,
    SPECIMEN_COLORS,
    fmt_sig,
    hex_to_rgba,
    template_json,
)
from data_access.schema import ANALYTES, SPECIMEN_LABELS

#: The stacked panels, top to bottom: (analyte, y-axis title, log scale, relative height).
PANELS = (
    ("car_copies", "CAR transgene<br>(copies/µg gDNA)", True, 0.27),
    ("car_t_pct", "CAR+ T cells<br>(% of CD3+)", False, 0.16),
    ("plasma_cells_pct", "Marrow plasma<br>cells (%)", False, 0.14),
    ("il6", "Serum IL-6<br>(pg/mL)", True, 0.17),
    ("clinical", "", False, 0.26),
)
PANEL_GAP = 0.035


def _domains() -> list[tuple[float, float]]:
    """Panel y-domains, top to bottom."""
    usable = 1 - PANEL_GAP * (len(PANELS) - 1)
    top, out = 1.0, []
    for *_, share in PANELS:
        height = usable * share
        out.append((max(top - height, 0.0), top))
        top -= height + PANEL_GAP
    return out


def _axis_names(i: int) -> tuple[str, str, str, str]:
    suffix = "" if i == 0 else str(i + 1)
    return f"x{suffix}", f"y{suffix}", f"xaxis{suffix}", f"yaxis{suffix}"


def kinetics_figure(measurements: pd.DataFrame, params: pd.DataFrame, curves: pd.DataFrame, window: tuple[float, float],
                    x_range: tuple[float, float], footnote: str, clinical: dict | None = None) -> dict:
    """Stacked panels sharing the x axis (days since infusion); zooming one zooms all.

    `params` is the NCA of this patient (one row per analyte x specimen) and `curves` the curves it was
    computed on; the AUC window is shaded under the blood transgene curve, Cmax is starred and the
    lambda-z points are ringed.
    """
    traces: list[dict] = []
    layout: dict = {"template": template_json(), "height": 1060, "barmode": "overlay",
                    "margin": {"l": 96, "r": 28, "t": 96, "b": 96},
                    "hovermode": "closest", "showlegend": True,
                    "legend": {"orientation": "h", "x": 0, "y": 1.015, "yanchor": "bottom"}, "annotations": [],
                    "shapes": []}
    start, end = window
    for i, ((analyte, title, log, _), (low, high)) in enumerate(zip(PANELS, _domains(), strict=True)):
        xname, yname, xaxis, yaxis = _axis_names(i)
        last = i == len(PANELS) - 1
        layout[xaxis] = {"domain": [0, 1], "anchor": yname, "range": list(x_range), "showticklabels": last,
                         "title": {"text": "Days since CAR-T infusion"} if last else None, "zeroline": False,
                         **({} if i == 0 else {"matches": "x"})}
        if analyte == "clinical":
            layout[yaxis] = {"domain": [low, high], "anchor": xname, "type": "category", "showgrid": False,
                             "tickfont": {"size": 11}}
            _clinical_panel(traces, layout, clinical or {}, xname, yname, yaxis)
            continue
        data = measurements[measurements["analyte"] == analyte]
        levels = display_level(data)
        positive = levels[levels > 0]
        layout[yaxis] = {"domain": [low, high], "anchor": xname, "title": {"text": title, "font": {"size": 13}},
                         "type": "log" if log else "linear", "exponentformat": "power" if log else "none"}
        if log and len(positive):
            lo = math.floor(math.log10(positive.min() / 2))
            hi = math.ceil(math.log10(positive.max() * 1.5))
            layout[yaxis]["range"] = [lo, max(hi, lo + 1)]
        if data.empty:
            layout["annotations"].append({"text": "no samples", "xref": f"{xname} domain", "yref": f"{yname} domain",
                                          "x": 0.5, "y": 0.5, "showarrow": False, "font": {"color": MUTED}})
        for specimen in ANALYTES[analyte].specimens:
            rows = data[data["specimen"] == specimen].sort_values("day")
            if rows.empty:
                continue
            traces.append(_sample_trace(rows, levels.loc[rows.index], analyte, specimen, xname, yname,
                                        show_legend=analyte in ("car_copies", "il6", "plasma_cells_pct")
                                        and not any(t.get("legendgroup") == specimen for t in traces)))
            lloq = rows["lloq"].dropna()
            if len(lloq):
                layout["shapes"].append(_hline(float(lloq.iloc[0]), xname, yname, SPECIMEN_COLORS[specimen]))
        if analyte == "plasma_cells_pct":
            layout["shapes"].append(_hline(5.0, xname, yname, INK, dash="dot"))
            layout["annotations"].append({"text": "5 %: IMWG CR requires < 5 % plasma cells", "x": 1,
                                          "xref": f"{xname} domain", "y": 5, "yref": yname, "xanchor": "right",
                                          "yanchor": "bottom", "showarrow": False,
                                          "font": {"size": 11, "color": MUTED}})
        _mark_parameters(traces, layout, params, curves, analyte, xname, yname, window, log)
    layout["shapes"].append({"type": "rect", "xref": "x", "yref": "paper", "x0": start, "x1": end, "y0": 0, "y1": 1,
                             "fillcolor": "rgba(0,114,178,0.05)", "line": {"width": 0}, "layer": "below"})
    traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": "BLQ (drawn at LLOQ)",
                   "marker": {"symbol": "circle-open", "color": INK, "size": 8}, "xaxis": "x", "yaxis": "y"})
    layout["annotations"].append({"text": footnote, "xref": "paper", "yref": "paper", "x": 0, "y": 0, "yshift": -78,
                                  "xanchor": "left", "yanchor": "top", "showarrow": False, "align": "left",
                                  "font": {"size": 11, "color": MUTED}})
    layout["updatemenus"] = [_range_buttons(x_range)]
    return {"data": traces, "layout": layout}


def _clinical_panel(traces: list, layout: dict, clinical: dict, xname: str, yname: str, yaxis: str) -> None:
    """Response at each assessment as coloured blocks, AE bars from onset to resolution coloured by grade (CRS and
    ICANS on their own rows), and markers for progression, death and last contact."""
    from components.efficacy import AFTER_PROGRESSION, RESPONSE_COLORS
    from data_access.schema import CRS_TERM, ICANS_TERM

    responses = clinical.get("responses", pd.DataFrame(columns=["day", "response"]))
    events = clinical.get("adverse_events", pd.DataFrame(columns=["term", "grade", "onset_day", "resolution_day"]))
    last_contact = clinical.get("last_contact_day", 0.0)
    short = {CRS_TERM: "CRS", ICANS_TERM: "ICANS"}
    others = events[~events["term"].isin(short)].sort_values("onset_day")["term"].drop_duplicates().tolist()
    rows = ["Response", "CRS", "ICANS", *[t if len(t) <= 26 else t[:25] + "…" for t in others[:8]]]
    layout[yaxis]["categoryarray"] = rows[::-1]
    layout[yaxis]["categoryorder"] = "array"
    r = responses.sort_values("day")
    days = r["day"].tolist()
    for i, (day, response) in enumerate(zip(days, r["response"], strict=True)):
        end = days[i + 1] if i + 1 < len(days) else max(last_contact, day + 1)
        color = AFTER_PROGRESSION if response == "PD" else RESPONSE_COLORS.get(response, "#ccc")
        traces.append({"type": "bar", "orientation": "h", "y": ["Response"], "base": [day], "x": [end - day],
                       "marker": {"color": color, "line": {"color": "white", "width": 1}},
                       "text": ["after PD" if response == "PD" else response], "textposition": "inside",
                       "insidetextanchor": "middle",
                       "textfont": {"size": 10, "color": "white" if response in ("sCR", "CR") else INK},
                       "width": 0.7, "showlegend": False, "xaxis": xname, "yaxis": yname,
                       "hovertemplate": f"Day {day:g}: {response}<extra></extra>"})
    for event in events.itertuples(index=False):
        row = short.get(event.term, event.term if len(event.term) <= 26 else event.term[:25] + "…")
        if row not in rows:
            continue
        ongoing = pd.isna(event.resolution_day)
        end = last_contact if ongoing else event.resolution_day
        traces.append({"type": "bar", "orientation": "h", "y": [row], "base": [event.onset_day],
                       "x": [max(end - event.onset_day, 1)], "width": 0.6, "showlegend": False,
                       "marker": {"color": GRADE_COLORS[int(event.grade)]}, "text": [f"G{int(event.grade)}"],
                       "textposition": "inside",
                       "textfont": {"size": 10, "color": INK if event.grade <= 2 else "white"},
                       "xaxis": xname, "yaxis": yname,
                       "hovertemplate": f"{event.term}: grade {int(event.grade)}, day {event.onset_day:g} to "
                                        + ("ongoing" if ongoing else f"{event.resolution_day:g}") + "<extra></extra>"})
    marks = [("Progression", clinical.get("progression_day"), "x", "#D55E00"),
             ("Death", clinical.get("death_day"), "square", INK),
             ("Last contact", None if clinical.get("death_day") == clinical.get("death_day")
              and clinical.get("death_day") is not None else last_contact, "line-ns-open", MUTED)]
    for name, day, symbol, color in marks:
        if day is None or pd.isna(day):
            continue
        traces.append({"type": "scatter", "mode": "markers", "x": [day], "y": ["Response"], "name": name,
                       "marker": {"symbol": symbol, "size": 13, "color": color, "line": {"width": 2, "color": color}},
                       "xaxis": xname, "yaxis": yname, "hovertemplate": f"{name}: day {day:g}<extra></extra>"})
        layout["shapes"].append({"type": "line", "xref": xname, "yref": "paper", "x0": day, "x1": day, "y0": 0,
                                 "y1": 1, "line": {"color": color, "width": 1, "dash": "dot"}, "layer": "below"})


def _sample_trace(rows: pd.DataFrame, levels: pd.Series, analyte: str, specimen: str, xname: str, yname: str,
                  show_legend: bool) -> dict:
    unit = ANALYTES[analyte].unit
    blq = rows["blq"].to_numpy()
    text = [f"< LLOQ ({fmt_sig(lloq)} {unit})" if b else f"{v:.4g} {unit}"
            for b, v, lloq in zip(blq, rows["value"], rows["lloq"], strict=True)]
    return {
        "type": "scatter", "x": rows["day"].tolist(), "y": levels.tolist(), "mode": "lines+markers",
        "name": SPECIMEN_LABELS[specimen], "legendgroup": specimen, "showlegend": show_legend,
        "xaxis": xname, "yaxis": yname,
        "line": {"color": SPECIMEN_COLORS[specimen], "width": 2},
        "marker": {"color": SPECIMEN_COLORS[specimen], "size": 8,
                   "symbol": ["circle-open" if b else "circle" for b in blq], "line": {"width": 2}},
        "customdata": [[t, "BLQ" if b else "quantified"] for t, b in zip(text, blq, strict=True)],
        "hovertemplate": (f"<b>{ANALYTES[analyte].label}, {SPECIMEN_LABELS[specimen].lower()}</b><br>"
                          "Day %{x}<br>%{customdata[0]}<br>%{customdata[1]}<extra></extra>"),
    }


def _hline(y: float, xname: str, yname: str, color: str, dash: str = "dash") -> dict:
    return {"type": "line", "xref": f"{xname} domain", "yref": yname, "x0": 0, "x1": 1, "y0": y, "y1": y,
            "line": {"color": color, "width": 1, "dash": dash}, "layer": "below"}


def _mark_parameters(traces, layout, params, curves, analyte, xname, yname, window, log) -> None:
    """Shade the AUC window under the blood curve, star Cmax, ring the lambda-z points (blood only)."""
    specimen = "serum" if analyte == "il6" else "PB" if analyte != "plasma_cells_pct" else None
    if specimen is None:
        return
    row = params[(params["analyte"] == analyte) & (params["specimen"] == specimen)]
    if row.empty:
        return
    row = row.iloc[0]
    color = SPECIMEN_COLORS[specimen]
    if analyte == "car_copies":
        curve = curves[(curves["analyte"] == analyte) & (curves["specimen"] == specimen)]
        x, y = sample_curve(curve["day"].to_numpy(), curve["conc"].to_numpy(), curve["log_to_next"].to_numpy(),
                            *window)
        if len(x):
            floor = 10 ** layout[f"yaxis{'' if yname == 'y' else yname[1:]}"].get("range", [0])[0] if log else 0
            y = np.maximum(y, floor)
            traces.append({"type": "scatter", "x": [x[0], *x.tolist(), x[-1]], "y": [floor, *y.tolist(), floor],
                           "fill": "toself", "fillcolor": hex_to_rgba(color, 0.18), "line": {"width": 0},
                           "mode": "lines", "name": f"AUC day {window[0]:g}–{window[1]:g}", "hoverinfo": "skip",
                           "xaxis": xname, "yaxis": yname, "showlegend": True})
        if pd.notna(row["lambda_z"]):
            data = curve[(curve["day"] >= row["lambda_z_start"]) & (curve["day"] <= row["lambda_z_end"])
                         & (curve["conc"] > 0)]
            traces.append({"type": "scatter", "x": data["day"].tolist(), "y": data["conc"].tolist(), "mode": "markers",
                           "name": f"λz points (t½ {fmt_sig(row['half_life'])} d)", "xaxis": xname, "yaxis": yname,
                           "marker": {"symbol": "circle-open", "size": 16, "color": INK, "line": {"width": 1.5}},
                           "hoverinfo": "skip"})
            days = np.array([row["lambda_z_start"], row["lambda_z_end"]])
            intercept = math.log(float(data["conc"].iloc[-1])) + row["lambda_z"] * float(data["day"].iloc[-1])
            traces.append({"type": "scatter", "x": days.tolist(),
                           "y": np.exp(intercept - row["lambda_z"] * days).tolist(), "mode": "lines",
                           "line": {"color": INK, "dash": "dot", "width": 1.5}, "showlegend": False,
                           "xaxis": xname, "yaxis": yname, "hoverinfo": "skip"})
    peak, peak_day = (row["peak"], row["peak_day"]) if analyte == "il6" else (row["cmax"], row["tmax"])
    if pd.notna(peak) and pd.notna(peak_day) and peak > 0:
        unit = ANALYTES[analyte].unit
        traces.append({"type": "scatter", "x": [peak_day], "y": [peak], "mode": "markers",
                       "name": "Peak (Cmax)", "legendgroup": "peak", "showlegend": analyte == "car_copies",
                       "marker": {"symbol": "star", "size": 15, "color": GRADE_COLORS[3], "line": {"width": 0}},
                       "xaxis": xname, "yaxis": yname,
                       "hovertemplate": f"Peak {fmt_sig(peak)} {unit} on day {peak_day:g}<extra></extra>"})


def _range_buttons(x_range: tuple[float, float]) -> dict:
    def button(label, lo, hi):
        return {"label": label, "method": "relayout", "args": [{"xaxis.range": [lo, hi]}]}

    return {"type": "buttons", "direction": "right", "x": 1, "xanchor": "right", "y": 1.075, "yanchor": "bottom",
            "showactive": False, "bgcolor": "white", "bordercolor": "#c5ced8", "font": {"size": 12},
            "buttons": [button("Day −7 to 28", -7, 30), button("Day −7 to 90", -7, 95),
                        button("All follow-up", *x_range)]}


def x_range_for(measurements: pd.DataFrame, last_contact_day: float) -> tuple[float, float]:
    first = float(min(measurements["day"].min(), 0)) if len(measurements) else 0.0
    last = float(max(last_contact_day, measurements["day"].max() if len(measurements) else 0, 28))
    pad = 0.02 * (last - first)
    return first - pad, last + pad


# ---- header and summary -------------------------------------------------------------------------------------


def fmt_day(value) -> str:
    """Days as recorded: 10, 10.5; blank -> '–'."""
    return "–" if value is None or pd.isna(value) else f"{float(value):g}"


def fact(label: str, value: str, fact_id: str | None = None) -> html.Div:
    extra = {"id": fact_id} if fact_id else {}
    return html.Div([html.Div(label, className="cs-fact-label"), html.Div(value, className="cs-fact-value")],
                    className="cs-fact", **extra)


def patient_facts(row: pd.Series, covariates: list[str]) -> list[tuple[str, str, str | None]]:
    """(label, value, element id) for everything the header says about a patient."""
    sex = {"M": "male", "F": "female", "U": "sex unknown"}.get(row["sex"], "sex unknown")
    age = f"{row['age']:g} y" if pd.notna(row["age"]) else "age unknown"
    best = row["best_response"] + (f" (day {row['day_best_response']:g})" if pd.notna(row["day_best_response"])
                                   else "")
    follow = f"{row['last_contact_day'] / DAYS_PER_MONTH:.1f} months (day {row['last_contact_day']:g})"
    grade = {0: "None"} | {g: f"Grade {g}" for g in range(1, 6)}
    facts = [("Dose level", row["dose_level"], "patient-dose"), ("Age / sex", f"{age}, {sex}", None),
             ("Best response", best, "patient-best-response"),
             ("Worst CRS", grade[int(row["worst_crs_grade"])], "patient-worst-crs"),
             ("Worst ICANS", grade[int(row["worst_icans_grade"])], "patient-worst-icans"),
             ("Follow-up", follow, None), ("Status", status_text(row), "patient-status")]
    for column in covariates:
        value = row[column]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            text = "–"
        elif isinstance(value, (bool, np.bool_)):
            text = "yes" if value else "no"
        else:
            text = f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)
        facts.append((column.replace("_", " ").capitalize(), text, None))
    return facts


def patient_header(row: pd.Series, covariates: list[str]) -> html.Div:
    return html.Div([fact(label, value, fact_id) for label, value, fact_id in patient_facts(row, covariates)],
                    className="cs-facts", id="patient-facts")


SUMMARY_ROWS = (("car_copies", "PB"), ("car_copies", "BM"), ("car_t_pct", "PB"), ("car_t_pct", "BM"))


def summary_frame(params: pd.DataFrame, window: tuple[float, float], auc_column: str) -> pd.DataFrame:
    """Cmax, Tmax, AUC over the window, AUClast, Tlast and half-life per analyte and specimen, as text."""
    start, end = window
    rows = []
    indexed = params.set_index(["analyte", "specimen"])
    for analyte, specimen in SUMMARY_ROWS:
        if (analyte, specimen) not in indexed.index:
            continue
        r = indexed.loc[(analyte, specimen)]
        unit = ANALYTES[analyte].unit
        rows.append({"": f"{ANALYTES[analyte].label}, {SPECIMEN_LABELS[specimen].lower()} ({unit}; AUC in {unit}·day)",
                     "Cmax": fmt_sig(r["cmax"]), "Tmax (day)": fmt_day(r["tmax"]),
                     f"AUC day {start:g}–{end:g}": fmt_sig(r[auc_column]), "AUClast": fmt_sig(r["auclast"]),
                     "Tlast (day)": fmt_day(r["tlast"]), "Half-life (days)": fmt_sig(r["half_life"]),
                     "_id": f"summary-{analyte}-{specimen}"})
    return pd.DataFrame(rows)


def kinetics_summary(params: pd.DataFrame, window: tuple[float, float], auc_column: str) -> html.Div:
    """The summary table, with IL-6 and marrow plasma-cell extras underneath."""
    frame = summary_frame(params, window, auc_column)
    columns = [c for c in frame.columns if c != "_id"]
    head = html.Thead(html.Tr([html.Th(c, className="num" if c else None) for c in columns]))
    body = html.Tbody([html.Tr([html.Td(row[c], className="num" if c else None) for c in columns], id=row["_id"])
                       for _, row in frame.iterrows()])
    table = html.Table([head, body], className="cs-table", id="patient-summary-table")
    indexed = params.set_index(["analyte", "specimen"])
    extras = []
    if ("il6", "serum") in indexed.index:
        r = indexed.loc[("il6", "serum")]
        extras.append(html.Span([html.B("IL-6: "), f"baseline {fmt_sig(r['baseline'])} pg/mL, peak ",
                                 html.Span(fmt_sig(r["peak"]), id="patient-il6-peak"),
                                 f" pg/mL on day {fmt_day(r['peak_day'])}, ",
                                 html.Span(fmt_sig(r["peak_fold_change"]), id="patient-il6-fold"),
                                 "-fold over baseline."]))
    if ("plasma_cells_pct", "BM") in indexed.index:
        r = indexed.loc[("plasma_cells_pct", "BM")]
        extras.append(html.Span([html.B("Marrow plasma cells: "),
                                 f"baseline {fmt_sig(r['baseline'])} %, nadir {fmt_sig(r['nadir'])} % on day "
                                 f"{fmt_day(r['nadir_day'])} ({fmt_sig(r['nadir_percent_reduction'])} % reduction)."]))
    return html.Div([table, html.P(extras, className="cs-extras")])


def nca_footnote(study_label: str, simulated: bool, method: str, blq: str) -> str:
    methods = {"linuplogdown": "linear-up/log-down trapezoids", "linear": "linear trapezoids"}
    note = (f"{study_label}. NCA: {methods[method]}, BLQ rule '{blq}' (docs/nca.md); hollow markers: below the "
            "LLOQ (dashed line), drawn at the LLOQ.")
    return note + ("<br>" + SIMULATED_NOTE if simulated else "")


def patient_picker(subject_ids: list[str], current: str, prev_href: str | None, next_href: str | None) -> html.Div:
    return html.Div(className="cs-picker", children=[
        dcc.Link("← Previous", href=prev_href or "#", id="patient-prev",
                 className="cs-button cs-button-secondary" + ("" if prev_href else " disabled")),
        dcc.Dropdown(id="patient-select", options=subject_ids, value=current, clearable=False, searchable=True,
                     placeholder="Search patient ID", className="cs-patient-select"),
        dcc.Link("Next →", href=next_href or "#", id="patient-next",
                 className="cs-button cs-button-secondary" + ("" if next_href else " disabled")),
    ])
