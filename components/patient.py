"""Patient builders: the patient list, the facts header, stacked kinetics and clinical panels on one time axis
(days since infusion), and the kinetics summary table. Figures are plain dicts framed by components/frame.py."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from dash import dcc, html

from analysis.ck.cohort import PatientModelFit
from analysis.ck.model import CK_PARAMETERS
from analysis.kinetics import BLQ_LEVEL_RULE, plotted_level
from analysis.nca.engine import sample_curve
from analysis.nca.parameters import BY_NAME, UNIT_KINDS, interval_parameter, parameter
from analysis.overview import DAYS_PER_MONTH
from analysis.patients import status_text
from analysis.safety import CRS_TREATMENTS
from analysis.views.patients import LIST_PROFILE, LIST_WINDOW, Panel, PatientView
from components.frame import Canvas, frame
from components.kinetics import nca_method_note
from components.number_format import BLANK, fmt_day, fmt_dose, fmt_range, fmt_sig
from components.text import markdown_link, patient_href, plain, plain_short, shorten
from components.theme import (
    AFTER_PROGRESSION,
    GRADE_COLORS,
    INK,
    MODEL_FIT_COLOR,
    MUTED,
    RESPONSE_COLORS,
    SPECIMEN_COLORS,
    hex_to_rgba,
)
from data_access.catalogue import DEFAULT, Analyte, Catalogue, specimen_label
from data_access.schema import CRS_TERM, ICANS_TERM

#: Titles of the first version's panels, kept (people know them): panel key -> (y-axis title, short title).
SEED_TITLES = {
    ("car_copies",): ("CAR transgene<br>(copies/µg gDNA)", "CAR transgene (copies/µg gDNA)"),
    ("car_t_pct",): ("CAR+ T cells<br>(% of CD3+)", "CAR+ T cells (% of CD3+)"),
    ("plasma_cells_pct",): ("Marrow plasma<br>cells (%)", "Marrow plasma cells (%)"),
    ("il6",): ("Serum IL-6<br>(pg/mL)", "Serum IL-6 (pg/mL)"),
    ("car_t_pct", "cd4_car_pct", "cd8_car_pct"): ("CAR+ T cells<br>(% of T cells)", "CAR+ T cells (% of T cells)"),
    ("il6", "ifng", "il10"): ("Serum cytokines<br>(pg/mL)", "Serum cytokines (pg/mL)"),
}
#: Relative heights: the transgene panel gets more (it carries the AUC, Cmax and λz marks).
PANEL_WEIGHTS = {"car_copies": 1.6}
PANEL_PX, CLINICAL_PX = 150, 234
#: CRS/ICANS treatment bars on the clinical track (a muted violet, apart from the grade and response colours).
TREATMENT_COLOR = "#7B6FA8"
#: Colours of the analytes sharing one panel (their specimens then differ by dash: blood solid, marrow dashed).
#: Analytes sharing one panel keep the specimen colours (blood blue, marrow orange, as everywhere) and differ by
#: marker and line: the first circles on a solid line, the next squares on a dashed one, and so on.
ANALYTE_MARKS = (("circle", "solid", "●"), ("square", "dash", "■"), ("diamond", "dot", "◆"),
                 ("triangle-up", "dashdot", "▲"), ("cross", "longdash", "✚"), ("x", "longdashdot", "✖"))
#: On a slide at most this many analyte panels are drawn (each stays tall enough to read); the footnote says so.
SLIDE_MAX_PANELS = 4
PANEL_GAP = 0.035
#: On a slide each panel is too short for a rotated axis title: its name goes in the gap above it instead.
SLIDE_PANEL_GAP = 0.075
#: Day ranges the page offers (the x axis of the figure and of its exports).
DAY_RANGES = {"28": ("Day −7 to 28", (-7.0, 30.0)), "90": ("Day −7 to 90", (-7.0, 95.0)),
              "all": ("All follow-up", None)}
GRADE_LABEL = {0: "None"} | {g: f"Grade {g}" for g in range(1, 6)}
CLINICAL_SHORT = {CRS_TERM: "CRS", ICANS_TERM: "ICANS"}


def kinetics_title(view: PatientView) -> str:
    return f"Patient {shorten(view.subject_id)}: kinetics and clinical course"


def x_range_for(view: PatientView, days: str = "all") -> tuple[float, float]:
    """The figure's x range: one of DAY_RANGES, or all follow-up (first sample to last contact, at least day 28)."""
    if days in DAY_RANGES and DAY_RANGES[days][1] is not None:
        return DAY_RANGES[days][1]
    rows = view.measurements
    first = float(min(rows["day"].min(), 0)) if len(rows) else 0.0
    last = float(max(view.facts["last_contact_day"], rows["day"].max() if len(rows) else 0, 28))
    pad = 0.02 * (last - first)
    return first - pad, last + pad


#: On a slide the clinical rows get more of the height, so each AE row stays readable.
SLIDE_CLINICAL_SHARE = 0.38


def panel_titles(panel: Panel) -> tuple[str, str]:
    """(y-axis title, short title for slides) of an analyte panel, with its unit, as plotly text."""
    if panel.analytes in SEED_TITLES:
        return SEED_TITLES[panel.analytes]
    words, lines = panel.label.split(), [""]
    for word in words:  # at most ~14 characters a line: the title sits in the left margin
        if lines[-1] and len(lines[-1]) + len(word) > 14:
            lines.append("")
        lines[-1] = f"{lines[-1]} {word}".strip()
    axis_title = "<br>".join(plain_short(line) for line in [*lines, f"({panel.unit})"])
    return axis_title, plain_short(f"{panel.label} ({panel.unit})")


