"""Downloads neutralise spreadsheet formulas; figures render on the server in a worker process."""
import io
import os
import re
import subprocess
import xml.etree.ElementTree as ElementTree

import openpyxl
import pandas as pd
import pytest
from PIL import Image

from components.exports import (
    ImageExportError,
    ImageExportUnavailable,
    ImageWorker,
    csv_bytes,
    excel_bytes,
    figure_image,
    neutralise,
)
from components.frame import frame, slide

FIGURE = frame({"data": [{"type": "scatter", "x": [0, 7, 14, 28], "y": [0, 1000, 250, 40], "name": "Blood"}],
                "layout": {}}, title="CAR transgene", footnote="Note.", note="demo v1.", canvas=slide("16:9"))


def test_text_that_would_run_as_a_formula_is_neutralised():
    frame_ = pd.DataFrame({"note": ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "plain"],
                           "value": [-1.5, 2, 3, 4, 5]})
    out = neutralise(frame_)
    assert out["note"].tolist() == ["'=HYPERLINK(\"x\")", "'+1", "'-2+3", "'@SUM(A1)", "plain"]
    assert out["value"].tolist() == [-1.5, 2, 3, 4, 5]  # numbers stay numbers
    assert csv_bytes(frame_).decode("utf-8-sig").splitlines()[1] == "\"'=HYPERLINK(\"\"x\"\")\",-1.5"


def test_excel_export_opens_with_openpyxl_and_says_what_it_holds():
    frame_ = pd.DataFrame({"subject_id": ["A", "B"], "cmax": [1.5, None], "reason": ["=cmd", ""]})
    book = openpyxl.load_workbook(io.BytesIO(excel_bytes(frame_, "NCA", {"BLQ rule": "=bad", "AUC window": "0 to 28"})))
    sheet = book["NCA"]
    assert [c.value for c in sheet[1]] == ["subject_id", "cmax", "reason"]
    assert sheet["C2"].value == "'=cmd" and sheet["C2"].data_type == "s"
    assert [[c.value for c in row] for row in book["About"].iter_rows(min_row=2)] == [["BLQ rule", "'=bad"],
                                                                                    ["AUC window", "0 to 28"]]


def test_server_png_has_the_requested_pixel_size():
    png = figure_image(FIGURE, "png", width=1280, height=720, scale=2)
    assert Image.open(io.BytesIO(png)).size == (2560, 1440)


def pdf_pages(path) -> int:
    """Page count as poppler's pdfinfo reads it (it fails on a file that does not open)."""
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


def test_server_svg_and_pdf_open_with_the_whole_footnote(tmp_path):
    svg = figure_image(FIGURE, "svg", width=1280, height=720)
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text") or t.tag.endswith("tspan"))
    assert "CAR transgene" in text and "demo v1." in text and text.count("demo v1.") == 1
    pdf = tmp_path / "figure.pdf"
    pdf.write_bytes(figure_image(FIGURE, "pdf", width=1280, height=720))
    assert pdf_pages(pdf) == 1
    words = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Note." in words and "demo v1." in words


def test_without_chromium_the_export_says_what_to_install():
    worker = ImageWorker(env={**os.environ, "BROWSER_PATH": "/nonexistent/chromium", "PATH": "/nonexistent"})
    try:
        with pytest.raises(ImageExportUnavailable, match="install Debian's 'chromium' package"):
            worker.render(FIGURE, "png", 640, 360, 1)
    finally:
        worker.close()


def test_image_worker_that_died_is_restarted():
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
        with pytest.raises(ImageExportError, match="TimeoutError"):
            worker.render(FIGURE, "png", 640, 360, 1)
        assert len(started) == 1 and worker._process is None
    finally:
        worker.close()


def test_patient_report_is_self_contained():
    from components.report import patient_report_html

    summary = pd.DataFrame([{"Specimen": "Blood", "Cmax (copies/µg gDNA)": "1,000", "_id": "x"}])
    text = patient_report_html("Patient DM-001", "demo v1", [("Dose level", "450e6", None)],
                               [("CAR transgene", summary)], FIGURE, "SIMULATED DATA")
    assert "Patient DM-001" in text and "450e6" in text and "SIMULATED DATA" in text and "Cmax (copies/µg" in text
    assert "<script src=\"http" not in text and "Plotly.newPlot" in text


# ---- exports reach nothing outside the figure (docs/security.md) ----------------------------------------------

RED = (255, 0, 0)


def red_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for pixel in image.get_flattened_data() if pixel == RED)


def image_figure(source: str) -> dict:
    return {"data": [], "layout": {"width": 200, "height": 200, "images": [
        {"source": source, "xref": "paper", "yref": "paper", "x": 0, "y": 1, "sizex": 1, "sizey": 1,
         "sizing": "stretch"}]}}


@pytest.fixture
def red_image_server(tmp_path):
    """A red PNG on disk and served over HTTP on loopback, with the paths the server was asked for."""
    import http.server
    import threading

    path = tmp_path / "red.png"
    Image.new("RGB", (40, 40), RED).save(path)
    requested = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requested.append(self.path)
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield path, f"http://127.0.0.1:{server.server_port}/red.png", requested
    server.shutdown()


def test_export_refuses_figures_that_name_images_outside_them(red_image_server):
    path, url, requested = red_image_server
    for source in (url, path.as_uri(), str(path), "red.png"):
        with pytest.raises(ImageExportError, match="outside it.*image source"):
            figure_image(image_figure(source), "png", width=200, height=200)
    with pytest.raises(ImageExportError, match="scattermapbox trace"):
        figure_image({"data": [{"type": "scattermapbox", "lat": [0], "lon": [0]}], "layout": {}}, "png")
    assert requested == []


def test_image_worker_fetches_nothing_even_when_asked_directly(red_image_server):
    """Below the check above: the worker's page may load images only from data: addresses, so an http:// or
    file:// image (a server on loopback, a file on disk) is neither requested nor drawn; a data: one is."""
    import base64

    path, url, requested = red_image_server
    worker = ImageWorker()
    try:
        for source in (url, path.as_uri()):
            assert red_pixels(worker.render(image_figure(source), "png", 200, 200, 1)) == 0, source
        inline = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
        assert red_pixels(worker.render(image_figure(inline), "png", 200, 200, 1)) > 100
    finally:
        worker.close()
    assert requested == []
