"""Slide-ready exports in the browser: per-figure PNG, the page as PowerPoint, slide mode, the patient report."""
import io
from pathlib import Path

import pytest
from dash.testing.application_runners import import_app
from PIL import Image
from pptx import Presentation

from tests.pages.test_app import open_page, screenshot_dir, severe_logs, wait_until


@pytest.fixture(scope="module")
def app():
    return import_app("app")


def downloaded(dash_duo, name: str, timeout: float = 60) -> Path:
    path = Path(dash_duo.download_path) / name
    wait_until(lambda: path.exists() and path.stat().st_size > 0 and not path.with_suffix(
        path.suffix + ".crdownload").exists(), timeout=timeout)
    return path


def test_figure_png_and_page_powerpoint(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/efficacy", "Swimmer plot")
    png_buttons = [b for b in dash_duo.find_elements(".cs-export-menu .cs-link-button") if b.text == "PNG"]
    assert len(png_buttons) == 3  # best response, rates, swimmer
    png_buttons[0].click()
    png = downloaded(dash_duo, "best_overall_response_by_dose_level.png")
    assert Image.open(io.BytesIO(png.read_bytes())).size == (2560, 1440)

    dash_duo.find_element("#deck-export").click()
    deck = Presentation(str(downloaded(dash_duo, "cartscope_efficacy.pptx")))
    slides = list(deck.slides)
    assert len(slides) == 1 + 3 + 1  # cover, three figures, the rates table
    assert any(shape.has_table for shape in slides[-1].shapes)
    assert "SIMULATED DATA" in " ".join(shape.text_frame.text for shape in slides[0].shapes
                                        if shape.has_text_frame)
    assert severe_logs(dash_duo) == []


def test_slide_mode_is_in_the_url_and_draws_16_9(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/survival", "Kaplan-Meier")
    dash_duo.find_element("#slide-mode input").click()
    wait_until(lambda: "slide=1" in dash_duo.driver.current_url)
    dash_duo.wait_for_element(".cs-slide-graph", timeout=10)
    size = dash_duo.driver.execute_script(
        "const g = document.querySelector('#survival-figure .js-plotly-plot');"
        "return g && g._fullLayout ? [g._fullLayout.width, g._fullLayout.height] : null;")
    assert size == [1280, 720]
    dash_duo.driver.save_screenshot(str(screenshot_dir() / "survival-slide.png"))
    link = dash_duo.driver.current_url  # a copied link keeps slide mode
    dash_duo.wait_for_page(url=link)
    dash_duo.wait_for_element(".cs-slide-graph", timeout=10)
    assert dash_duo.find_element("#slide-mode input").is_selected()
    nav = dash_duo.find_element(".cs-nav-link[href*='efficacy']").get_attribute("href")
    assert "slide=1" in nav
    assert severe_logs(dash_duo) == []


def test_patient_report_downloads_as_one_html_file(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/patients/DM-003", "Patient DM-003")
    dash_duo.find_element("#patient-report").click()
    text = downloaded(dash_duo, "patient_DM-003_report.html").read_text(encoding="utf-8")
    assert "Patient DM-003" in text and "Cmax" in text and "Plotly.newPlot" in text
    assert "<script src=\"http" not in text  # plotly.js is inlined: the report works offline
    assert severe_logs(dash_duo) == []
