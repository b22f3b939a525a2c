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
from functools import lru_cache
from pathlib import Path

import pandas as pd
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Emu, Inches, Pt

from components.frame import SLIDE_SIZES

SLIDE_INCHES = {"16:9": (12192000 / 914400, 7.5), "4:3": (10.0, 7.5)}  # PowerPoint's own slide sizes
INK = RGBColor(0x1F, 0x29, 0x33)
MUTED = RGBColor(0x6B, 0x77, 0x85)
#: Every text is set in Arial, so PowerPoint, Keynote and LibreOffice (which draws it with the metric-
#: compatible Liberation Sans) break lines where this module expects.
FONT = "Arial"
METRIC_FONTS = {False: ("LiberationSans-Regular.ttf", "Arial.ttf", "arial.ttf"),
                True: ("LiberationSans-Bold.ttf", "Arial Bold.ttf", "arialbd.ttf")}
FONT_DIRS = ("/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/liberation2",
             "/usr/share/fonts/truetype/msttcorefonts", "/Library/Fonts", "C:/Windows/Fonts")
MARGIN = 0.45                 # in, left/right
TITLE_TOP, TITLE_PT = 0.25, 24
FOOTNOTE_PT, BODY_PT, MIN_BODY_PT = 10, 11, 8
CELL_PAD = 0.1                # in, a cell's left + right margins
LINE = 1.2                    # line height as a share of the font size


@lru_cache(maxsize=4)
def _metric_font(bold: bool):
    """Arial's metrics (Liberation Sans has the same widths), or None when no such font file is installed."""
    from PIL import ImageFont

    for folder in FONT_DIRS:
        for name in METRIC_FONTS[bold]:
            path = Path(folder) / name
            if path.exists():
                return ImageFont.truetype(str(path), 1000)
    return None


def text_width(text: str, points: float, bold: bool = False) -> float:
    """Inches `text` takes in Arial at `points` (measured with the font when installed, else a wide estimate)."""
    font = _metric_font(bold)
    if font is None:
        return len(text) * points * (0.6 if bold else 0.56) / 72
    return font.getlength(text) / 1000 * points / 72


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


def _lines(text: str, width_in: float, points: float, bold: bool = False) -> int:
    """Lines `text` wraps to in a box `width_in` wide, breaking between words as PowerPoint does (a word longer
    than the line is broken, and counts its extra lines)."""
    total = 0
    space = text_width(" ", points, bold)
    for part in str(text).split("\n"):
        lines, used = 1, 0.0
        for word in part.split(" "):
            width = text_width(word, points, bold)
            if width > width_in:  # broken across lines
                lines += math.ceil(width / width_in) - (1 if used == 0 else 0)
                used = width % width_in
                continue
            if used and used + space + width > width_in:
                lines, used = lines + 1, width
            else:
                used += (space if used else 0) + width
        total += lines
    return total


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
    usable = width - 2 * MARGIN - 0.2  # a text box's own insets
    # 4% narrower than the box for the title: a renderer laying it out a little wider still fits the line
    title_height = _height(_lines(title, usable * 0.96, TITLE_PT, bold=True), TITLE_PT) + 0.12
    footnote_height = _height(sum(_lines(line, usable, FOOTNOTE_PT) for line in footnote), FOOTNOTE_PT) + 0.16
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
        for part, (start, stop, widths, heights, points) in enumerate(paginate(item, aspect)):
            slide = deck.slides.add_slide(blank)
            name = item.title + (" (continued)" if part else "")
            b = boxes(aspect, name, item.footnote)
            _title(slide, name, b)
            _table(slide, item.frame, start, stop, widths, heights, points, b)
            _footnote(slide, item.footnote, b)
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def column_widths(frame: pd.DataFrame, total: float, points: float) -> list[float] | None:
    """Column widths (in) that fit every column's longest word (so no word or number is broken), the rest of
    the width shared in proportion to each column's longest text; None when the words alone do not fit."""
    def longest(values, bold=False):
        return max((text_width(word, points, bold) for v in values for word in str(v).split(" ")), default=0.0)

    least = [max(longest(frame[c]), longest([c], bold=True)) + CELL_PAD + 0.04 for c in frame.columns]
    if sum(least) > total:
        return None
    # a header may take two or three lines; the cells' text decides how wide a column would like to be
    want = [max(text_width(str(c), points, True) / 2.5, *(text_width(str(v), points) for v in frame[c])) + CELL_PAD
            for c in frame.columns]
    spare = total - sum(least)
    extra = [max(w - m, 0.0) for w, m in zip(want, least, strict=True)]
    if sum(extra) <= spare:  # everything on one line: give the rest to the widest columns
        return [m + e + (spare - sum(extra)) * w / sum(want) for m, e, w in zip(least, extra, want, strict=True)]
    return [m + spare * e / sum(extra) for m, e in zip(least, extra, strict=True)]


