"""Every figure on every page goes through `graph()`: one id scheme, one toolbar configuration (the camera
saves PNG at 3x), a server-side download menu (PNG, SVG, PDF), and slide mode (16:9, larger type, slide
footnote). The PowerPoint export collects the figures and tables of a page by these ids."""
from __future__ import annotations

import copy
import re

from dash import dcc, html

from components.theme import MUTED, wrap_note

SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720
FONT_SCALE = 1.3


def graph_id(page: str, name: str) -> dict:
    return {"type": "cs-graph", "page": page, "name": name}


def file_stem(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_").lower()[:60] or "figure"


def graph(page: str, name: str, figure: dict, title: str, slide_note: str | None = None) -> html.Div:
    """A figure with its export menu. With `slide_note` (slide mode) it is drawn at 16:9 for a slide."""
    shown = slide_figure(figure, slide_note) if slide_note is not None else figure
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 3,
                                                             "filename": file_stem(title)}}
    menu = html.Div(className="cs-export-menu", children=[
        html.Span("Download:", className="cs-muted"),
        *[html.Button(fmt.upper(), id={"type": "cs-export", "page": page, "name": name, "format": fmt},
                      className="cs-link-button", title=f"{fmt.upper()} made on the server, 16:9 slide size")
          for fmt in ("png", "svg", "pdf")],
        html.Span(id={"type": "cs-export-status", "page": page, "name": name}, className="cs-muted"),
        dcc.Download(id={"type": "cs-export-download", "page": page, "name": name}),
    ])
    return html.Div([dcc.Graph(id=graph_id(page, name), figure=shown, config=config,
                               className="cs-slide-graph" if slide_note is not None else None),
                     menu, dcc.Store(id={"type": "cs-graph-title", "page": page, "name": name}, data=title)],
                    className="cs-figure")


def table_store(page: str, name: str, title: str, frame) -> dcc.Store:
    """A page table for the PowerPoint export (header + rows as text)."""
    return dcc.Store(id={"type": "cs-table", "page": page, "name": name},
                     data={"title": title, "columns": [str(c) for c in frame.columns],
                           "rows": [[_text(v) for v in row] for row in frame.itertuples(index=False)]})


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "–" if value != value else f"{value:.4g}"
    return str(value)


def is_footnote(annotation: dict) -> bool:
    font = annotation.get("font") or {}
    return font.get("color") == MUTED and annotation.get("yref") == "paper" and annotation.get("y") == 0


def slide_figure(figure: dict, slide_note: str | None) -> dict:
    """The figure at 16:9 (1280 x 720 px) with type scaled up for a slide, and the slide footnote (study,
    data cut-off, simulated data) added under the figure's own note."""
    fig = copy.deepcopy(figure)
    layout = fig.setdefault("layout", {})
    layout["width"], layout["height"] = SLIDE_WIDTH, SLIDE_HEIGHT
    layout["font"] = {**(layout.get("font") or {}), "size": round(14 * FONT_SCALE)}
    if isinstance(layout.get("title"), dict):
        layout["title"] = {**layout["title"], "font": {"size": 24}}
    for annotation in layout.get("annotations", []):
        if is_footnote(annotation):
            text = annotation["text"].replace("<br>", " ")
            annotation["text"] = wrap_note(text + (f" {slide_note}" if slide_note else ""), 170)
            annotation["font"] = {**annotation["font"], "size": 13}
        elif isinstance(annotation.get("font"), dict) and annotation["font"].get("size"):
            annotation["font"] = {**annotation["font"], "size": round(annotation["font"]["size"] * 1.15)}
    layout.pop("updatemenus", None)
    return fig


def present(figure: dict, slide_note: str | None) -> dict:
    """What a callback returns for a figure: as built, or for a slide in slide mode."""
    return slide_figure(figure, slide_note) if slide_note is not None else figure
