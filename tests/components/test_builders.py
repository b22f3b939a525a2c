"""Figure and table builders on the demo study: what a reader needs is there and legible."""
import math

import pandas as pd
import pytest

from analysis.nca import NCAOptions
from analysis.survival import kaplan_meier
from analysis.views.common import StudyData
from analysis.views.efficacy import efficacy_view
from analysis.views.patients import patient_view
from components.frame import screen, slide
from data_access.readers import files_from_path, read_files
from data_access.schema import CRS_TERM, ICANS_TERM
from data_access.validate import validate
from tests.conftest import DEMO_DIR


@pytest.fixture(scope="module")
def demo():
    study, _ = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    study.version = 1
    return StudyData.of(study)


def test_landmark_rates_and_medians_say_ne_and_nr_instead_of_degenerate_intervals():
    from components.survival import median_text, rate_text

    km = kaplan_meier(pd.Series([200.0, 400, 800, 900]), pd.Series([0, 0, 1, 0]))
    assert rate_text(km, 6) == "100% (NE)"          # no event yet: no CI (R gives NA), not "100% (100–100)"
    never = kaplan_meier(pd.Series([3.0, 6, 9, 12, 15]), pd.Series([0, 0, 1, 0, 0]))  # R: median NA, CI 9 to NA
    assert median_text(never) == "NR (0.3–NR)"
    early = kaplan_meier(pd.Series([100.0, 200, 400, 900]), pd.Series([1, 0, 0, 0]))
    assert rate_text(early, 6) == "75% (13–96)"     # R survival: 0.75 [0.128, 0.961] after 1 event in 4
    past = kaplan_meier(pd.Series([10.0, 20]), pd.Series([1, 1]))
    assert rate_text(past, 6) == "NE"               # the landmark is past the last follow-up


def test_patient_slide_keeps_ae_grade_labels_legible_and_every_clinical_row_labelled(demo):
    from components.patient import kinetics_figure

    view = patient_view(demo, "DM-003", NCAOptions(intervals=((0, 28),)))
    figure = kinetics_figure(view, "note", slide("16:9"))
    layout = figure["layout"]
    assert "updatemenus" not in layout  # day ranges are page controls, nothing sits under the toolbar
    rows = layout["yaxis5"]["categoryarray"]
    assert layout["yaxis5"]["tickvals"] == rows[::-1] and len(rows) == 6
    terms = set(view.adverse_events["term"]) - {CRS_TERM, ICANS_TERM}
    assert len(terms) > 3  # DM-003 has more AEs than a slide shows: the rest are counted, not dropped silently
    assert any(a["text"] == f"+ {len(terms) - 3} more adverse events not drawn" for a in layout["annotations"])
    assert all(row.rstrip("…") in " ".join(terms) for row in rows[:-3])  # labels are the terms (26 characters)
    ae_bars = [t for t in figure["data"] if t["type"] == "bar" and t["text"][0].startswith("G")]
    assert ae_bars and all(t["textposition"] == "outside" and t["outsidetextfont"]["size"] >= 11 for t in ae_bars)
    titles = [layout[k]["title"]["text"] for k in layout if k.startswith("yaxis") and layout[k].get("title")]
    assert all(not t for t in titles)  # panel names above each panel instead of colliding rotated titles
    names = [a["text"] for a in layout["annotations"] if a["text"].startswith("<b>")]
    assert names == ["<b>CAR transgene (copies/µg gDNA)</b>", "<b>CAR+ T cells (% of T cells)</b>",
                     "<b>Marrow plasma cells (%)</b>", "<b>Serum cytokines (pg/mL)</b>", "<b>Clinical course</b>"]


