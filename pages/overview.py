"""Overview: what the selected study holds (patients, doses, follow-up, samples)."""
from __future__ import annotations

import dash
from dash import html

from analysis.views.overview import overview_view
from components.deck import DeckTable
from components.figures import graph
from components.layout import card, page_header, page_root
from components.overview import (
    FOLLOW_UP_TITLE,
    dose_table,
    follow_up_figure,
    overview_kpis,
    overview_tables,
    sample_table,
)
from pages._context import PageContext, page_context
from pages._exports import ExportFigure, page_state, register_exports

PAGE = "overview"
dash.register_page(__name__, path="/", name="Overview", order=0, title="Overview · CARTscope")


class ID:
    FOLLOW_UP = "overview-follow-up"


def recorded_text(study) -> str:
    """'334 adverse events, 396 response assessments and 114 concomitant medication courses recorded.'"""
    parts = [f"{len(study.adverse_events):,} adverse events", f"{len(study.responses):,} response assessments"]
    if len(study.concomitant_medications):
        parts.append(f"{len(study.concomitant_medications):,} concomitant medication courses")
    if len(study.time_to_event):
        parts.append(f"time-to-event data for {', '.join(sorted(set(study.time_to_event['endpoint'])))} as given")
    return (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]) + " recorded."


def layout(study: str | None = None, version: str | None = None, slide: str | None = None, **_):
    context, problem = page_context(study, version, slide)
    if problem is not None:
        return problem
    view = overview_view(context.data)
    return page_root([
        page_state(PAGE, context.params()),
        page_header(f"Study overview: {context.label}", "All times are days since CAR-T infusion (day 0).",
                    context.simulated),
        overview_kpis(view),
        overview_tables(view),
        card("Follow-up", html.Div(graph(PAGE, "follow-up", follow_up_figure(view, context.note, context.canvas()),
                                         context.canvas(), FOLLOW_UP_TITLE), id=ID.FOLLOW_UP)),
        html.P(recorded_text(context.study), className="cs-muted"),
    ], context.slide, context.notes)


def figures(context: PageContext, state: dict, canvas, for_deck: bool) -> list[ExportFigure]:
    view = overview_view(context.data)
    return [ExportFigure("follow-up", FOLLOW_UP_TITLE, follow_up_figure(view, context.note, canvas))]


def tables(context: PageContext, state: dict) -> list[DeckTable]:
    view = overview_view(context.data)
    return [DeckTable("Patients by dose level", dose_table(view), [context.note]),
            DeckTable("Samples by analyte", sample_table(view), [context.note])]


register_exports(PAGE, "overview", figures, tables)
