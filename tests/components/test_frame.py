"""The one figure frame: title, one footnote with the study note once, margins from the text, slide sizes; and
every figure of every page drawn by plotly.js in Chromium on every canvas with nothing clipped or overlapping."""
import pytest

from components.frame import (
    FOOTNOTE_NAME,
    SLIDE_SIZES,
    frame,
    legend_rows,
    on_screen,
    screen,
    slide,
    wrap,
)

BODY = {"data": [{"type": "scatter", "x": [0, 7, 14], "y": [0, 1000, 250], "name": "Blood"},
                 {"type": "scatter", "x": [0, 7, 14], "y": [0, 300, 90], "name": "Bone marrow"}],
        "layout": {"xaxis": {"title": {"text": "Days since CAR-T infusion"}}, "yaxis": {"title": {"text": "copies"}},
                   "annotations": [{"text": "p = 0.01", "xref": "paper", "yref": "paper", "x": 0.5, "y": 1,
                                    "font": {"size": 12}}]}}
NOTE = "demo v1; data cut-off: day 730 of follow-up; SIMULATED DATA, no real patient."


def footnotes(figure):
    return [a for a in figure["layout"]["annotations"] if a.get("name") == FOOTNOTE_NAME]


def test_one_tagged_footnote_with_the_study_note_once():
    figure = frame(BODY, title="CAR transgene", footnote=["Method.", NOTE], note=NOTE)
    notes = footnotes(figure)
    assert len(notes) == 1 and notes[0]["text"].count("SIMULATED DATA") == 1
    assert notes[0]["text"].replace("<br>", " ").startswith("Method. demo v1")
    assert figure["layout"]["meta"]["cs_footnote"] == ["Method.", NOTE]
    again = frame(figure, title="CAR transgene", footnote=["Method."], note=NOTE)  # framing twice adds nothing
    assert len(footnotes(again)) == 1 and footnotes(again)[0]["text"] == notes[0]["text"]
    assert [a["text"] for a in again["layout"]["annotations"] if a.get("name") != FOOTNOTE_NAME] == ["p = 0.01"]


def test_bottom_margin_grows_with_the_footnote_lines_and_the_plot_keeps_its_height():
    short = frame(BODY, title="t", footnote="One line.", note=None, plot_height=400)
    long = frame(BODY, title="t", footnote=["word " * 120], note=NOTE, plot_height=400)
    lines = footnotes(long)[0]["text"].count("<br>") + 1
    assert lines >= 4
    grown = long["layout"]["margin"]["b"] - short["layout"]["margin"]["b"]
    assert grown >= (lines - 1) * 11 * 1.3 - 1
    for figure in (short, long):
        m = figure["layout"]["margin"]
        assert figure["layout"]["height"] - m["t"] - m["b"] == 400


def test_title_is_top_left_with_padding_and_wraps_to_the_width():
    figure = frame(BODY, title="Patient DM-003: kinetics and clinical course", canvas=slide("16:9"))
    title = figure["layout"]["title"]
    assert (title["x"], title["xref"], title["xanchor"], title["pad"]["l"]) == (0, "container", "left", 16)
    narrow = frame(BODY, title="A long title " * 8, canvas=screen(560))
    assert narrow["layout"]["title"]["text"].count("<br>") >= 1
    assert narrow["layout"]["margin"]["t"] > frame(BODY, title="Short", canvas=screen(560))["layout"]["margin"]["t"]


@pytest.mark.parametrize("aspect", sorted(SLIDE_SIZES))
def test_slide_canvases_have_the_slide_size_and_larger_type(aspect):
    figure = frame(BODY, title="t", footnote="f", note=NOTE, canvas=slide(aspect))
    layout = figure["layout"]
    assert (layout["width"], layout["height"]) == SLIDE_SIZES[aspect]
    assert layout["font"]["size"] > 14 and layout["xaxis"]["tickfont"]["size"] > 13
    assert layout["annotations"][0]["font"]["size"] > 12  # a builder's own annotation grows too
    shown = on_screen(figure, slide(aspect))
    assert "width" not in shown["layout"] and "height" not in shown["layout"] and shown["layout"]["autosize"]


def test_a_deck_picture_has_no_title_or_footnote_but_records_them():
    figure = frame(BODY, title="t", footnote="f", note=NOTE, canvas=slide("16:9", chrome=False, height=560))
    assert "title" not in figure["layout"] and not footnotes(figure)
    assert figure["layout"]["height"] == 560 and figure["layout"]["meta"]["cs_title"] == "t"


def test_legend_rows_follow_plotlys_grid():
    assert legend_rows(["a", "b"], 1000, 13) == 1
    names = ["sCR", "CR", "VGPR", "PR", "MR", "SD", "not yet assessed", "after progression", "Progression",
             "Follow-up continues", "First response", "First CR", "MRD negative", "Death"]
    assert legend_rows(names, 1052, 13) == 3  # as plotly.js lays out the swimmer legend at 1150 px (measured)
    assert wrap("a " * 200, 300, 11)[0].count("a") <= 300 / (11 * 0.5)


# ---- every page's figures, drawn -----------------------------------------------------------------------------

CANVASES = {"screen": (screen(1150), 1150), "half": (screen(560), 560), "16:9": (slide("16:9"), 1280),
            "4:3": (slide("4:3"), 960), "deck": (slide("16:9", chrome=False, height=560), 1280)}
STATES = {
    "overview": [{}],
    "efficacy": [{"sort": "duration"}, {"sort": "dose"}],
    "survival": [{"endpoint": "PFS", "strata": "none"}, {"endpoint": "OS", "strata": "dose"},
                 {"endpoint": "DOR", "strata": "dose"}],
    "safety": [{"attribution": "related"}, {"attribution": "all"}],
    "kinetics": [{"group": "dose_level"}, {"group": "crs_group", "display": "facet", "scale": "linear"},
                 {"analyte": "car_t_pct", "specimen": "BM", "group": "response_group"},
                 {"analyte": "il6", "specimen": "serum", "group": "none", "stat": "geomean"}],
    "patients": [{"_subject": "DM-003"}, {"_subject": "DM-010", "days": "28"}, {"_subject": "DM-047"}],
    "exposure": [{}, {"metric": "auc_0_28", "outcome": "crs2"}, {"analyte": "car_t_pct", "specimen": "BM"}],
}


@pytest.fixture(scope="module")
def lab():
    from tests.components.geometry import FigureLab

    lab = FigureLab()
    yield lab
    lab.close()


@pytest.mark.parametrize("page", sorted(STATES))
def test_every_figure_on_every_canvas_has_nothing_clipped_or_overlapping(app, lab, page):
    from pages._context import page_context
    from pages._exports import EXPORTS
    from tests.components.geometry import problems

    context, _ = page_context("demo", None)
    found = []
    for state in STATES[page]:
        for canvas_name, (canvas, width) in CANVASES.items():
            for figure in EXPORTS[page].figures(context, {**context.params(), **state}, canvas, canvas_name == "deck"):
                geometry = lab.measure(figure.figure, width)
                found += [f"{page} {state} {canvas_name} {figure.name}: {p}" for p in problems(geometry)]
                if canvas.chrome:
                    note = geometry.annotation(FOOTNOTE_NAME)
                    assert note is not None, f"{page} {figure.name} has no footnote"
    assert found == [], "\n".join(found)
