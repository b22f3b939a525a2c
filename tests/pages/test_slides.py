"""Slide mode and exports in the browser: settings kept, nothing wider than its card, figures and decks downloaded
and opened."""
import io

import pytest
from PIL import Image
from pptx import Presentation

from tests.conftest import wait_until

PAGES = {"/": "Study overview", "/patients": "Every patient", "/patients/DM-003": "Patient DM-003",
         "/kinetics": "Cohort kinetics", "/safety": "Adverse events", "/efficacy": "Swimmer plot",
         "/survival": "Kaplan-Meier", "/exposure": "Subgroups"}


def test_slide_mode_keeps_every_kinetics_setting_and_the_link_restores_it(browser):
    browser.open("/kinetics", "Cohort kinetics")
    browser.idle()
    browser.duo.select_dcc_dropdown("#kinetics-analyte", value="CAR+ T cells")
    browser.duo.select_dcc_dropdown("#kinetics-group", value="Worst CRS grade")
    browser.find("#kinetics-scale input[value=linear]").click()
    browser.find("#kinetics-method input[value=linear]").click()
    end = browser.find("#kinetics-end")
    end.clear()
    end.send_keys("60\n")
    wanted = {"analyte": "car_t_pct", "group": "crs_group", "scale": "linear", "method": "linear", "end": "60"}
    wait_until(lambda: all(browser.query().get(k) == v for k, v in wanted.items()), timeout=20)
    browser.find("#slide-mode input[value='16x9']").click()
    wait_until(lambda: browser.query().get("slide") == "16x9")
    browser.wait_for_text("#kinetics-summary-table", "AUC day 0–60")
    browser.idle()
    assert all(browser.query().get(k) == v for k, v in wanted.items())
    assert browser.find("#kinetics-scale input[value=linear]").is_selected()
    assert browser.find("#kinetics-method input[value=linear]").is_selected()
    assert "Worst CRS grade" in browser.text("#kinetics-group") and "CAR+ T cells" in browser.text("#kinetics-analyte")
    assert browser.find("#kinetics-end").get_attribute("value") == "60"
    link = browser.url
    browser.duo.wait_for_page(url=link)
    browser.wait_for_text("#kinetics-summary-table", "AUC day 0–60")
    assert browser.find("#slide-mode input[value='16x9']").is_selected()
    assert browser.find_all(".cs-slide-graph") and browser.find("#kinetics-scale input[value=linear]").is_selected()
    browser.find("#slide-mode input[value='']").click()  # back to normal mode, settings still kept
    wait_until(lambda: "slide" not in browser.query())
    browser.wait_for_text("#kinetics-summary-table", "AUC day 0–60")
    assert not browser.find_all(".cs-slide-graph") and browser.query().get("group") == "crs_group"
    assert browser.severe_logs() == []


def test_slide_mode_keeps_the_patient_window_and_method(browser):
    browser.open("/patients/DM-003?start=7&end=42&method=linear&days=90", "Patient DM-003")
    browser.find("#slide-mode input[value='4x3']").click()
    wait_until(lambda: browser.query().get("slide") == "4x3")
    browser.wait_for_text("#patient-summary-table", "AUC day 7–42")
    assert browser.find("#patient-auc-method input[value=linear]").is_selected()
    assert browser.find("#patient-days input[value='90']").is_selected()
    assert {k: browser.query()[k] for k in ("start", "end", "method", "days")} == {"start": "7", "end": "42",
                                                                                  "method": "linear", "days": "90"}
    browser.idle()
    ratio = browser.driver.execute_script(
        "const g = document.querySelector('#patient-kinetics .js-plotly-plot');"
        "return g._fullLayout.width / g._fullLayout.height;")
    assert ratio == pytest.approx(4 / 3, rel=0.02)
    assert browser.severe_logs() == []