def _domains(panels: list[Panel], gap: float, slide: bool) -> tuple[list[tuple[float, float]], float]:
    """Panel y-domains top to bottom (the analyte panels, then the clinical one), and the plot height on screen."""
    weights = [PANEL_WEIGHTS.get(p.key, 1.0) for p in panels]
    screen_px = [PANEL_PX * w for w in weights] + [CLINICAL_PX]
    if slide:
        shares = [(1 - SLIDE_CLINICAL_SHARE) * w / sum(weights) for w in weights] + [SLIDE_CLINICAL_SHARE]
    else:
        shares = [px / sum(screen_px) for px in screen_px]
    usable = 1 - gap * len(panels)
    top, out = 1.0, []
    for share in shares:
        height = usable * share
        out.append((max(top - height, 0.0), top))
        top -= height + gap
    return out, sum(screen_px) * (1 + gap * len(panels))


def _axis_names(i: int) -> tuple[str, str, str, str]:
    suffix = "" if i == 0 else str(i + 1)
    return f"x{suffix}", f"y{suffix}", f"xaxis{suffix}", f"yaxis{suffix}"


def kinetics_figure(view: PatientView, note: str, canvas: Canvas, days: str = "all") -> dict:
    """Stacked panels sharing the x axis (days since infusion); zooming one zooms all.

    The AUC window is shaded under the blood transgene curve, Cmax is starred and the lambda-z points are ringed;
    the bottom panel has the response at each assessment, MRD results, CRS, ICANS and other AEs by grade, and
    progression, death or last contact."""
    compact = canvas.is_slide
    x_range = x_range_for(view, days)
    clinical_rows: list[str] = []
    traces: list[dict] = []
    layout: dict = {"barmode": "overlay", "hovermode": "closest", "annotations": [], "shapes": []}
    start, end = view.window
    panels = view.panels[:SLIDE_MAX_PANELS] if compact else view.panels
    left_out = [p.label for p in view.panels[len(panels):]]
    dropped = (f" Not drawn on a slide (at most {SLIDE_MAX_PANELS} panels): {', '.join(left_out)}."
               if left_out else "")
    domains, plot_height = _domains(panels, SLIDE_PANEL_GAP if compact else PANEL_GAP, compact)
    primary = next((a for a in view.drawn_analytes("cell_kinetics")), None)
    starred = shared = False
    for i, (panel, (low, high)) in enumerate(zip([*panels, None], domains, strict=True)):
        xname, yname, xaxis, yaxis = _axis_names(i)
        last = panel is None
        title, short = panel_titles(panel) if panel else ("", "")
        layout[xaxis] = {"domain": [0, 1], "anchor": yname, "range": list(x_range), "showticklabels": last,
                         "title": {"text": "Days since CAR-T infusion"} if last else None, "zeroline": False,
                         **({} if i == 0 else {"matches": "x"})}
        if compact:  # the panel's name above it, horizontal
            layout["annotations"].append({"text": f"<b>{short or 'Clinical course'}</b>", "xref": "paper",
                                          "yref": "paper", "x": 0, "xanchor": "left", "y": high, "yanchor": "bottom",
                                          "yshift": 2, "showarrow": False, "font": {"size": 12, "color": INK}})
        if panel is None:
            layout[yaxis] = {"domain": [low, high], "anchor": xname, "type": "category", "showgrid": False,
                             "tickfont": {"size": 11}}
            plot_px = canvas.layout_width * (0.62 if compact else 0.8)  # less the margins (and a slide's legend)
            clinical_rows = _clinical_panel(traces, layout, view, xname, yname, yaxis, compact,
                                            plot_px / max(x_range[1] - x_range[0], 1.0))
            continue
        log = panel.log_scale
        data = view.measurements[view.measurements["analyte"].isin(panel.analytes)]
        levels = plotted_level(data)
        positive = levels[levels > 0]
        layout[yaxis] = {"domain": [low, high], "anchor": xname,
                         "title": {"text": "" if compact else title, "font": {"size": 13}},
                         "type": "log" if log else "linear", "exponentformat": "power" if log else "none",
                         **({"dtick": 2 if compact else 1} if log else {"nticks": 3 if compact else 6})}
        if log and len(positive):
            lo = math.floor(math.log10(positive.min() / 2))
            hi = math.ceil(math.log10(positive.max() * 1.5))
            layout[yaxis]["range"] = [lo, max(hi, lo + 1)]
        elif not log:  # from 0 (for marrow plasma cells, so the 5% line stands clear of the axis)
            top = float(levels.max()) * 1.15 if len(levels) else 0.0
            layout[yaxis]["range"] = [0, max(top, 12) if "plasma_cells_pct" in panel.analytes else max(top, 1e-9)]
        if data.empty:
            layout["annotations"].append({"text": "no samples", "xref": f"{xname} domain", "yref": f"{yname} domain",
                                          "x": 0.5, "y": 0.5, "showarrow": False, "font": {"color": MUTED}})
        several = len(panel.analytes) > 1
        for k, analyte in enumerate(panel.analytes):
            symbol, dash, _ = ANALYTE_MARKS[k % len(ANALYTE_MARKS)]
            for specimen in _specimens(view, data, analyte):
                rows = data[(data["analyte"] == analyte) & (data["specimen"] == specimen)].sort_values("day")
                color = SPECIMEN_COLORS.get(specimen, MUTED)
                if not any(t.get("legendgroup") == specimen for t in traces):
                    traces.append({"type": "scatter", "mode": "lines+markers", "x": [None], "y": [None],
                                   "name": specimen_label(specimen), "legendgroup": specimen, "xaxis": xname,
                                   "yaxis": yname, "line": {"color": color, "width": canvas.scale(2)},
                                   "marker": {"color": color, "size": canvas.scale(8)}})
                left_out = {d for sid, a, sp, d in view.options.exclusions
                            if (sid, a, sp) == (view.subject_id, analyte, specimen)}
                traces.append(_sample_trace(rows, levels.loc[rows.index], view.catalogue[analyte], specimen, xname,
                                            yname, canvas, color, dash, symbol, left_out))
                lloq = rows["lloq"].dropna()
                if len(lloq) and not several:
                    layout["shapes"].append(_hline(float(lloq.iloc[0]), xname, yname, color))
                fit = view.model_fit
                if fit is not None and (fit.analyte, fit.specimen) == (analyte, specimen) and fit.curve_days.size:
                    traces.append(_model_fit_trace(fit, xname, yname, canvas))
        if several:  # a key above the panel, right-aligned: each analyte's mark and short name
            key = "   ".join(f"{ANALYTE_MARKS[k % len(ANALYTE_MARKS)][2]} {_short(view, a)}"
                             for k, a in enumerate(panel.analytes))
            layout["annotations"].append({"text": key, "xref": f"{xname} domain", "yref": f"{yname} domain",
                                          "x": 1, "y": 1, "xanchor": "right", "yanchor": "bottom", "yshift": 1,
                                          "showarrow": False, "font": {"size": 11, "color": INK}})
            shared = True
        if "plasma_cells_pct" in panel.analytes:
            layout["shapes"].append(_hline(5.0, xname, yname, INK, dash="dot"))
            layout["annotations"].append({"text": "5%: IMWG CR needs < 5% plasma cells", "x": 0.995,
                                          "xref": f"{xname} domain", "y": 5, "yref": yname, "xanchor": "right",
                                          "yanchor": "bottom", "yshift": 1, "showarrow": False,
                                          "bgcolor": "rgba(255,255,255,0.85)", "font": {"size": 11, "color": MUTED}})
        starred |= _mark_parameters(traces, layout, view, panel.analytes[0], xname, yname, log, canvas,
                                    shade=panel.analytes[0] == primary, first_star=not starred)
    layout["shapes"].append({"type": "rect", "xref": "x", "yref": "paper", "x0": start, "x1": end, "y0": 0, "y1": 1,
                             "fillcolor": "rgba(0,114,178,0.05)", "line": {"width": 0}, "layer": "below"})
    traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": "BLQ (at LLOQ/2)",
                   "marker": {"symbol": "circle-open", "color": INK, "size": canvas.scale(8)}, "xaxis": "x",
                   "yaxis": "y"})
    o = view.options
    footnote = [f"{nca_method_note(start, end, o.auc_method, o.blq)} Hollow markers: below the LLOQ (dashed line); "
                f"{BLQ_LEVEL_RULE}. Shaded: the AUC window."
                + (" Panels with several analytes: marker and line shape tell them apart (key above the panel)."
                   if shared else "") + dropped]
    left_out = [e for e in view.options.exclusions if e[0] == view.subject_id]
    if left_out:
        footnote.append("Crosses: samples the analyst left out of the NCA (day "
                        + ", ".join(f"{e[3]:g}" for e in left_out) + ").")
    if view.model_fit is not None:
        footnote.append(model_fit_note(view.model_fit, view.catalogue))
    left = max(110, 24 + 6.2 * max(len(r) for r in clinical_rows))  # the clinical rows' labels fit in the margin
    # On a slide the legend goes to the right margin: the panels get the whole height.
    return frame({"data": traces, "layout": layout}, title=kinetics_title(view), canvas=canvas,
                 plot_height=plot_height, left=left, top_extra=22 if compact else 10, footnote=footnote, note=note,
                 legend="right" if compact else "top")


