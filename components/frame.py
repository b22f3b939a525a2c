"""The one figure frame. Every figure CARTscope draws gets its title, footnote, margins, legend position, type
sizes and pixel size here: on screen, in slide mode and in PNG/SVG/PDF/PowerPoint exports alike.

A builder makes the figure's body (traces, axes, its own annotations and shapes) and hands it to `frame()`
with a title, its footnote lines and the study note. The frame

- places the title at the top left with padding, wrapped to the width; title and footnote are plain text (their
  < > & are shown as typed, never read as plotly markup: a study name or id may hold them);
- puts one footnote under the plot: the builder's lines, then the study note once (it is never added
  anywhere else), wrapped to the width, tagged `name="cs-footnote"`, with the bottom margin sized from its
  line count so nothing is clipped;
- puts the legend in a row (or rows) between the title and the plot, or in the right margin, and sizes the
  top or right margin from its entries;
- sizes the figure for its canvas: on screen the width follows the card and the height is the plot height
  plus the margins; on a slide canvas (16:9 at 1280 x 720, 4:3 at 960 x 720) everything fits the slide and
  type is larger;
- records the title and footnote lines in `layout.meta` so an export (the PowerPoint deck) can set them as
  native text instead of drawing them.
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from components.text import plain
from components.theme import INK, MUTED, template_json

FOOTNOTE_NAME = "cs-footnote"
SLIDE_SIZES: dict[str, tuple[int, int]] = {"16:9": (1280, 720), "4:3": (960, 720)}
#: Average glyph width of the theme's sans-serif fonts, as a fraction of the font size (generous, so a
#: wrapped line never runs past the figure's edge).
CHAR_WIDTH = 0.56
LINE_HEIGHT = 1.3


@dataclass(frozen=True)
class Type:
    """Type sizes (px) of one medium."""

    base: int
    title: int
    footnote: int
    tick: int
    axis_title: int
    legend: int


SCREEN_TYPE = Type(base=14, title=17, footnote=11, tick=13, axis_title=15, legend=13)
SLIDE_TYPE = Type(base=17, title=23, footnote=13, tick=15, axis_title=17, legend=15)


@dataclass(frozen=True)
class Canvas:
    """Where a figure is drawn.

    `width`/`height` None: on screen, width from the card (at least `min_width` px, which the footnote and
    legend are laid out for) and height from the plot. Slide canvases have both; `chrome=False` leaves the
    title and footnote out of the picture (the PowerPoint deck sets them as native text)."""

    kind: str = "screen"                 # "screen" or "slide"
    width: int | None = None
    height: int | None = None
    min_width: int = 1150
    chrome: bool = True
    aspect: str | None = None            # "16:9" / "4:3" for slide canvases

    @property
    def is_slide(self) -> bool:
        return self.kind == "slide"

    @property
    def type(self) -> Type:
        return SLIDE_TYPE if self.is_slide else SCREEN_TYPE

    @property
    def layout_width(self) -> int:
        """The width text is wrapped for."""
        return self.width or self.min_width

    def scale(self, screen_px: float) -> float:
        """A builder's screen size (a marker, a line, a font) on this canvas."""
        return screen_px * self.type.base / SCREEN_TYPE.base


def screen(min_width: int = 1150) -> Canvas:
    """A card on screen: full-width cards are about 1150 px wide at a 1280 px window, half cards 560."""
    return Canvas("screen", min_width=min_width)


def slide(aspect: str = "16:9", chrome: bool = True, height: int | None = None) -> Canvas:
    """A slide-sized canvas (1280 x 720 or 960 x 720); `height` shrinks it for a picture under a slide title."""
    width, full_height = SLIDE_SIZES[aspect]
    return Canvas("slide", width=width, height=height or full_height, min_width=width, chrome=chrome, aspect=aspect)


HALF = 560  # min_width of a figure in one of two columns


# ---- text layout --------------------------------------------------------------------------------------------