@pytest.mark.parametrize("width,height", [(1600, 1000), (1280, 800)])
def test_no_figure_is_wider_than_its_card_in_either_mode(browser, width, height):
    browser.size(width, height)
    for mode in ("", "?slide=16x9", "?slide=4x3"):
        for path, text in PAGES.items():
            browser.open(path + mode, text)
            browser.idle()
            result = browser.driver.execute_script("""
                const page = document.documentElement;
                const figures = [...document.querySelectorAll('.js-plotly-plot')].map(g => {
                    const card = g.closest('.cs-card, .cs-page');
                    const r = g.getBoundingClientRect(), c = card.getBoundingClientRect();
                    const legend = g.querySelector('.legend'), svg = g.querySelector('.main-svg');
                    const l = legend ? legend.getBoundingClientRect() : null, s = svg.getBoundingClientRect();
                    return {left: r.left - c.left, right: c.right - r.right, width: g._fullLayout.width,
                            height: g._fullLayout.height,
                            legendInside: !l || (l.left >= s.left - 1 && l.right <= s.right + 1 &&
                                                 l.top >= s.top - 1 && l.bottom <= s.bottom + 1)};
                });
                return {scroll: page.scrollWidth - page.clientWidth, figures: figures};""")
            where = f"{path}{mode} at {width}x{height}"
            assert result["scroll"] <= 0, where
            assert result["figures"] or path == "/patients", where
            for figure in result["figures"]:
                assert figure["left"] >= 0 and figure["right"] >= 0, where
                assert figure["legendInside"], where
                if mode:
                    aspect = 16 / 9 if "16x9" in mode else 4 / 3
                    assert figure["width"] / figure["height"] == pytest.approx(aspect, rel=0.02), where
            if path in ("/efficacy", "/patients/DM-003", "/kinetics") and width == 1280:
                browser.screenshot(f"slides{path.replace('/', '-')}-{mode.strip('?').replace('=', '-') or 'normal'}")
    assert browser.severe_logs() == []


def test_figure_png_and_page_powerpoint(browser):
    browser.open("/efficacy?slide=16x9", "Swimmer plot")
    png_buttons = [b for b in browser.find_all(".cs-export-menu .cs-link-button") if b.text == "PNG"]
    assert len(png_buttons) == 3  # best response, rates, swimmer
    png_buttons[0].click()
    png = browser.downloaded("best_overall_response_imwg_by_dose_level.png")
    assert Image.open(io.BytesIO(png.read_bytes())).size == (2560, 1440)

    browser.find("#deck-export").click()
    deck = Presentation(str(browser.downloaded("cartscope_efficacy.pptx")))
    slides = list(deck.slides)
    titles = [next(s.text_frame.text for s in slide.shapes if s.has_text_frame) for slide in slides]
    assert titles[1:] == ["Best overall response (IMWG) by dose level",
                          "Response rates with exact 95% confidence intervals",
                          "Swimmer plot: response over time, one lane per patient (1 of 2)",
                          "Swimmer plot: response over time, one lane per patient (2 of 2)",
                          "Response rates (exact 95% CIs)"]
    assert any(shape.has_table for shape in slides[-1].shapes)
    for slide in slides[1:]:
        text = " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
        assert text.count("SIMULATED DATA") == 1  # the study note once on every slide
    assert browser.severe_logs() == []


def test_kinetics_and_patient_decks_carry_their_nca_tables(browser):
    browser.open("/kinetics", "Cohort kinetics")
    browser.find("#deck-export").click()
    deck = Presentation(str(browser.downloaded("cartscope_kinetics.pptx", timeout=120)))
    slides = [(next(s.text_frame.text for s in slide.shapes if s.has_text_frame),
               [s.table for s in slide.shapes if s.has_table]) for slide in deck.slides]
    nca_slides = [(title, tables[0]) for title, tables in slides if "NCA of every patient" in title]
    assert len(nca_slides) >= 3 and all(t.endswith("(continued)") for t, _ in nca_slides[1:])
    first = nca_slides[0][1]
    assert first.cell(0, 0).text == "Patient" and "Cmax (copies/µg gDNA)" in [c.text for c in first.rows[0].cells]
    assert sum(len(table.rows) - 1 for _, table in nca_slides) == 62

    browser.open("/patients/DM-003", "Patient DM-003")
    browser.find("#deck-export").click()
    deck = Presentation(str(browser.downloaded("cartscope_patients.pptx", timeout=120)))
    titles = [next(s.text_frame.text for s in slide.shapes if s.has_text_frame) for slide in deck.slides]
    assert "Patient DM-003: kinetics and clinical course" in titles
    assert "Patient DM-003: CAR transgene NCA" in titles and "Patient DM-003: facts" in titles
    assert "Patient DM-003: adverse events" in titles  # the AEs the slide's figure has no room to draw
    assert browser.severe_logs() == []


def test_patient_report_downloads_as_one_html_file(browser):
    browser.open("/patients/DM-003", "Patient DM-003")
    browser.find("#patient-report").click()
    text = browser.downloaded("patient_DM-003_report.html").read_text(encoding="utf-8")
    assert "Patient DM-003" in text and "Cmax" in text and "Plotly.newPlot" in text
    assert "<script src=\"http" not in text  # plotly.js is inlined: the report works offline
    assert browser.severe_logs() == []