def _clinical_panel(traces: list, layout: dict, view: PatientView, xname: str, yname: str, yaxis: str,
                    compact: bool, px_per_day: float = 1.0) -> list[str]:
    """Response at each assessment as coloured blocks with MRD results, AE bars from onset to resolution coloured
    by grade (CRS and ICANS on their own rows), and markers for progression, death and last contact. Returns the
    panel's rows (top to bottom)."""
    facts = view.facts
    events = view.adverse_events
    last_contact = float(facts["last_contact_day"])
    others = events[~events["term"].isin(CLINICAL_SHORT)].sort_values("onset_day")["term"].drop_duplicates()
    n_other = 3 if compact else 8
    limit = 26 if compact else 32
    treated = [name for name in CRS_TREATMENTS if name in set(view.treatments["treatment"])]
    rows = ["Response", "CRS", "ICANS", *treated, *[plain_short(t, limit) for t in others[:n_other]]]
    if len(others) > n_other:  # say what is left out, never drop it silently
        hidden = len(others) - n_other
        layout["annotations"].append({"text": f"+ {hidden} more adverse event{'s' if hidden > 1 else ''} not drawn",
                                      "xref": f"{xname} domain", "yref": f"{yname} domain", "x": 0.995, "y": 0,
                                      "xanchor": "right", "yanchor": "bottom", "showarrow": False,
                                      "font": {"size": 11, "color": MUTED}, "bgcolor": "rgba(255,255,255,0.85)"})
    layout[yaxis].update(categoryarray=rows[::-1], categoryorder="array", tickmode="array", tickvals=rows,
                         ticktext=rows)  # every row labelled (the terms as typed: plotly text)
    label_font = 12 if compact else 10
    r = view.responses.sort_values("day")
    days = r["day"].tolist()
    for i, (day, response) in enumerate(zip(days, r["response"], strict=True)):
        stop = days[i + 1] if i + 1 < len(days) else max(last_contact, day + 1)
        color = AFTER_PROGRESSION if response == "PD" else RESPONSE_COLORS.get(response, "#ccc")
        traces.append({"type": "bar", "orientation": "h", "y": ["Response"], "base": [day], "x": [stop - day],
                       "marker": {"color": color, "line": {"color": "white", "width": 1}},
                       "text": [text := "after PD" if response == "PD" else response],
                       # a label only where the block is wide enough for it (the rest say it on hover)
                       "textposition": "inside" if (stop - day) * px_per_day >= 0.62 * label_font * len(text) + 6
                       else "none",
                       "insidetextanchor": "middle", "constraintext": "none",
                       "textfont": {"size": label_font, "color": "white" if response in ("sCR", "CR") else INK},
                       "width": 0.7, "showlegend": False, "xaxis": xname, "yaxis": yname,
                       "hovertemplate": f"Day {day:g}: {plain(response)}<extra></extra>"})
    for event in events.itertuples(index=False):
        row = CLINICAL_SHORT.get(event.term, plain_short(event.term, limit))
        if row not in rows:
            continue
        ongoing = pd.isna(event.resolution_day)
        stop = last_contact if ongoing else event.resolution_day
        grade = int(event.grade)
        traces.append({"type": "bar", "orientation": "h", "y": [row], "base": [event.onset_day],
                       "x": [max(stop - event.onset_day, 1)], "width": 0.6, "showlegend": False,
                       "marker": {"color": GRADE_COLORS[grade]}, "text": [f"G{grade}"], "textposition": "outside"
                       if compact or stop - event.onset_day < 6 else "inside", "constraintext": "none",
                       "cliponaxis": False,
                       "textfont": {"size": label_font, "color": INK if grade <= 2 else "white"},
                       "outsidetextfont": {"size": label_font, "color": INK}, "xaxis": xname, "yaxis": yname,
                       "hovertemplate": f"{plain_short(event.term)}: grade {grade}, day {event.onset_day:g} to "
                                        + ("ongoing" if ongoing else f"{event.resolution_day:g}") + "<extra></extra>"})
    for given in view.treatments.itertuples(index=False):  # CRS/ICANS treatment: a bar over the days given
        stop = given.start_day + 1 if pd.isna(given.end_day) else given.end_day + 1
        why = f" for {plain_short(given.indication)}" if isinstance(given.indication, str) else ""
        traces.append({"type": "bar", "orientation": "h", "y": [given.treatment], "base": [given.start_day],
                       "x": [stop - given.start_day], "width": 0.5, "showlegend": False,
                       "marker": {"color": TREATMENT_COLOR}, "xaxis": xname, "yaxis": yname,
                       "hovertemplate": f"{plain_short(given.drug)}{why}: day {given.start_day:g}"
                                        + ("" if pd.isna(given.end_day) else f" to {given.end_day:g}")
                                        + "<extra></extra>"})
    for negative, name, symbol in ((True, "MRD negative", "diamond"), (False, "MRD positive", "diamond-open")):
        tested = view.mrd[view.mrd["mrd_negative"] == negative]
        if len(tested):
            traces.append({"type": "scatter", "mode": "markers", "x": tested["day"].tolist(),
                           "y": ["Response"] * len(tested), "name": name, "xaxis": xname, "yaxis": yname,
                           "marker": {"symbol": symbol, "size": 12, "color": "#CC79A7",
                                      "line": {"width": 2, "color": "#CC79A7" if not negative else "white"}},
                           "hovertemplate": f"{name}: day %{{x}}<extra></extra>"})
    died = pd.notna(facts["death_day"])
    marks = [("Progression", facts["progression_day"], "x", "#D55E00"),
             ("Death", facts["death_day"], "square", INK),
             ("Last contact", None if died else last_contact, "line-ns-open", MUTED)]
    for name, day, symbol, color in marks:
        if day is None or pd.isna(day):
            continue
        traces.append({"type": "scatter", "mode": "markers", "x": [day], "y": ["Response"], "name": name,
                       "marker": {"symbol": symbol, "size": 13, "color": color, "line": {"width": 2, "color": color}},
                       "xaxis": xname, "yaxis": yname, "hovertemplate": f"{name}: day {day:g}<extra></extra>"})
        layout["shapes"].append({"type": "line", "xref": xname, "yref": "paper", "x0": day, "x1": day, "y0": 0,
                                 "y1": 1, "line": {"color": color, "width": 1, "dash": "dot"}, "layer": "below"})
    return rows


