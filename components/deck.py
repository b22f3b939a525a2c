"""PowerPoint export: a cover slide, one slide per figure (native title, the figure as a picture, native footnote)
and the page's tables as native tables, continued on further slides when they do not fit above the footnote.

Slides are 16:9 (13.33 x 7.5 in) or 4:3 (10 x 7.5 in). The picture is drawn for its box on the slide (the export
callback asks `picture_pixels()` for the size), so nothing is stretched; text sizes are estimated generously from
the text so no title, table or footnote runs into another (a test renders the deck with LibreOffice and checks).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import pandas as pd
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Emu, Inches, Pt

from components.frame import SLIDE_SIZES

SLIDE_INCHES = {"16:9": (12192000 / 914400, 7.5), "4:3": (10.0, 7.5)}  # PowerPoint's own slide sizes
INK = RGBColor(0x1F, 0x29, 0x33)
MUTED = RGBColor(0x6B, 0x77, 0x85)
MARGIN = 0.45                 # in, left/right
TITLE_TOP, TITLE_PT = 0.25, 24
FOOTNOTE_PT, BODY_PT = 10, 11
CHAR_EM = 0.52                # average character width as a share of the font size
LINE = 1.22                   # line height as a share of the font size


@dataclass
class DeckFigure:
    title: str
    png: bytes
    footnote: list[str] = field(default_factory=list)


@dataclass
class DeckTable:
    title: str
    frame: pd.DataFrame       # text cells, as the page shows them
    footnote: list[str] = field(default_factory=list)


def _lines(text: str, width_in: float, points: float) -> int:
    chars = max(int(width_in * 72 / (points * CHAR_EM)), 8)
    return sum(max(math.ceil(len(part) / chars), 1) for part in str(text).split("\n"))


def _height(lines: int, points: float) -> float:
    return lines * points * LINE / 72


@dataclass(frozen=True)
class SlideBoxes:
    """Where a slide's title, body (picture or table) and footnote go, in inches."""

    width: float
    height: float
    title_height: float
    body_top: float
    footnote_top: float

    @property
    def text_width(self) -> float:
        return self.width - 2 * MARGIN

    @property
    def body_height(self) -> float:
        return self.footnote_top - 0.1 - self.body_top


def boxes(aspect: str, title: str, footnote: list[str]) -> SlideBoxes:
    width, height = SLIDE_INCHES[aspect]
    text_width = width - 2 * MARGIN
    title_height = _height(_lines(title, text_width, TITLE_PT), TITLE_PT) + 0.12
    footnote_height = _height(sum(_lines(line, text_width, FOOTNOTE_PT) for line in footnote), FOOTNOTE_PT) + 0.12
    footnote_top = height - 0.2 - footnote_height
    return SlideBoxes(width, height, title_height, TITLE_TOP + title_height + 0.08, footnote_top)


def picture_pixels(aspect: str, title: str, footnote: list[str]) -> tuple[int, int]:
    """The pixel size to draw a figure at so it fills its box on the slide (width 1280 or 960 px)."""
    b = boxes(aspect, title, footnote)
    px_width = SLIDE_SIZES[aspect][0]
    return px_width, round(px_width * b.body_height / b.text_width)


def build_deck(title: str, subtitle: str, figures: list[DeckFigure], tables: list[DeckTable],
               aspect: str = "16:9") -> bytes:
    """A .pptx that PowerPoint and LibreOffice open."""
    deck = Presentation()
    width, height = SLIDE_INCHES[aspect]
    deck.slide_width, deck.slide_height = Inches(width), Inches(height)
    blank = deck.slide_layouts[6]
    cover = deck.slides.add_slide(blank)
    _text(cover, title, MARGIN, 2.4, width - 2 * MARGIN, 1.2, 34, bold=True)
    _text(cover, subtitle, MARGIN, 3.7, width - 2 * MARGIN, 1.6, 16, color=MUTED)
    for item in figures:
        slide = deck.slides.add_slide(blank)
        b = boxes(aspect, item.title, item.footnote)
        _title(slide, item.title, b)
        slide.shapes.add_picture(io.BytesIO(item.png), Inches(MARGIN), Inches(b.body_top),
                                 width=Inches(b.text_width), height=Inches(b.body_height))
        _footnote(slide, item.footnote, b)
    for item in tables:
        for part, (start, stop, widths, heights) in enumerate(paginate(item, aspect)):
            slide = deck.slides.add_slide(blank)
            name = item.title + (" (continued)" if part else "")
            b = boxes(aspect, name, item.footnote)
            _title(slide, name, b)
            _table(slide, item.frame, start, stop, widths, heights, b)
            _footnote(slide, item.footnote, b)
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def column_widths(frame: pd.DataFrame, total: float) -> list[float]:
    """Column widths (in) in proportion to their longest text, none narrower than 0.6 in."""
    longest = [max([len(str(c)) * 0.9, *(len(str(v)) for v in frame[c])], default=4) for c in frame.columns]
    weights = [min(max(n, 4), 48) for n in longest]
    widths = [total * w / sum(weights) for w in weights]
    short = [w < 0.6 for w in widths]
    if any(short) and not all(short):
        spare = sum(0.6 - w for w, s in zip(widths, short, strict=True) if s)
        wide = sum(w for w, s in zip(widths, short, strict=True) if not s)
        widths = [0.6 if s else w - spare * w / wide for w, s in zip(widths, short, strict=True)]
    return widths