def wrap(text: str, width_px: float, font_px: float) -> list[str]:
    """Lines of `text` (which may contain <br>) that fit `width_px` at `font_px`."""
    chars = max(int(width_px / (font_px * CHAR_WIDTH)), 20)
    lines: list[str] = []
    for part in text.replace("<br>", "\n").split("\n"):
        lines.extend(textwrap.wrap(part, chars, break_on_hyphens=False) or [""])
    return lines


def footnote_lines(footnote: Sequence[str] | str, note: str | None) -> list[str]:
    """The footnote's sentences, then the study note once (exact repeats are dropped)."""
    parts = [footnote] if isinstance(footnote, str) else list(footnote)
    if note:
        parts.append(note)
    out: list[str] = []
    for part in parts:
        part = (part or "").strip()
        if part and part not in out:
            out.append(part)
    return out


def _text_width(text: str, font_px: float) -> float:
    plain = text.replace("<b>", "").replace("</b>", "")
    return len(plain) * font_px * CHAR_WIDTH


def legend_entries(data: list[dict]) -> list[str]:
    """Names of the traces that show in the legend (one entry per legend group)."""
    names, groups = [], set()
    for trace in data:
        if trace.get("showlegend") is False or not trace.get("name"):
            continue
        group = trace.get("legendgroup")
        if group is not None and group in groups:
            continue
        groups.add(group)
        names.append(str(trace["name"]))
    return names