def _short(view: PatientView, analyte: str) -> str:
    return view.catalogue[analyte].short_label if analyte in view.catalogue else analyte


def _specimens(view: PatientView, data: pd.DataFrame, analyte: str) -> list[str]:
    """The specimens one analyte was measured in for this patient, in the catalogue's order."""
    return view.catalogue.order_specimens(analyte, data.loc[data["analyte"] == analyte, "specimen"])


def _sample_trace(rows: pd.DataFrame, levels: pd.Series, analyte: Analyte, specimen: str, xname: str, yname: str,
                  canvas: Canvas, color: str, dash: str = "solid", symbol: str = "circle",
                  left_out: set[float] = frozenset()) -> dict:
    """One profile's samples. The analyte and specimen codes ride along in customdata (a click selects a sample for
    the analyst's NCA choices); samples the analyst left out of the NCA are crosses."""
    unit = analyte.unit
    blq = rows["blq"].to_numpy()
    out = np.isin(rows["day"].to_numpy(dtype=float), list(left_out))
    text = [f"< LLOQ ({fmt_sig(lloq)} {unit})" if b else f"{fmt_sig(v)} {unit}"
            for b, v, lloq in zip(blq, rows["value"], rows["lloq"], strict=True)]
    text = [t + " · left out of the NCA" if o else t for t, o in zip(text, out, strict=True)]
    return {
        "type": "scatter", "x": rows["day"].tolist(), "y": levels.tolist(), "mode": "lines+markers",
        "name": plain(f"{analyte.label}, {specimen_label(specimen).lower()}"), "legendgroup": specimen,
        "showlegend": False,
        "xaxis": xname, "yaxis": yname,
        "line": {"color": color, "width": canvas.scale(2), "dash": dash},
        "marker": {"color": color, "size": canvas.scale(8),
                   "symbol": ["x-thin" if o else f"{symbol}-open" if b else symbol
                              for b, o in zip(blq, out, strict=True)], "line": {"width": 2}},
        "customdata": [[plain(t), "BLQ" if b else "quantified", analyte.code, specimen]
                       for t, b in zip(text, blq, strict=True)],
        "hovertemplate": (f"<b>{plain(analyte.label)}, {specimen_label(specimen).lower()}</b><br>"
                          "Day %{x}<br>%{customdata[0]}<br>%{customdata[1]}<extra></extra>"),
    }