def table_layout(frame: pd.DataFrame, total: float) -> tuple[float, list[float]]:
    """The font size (11 pt, smaller only when the words do not fit) and the column widths of a table."""
    points = BODY_PT
    while points > MIN_BODY_PT:
        widths = column_widths(frame, total, points)
        if widths is not None:
            return points, widths
        points -= 0.5
    return points, column_widths(frame, total, points) or [total / len(frame.columns)] * len(frame.columns)


def row_height(cells, widths: list[float], points: float, bold: bool = False) -> float:
    """A row's height (in) when each cell wraps in its column: the tallest cell, plus cell padding."""
    lines = max(_lines(str(v), max(w - CELL_PAD, 0.2), points, bold) for v, w in zip(cells, widths, strict=True))
    return _height(lines, points) + 0.1


def paginate(item: DeckTable, aspect: str) -> list[tuple[int, int, list[float], list[float], float]]:
    """Slides of a table: (first row, row after the last, column widths, row heights with the header first, font
    size), as many rows per slide as fit between the title and the footnote."""
    frame = item.frame
    width, _ = SLIDE_INCHES[aspect]
    points, widths = table_layout(frame, width - 2 * MARGIN)
    header = row_height(frame.columns, widths, points, bold=True)
    heights = [row_height(row, widths, points) for row in frame.itertuples(index=False)]
    def fill(cap: int) -> list[tuple[int, int]]:
        spans, start = [], 0
        while True:
            b = boxes(aspect, item.title + (" (continued)" if spans else ""), item.footnote)
            used, stop = header, start
            while stop < len(frame) and stop - start < cap and used + heights[stop] <= b.body_height:
                used += heights[stop]
                stop += 1
            stop = max(stop, min(start + 1, len(frame)))  # a row taller than the slide still gets a slide
            spans.append((start, stop))
            if stop >= len(frame):
                return spans
            start = stop

    spans = fill(len(frame) + 1)
    if len(spans) > 1:  # as many slides, with the rows shared evenly (no last slide with one row)
        even = fill(math.ceil(len(frame) / len(spans)))
        spans = even if len(even) == len(spans) else spans
    return [(start, stop, widths, [header, *heights[start:stop]], points) for start, stop in spans]


def _title(slide, text: str, b: SlideBoxes) -> None:
    _text(slide, text, MARGIN, TITLE_TOP, b.text_width, b.title_height, TITLE_PT, bold=True)


def _footnote(slide, lines: list[str], b: SlideBoxes) -> None:
    if lines:
        _text(slide, "\n".join(lines), MARGIN, b.footnote_top, b.text_width, b.height - 0.2 - b.footnote_top,
              FOOTNOTE_PT, color=MUTED, name="Footnote")


def _table(slide, frame: pd.DataFrame, start: int, stop: int, widths, heights, points: float,
           b: SlideBoxes) -> None:
    rows = frame.iloc[start:stop]
    shape = slide.shapes.add_table(len(rows) + 1, len(frame.columns), Inches(MARGIN), Inches(b.body_top),
                                   Inches(b.text_width), Inches(sum(heights)))
    table = shape.table
    for c, w in enumerate(widths):
        table.columns[c].width = Emu(int(Inches(w)))
    for r, h in enumerate(heights):
        table.rows[r].height = Emu(int(Inches(h)))
    for c, header in enumerate(frame.columns):
        _cell(table.cell(0, c), header, points, bold=True)
    for r, row in enumerate(rows.itertuples(index=False), start=1):
        for c, value in enumerate(row):
            _cell(table.cell(r, c), value, points)


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
        run.font.size, run.font.bold, run.font.name = Pt(size), bold, FONT
        run.font.color.rgb = color
    return box


def _cell(cell, text, points: float, bold=False):
    # An empty cell would get the default 18 pt line; a no-break space keeps the table's own size.
    cell.text = "\u00a0" if text is None or str(text) == "" else str(text)
    cell.margin_top = cell.margin_bottom = Inches(0.03)
    cell.margin_left = cell.margin_right = Inches(CELL_PAD / 2)
    for paragraph in cell.text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.size, run.font.bold, run.font.name = Pt(points), bold, FONT
