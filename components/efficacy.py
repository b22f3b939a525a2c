"""Efficacy builders: best response by dose level, response rates with exact CIs, swimmer plot."""
from __future__ import annotations

import pandas as pd
from dash import html

from analysis.groups import ordered_dose_levels
from components.theme import INK, MUTED, template_json, wrap_note
from data_access.schema import RESPONSES

RESPONSE_COLORS = {"sCR": "#08306B", "CR": "#2171B5", "VGPR": "#6BAED6", "PR": "#BDD7EE", "MR": "#FDD0A2",
                   "SD": "#BDBDBD", "PD": "#D55E00", "NE": "#EEEEEE"}
NOT_ASSESSED = "#F4F6F8"
AFTER_PROGRESSION = "#E3E6EA"


def _layout(height: int, title: str, footnote: str, bottom: int = 110, top: int = 80) -> dict:
    note = wrap_note(footnote, 80)
    lines = note.count("<br>") + 1
    bottom = max(bottom, 60 + 15 * lines + (bottom - 110))
    return {"template": template_json(), "height": height + 15 * lines, "title": {"text": title},
            "margin": {"l": 90, "r": 30, "t": top, "b": bottom},
            "annotations": [{"text": note, "xref": "paper", "yref": "paper", "x": 0, "y": 0,
                             "yshift": -bottom + 15 * lines + 14, "xanchor": "left", "yanchor": "top",
                             "showarrow": False, "align": "left", "font": {"size": 11, "color": MUTED}}]}


def best_response_figure(best: pd.DataFrame, footnote: str) -> dict:
    """Stacked bars: % of patients by best response, per dose level and overall (n inside each block)."""
    columns = [*ordered_dose_levels(best["dose_level"]), "All patients"]
    traces = []
    for response in RESPONSES:
        counts, pct = [], []
        for column in columns:
            group = best if column == "All patients" else best[best["dose_level"] == column]
            k = int((group["best_response"] == response).sum())
            counts.append(k)
            pct.append(100 * k / len(group) if len(group) else 0)
        if not any(counts):
            continue
        sizes = [len(best) if c == "All patients" else int((best["dose_level"] == c).sum()) for c in columns]
        labels = [f"{c.replace(' ', '<br>', 1)}<br>(n={n})" for c, n in zip(columns, sizes, strict=True)]
        traces.append({"type": "bar", "name": response, "x": labels,
                       "y": pct, "text": [str(k) if k else "" for k in counts], "textposition": "inside",
                       "insidetextanchor": "middle", "marker": {"color": RESPONSE_COLORS[response],
                                                                "line": {"color": "white", "width": 1}},
                       "textfont": {"color": "white" if response in ("sCR", "CR", "PD") else INK},
                       "hovertemplate": f"{response}: %{{text}} patients (%{{y:.0f}}%)<extra></extra>"})
    layout = _layout(520, "Best overall response (IMWG) by dose level", footnote, bottom=150)
    layout.update({"barmode": "stack", "yaxis": {"title": {"text": "Patients (%)"}, "range": [0, 100.5]},
                   "legend": {"orientation": "v", "x": 1.01, "y": 0.5, "yanchor": "middle", "traceorder": "normal"}})
    return {"data": traces, "layout": layout}


def rates_figure(rates: pd.DataFrame, footnote: str) -> dict:
    """Response rates (ORR, >=VGPR, >=CR, MRD-negative) with exact 95% CIs, per assessment window."""
    traces = []
    colors = {"to progression or data cut-off": "#0072B2", "first 6 months": "#E69F00"}
    measures = list(dict.fromkeys(rates["measure"]))
    position = {m: len(measures) - 1 - i for i, m in enumerate(measures)}
    for w, (window, group) in enumerate(rates.groupby("window", sort=False)):
        offset = 0.12 - 0.24 * w
        traces.append({"type": "scatter", "mode": "markers", "name": f"Best response {window}",
                       "y": [position[m] + offset for m in group["measure"]], "x": (100 * group["rate"]).tolist(),
                       "error_x": {"type": "data", "symmetric": False,
                                   "array": (100 * (group["ci_upper"] - group["rate"])).tolist(),
                                   "arrayminus": (100 * (group["rate"] - group["ci_lower"])).tolist(),
                                   "color": colors.get(window, INK), "thickness": 2},
                       "marker": {"size": 11, "color": colors.get(window, INK)},
                       "customdata": group[["responders", "n"]].values.tolist(),
                       "hovertemplate": f"{window}: %{{x:.1f}}% (%{{customdata[0]}}/%{{customdata[1]}})"
                                        "<extra></extra>"})
    layout = _layout(400, "Response rates with exact 95% confidence intervals", footnote, bottom=130, top=110)
    layout.update({"xaxis": {"title": {"text": "Patients (%)"}, "range": [0, 100]},
                   "yaxis": {"tickvals": [position[m] for m in measures], "ticktext": measures,
                             "range": [-0.6, len(measures) - 0.4], "showgrid": False},
                   "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"}})
    layout["margin"]["l"] = 130
    return {"data": traces, "layout": layout}