MODEL_FIT_NAME = "Model fit"


def _model_fit_trace(fit: PatientModelFit, xname: str, yname: str, canvas: Canvas) -> dict:
    return {"type": "scatter", "x": fit.curve_days.tolist(), "y": fit.curve_values.tolist(), "mode": "lines",
            "name": MODEL_FIT_NAME, "xaxis": xname, "yaxis": yname, "hoverinfo": "skip",
            "line": {"color": MODEL_FIT_COLOR, "width": canvas.scale(3)}}


def model_fit_note(fit: PatientModelFit, catalogue: Catalogue) -> str:
    """The figure's footnote sentence on the model fit."""
    where = f"{catalogue.label(fit.analyte)}, {specimen_label(fit.specimen).lower()}"
    if not fit.fit.fitted:
        return f"Model fit ({where}): not fitted: {fit.fit.reason}."
    status = fit.fit.status + (f" ({fit.fit.reason})" if fit.fit.reason else "")
    return (f"Purple line: the multiphasic cellular-kinetic model (Stein et al. 2019) fitted to {where} by maximum "
            f"likelihood on the log scale, BLQ samples censored; {status}.")


def model_fit_frame(fit: PatientModelFit, unit: str) -> pd.DataFrame:
    """Parameter, estimate and 95% CI as text, units from the model's parameter declarations; parameters the fit
    has no number for are left out."""
    rows = []
    for p in CK_PARAMETERS:
        value = fit.parameters.get(p.name)
        if value is None or pd.isna(value):
            continue
        low, high = fit.parameters.get(f"{p.name}_lower"), fit.parameters.get(f"{p.name}_upper")
        unit_text = UNIT_KINDS[p.unit_kind].format(conc=unit)
        number = fmt_sig
        rows.append({"Parameter": f"{p.label} ({unit_text})" if unit_text else p.label, "Estimate": number(value),
                     "95% CI": fmt_range(low, high, number) if pd.notna(low) and pd.notna(high) else BLANK})
    return pd.DataFrame(rows, columns=["Parameter", "Estimate", "95% CI"])


def model_fit_summary(fit: PatientModelFit, unit: str, table_id: str) -> html.Div:
    """The model's parameters under the NCA summary, with the fit's status and goodness of fit."""
    f = fit.fit
    if not f.fitted:
        return html.Div([html.H3("Model fit", className="cs-table-title"),
                         html.P(f"Not fitted: {f.reason}.", className="cs-muted", id=f"{table_id}-status")],
                        id=table_id)
    table = model_fit_frame(fit, unit)
    head = html.Thead(html.Tr([html.Th(c, className="num" if i else None) for i, c in enumerate(table.columns)]))
    body = html.Tbody([html.Tr([html.Td(row[c], className="num" if i else None) for i, c in enumerate(table.columns)])
                       for _, row in table.iterrows()])
    status = f.status + (f": {f.reason}" if f.reason else "")
    return html.Div([
        html.H3("Model fit (multiphasic, Stein et al. 2019)", className="cs-table-title"),
        html.Table([head, body], className="cs-table"),
        html.P([html.Span(status, id=f"{table_id}-status"),
                f" · {f.n_quantifiable} quantifiable and {f.n_blq} BLQ samples · residual SD "
                f"{fmt_sig(f.residual_sd)} on the log scale, {fit.residual_sd_note}; RMSE {fmt_sig(f.rmse_log)}"],
               className="cs-muted")], id=table_id)


def _hline(y: float, xname: str, yname: str, color: str, dash: str = "dash") -> dict:
    return {"type": "line", "xref": f"{xname} domain", "yref": yname, "x0": 0, "x1": 1, "y0": y, "y1": y,
            "line": {"color": color, "width": 1, "dash": dash}, "layer": "below"}