def row_height(cells, widths: list[float], points: float) -> float:
    """A row's height (in) when each cell wraps in its column: the tallest cell, plus cell padding."""
    lines = max(_lines(str(v), max(w - 0.2, 0.2), points) for v, w in zip(cells, widths, strict=True))
    return _height(lines, points) + 0.16


def paginate(item: DeckTable, aspect: str) -> list[tuple[int, int, list[float], list[float]]]:
    """Slides of a table: (first row, row after the last, column widths, row heights with the header first), as
    many rows per slide as fit between the title and the footnote."""
    frame = item.frame
    width, _ = SLIDE_INCHES[aspect]
    widths = column_widths(frame, width - 2 * MARGIN)
    header = row_height(frame.columns, widths, BODY_PT)
    heights = [row_height(row, widths, BODY_PT) for row in frame.itertuples(index=False)]
    parts, start = [], 0
    while True:
        b = boxes(aspect, item.title + (" (continued)" if parts else ""), item.footnote)
        used, stop = header, start
        while stop < len(frame) and used + heights[stop] <= b.body_height:
            used += heights[stop]
            stop += 1
        stop = max(stop, min(start + 1, len(frame)))  # a row taller than the slide still gets a slide
        parts.append((start, stop, widths, [header, *heights[start:stop]]))
        if stop >= len(frame):
            return parts
        start = stop


def _title(slide, text: str, b: SlideBoxes) -> None:
    _text(slide, text, MARGIN, TITLE_TOP, b.text_width, b.title_height, TITLE_PT, bold=True)


def _footnote(slide, lines: list[str], b: SlideBoxes) -> None:
    if lines:
        _text(slide, "\n".join(lines), MARGIN, b.footnote_top, b.text_width, b.height - 0.2 - b.footnote_top,
              FOOTNOTE_PT, color=MUTED, name="Footnote")


def _table(slide, frame: pd.DataFrame, start: int, stop: int, widths, heights, b: SlideBoxes) -> None:
    rows = frame.iloc[start:stop]
    shape = slide.shapes.add_table(len(rows) + 1, len(frame.columns), Inches(MARGIN), Inches(b.body_top),
                                   Inches(b.text_width), Inches(sum(heights)))
    table = shape.table
    for c, w in enumerate(widths):
        table.columns[c].width = Emu(int(Inches(w)))
    for r, h in enumerate(heights):
        table.rows[r].height = Emu(int(Inches(h)))
    for c, header in enumerate(frame.columns):
        _cell(table.cell(0, c), header, bold=True)
    for r, row in enumerate(rows.itertuples(index=False), start=1):
        for c, value in enumerate(row):
            _cell(table.cell(r, c), value)


def _text(slide, text, left, top, width, height, size, bold=False, color=INK, name=None):
    box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
    if name:
        box.name = name
    frame = box.text_frame
    frame.word_wrap = True
    for i, line in enumerate(str(text).replace("<br>", "\n").split("\n")):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        run = paragraph.add_run()
        run.text = line
        run.font.size, run.font.bold = Pt(size), bold
        run.font.color.rgb = color
    return box


def _cell(cell, text, bold=False):
    cell.text = "" if text is None else str(text)
    cell.margin_top = cell.margin_bottom = Inches(0.04)
    for paragraph in cell.text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = Pt(BODY_PT)
            run.font.bold = bold
