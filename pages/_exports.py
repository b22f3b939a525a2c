"""Exports shared by every page: a figure as PNG/SVG/PDF and the page as PowerPoint, both rebuilt on the server
from the page's state (its `cs-page-state` store) by the same view functions and builders the page uses, at the
slide size; the slide-mode switch; and the state -> address bar link. Both exports run as background jobs
(pages/_jobs.py, docs/jobs.md): their progress and Cancel button are in the shell (components/layout.export_jobs).

Each page registers what it exports with `register_exports(page, ...)`: a function giving its figures for a
context, a state and a canvas, and one giving its tables."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dash
from dash import ALL, Dash, Input, Output, State, clientside_callback, ctx, dcc
from werkzeug.exceptions import BadRequest

from components.deck import DeckFigure, DeckTable, build_deck, picture_pixels
from components.exports import IMAGE_FORMATS, ImageExportError, figure_image
from components.figures import file_stem
from components.frame import Canvas, slide
from components.jobs import HIDDEN, SHOWN
from pages._context import PageContext, context_from_state
from pages._jobs import job_error_text

PAGE_STATE = "cs-page-state"
PPTX_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def page_state_id(page: str) -> dict:
    return {"type": PAGE_STATE, "page": page}


FROM_URL = "_from_url"


def page_state(page: str, data: dict) -> dcc.Store:
    """The store a page keeps its state in (URL parameters as strings; keys starting with '_' stay out of the URL,
    e.g. the patient, who is in the path); exports and the address bar read it. Drawn from the URL, it is marked
    so, and the address bar is left as it is."""
    return dcc.Store(id=page_state_id(page), data={"page": page, **data, FROM_URL: True})


def changed_state(previous: dict, **changes) -> dict:
    """A page's state after the user changed its settings: the address bar follows it. (A state that is not a dict
    comes from no page: a 400.)"""
    if not isinstance(previous, dict):
        raise BadRequest("The page state is missing.")
    return {**{k: v for k, v in previous.items() if k != FROM_URL}, **changes}


@dataclass
class ExportFigure:
    name: str
    title: str
    figure: dict


@dataclass
class PageExports:
    title: str
    figures: Callable[[PageContext, dict, Canvas, bool], list[ExportFigure]]  # (context, state, canvas, for_deck)
    tables: Callable[[PageContext, dict], list[DeckTable]]


EXPORTS: dict[str, PageExports] = {}


def register_exports(page: str, title: str, figures, tables=lambda context, state: []) -> None:
    EXPORTS[page] = PageExports(title, figures, tables)


def deck_bytes(state: dict, progress: Callable[[int, int], None] | None = None) -> tuple[bytes, str]:
    """The page of `state` as a .pptx, and its file name. Each picture is drawn for its own box on the slide
    (the box depends on the slide's title and footnote), so nothing is stretched. `progress(k, n)` is told before
    the k-th of n pictures is drawn, and (n + 1, n) when the file is put together."""
    say = progress or (lambda _k, _n: None)
    page = state["page"]
    exports = EXPORTS[page]
    context = context_from_state(state)
    aspect = context.slide or "16:9"
    first = exports.figures(context, state, slide(aspect, chrome=False), True)
    sizes = [picture_pixels(aspect, item.title, item.figure["layout"]["meta"]["cs_footnote"]) for item in first]
    drawn: dict[int, list[ExportFigure]] = {}
    for height in sorted({h for _, h in sizes}):  # one build per picture height (a few at most)
        drawn[height] = exports.figures(context, state, slide(aspect, chrome=False, height=height), True)
    figures = []
    for i, (width, height) in enumerate(sizes):
        say(i + 1, len(sizes))
        item = drawn[height][i]
        png = figure_image(item.figure, "png", width=width, height=height, scale=2)
        figures.append(DeckFigure(item.title, png, item.figure["layout"]["meta"]["cs_footnote"]))
    say(len(sizes) + 1, len(sizes))
    tables = exports.tables(context, state)
    data = build_deck(f"CARTscope: {exports.title}", context.note, figures, tables, aspect)
    return data, f"cartscope_{file_stem(exports.title)}.pptx"


def deck_progress(k: int, n: int) -> tuple[str, str, str]:
    """(bar value, bar max, text) for the deck's k-th of n pictures (k = n + 1: the file)."""
    text = f"PowerPoint: slide {k} of {n}…" if k <= n else "PowerPoint: putting the file together…"
    return str(k - 1 if k <= n else n), str(max(n, 1)), text


def figure_export(state: dict, page: str, name: str, fmt: str, progress: Callable[[str], None]) -> tuple:
    """One figure of `page` as `fmt` (PNG 2x the slide size, SVG or PDF at the slide size): (download, message)."""
    if page not in EXPORTS or fmt not in IMAGE_FORMATS:
        return dash.no_update, "This figure cannot be exported."
    progress(f"{fmt.upper()}: preparing the figure…")
    context = context_from_state(state)
    canvas = context.export_canvas()
    chosen = [f for f in EXPORTS[page].figures(context, state, canvas, False) if f.name == name]
    if not chosen:
        return dash.no_update, "This figure cannot be exported."
    progress(f"{fmt.upper()}: drawing '{chosen[0].title}'…")
    try:
        data = figure_image(chosen[0].figure, fmt, width=canvas.width, height=canvas.height,
                            scale=2 if fmt == "png" else 1)
    except ImageExportError as error:
        return dash.no_update, str(error)
    return dcc.send_bytes(data, f"{file_stem(chosen[0].title)}.{fmt}", type=IMAGE_FORMATS[fmt]), ""


#: Slide mode changes the URL the browser shows (which every page keeps its settings in), so the page is drawn
#: again with every setting kept. The address bar is read directly: pages update it without a page load.
SLIDE_MODE_JS = """function(value) {
    const params = new URLSearchParams(window.location.search);
    // an unknown ?slide= value is normal mode (the page says so); the address keeps it
    const current = {'1': '16x9', '16x9': '16x9', '4x3': '4x3'}[params.get('slide')] || '';
    const wanted = value || '';
    if (current === wanted) { return window.dash_clientside.no_update; }
    if (wanted) { params.set('slide', wanted); } else { params.delete('slide'); }
    const search = params.toString();
    return search ? '?' + search : '';
}"""

#: A page's state store -> the address bar (without drawing the page again), so a copied link reproduces the
#: view; the browser's back button draws the previous state from its URL.
PUSH_STATE_JS = """function(states) {
    const state = (states || []).find(s => s);
    // a page drawn from its URL (first render, back button, study selector) leaves the address bar as it is
    if (!state || state._from_url) { return window.dash_clientside.no_update; }
    const params = new URLSearchParams();
    Object.entries(state).forEach(([k, v]) => {
        if (k !== 'page' && !k.startsWith('_') && v !== null && v !== '') { params.set(k, v); }
    });
    const search = '?' + params.toString();
    if (search !== window.location.search) {
        window.history.pushState(null, '', window.location.pathname + search);
    }
    return window.dash_clientside.no_update;
}"""


def register_export_callbacks(app: Dash) -> None:
    """Attach the export callbacks to `app` (explicitly, so every app instance built gets them)."""

    @app.callback(
        Output("cs-export-file", "data"), Output("cs-export-outcome", "children"),
        Input({"type": "cs-export", "page": ALL, "name": ALL, "format": ALL}, "n_clicks"),
        State({"type": PAGE_STATE, "page": ALL}, "data"),
        background=True, prevent_initial_call=True,
        running=[(Output("cs-export-job", "style"), SHOWN, HIDDEN), (Output("cs-export-outcome", "children"), "", "")],
        progress=[Output("cs-export-job-text", "children")], progress_default=["Exporting…"],
        cancel=[Input("cs-export-cancel", "n_clicks")],
        on_error=lambda error: (dash.no_update, f"The export did not finish: {job_error_text(error)}"),
    )
    def export_figure(set_progress, _clicks, states):
        """A background job: the clicked figure drawn on the server (one at a time: another click replaces it)."""
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not ctx.triggered[0]["value"] or not states:
            return dash.no_update, dash.no_update
        return figure_export(states[0], trigger["page"], trigger["name"], trigger["format"], set_progress)

    @app.callback(
        Output("deck-download", "data"), Output("deck-status", "children"),
        Input("deck-export", "n_clicks"), State({"type": PAGE_STATE, "page": ALL}, "data"),
        background=True, prevent_initial_call=True,
        running=[(Output("deck-export", "disabled"), True, False), (Output("deck-job", "style"), SHOWN, HIDDEN),
                 (Output("deck-status", "children"), "", "")],
        progress=[Output("deck-job-bar", "value"), Output("deck-job-bar", "max"), Output("deck-job-text", "children")],
        progress_default=["0", "1", "PowerPoint: starting…"],
        cancel=[Input("deck-cancel", "n_clicks")],
        on_error=lambda error: (dash.no_update, f"The PowerPoint export did not finish: {job_error_text(error)}"),
    )
    def export_deck(set_progress, _clicks, states):
        """A background job: the current page as a .pptx, a slide per figure (title, picture, footnote), tables as
        tables; the bar follows the slides."""
        if not states or states[0]["page"] not in EXPORTS:
            return dash.no_update, "Nothing to export on this page."
        try:
            data, name = deck_bytes(states[0], lambda k, n: set_progress(deck_progress(k, n)))
        except ImageExportError as error:
            return dash.no_update, str(error)
        return dcc.send_bytes(data, name, type=PPTX_TYPE), ""

    clientside_callback(SLIDE_MODE_JS, Output("url", "search", allow_duplicate=True), Input("slide-mode", "value"),
                        prevent_initial_call=True)
    clientside_callback(PUSH_STATE_JS, Output("page-state-sink", "children"),
                        Input({"type": PAGE_STATE, "page": ALL}, "data"), prevent_initial_call=True)