def swimmer_figure(patients: pd.DataFrame, responses: pd.DataFrame, order: list[str], footnote: str) -> dict:
    """One lane per patient from infusion to last contact, coloured by the response at each assessment; markers
    for first response, CR, MRD negativity, progression and death; an arrow when follow-up continues."""
    facts = patients.set_index("subject_id")
    segments = {key: {"x": [], "base": [], "y": [], "ids": []} for key in [*RESPONSES, "not yet assessed",
                                                                           "after progression"]}
    for sid in order:
        end = float(facts.at[sid, "last_contact_day"])
        r = responses[responses["subject_id"] == sid].sort_values("day")
        r = r[r["day"] <= end]
        points = [(0.0, "not yet assessed")] + [(float(d), resp) for d, resp in zip(r["day"], r["response"],
                                                                                 strict=True)]
        for (start, state), (stop, _) in zip(points, [*points[1:], (end, None)], strict=True):
            if stop <= start:
                continue
            key = "after progression" if state == "PD" else state
            segments[key]["base"].append(start)
            segments[key]["x"].append(stop - start)
            segments[key]["y"].append(sid)
            segments[key]["ids"].append(sid)
    colors = {**RESPONSE_COLORS, "not yet assessed": NOT_ASSESSED, "after progression": AFTER_PROGRESSION}
    traces = []
    for key, seg in segments.items():
        if not seg["y"]:
            continue
        traces.append({"type": "bar", "orientation": "h", "name": key, "x": seg["x"], "base": seg["base"],
                       "y": seg["y"], "customdata": seg["ids"], "marker": {"color": colors[key]}, "width": 0.7,
                       "hovertemplate": f"%{{customdata}}: {key}, day %{{base}} to %{{x:.0f}} days later"
                                        "<extra>click to open</extra>"})
    marks = _swimmer_marks(facts, responses, order)
    for name, (symbol, color, size), rows in marks:
        if rows:
            traces.append({"type": "scatter", "mode": "markers", "name": name, "x": [x for x, _ in rows],
                           "y": [y for _, y in rows], "customdata": [y for _, y in rows],
                           "marker": {"symbol": symbol, "color": color, "size": size,
                                      "line": {"color": "white" if symbol != "line-ns-open" else color, "width": 1}},
                           "hovertemplate": f"%{{customdata}}: {name.lower()}, day %{{x}}<extra></extra>"})
    height = 160 + 15 * len(order)
    layout = _layout(height, "Swimmer plot: response over time, one lane per patient", footnote, bottom=100)
    layout.update({"barmode": "overlay", "bargap": 0.25,
                   "xaxis": {"title": {"text": "Days since CAR-T infusion"}, "zeroline": False, "side": "bottom"},
                   "yaxis": {"type": "category", "categoryorder": "array", "categoryarray": order[::-1],
                             "tickfont": {"size": 10}, "showgrid": False, "title": None},
                   "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "font": {"size": 12}}})
    return {"data": traces, "layout": layout}


def _swimmer_marks(facts: pd.DataFrame, responses: pd.DataFrame, order: list[str]):
    first_response, first_cr, mrd, progression, death, ongoing = [], [], [], [], [], []
    for sid in order:
        r = responses[responses["subject_id"] == sid].sort_values("day")
        hit = r[r["response"].isin(("sCR", "CR", "VGPR", "PR"))]
        if len(hit):
            first_response.append((float(hit["day"].iloc[0]), sid))
        cr = r[r["response"].isin(("sCR", "CR"))]
        if len(cr):
            first_cr.append((float(cr["day"].iloc[0]), sid))
        if "mrd_negative" in r:
            neg = r[r["mrd_negative"].eq(True)]
            if len(neg):
                mrd.append((float(neg["day"].iloc[0]), sid))
        pd_rows = r[r["response"] == "PD"]
        if len(pd_rows):
            progression.append((float(pd_rows["day"].iloc[0]), sid))
        if pd.notna(facts.at[sid, "death_day"]):
            death.append((float(facts.at[sid, "death_day"]), sid))
        else:
            ongoing.append((float(facts.at[sid, "last_contact_day"]), sid))
    return [("First response", ("triangle-right", "#009E73", 9), first_response),
            ("First CR", ("star", "#F0E442", 12), first_cr),
            ("MRD negative", ("diamond", "#CC79A7", 9), mrd),
            ("Progression", ("x", "#D55E00", 10), progression),
            ("Death", ("square", INK, 9), death),
            ("Follow-up continues", ("arrow-right", "#6b7785", 10), ongoing)]


def swimmer_order(patients: pd.DataFrame, sort: str) -> list[str]:
    """Lane order: longest follow-up first, or by dose level then follow-up."""
    p = patients.copy()
    if sort == "dose":
        rank = {d: i for i, d in enumerate(ordered_dose_levels(p["dose_level"]))}
        p["_dose"] = p["dose_level"].map(rank)
        p = p.sort_values(["_dose", "last_contact_day"], ascending=[True, False])
    else:
        p = p.sort_values(["last_contact_day", "subject_id"], ascending=[False, True])
    return p["subject_id"].tolist()


def rates_table(rates: pd.DataFrame) -> tuple[html.Table, pd.DataFrame]:
    """Rates as an HTML table and as a frame (for exports)."""
    frame = pd.DataFrame({"Assessment window": rates["window"], "Measure": rates["measure"],
                          "Responders / n": [f"{k} / {n}" for k, n in zip(rates["responders"], rates["n"],
                                                                         strict=True)],
                          "Rate": [f"{100 * r:.1f}%" for r in rates["rate"]],
                          "Exact 95% CI": [f"{100 * lo:.1f}–{100 * hi:.1f}%" for lo, hi in
                                           zip(rates["ci_lower"], rates["ci_upper"], strict=True)]})
    numeric = {"Responders / n", "Rate", "Exact 95% CI"}
    body = [html.Tr([html.Td(v, className="num" if c in numeric else None) for c, v in row.items()])
            for _, row in frame.iterrows()]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in frame.columns])), html.Tbody(body)],
                      className="cs-table", id="efficacy-rates-table"), frame
