"""PowerPoint decks: a slide per figure, long tables continued instead of running over the footnote; checked by
reading the file back and by rendering it with LibreOffice."""
import io
import re
import subprocess
from html import unescape

import pandas as pd
import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Emu

from components.deck import DeckFigure, DeckTable, build_deck, paginate, picture_pixels
from components.exports import figure_image
from components.frame import frame, slide

FOOT = ["FOOTNOTEWORD: method of this table, long enough to wrap onto a second line of the slide footnote when "
        "the slide is 4:3 and narrower than 16:9.", "demo v1; data cut-off: day 730; SIMULATED DATA."]


def long_table(rows: int = 40) -> DeckTable:
    frame_ = pd.DataFrame({"Patient": [f"ROW{i:02d}" for i in range(rows)],
                           "Dose level": ["450e6 CAR+ T cells"] * rows,
                           "Notes": ["lambda-z: fewer than 3 positive samples after Tmax; auc_0_90: ends after the "
                                     "last quantifiable sample" if i % 3 == 0 else "" for i in range(rows)],
                           "Cmax (copies/µg gDNA)": [f"{1000 + i:,}" for i in range(rows)]})
    return DeckTable("Every patient", frame_, FOOT)


def picture(aspect="16:9") -> bytes:
    width, height = picture_pixels(aspect, "Figure", FOOT)
    body = {"data": [{"type": "scatter", "x": [0, 7, 14], "y": [0, 1000, 250], "name": "Blood"}], "layout": {}}
    figure = frame(body, title="Figure", footnote=FOOT, canvas=slide(aspect, chrome=False, height=height))
    return figure_image(figure, "png", width=width, height=height, scale=1)


@pytest.mark.parametrize("aspect", ["16:9", "4:3"])
def test_slides_tables_continue_above_the_footnote(aspect):
    deck = Presentation(io.BytesIO(build_deck("CARTscope: test", "demo v1", [DeckFigure("Figure", picture(aspect),
                                                                                         FOOT)],
                                              [long_table()], aspect)))
    assert (deck.slide_width, deck.slide_height) == ((12192000, 6858000) if aspect == "16:9" else (9144000, 6858000))
    slides = list(deck.slides)
    assert [s.shape_type for s in slides[1].shapes].count(MSO_SHAPE_TYPE.PICTURE) == 1
    table_slides = slides[2:]
    assert len(table_slides) == len(paginate(long_table(), aspect)) >= 3
    seen = []
    for slide_ in table_slides:
        table = next(s for s in slide_.shapes if s.has_table)
        footnote = next(s for s in slide_.shapes if s.name == "Footnote")
        bottom = table.top + sum(row.height for row in table.table.rows)
        assert bottom <= footnote.top, "the table runs into the footnote"
        assert [c.text for c in table.table.rows[0].cells][0] == "Patient"  # the header on every slide
        seen += [row.cells[0].text for row in list(table.table.rows)[1:]]
        assert footnote.text_frame.text.count("SIMULATED DATA") == 1
    assert seen == [f"ROW{i:02d}" for i in range(40)]
    titles = [next(s for s in slide_.shapes if s.has_text_frame).text_frame.text for slide_ in table_slides]
    assert titles == ["Every patient"] + ["Every patient (continued)"] * (len(titles) - 1)
    assert Emu(footnote.top + footnote.height) <= deck.slide_height


def words(pdf, page: int) -> list[tuple[str, float, float]]:
    """(word, top, bottom) of every word on one page, as poppler lays it out."""
    html = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    return [(unescape(m.group(3)), float(m.group(1)), float(m.group(2))) for m in
            re.finditer(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', html)]


def test_libreoffice_draws_every_table_row_above_the_footnote(tmp_path):
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(build_deck("CARTscope: test", "demo v1", [DeckFigure("Figure", picture(), FOOT)],
                                [long_table()]))
    subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/lo",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(deck)], check=True, capture_output=True,
                   timeout=180)
    pdf = tmp_path / "deck.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))
    assert pages == 2 + len(paginate(long_table(), "16:9"))
    rows_seen = []
    for page in range(3, pages + 1):
        found = words(pdf, page)
        footnote_top = min(top for word, top, _ in found if word.startswith("FOOTNOTEWORD"))
        table_bottom = max(bottom for word, _, bottom in found if word.startswith("ROW") or word == "Patient")
        assert table_bottom < footnote_top, f"page {page}: the table runs into the footnote"
        rows_seen += [word for word, *_ in found if word.startswith("ROW")]
    assert rows_seen == [f"ROW{i:02d}" for i in range(40)]


@pytest.mark.parametrize("aspect", ["16:9", "4:3"])
def test_every_page_table_renders_whole_words_above_its_footnote(app, tmp_path, aspect):
    """The app's own tables (long NCA tables, wide exposure tables, narrow number columns) as LibreOffice draws
    them: no number or word is broken across lines, and every row is above the footnote."""
    from pages._context import page_context
    from pages._exports import EXPORTS

    context, _ = page_context("demo", None)
    states = {"overview": {}, "efficacy": {}, "survival": {"endpoint": "PFS", "strata": "dose"}, "safety": {},
              "kinetics": {}, "patients": {"_subject": "DM-003"}}
    tables = [t for page, state in states.items()
              for t in EXPORTS[page].tables(context, {**context.params(), **state})]
    deck = tmp_path / "tables.pptx"
    deck.write_bytes(build_deck("CARTscope: tables", "demo v1", [], tables, aspect))
    subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/lo",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(deck)], check=True, capture_output=True,
                   timeout=300)
    pdf = tmp_path / "tables.pdf"
    pages = [(table, part) for table in tables for part in paginate(table, aspect)]
    problems = []
    for number, (table, (start, stop, *_)) in enumerate(pages, start=2):
        found = words(pdf, number)
        seen = {word for word, *_ in found}
        cells = [str(v) for row in table.frame.iloc[start:stop].itertuples(index=False) for v in row]
        cells += [str(c) for c in table.frame.columns]
        tokens = {t for cell in cells for t in cell.split()}  # split() also splits at no-break spaces
        title = set(f"{table.title} (continued)".split())
        note = {t for line in table.footnote for t in line.split()} - tokens - title
        broken = sorted(t for t in tokens if t not in seen and t.strip("()–,;:") == t)
        if broken:
            problems.append(f"{table.title} slide {number}: broken or missing {broken[:5]}")
        footnote_words = {t for line in table.footnote for t in line.split()}
        last_row = {t for v in table.frame.iloc[stop - 1] for t in str(v).split()} - footnote_words
        table_bottom = max((b for w, _, b in found if w in last_row), default=0)
        note_top = min((t for w, t, _ in found if w in note), default=1e9)
        if table_bottom >= note_top:
            problems.append(f"{table.title} slide {number}: the table runs into the footnote")
    assert problems == [], "\n".join(problems)
