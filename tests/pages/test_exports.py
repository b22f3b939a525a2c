"""Downloads neutralise spreadsheet formulas and open in the programs people use."""
import io

import openpyxl
import pandas as pd

from components.exports import csv_bytes, excel_bytes, neutralise


def test_text_that_would_run_as_a_formula_is_neutralised():
    frame = pd.DataFrame({"note": ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "plain"],
                          "value": [-1.5, 2, 3, 4, 5]})
    out = neutralise(frame)
    assert out["note"].tolist() == ["'=HYPERLINK(\"x\")", "'+1", "'-2+3", "'@SUM(A1)", "plain"]
    assert out["value"].tolist() == [-1.5, 2, 3, 4, 5]  # numbers stay numbers
    assert csv_bytes(frame).decode("utf-8-sig").splitlines()[1] == "\"'=HYPERLINK(\"\"x\"\")\",-1.5"


def test_excel_export_opens_with_openpyxl():
    frame = pd.DataFrame({"subject_id": ["A", "B"], "cmax": [1.5, None], "reason": ["=cmd", ""]})
    book = openpyxl.load_workbook(io.BytesIO(excel_bytes(frame, "NCA")))
    sheet = book["NCA"]
    assert [c.value for c in sheet[1]] == ["subject_id", "cmax", "reason"]
    assert sheet["C2"].value == "'=cmd" and sheet["C2"].data_type == "s"


# ---- figures, decks and reports -------------------------------------------------------------------------

FIGURE = {"data": [{"type": "scatter", "x": [0, 7, 14, 28], "y": [0, 1000, 250, 40], "name": "Blood"}],
          "layout": {"title": {"text": "CAR transgene"}, "annotations": [
              {"text": "demo v1. Note.", "xref": "paper", "yref": "paper", "x": 0, "y": 0, "yshift": -60,
               "showarrow": False, "font": {"size": 11, "color": "#6b7785"}}]}}


def test_server_png_has_the_requested_pixel_size():
    from PIL import Image

    from components.exports import figure_image

    png = figure_image(FIGURE, "png", width=1280, height=720, scale=2)
    assert Image.open(io.BytesIO(png)).size == (2560, 1440)


def test_server_svg_and_pdf_open(tmp_path):
    import xml.etree.ElementTree as ElementTree

    from components.exports import figure_image

    svg = figure_image(FIGURE, "svg")
    assert ElementTree.fromstring(svg).tag.endswith("svg")
    pdf = tmp_path / "figure.pdf"
    pdf.write_bytes(figure_image(FIGURE, "pdf"))
    assert pdf_pages(pdf) == 1


def test_without_chromium_the_export_says_what_to_install():
    import os

    import pytest

    from components.exports import ImageExportUnavailable, ImageWorker

    worker = ImageWorker(env={**os.environ, "BROWSER_PATH": "/nonexistent/chromium", "PATH": "/nonexistent"})
    try:
        with pytest.raises(ImageExportUnavailable, match="install Debian's 'chromium' package"):
            worker.render(FIGURE, "png", 640, 360, 1)
    finally:
        worker.close()


def test_image_worker_that_died_is_restarted():
    from components.exports import ImageWorker

    worker = ImageWorker()
    try:
        assert worker.render(FIGURE, "svg", 640, 360, 1).startswith(b"<svg")
        first_pid = worker._process.pid
        worker._process.kill()
        worker._process.wait()
        assert worker.render(FIGURE, "svg", 640, 360, 1).startswith(b"<svg")
        assert worker._process.pid != first_pid
    finally:
        worker.close()


def test_a_worker_that_does_not_answer_in_time_is_stopped_not_waited_for_twice(monkeypatch):
    import subprocess

    import pytest

    from components import exports

    started = []
    real_popen = subprocess.Popen

    def counting_popen(*args, **kwargs):
        started.append(args)
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(exports.subprocess, "Popen", counting_popen)
    monkeypatch.setenv("CARTSCOPE_IMAGE_TIMEOUT", "0.05")  # far less than starting Chromium takes
    worker = exports.ImageWorker()
    try:
        with pytest.raises(exports.ImageExportError, match="TimeoutError"):
            worker.render(FIGURE, "png", 640, 360, 1)
        assert len(started) == 1 and worker._process is None
    finally:
        worker.close()


def test_slide_figure_is_16_9_with_the_slide_footnote():
    from components.figures import slide_figure

    slide = slide_figure(FIGURE, "demo v1; data cut-off: day 730. SIMULATED DATA.")
    assert (slide["layout"]["width"], slide["layout"]["height"]) == (1280, 720)
    assert slide["layout"]["font"]["size"] > 14
    note = slide["layout"]["annotations"][0]["text"]
    assert note.startswith("demo v1. Note.") and "SIMULATED DATA" in note
    assert FIGURE["layout"].get("width") is None  # the original is untouched


def pdf_pages(path) -> int:
    """Page count as poppler's pdfinfo reads it (it fails on a file that does not open)."""
    import re
    import subprocess

    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


def build_test_deck():
    from components.deck import DeckFigure, DeckTable, build_deck

    table = DeckTable("Response rates", ["Measure", "Rate"], [["ORR", "74%"], ["≥CR", "40%"]], "demo v1")
    return build_deck("CARTscope: efficacy", "demo v1", [DeckFigure("Best response", FIGURE, "note"),
                                                         DeckFigure("Swimmer", FIGURE, "note")], [table])


def test_pptx_has_a_slide_per_figure_with_a_picture_and_native_tables():
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    deck = Presentation(io.BytesIO(build_test_deck()))
    assert (deck.slide_width, deck.slide_height) == (12192000, 6858000)  # 16:9
    slides = list(deck.slides)
    assert len(slides) == 1 + 2 + 1
    for slide in slides[1:3]:
        assert [s.shape_type for s in slide.shapes].count(MSO_SHAPE_TYPE.PICTURE) == 1
    tables = [s for s in slides[3].shapes if s.has_table]
    assert len(tables) == 1
    cells = tables[0].table
    assert [cells.cell(0, c).text for c in range(2)] == ["Measure", "Rate"] and cells.cell(2, 0).text == "≥CR"


def test_libreoffice_converts_the_pptx_to_pdf(tmp_path):
    import subprocess

    deck = tmp_path / "deck.pptx"
    deck.write_bytes(build_test_deck())
    subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/lo",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(deck)], check=True, capture_output=True,
                   timeout=180)
    assert pdf_pages(tmp_path / "deck.pdf") == 4


def test_patient_report_is_self_contained():
    from components.report import patient_report_html

    summary = pd.DataFrame([{"": "CAR transgene, blood", "Cmax": "1,000", "_id": "x"}])
    text = patient_report_html("Patient DM-001", "demo v1", [("Dose level", "450e6", None)], summary, "", FIGURE,
                               "SIMULATED DATA")
    assert "Patient DM-001" in text and "450e6" in text and "SIMULATED DATA" in text
    assert "<script src=\"http" not in text and "Plotly.newPlot" in text