def _mark_parameters(traces, layout, view: PatientView, analyte, xname, yname, log, canvas: Canvas, shade: bool,
                     first_star: bool) -> bool:
    """Star the peak (Cmax of a cellular-kinetic analyte, the peak of a biomarker) of the panel's first analyte in
    its main specimen (blood, else serum, else the first); for the first cellular-kinetic analyte (`shade`) also
    shade the AUC window under the blood curve and ring the lambda-z points. Returns whether a star was drawn."""
    kind = view.catalogue.kind(analyte)
    params = view.params[view.params["analyte"] == analyte]
    specimens = [s for s in ("PB", "serum", *params["specimen"]) if s in set(params["specimen"])]
    if kind == "tumour_burden" or not specimens:
        return False
    specimen = specimens[0]
    row = params[params["specimen"] == specimen].iloc[0]
    color = SPECIMEN_COLORS.get(specimen, MUTED)
    start, end = view.window
    if shade and specimen == "PB":
        curve = view.curves[(view.curves["analyte"] == analyte) & (view.curves["specimen"] == specimen)]
        x, y = sample_curve(curve["day"].to_numpy(), curve["conc"].to_numpy(), curve["log_to_next"].to_numpy(),
                            start, end)
        if len(x):
            floor = 10 ** layout[f"yaxis{'' if yname == 'y' else yname[1:]}"].get("range", [0])[0] if log else 0
            y = np.maximum(y, floor)
            traces.append({"type": "scatter", "x": [x[0], *x.tolist(), x[-1]], "y": [floor, *y.tolist(), floor],
                           "fill": "toself", "fillcolor": hex_to_rgba(color, 0.18), "line": {"width": 0},
                           "mode": "lines", "name": f"AUC day {start:g}–{end:g}", "hoverinfo": "skip",
                           "xaxis": xname, "yaxis": yname, "showlegend": True})
        if pd.notna(row["lambda_z"]):
            data = curve[(curve["day"] >= row["lambda_z_start"]) & (curve["day"] <= row["lambda_z_end"])
                         & (curve["conc"] > 0)]
            traces.append({"type": "scatter", "x": data["day"].tolist(), "y": data["conc"].tolist(), "mode": "markers",
                           "name": (f"{_lambda_z_words(row)} (t½ {fmt_sig(row['half_life'])} d)" if canvas.is_slide
                                    else f"{_lambda_z_words(row)}, {_blood_name(view, analyte)} "
                                         f"(t½ {fmt_sig(row['half_life'])} d)"),
                           "xaxis": xname, "yaxis": yname,
                           "marker": {"symbol": "circle-open", "size": canvas.scale(16), "color": INK,
                                      "line": {"width": 1.5}}, "hoverinfo": "skip"})
            days = np.array([row["lambda_z_start"], row["lambda_z_end"]])
            intercept = math.log(float(data["conc"].iloc[-1])) + row["lambda_z"] * float(data["day"].iloc[-1])
            traces.append({"type": "scatter", "x": days.tolist(),
                           "y": np.exp(intercept - row["lambda_z"] * days).tolist(), "mode": "lines",
                           "line": {"color": INK, "dash": "dot", "width": 1.5}, "showlegend": False,
                           "xaxis": xname, "yaxis": yname, "hoverinfo": "skip"})
    peak, peak_day = (row["peak"], row["peak_day"]) if kind == "biomarker" else (row["cmax"], row["tmax"])
    if not (pd.notna(peak) and pd.notna(peak_day) and peak > 0):
        return False
    unit = view.catalogue.unit(analyte)
    traces.append({"type": "scatter", "x": [peak_day], "y": [peak], "mode": "markers",
                   "name": "Peak (Cmax)", "legendgroup": "peak", "showlegend": first_star,
                   "marker": {"symbol": "star", "size": canvas.scale(15), "color": GRADE_COLORS[3],
                              "line": {"width": 0}}, "xaxis": xname, "yaxis": yname,
                   "hovertemplate": f"Peak {fmt_sig(peak)} {unit} on day {peak_day:g}<extra></extra>"})
    return True


def _lambda_z_words(row) -> str:
    return "λz points chosen by the analyst" if row.get("lambda_z_selection") == "manual" else "λz points"


def _blood_name(view: PatientView, analyte: str) -> str:
    """'blood transgene' for the CAR transgene, else e.g. 'CAR+ T cells, absolute, blood'."""
    return "blood transgene" if analyte == "car_copies" else f"{view.catalogue.label(analyte)}, blood"


# ---- header and summary -------------------------------------------------------------------------------------


def mrd_text(view: PatientView) -> str:
    """'Negative (day 90)', 'Positive (day 28)', 'Not tested'."""
    if view.mrd.empty:
        return "Not tested"
    negative = view.mrd[view.mrd["mrd_negative"]]
    if len(negative):
        return f"Negative (first day {fmt_day(negative['day'].iloc[0])})"
    return f"Positive (last day {fmt_day(view.mrd['day'].iloc[-1])})"


def patient_facts(view: PatientView) -> list[tuple[str, str, str | None]]:
    """(label, value, element id) for everything the header says about a patient."""
    row = view.facts
    sex = {"M": "male", "F": "female", "U": "sex unknown"}.get(row["sex"], "sex unknown")
    age = f"{row['age']:g} y" if pd.notna(row["age"]) else "age unknown"
    best = row["best_response"] + (f" (day {row['day_best_response']:g})" if pd.notna(row["day_best_response"])
                                   else "")
    follow = f"{row['last_contact_day'] / DAYS_PER_MONTH:.1f} months (day {row['last_contact_day']:g})"
    facts = [("Dose level", fmt_dose(row["dose_level"]), "patient-dose"), ("Age / sex", f"{age}, {sex}", None),
             ("Best response", best, "patient-best-response"), ("MRD", mrd_text(view), "patient-mrd"),
             ("Worst CRS", GRADE_LABEL[int(row["worst_crs_grade"])], "patient-worst-crs"),
             ("Worst ICANS", GRADE_LABEL[int(row["worst_icans_grade"])], "patient-worst-icans"),
             ("Follow-up", follow, None), ("Status", status_text(row), "patient-status")]
    for column in view.covariates:
        value = row[column]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            text = BLANK
        elif isinstance(value, (bool, np.bool_)):
            text = "yes" if value else "no"
        else:
            text = f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)
        facts.append((column.replace("_", " ").capitalize(), text, None))
    return facts


