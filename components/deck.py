"""PowerPoint export: one 16:9 slide per figure (title, picture, footnote) and one per table (a native table)."""
from __future__ import annotations

import io
from dataclasses import dataclass

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Emu, Inches, Pt

from components.exports import figure_image

SLIDE_W, SLIDE_H = Emu(12192000), Emu(6858000)  # 13.333 x 7.5 in: PowerPoint's 16:9
INK = RGBColor(0x1F, 0x29, 0x33)
MUTED = RGBColor(0x6B, 0x77, 0x85)
MAX_TABLE_ROWS = 14


@dataclass
class DeckFigure:
    title: str
    figure: dict
    footnote: str


@dataclass
class DeckTable:
    title: str
    columns: list[str]
    rows: list[list[str]]
    footnote: str


def build_deck(title: str, subtitle: str, figures: list[DeckFigure], tables: list[DeckTable]) -> bytes:
    """A .pptx that PowerPoint and LibreOffice open: a title slide, then figures, then tables (long tables
    continue on further slides)."""
    deck = Presentation()
    deck.slide_width, deck.slide_height = SLIDE_W, SLIDE_H
    blank = deck.slide_layouts[6]
    cover = deck.slides.add_slide(blank)
    _text(cover, title, Inches(0.8), Inches(2.6), Inches(11.7), Inches(1.2), 36, bold=True)
    _text(cover, subtitle, Inches(0.8), Inches(3.8), Inches(11.7), Inches(1.2), 18, color=MUTED)
    for item in figures:
        slide = deck.slides.add_slide(blank)
        _text(slide, item.title, Inches(0.5), Inches(0.25), Inches(12.3), Inches(0.7), 26, bold=True)
        png = figure_image(item.figure, "png", width=1280, height=640, scale=2)
        slide.shapes.add_picture(io.BytesIO(png), Inches(0.5), Inches(1.0), width=Inches(12.3))
        _text(slide, item.footnote, Inches(0.5), Inches(7.0), Inches(12.3), Inches(0.45), 10, color=MUTED)
    for item in tables:
        for start in range(0, max(len(item.rows), 1), MAX_TABLE_ROWS):
            chunk = item.rows[start:start + MAX_TABLE_ROWS]
            slide = deck.slides.add_slide(blank)
            suffix = " (continued)" if start else ""
            _text(slide, item.title + suffix, Inches(0.5), Inches(0.25), Inches(12.3), Inches(0.7), 26, bold=True)
            rows, cols = len(chunk) + 1, len(item.columns)
            shape = slide.shapes.add_table(rows, cols, Inches(0.5), Inches(1.1), Inches(12.3),
                                           Emu(int(Inches(0.38)) * rows))
            table = shape.table
            for c, header in enumerate(item.columns):
                _cell(table.cell(0, c), header, bold=True)
            for r, row in enumerate(chunk, start=1):
                for c, value in enumerate(row):
                    _cell(table.cell(r, c), value)
            _text(slide, item.footnote, Inches(0.5), Inches(7.0), Inches(12.3), Inches(0.45), 10, color=MUTED)
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def _text(slide, text, left, top, width, height, size, bold=False, color=INK):
    box = slide.shapes.add_textbox(left, top, width, height)
    frame = box.text_frame
    frame.word_wrap = True
    paragraph = frame.paragraphs[0]
    run = paragraph.add_run()
    run.text = text.replace("<br>", " ")
    run.font.size, run.font.bold = Pt(size), bold
    run.font.color.rgb = color
    return box


def _cell(cell, text, bold=False):
    cell.text = str(text)
    for paragraph in cell.text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = Pt(12)
            run.font.bold = bold
