"""How a figure sits on a page: one id scheme, a loading indicator, the toolbar configuration (the camera saves
PNG at 3x), the server-side download menu (PNG, SVG, PDF at the slide size) and slide mode (the card keeps the
slide's aspect ratio and the figure follows it, so nothing is wider than its card). The export callbacks
(pages/_exports.py) find figures by these ids and rebuild them from the page's state."""
from __future__ import annotations

import re

from dash import dcc, html

from components.frame import Canvas, on_screen

#: A figure or table that can take longer than this shows a loading indicator (ms).
LOADING_DELAY_MS = 300
EXPORT_FORMATS = ("png", "svg", "pdf")


def graph_id(page: str, name: str) -> dict:
    return {"type": "cs-graph", "page": page, "name": name}


def file_stem(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_").lower()[:60] or "figure"


def loading(child, target_id=None, **extra) -> dcc.Loading:
    """A loading indicator over `child` when an update takes over LOADING_DELAY_MS; the old content stays
    visible, dimmed, until the new one arrives."""
    return dcc.Loading(child, delay_show=LOADING_DELAY_MS, type="circle", color="#0072B2",
                       overlay_style={"visibility": "visible", "opacity": 0.45, "filter": "blur(0.5px)"},
                       parent_className="cs-loading", **extra)


def graph(page: str, name: str, figure: dict, canvas: Canvas, title: str) -> html.Div:
    """A framed figure with its loading indicator and download menu. `title` names the downloaded file."""
    aspect = canvas.aspect.replace(":", "-") if canvas.is_slide else None
    config = {"displaylogo": False, "responsive": True,
              "toImageButtonOptions": {"format": "png", "scale": 3, "filename": file_stem(title)}}
    menu = html.Div(className="cs-export-menu", children=[
        html.Span("Download:", className="cs-muted"),
        *[html.Button(fmt.upper(), id={"type": "cs-export", "page": page, "name": name, "format": fmt},
                      className="cs-link-button", title=f"{fmt.upper()} drawn on the server at slide size")
          for fmt in EXPORT_FORMATS],
    ])  # drawn by a background job (pages/_exports.py); its progress and download are in the shell
    # On screen the width follows the card; in slide mode the height does too (CSS keeps the aspect ratio).
    graph_component = dcc.Graph(id=graph_id(page, name), figure=on_screen(figure, canvas), config=config,
                                responsive=True if aspect else "auto",
                                className=f"cs-slide-graph cs-aspect-{aspect}" if aspect else None)
    return html.Div([loading(graph_component), menu], className="cs-figure")