def fact(label: str, value: str, fact_id: str | None = None) -> html.Div:
    extra = {"id": fact_id} if fact_id else {}
    return html.Div([html.Div(label, className="cs-fact-label"), html.Div(value, className="cs-fact-value")],
                    className="cs-fact", **extra)


def patient_header(view: PatientView, header_id: str) -> html.Div:
    return html.Div([fact(label, value, fact_id) for label, value, fact_id in patient_facts(view)],
                    className="cs-facts", id=header_id)


#: The summary table's parameters, in order; the AUC window's partial AUC follows Tmax.
SUMMARY_PARAMETERS = ("cmax", "tmax", "<auc>", "auclast", "tlast", "half_life")


def summary_frames(view: PatientView) -> list[tuple[str, pd.DataFrame]]:
    """Per analyte, its specimens' Cmax, Tmax, AUC over the window, AUClast, Tlast and half-life as text, with
    the units in the headers (from the parameter registry)."""
    names = [view.auc_column if n == "<auc>" else n for n in SUMMARY_PARAMETERS]
    out = []
    summary = view.summary()
    for analyte, rows in summary.groupby("analyte", sort=False) if len(summary) else []:
        unit = view.catalogue.unit(analyte)
        records = []
        for r in rows.itertuples(index=False):
            record = {"Specimen": specimen_label(r.specimen)}
            for name in names:
                p = parameter(name)
                record[p.header(unit)] = (fmt_day if p.unit_kind == "time" else fmt_sig)(getattr(r, name))
                if name == "half_life" and getattr(r, "lambda_z_selection", "") == "manual":
                    record[p.header(unit)] += " (manual λz)"
            record["_id"] = f"summary-{analyte}-{r.specimen}"
            records.append(record)
        out.append((analyte, pd.DataFrame(records)))
    return out


def kinetics_summary(view: PatientView, table_id: str) -> html.Div:
    """One summary table per analyte, with IL-6 and marrow plasma-cell extras underneath."""
    tables = []
    for analyte, frame_ in summary_frames(view):
        columns = [c for c in frame_.columns if c != "_id"]
        head = html.Thead(html.Tr([html.Th(c, className="num" if i else None) for i, c in enumerate(columns)]))
        body = html.Tbody([html.Tr([html.Td(row[c], className="num" if i else None) for i, c in enumerate(columns)],
                                   id=row["_id"]) for _, row in frame_.iterrows()])
        tables.append(html.Div([html.H3(view.catalogue.label(analyte), className="cs-table-title"),
                                html.Table([head, body], className="cs-table", id=f"{table_id}-{analyte}")]))
    fit = view.model_fit
    fit_block = [model_fit_summary(fit, view.catalogue.unit(fit.analyte), f"{table_id}-model")] if fit else []
    return html.Div([html.Div(tables + fit_block, className="cs-summary-tables", id=table_id),
                     html.P(extras(view), className="cs-extras")])


def extras(view: PatientView) -> list:
    """One sentence per drawn biomarker (baseline, peak, fold change) and tumour-burden measure (baseline, nadir,
    reduction), in its main specimen. IL-6's numbers carry ids (tests and the deck read them)."""
    indexed = view.params.set_index(["analyte", "specimen"])
    out = []
    for kind in ("biomarker", "tumour_burden"):
        for analyte in view.drawn_analytes(kind):
            specimens = [s for s in ("serum", "BM", "PB", "plasma") if (analyte, s) in indexed.index]
            if not specimens:
                continue
            r = indexed.loc[(analyte, specimens[0])]
            unit = view.catalogue.unit(analyte)
            unit_text = unit if unit == "%" else f" {unit}"
            name = "IL-6" if analyte == "il6" else "Marrow plasma cells" if analyte == "plasma_cells_pct" else \
                view.catalogue.label(analyte)
            if kind == "biomarker":
                ids = {"id": "patient-il6-peak"} if analyte == "il6" else {}
                fold = {"id": "patient-il6-fold"} if analyte == "il6" else {}
                out.append(html.Span([html.B(f"{name}: "), f"baseline {fmt_sig(r['baseline'])}{unit_text}, peak ",
                                      html.Span(fmt_sig(r["peak"]), **ids),
                                      f"{unit_text} on day {fmt_day(r['peak_day'])}, ",
                                      html.Span(fmt_sig(r["peak_fold_change"]), **fold), "-fold over baseline. "]))
            else:
                m = view.measurements
                at_nadir = m[(m["analyte"] == analyte) & (m["specimen"] == specimens[0]) & (m["day"] == r["nadir_day"])]
                nadir = ("below the LLOQ (counted as 0)" if r["nadir"] == 0 and at_nadir["blq"].any()
                         else f"{fmt_sig(r['nadir'])}{unit_text}")
                out.append(html.Span([html.B(f"{name}: "),
                                      f"baseline {fmt_sig(r['baseline'])}{unit_text}, nadir {nadir} on day "
                                      f"{fmt_day(r['nadir_day'])} ({fmt_sig(r['nadir_percent_reduction'])}% "
                                      "reduction). "]))
    return out


def patient_picker(view: PatientView, query: str, select_id: str, prev_id: str, next_id: str) -> html.Div:
    prev_href = patient_href(view.previous_id, query) if view.previous_id else None
    next_href = patient_href(view.next_id, query) if view.next_id else None
    return html.Div(className="cs-picker", children=[
        dcc.Link("← Previous", href=prev_href or "#", id=prev_id,
                 className="cs-button cs-button-secondary" + ("" if prev_href else " disabled")),
        dcc.Dropdown(id=select_id, options=view.subject_ids, value=view.subject_id, clearable=False,
                     searchable=True, placeholder="Search patient ID", className="cs-patient-select"),
        dcc.Link("Next →", href=next_href or "#", id=next_id,
                 className="cs-button cs-button-secondary" + ("" if next_href else " disabled")),
        dcc.Link("All patients", href=f"/patients{query}", className="cs-button cs-button-secondary",
                 id="patient-all"),
    ])


