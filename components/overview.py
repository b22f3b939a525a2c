"""Figure and layout builders for the Overview page."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import html

from analysis.groups import ordered_dose_levels
from analysis.overview import DAYS_PER_MONTH, StudySummary
from components.figures import graph, table_store
from components.layout import card, kpi, page_header, simple_table
from components.theme import INK, dose_colors, footnote, new_figure
from data_access.schema import ANALYTES, SPECIMEN_LABELS


def follow_up_figure(subjects: pd.DataFrame, study_label: str, simulated: bool) -> go.Figure:
    """One dot per patient: months from infusion to last contact, by dose level; deaths as crosses."""
    fig = new_figure("Follow-up per patient", height=380)
    colors = dose_colors(subjects["dose_level"].tolist())
    levels = ordered_dose_levels(subjects["dose_level"])
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every time
    for level in levels:
        group = subjects[subjects["dose_level"] == level]
        months = group["last_contact_day"].to_numpy(float) / DAYS_PER_MONTH
        y = np.full(len(group), levels.index(level), float) + rng.uniform(-0.18, 0.18, len(group))
        dead = group["death_day"].notna().to_numpy()
        for is_dead, symbol, name in ((False, "circle", "alive at last contact"), (True, "x-thin", "died")):
            mask = dead == is_dead
            fig.add_trace(go.Scatter(
                x=months[mask], y=y[mask], mode="markers", name=f"{level}: {name}", showlegend=False,
                marker=dict(symbol=symbol, size=9 if not is_dead else 10, color=colors[level],
                            line=dict(width=2 if is_dead else 0.5, color=colors[level] if is_dead else INK)),
                customdata=group["subject_id"].to_numpy()[mask],
                hovertemplate="%{customdata}<br>%{x:.1f} months" + (" (died)" if is_dead else "") + "<extra></extra>",
            ))
    for symbol, name in (("circle", "Alive at last contact"), ("x-thin", "Died")):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                                 marker=dict(symbol=symbol, size=10, color=INK, line=dict(width=2, color=INK))))
    fig.update_xaxes(title_text="Months since CAR-T infusion", range=[0, max(24.5, fig_max(subjects))], dtick=3)
    fig.update_yaxes(title_text=None, tickvals=list(range(len(levels))), ticktext=levels, showgrid=False,
                     range=[-0.6, len(levels) - 0.4])
    note = f"{study_label}. Follow-up from infusion (day 0) to last contact or death."
    return footnote(fig, note + (" SIMULATED DATA." if simulated else ""))


def fig_max(subjects: pd.DataFrame) -> float:
    return float(subjects["last_contact_day"].max() / DAYS_PER_MONTH + 0.5)


def sample_table(samples: pd.DataFrame) -> pd.DataFrame:
    """Readable labels for the samples-per-analyte table."""
    return pd.DataFrame({
        "Analyte": [f"{ANALYTES[a].label} ({ANALYTES[a].method})" for a in samples["analyte"]],
        "Specimen": [SPECIMEN_LABELS[s] for s in samples["specimen"]],
        "Unit": samples["unit"],
        "Samples": samples["samples"].astype(int),
        "Patients": samples["patients"].astype(int),
        "BLQ": samples["blq"].astype(int),
        "Days covered": [f"{a:g} to {b:g}" for a, b in zip(samples["first_day"], samples["last_day"], strict=False)],
    })


def overview_layout(summary: StudySummary, subjects: pd.DataFrame, study_label: str, simulated: bool,
                    slide_note: str | None = None) -> html.Div:
    fu = summary.follow_up
    follow_up_text = "not estimable" if np.isnan(fu.median_days) else f"{fu.median_days / DAYS_PER_MONTH:.1f} months"
    doses = summary.doses.assign(percent=summary.doses["percent"].map(lambda p: f"{p:.0f} %"))
    doses.columns = ["Dose level", "Patients", "% of infused"]
    return html.Div([
        page_header(f"Study overview: {study_label}", "All times are days since CAR-T infusion (day 0).", simulated),
        html.Div(className="cs-kpis", children=[
            kpi("Patients infused", f"{summary.n_infused}", kpi_id="kpi-infused"),
            kpi("Dose levels", f"{len(summary.doses)}", kpi_id="kpi-dose-levels"),
            kpi("Median follow-up", follow_up_text,
                f"reverse Kaplan-Meier; range {fu.min_days:g}–{fu.max_days:g} days", kpi_id="kpi-follow-up"),
            kpi("Data cut-off", f"Day {summary.data_cutoff_day:g}", "latest follow-up day recorded",
                kpi_id="kpi-cutoff"),
            kpi("Deaths", f"{summary.n_deaths}", kpi_id="kpi-deaths"),
        ]),
        html.Div(className="cs-grid-2", children=[
            card("Patients by dose level", simple_table(doses, "overview-dose-table", ["Patients", "% of infused"])),
            card("Samples by analyte", simple_table(sample_table(summary.samples), "overview-sample-table",
                                                    ["Samples", "Patients", "BLQ"])),
        ]),
        html.Section(html.Div(graph("overview", "follow-up", follow_up_figure(subjects, study_label, simulated)
                                    .to_plotly_json(), "Follow-up per patient", slide_note), id="overview-follow-up"),
                     className="cs-card"),
        table_store("overview", "doses", "Patients by dose level", doses),
        table_store("overview", "samples", "Samples by analyte", sample_table(summary.samples)),
        html.P(f"{summary.n_adverse_events} adverse events and {summary.n_response_assessments} response "
               "assessments recorded.", className="cs-muted"),
    ])