def legend_rows(names: list[str], width_px: float, font_px: float) -> int:
    """Rows a horizontal legend of these entries takes: one when they all fit side by side; otherwise plotly sets
    them in a grid whose columns are as wide as the widest entry."""
    if not names:
        return 0
    items = [40 + _text_width(name, font_px) for name in names]
    if sum(items) + 5 * (len(items) - 1) <= width_px:
        return 1
    columns = max(int(width_px // (max(items) + 5)), 1)
    return math.ceil(len(items) / columns)


# ---- the frame ----------------------------------------------------------------------------------------------

AXIS_KEYS = ("xaxis", "yaxis")


def _axes(layout: dict):
    for key, value in layout.items():
        if key.startswith(AXIS_KEYS) and isinstance(value, dict):
            yield key, value


def frame(body: dict, *, title: str | None, footnote: Sequence[str] | str = (), note: str | None = None,
          canvas: Canvas | None = None, plot_height: int = 420, below_axis: int = 58, left: int = 80,
          right: int = 28, top_extra: int = 0, legend: str = "top") -> dict:
    """The framed figure (a plain dict, ready for dcc.Graph or kaleido). See the module docstring.

    `plot_height`: the plot area's height on screen (slides fit the plot to the slide). `below_axis`: px
    between the plot area's bottom and the footnote (tick labels, axis title and anything a builder draws
    there, such as a number-at-risk table). `left`, `right`: margins for the axes. `top_extra`: px a builder
    draws above the plot area (panel titles, test results). `legend`: "top", "right" or "none". Sizes are
    screen px; on a slide they grow with the type."""
    canvas = canvas or screen()
    kind = canvas.type
    ratio = kind.base / SCREEN_TYPE.base
    # The body's traces are shared, not copied (a cohort's lines are large); what the frame changes is copied.
    layout = {key: dict(value) if isinstance(value, dict) else value for key, value in body.get("layout", {}).items()}
    layout["annotations"] = [dict(a) for a in layout.get("annotations", [])]
    data = body.get("data", [])
    fig = {**body, "data": data, "layout": layout}
    width = canvas.layout_width
    pad = 16

    layout["template"] = template_json()
    _scale_type(layout, kind, ratio)
    below_axis, top_extra = round(below_axis * ratio), round(top_extra * ratio)
    left, right = round(left * ratio), round(right * ratio)

    # Title, top left.
    title_lines = wrap(title, width - 2 * pad, kind.title) if (title and canvas.chrome) else []
    title_height = (math.ceil(len(title_lines) * kind.title * 1.25) + 14) if title_lines else 6
    if title_lines:
        layout["title"] = {"text": "<br>".join(plain(line) for line in title_lines), "x": 0, "xref": "container",
                           "xanchor": "left",
                           "y": 1, "yref": "container", "yanchor": "top", "pad": {"l": pad, "t": 12},
                           "font": {"size": kind.title, "color": INK}}
    else:
        layout.pop("title", None)

    # Legend: rows between the title and the plot, or the right margin.
    names = legend_entries(data) if legend != "none" else []
    spec = {k: v for k, v in (layout.get("legend") or {}).items()
            if k in ("traceorder", "groupclick", "itemsizing")}
    spec.update(font={"size": kind.legend}, bgcolor="rgba(255,255,255,0)")
    legend_band = 0
    if legend == "right" and names:
        right = max(right, round(max(_text_width(n, kind.legend) for n in names) + 64))
        spec.update(orientation="v", x=1, xanchor="left", xref="paper", y=0.5, yanchor="middle", yref="paper")
    elif legend == "top" and names:
        rows = legend_rows(names, width - left - right, kind.legend)  # plotly wraps it at the plot's width
        legend_band = math.ceil(rows * kind.legend * 1.75) + 6
        spec.update(orientation="h", x=0, xanchor="left", xref="container", yanchor="top", yref="container")
    layout["showlegend"] = bool(names)
    top = title_height + legend_band + top_extra + 10

    # Footnote, under the axis, starting at the figure's left padding.
    sentences = footnote_lines(footnote, note)
    lines = [line for sentence in sentences
             for line in wrap(sentence, width - 2 * pad, kind.footnote)] if canvas.chrome else []
    annotations = [a for a in layout.get("annotations", []) if a.get("name") != FOOTNOTE_NAME]
    footnote_height = math.ceil(len(lines) * kind.footnote * LINE_HEIGHT) + 8 if lines else 0
    if lines:
        annotations.append({"name": FOOTNOTE_NAME, "text": "<br>".join(plain(line) for line in lines),
                            "xref": "paper", "yref": "paper",
                            "x": 0, "xanchor": "left", "xshift": pad - left, "y": 0, "yanchor": "top",
                            "yshift": -below_axis, "showarrow": False, "align": "left",
                            "font": {"size": kind.footnote, "color": MUTED}})
    layout["annotations"] = annotations
    bottom = below_axis + footnote_height + 10

    if canvas.width is not None:
        layout["width"], layout["height"] = canvas.width, canvas.height
        height = canvas.height
    else:
        layout.pop("width", None)
        height = plot_height + top + bottom
        layout["height"] = height
    if legend == "top" and names:
        spec.update(x=pad / width, y=1 - title_height / height)
    layout["legend"] = spec
    layout["autosize"] = canvas.width is None
    layout["margin"] = {"l": left, "r": right, "t": top, "b": bottom, "autoexpand": False, "pad": 0}
    layout["meta"] = {**(layout.get("meta") or {}), "cs_title": title or "", "cs_footnote": sentences}
    return fig


def _scale_type(layout: dict, kind: Type, ratio: float) -> None:
    """The medium's type sizes on the whole figure; sizes a builder set itself grow in proportion."""
    layout["font"] = {**(layout.get("font") or {}), "size": kind.base, "color": INK}
    for _, axis in _axes(layout):
        tick = axis.get("tickfont") or {}
        axis["tickfont"] = {**tick, "size": round(tick["size"] * ratio) if tick.get("size") else kind.tick}
        title = axis.get("title")
        if isinstance(title, dict) and title.get("text"):
            font = title.get("font") or {}
            axis["title"] = {**title, "font": {**font, "size": round(font["size"] * ratio) if font.get("size")
                                               else kind.axis_title}}
    for annotation in layout.get("annotations", []):
        font = annotation.get("font")
        if isinstance(font, dict) and font.get("size"):
            annotation["font"] = {**font, "size": round(font["size"] * ratio)}


def on_screen(figure: dict, canvas: Canvas) -> dict:
    """A slide-canvas figure as the page shows it: the layout follows the card (which keeps the slide's aspect
    ratio), so nothing is drawn wider than its card."""
    if not canvas.is_slide:
        return figure
    layout = {**figure["layout"], "autosize": True}
    layout.pop("width", None)
    layout.pop("height", None)
    return {**figure, "layout": layout}