def test_every_swimmer_lane_is_labelled_on_deck_slides(demo):
    from components.efficacy import swimmer_figure

    view = efficacy_view(demo)
    order = view.swimmer.order
    half = math.ceil(len(order) / 2)
    for lanes in (order[:half], order[half:]):
        canvas = slide("16:9", chrome=False, height=560)
        figure = swimmer_figure(view.swimmer, "note", canvas, lanes, " (1 of 2)")
        yaxis = figure["layout"]["yaxis"]
        assert yaxis["tickvals"] == lanes and yaxis["ticktext"] == lanes
        assert yaxis["tickfont"]["size"] * canvas.type.base / 14 >= 9  # px on the slide picture
    on_screen = swimmer_figure(view.swimmer, "note", screen())
    assert on_screen["layout"]["yaxis"]["tickvals"] == order


def test_every_figure_and_updating_table_has_a_loading_indicator(app):
    from dash import dcc

    from pages import efficacy, exposure, kinetics, overview, patients, safety, survival

    def walk(node, inside=False):
        if isinstance(node, dcc.Loading):
            inside = True
        if isinstance(node, dcc.Graph):
            yield node, inside
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children] if children is not None else []:
            yield from walk(child, inside)

    def ids_inside_loading(node, inside=False):
        if isinstance(node, dcc.Loading):
            inside = True
        found = {getattr(node, "id", None)} if inside and isinstance(getattr(node, "id", None), str) else set()
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children] if children is not None else []:
            found |= ids_inside_loading(child, inside)
        return found

    pages = [overview.layout(), efficacy.layout(), survival.layout(), safety.layout(), kinetics.layout(),
             patients.layout(subject_id="DM-003"), exposure.layout()]
    for layout in pages:
        graphs = list(walk(layout))
        assert graphs and all(inside for _, inside in graphs)
    assert {"kinetics-summary", "kinetics-grid", "kinetics-exposure"} <= ids_inside_loading(pages[4])
    assert "survival-summary" in ids_inside_loading(pages[2]) and "patient-summary" in ids_inside_loading(pages[5])
    assert {"exposure-response-tables", "exposure-dose-table"} <= ids_inside_loading(pages[6])


def test_patient_clinical_track_shows_crs_treatments_and_panels_follow_the_choice(demo):
    from components.patient import kinetics_figure

    treated = demo.study.concomitant_medications
    subject = treated.loc[treated["drug"] == "tocilizumab", "subject_id"].iloc[0]
    view = patient_view(demo, subject, NCAOptions(intervals=((0, 28),)), ["crp", "m_protein"])
    assert [p.key for p in view.panels] == ["m_protein", "crp"]  # the study's order, not the asked order
    figure = kinetics_figure(view, "note", screen())
    layout = figure["layout"]
    assert layout["yaxis"]["type"] == "linear" and layout["yaxis2"]["type"] == "log"  # tumour burden linear
    rows = layout["yaxis3"]["categoryarray"][::-1]
    assert rows[:4] == ["Response", "CRS", "ICANS", "Tocilizumab"]
    bars = [t for t in figure["data"] if t["type"] == "bar" and t["y"] == ["Tocilizumab"]]
    given = treated[(treated["subject_id"] == subject) & (treated["drug"] == "tocilizumab")]
    assert [b["base"][0] for b in bars] == given["start_day"].tolist()


def test_the_deck_nca_table_shows_the_grids_parameters_for_the_analytes_kind(demo):
    from analysis.nca import nca
    from analysis.views.kinetics import CohortSettings, cohort_view
    from components.kinetics import grid_columns, nca_text_frame

    measurements = demo.study.measurements
    for analyte, specimen, first in (("car_copies", "PB", "Cmax"), ("crp", "serum", "Baseline"),
                                     ("m_protein", "serum", "Baseline")):
        view = cohort_view(demo, nca(measurements, intervals=((0, 28),)), CohortSettings(analyte, specimen))
        deck = [c for c in nca_text_frame(view).columns if "(" in c or c.startswith(("Cmax", "Baseline"))]
        grid = [c["headerName"] for c in grid_columns(view)]
        assert deck[0].startswith(first) and set(deck) <= set(grid), (analyte, deck)