# ---- the patient list ---------------------------------------------------------------------------------------

def _status(days, event, what: str, censored: str) -> str:
    if days != days:
        return BLANK
    return f"{what} day {fmt_day(days)}" if event else f"{censored} day {fmt_day(days)}"


def patient_list_rows(table: pd.DataFrame, query: str) -> list[dict]:
    """Rows of the patient list grid: values for sorting and filtering, text as the one formatter writes it."""
    rows = []
    for r in table.itertuples(index=False):
        rows.append({
            "subject_id": markdown_link(r.subject_id, patient_href(r.subject_id, query)), "id": r.subject_id,
            "dose_level": fmt_dose(r.dose_level), "best_response": r.best_response,
            "worst_crs_grade": int(r.worst_crs_grade), "worst_icans_grade": int(r.worst_icans_grade),
            "pfs_days": None if r.pfs_days != r.pfs_days else r.pfs_days,
            "pfs_text": _status(r.pfs_days, r.pfs_event, "Progressed" if r.pfs_days == r.progression_day else "Died",
                                "No event, censored"),
            "os_days": None if r.os_days != r.os_days else r.os_days,
            "os_text": _status(r.os_days, r.os_event, "Died", "Alive, last contact"),
            "mrd": "Negative" if r.mrd_negative is True else "Positive" if r.mrd_negative is False else "Not tested",
            "cmax": None if r.cmax != r.cmax else r.cmax, "cmax_text": fmt_sig(r.cmax),
            "auc_0_28": None if r.auc_0_28 != r.auc_0_28 else r.auc_0_28, "auc_0_28_text": fmt_sig(r.auc_0_28),
        })
    return rows


def patient_list_columns() -> list[dict]:
    """The list's columns; Cmax and AUC are of LIST_PROFILE (blood CAR transgene), as the page says above it."""
    unit = DEFAULT.unit(LIST_PROFILE[0])

    def number(field, header, width=130):
        return {"field": field, "headerName": header, "type": "numericColumn", "filter": "agNumberColumnFilter",
                "minWidth": width, "flex": 1,
                "valueFormatter": {"function": f"params.data ? params.data['{field}_text'] : ''"}}

    def text(field, header, width, flex=1.0, **extra):  # long text wraps instead of being cut
        return {"field": field, "headerName": header, "minWidth": width, "flex": flex, "wrapText": True,
                "autoHeight": True, "cellStyle": {"lineHeight": "1.35", "paddingTop": "6px", "paddingBottom": "6px"},
                **extra}

    return [
        {"field": "subject_id", "headerName": "Patient", "cellRenderer": "markdown", "pinned": "left", "width": 100,
         "filter": "agTextColumnFilter", "comparator": {"function": "(a, b, na, nb) => na.data.id < nb.data.id ? -1 "
                                                                    ": na.data.id > nb.data.id ? 1 : 0"}},
        text("dose_level", "Dose level", 110, flex=1.6),
        {"field": "best_response", "headerName": "Best response", "minWidth": 110, "flex": 0.7},
        {"field": "mrd", "headerName": "MRD", "minWidth": 95, "flex": 0.7},
        {"field": "worst_crs_grade", "headerName": "Worst CRS grade", "type": "numericColumn", "minWidth": 90,
         "flex": 1},
        {"field": "worst_icans_grade", "headerName": "Worst ICANS grade", "type": "numericColumn", "minWidth": 95,
         "flex": 1},
        text("pfs_days", "PFS", 140, valueFormatter={"function": "params.data ? params.data.pfs_text : ''"}),
        text("os_days", "OS", 140, valueFormatter={"function": "params.data ? params.data.os_text : ''"}),
        number("cmax", BY_NAME["cmax"].header(unit), 110),
        number("auc_0_28", interval_parameter(*LIST_WINDOW).header(unit), 130),
    ]


def facts_frame(view: PatientView) -> pd.DataFrame:
    return pd.DataFrame([{"Fact": label, "Value": value} for label, value, _ in patient_facts(view)])


def adverse_events_frame(view: PatientView) -> pd.DataFrame:
    """Every adverse event of the patient, by onset: what the figure's clinical track draws (and more)."""
    ae = view.adverse_events.sort_values(["onset_day", "term"])
    return pd.DataFrame({"Term (CTCAE v5)": ae["term"].tolist(),
                         "Grade": [f"G{int(g)}" for g in ae["grade"]],
                         "Onset (day)": [fmt_day(d) for d in ae["onset_day"]],
                         "Resolved (day)": ["ongoing" if d != d else fmt_day(d) for d in ae["resolution_day"]],
                         "Serious": ["yes" if s is True else "no" if s is False else BLANK
                                     for s in ae.get("serious", pd.Series([None] * len(ae)))],
                         "Treatment-related": ["yes" if s is True else "no" if s is False else BLANK
                                               for s in ae.get("related", pd.Series([None] * len(ae)))]})


def patient_list_frame(rows: list[dict]) -> pd.DataFrame:
    """The patient list as text, as a slide shows it."""
    return pd.DataFrame([{"Patient": r["id"], "Dose level": r["dose_level"], "Best response": r["best_response"],
                          "MRD": r["mrd"], "CRS": r["worst_crs_grade"], "ICANS": r["worst_icans_grade"],
                          "PFS": r["pfs_text"], "OS": r["os_text"], "Cmax": r["cmax_text"],
                          "AUC day 0–28": r["auc_0_28_text"]} for r in rows])
