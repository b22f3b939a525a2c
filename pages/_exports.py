"""Export callbacks shared by every page: server-side PNG/SVG/PDF of one figure, the page as PowerPoint,
and the slide-mode switch. Figures and tables are found by the ids components/figures.py gives them."""
from __future__ import annotations

import dash
from dash import ALL, MATCH, Dash, Input, Output, State, ctx, dcc

from components.deck import DeckFigure, DeckTable, build_deck
from components.exports import IMAGE_FORMATS, ImageExportError, figure_image
from components.figures import file_stem, is_footnote, slide_figure
from pages._study import load_selected, query_params, query_string


def slide_note(search: str | None) -> str:
    """The line every slide carries: study, data cut-off and, for the demo, SIMULATED DATA."""
    params = query_params(search)
    study, _ = load_selected(params.get("study"), params.get("version"))
    if study is None:
        return ""
    cutoff = study.subjects["last_contact_day"].max()
    return f"{study.label}; data cut-off: day {cutoff:g} of follow-up." + (" SIMULATED DATA." if study.simulated
                                                                           else "")


def split_footnote(figure: dict) -> tuple[dict, str]:
    """The figure without its footnote annotation, and the footnote text (for a slide's text box)."""
    layout = dict(figure.get("layout", {}))
    notes = [a for a in layout.get("annotations", []) if is_footnote(a)]
    layout["annotations"] = [a for a in layout.get("annotations", []) if not is_footnote(a)]
    text = " ".join(a["text"].replace("<br>", " ") for a in notes)
    return {**figure, "layout": layout}, text


def register_export_callbacks(app: Dash) -> None:
    """Attach the export callbacks to `app` (explicitly, so every app instance built gets them)."""

    @app.callback(
        Output({"type": "cs-export-download", "page": MATCH, "name": MATCH}, "data"),
        Output({"type": "cs-export-status", "page": MATCH, "name": MATCH}, "children"),
        Input({"type": "cs-export", "page": MATCH, "name": MATCH, "format": ALL}, "n_clicks"),
        State({"type": "cs-graph", "page": MATCH, "name": MATCH}, "figure"),
        State({"type": "cs-graph-title", "page": MATCH, "name": MATCH}, "data"),
        State("url", "search"),
        running=[(Output({"type": "cs-export-status", "page": MATCH, "name": MATCH}, "children"), "preparing…", "")],
        prevent_initial_call=True,
    )
    def export_figure(clicks, figure, title, search):
        """One figure as a 16:9 PNG (2560 x 1440), SVG or PDF, rendered on the server."""
        if not any(clicks) or figure is None:
            return dash.no_update, dash.no_update
        fmt = ctx.triggered_id["format"]
        try:
            data = figure_image(slide_figure(figure, slide_note(search)), fmt, scale=2 if fmt == "png" else 1)
        except ImageExportError as error:
            return dash.no_update, str(error)
        return dcc.send_bytes(data, f"{file_stem(title)}.{fmt}", type=IMAGE_FORMATS[fmt]), ""

    @app.callback(
        Output("deck-download", "data"), Output("deck-status", "children"),
        Input("deck-export", "n_clicks"),
        State({"type": "cs-graph", "page": ALL, "name": ALL}, "figure"),
        State({"type": "cs-graph-title", "page": ALL, "name": ALL}, "data"),
        State({"type": "cs-table", "page": ALL, "name": ALL}, "data"),
        State("url", "pathname"), State("url", "search"),
        running=[(Output("deck-export", "disabled"), True, False),
                 (Output("deck-status", "children"), "Building slides…", "")],
        prevent_initial_call=True,
    )
    def export_deck(_clicks, figures, titles, tables, pathname, search):
        """The current page as a .pptx: a 16:9 slide per figure (picture, title, footnote), tables as tables."""
        note = slide_note(search)
        deck_figures = []
        for figure, title in zip(figures, titles, strict=True):
            picture, footnote = split_footnote(slide_figure(figure, None))
            deck_figures.append(DeckFigure(title, picture, f"{footnote} {note}".strip()))
        deck_tables = [DeckTable(t["title"], t["columns"], t["rows"], note) for t in tables if t]
        if not deck_figures and not deck_tables:
            return dash.no_update, "Nothing to export on this page."
        page = (pathname or "/").strip("/").replace("/", " ") or "overview"
        try:
            data = build_deck(f"CARTscope: {page}", note, deck_figures, deck_tables)
        except ImageExportError as error:
            return dash.no_update, str(error)
        return dcc.send_bytes(data, f"cartscope_{file_stem(page)}.pptx",
                              type="application/vnd.openxmlformats-officedocument.presentationml.presentation"), ""

    @app.callback(Output("url", "search", allow_duplicate=True), Input("slide-mode", "value"), State("url", "search"),
                  prevent_initial_call=True)
    def toggle_slide_mode(value, search):
        """Slide mode lives in the URL (?slide=1), so pages render their figures for slides and links keep it."""
        params = query_params(search)
        wanted = "1" if value else None
        if params.get("slide") == wanted:
            return dash.no_update
        params.pop("slide", None)
        if wanted:
            params["slide"] = wanted
        return query_string(params)
