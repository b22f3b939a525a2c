"""Cohort kinetics page: page logic as plain functions, and the page in headless Chromium."""
import time
from pathlib import Path

import pandas as pd
import pytest
from dash.testing.application_runners import import_app

from analysis.nca import nca
from analysis.patients import patient_table
from data_access.readers import files_from_path, read_files
from data_access.validate import validate
from tests.conftest import DEMO_DIR
from tests.pages.test_app import open_page, screenshot_dir, severe_logs, wait_until


@pytest.fixture(scope="module")
def bundle():
    from pages._study import StudyBundle

    study, _ = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    study.version = 1
    patients = patient_table(study.subjects, study.responses, study.adverse_events)
    return StudyBundle(study, patients, dict(tuple(study.measurements.groupby("subject_id"))))


@pytest.fixture(scope="module")
def app():
    return import_app("app")


@pytest.mark.usefixtures("app")  # page modules register with Dash Pages on import: an app must exist
def test_state_from_the_url_is_validated():
    from pages.kinetics import DEFAULTS, clean_state

    assert clean_state({}) == DEFAULTS
    state = clean_state({"analyte": "il6", "specimen": "PB", "group": "nope", "scale": "linear", "start": "7",
                         "end": "3"})
    assert (state["analyte"], state["specimen"], state["group"], state["scale"]) == ("il6", "serum", "dose_level",
                                                                                      "linear")
    assert (state["start"], state["end"]) == (0.0, 28.0)


@pytest.mark.usefixtures("app")  # page modules register with Dash Pages on import: an app must exist
def test_cohort_view_uses_the_engine_and_groups(bundle):
    from pages.kinetics import clean_state, cohort_view

    state = clean_state({"group": "response_group", "start": "0", "end": "14"})
    table = nca(bundle.study.measurements, intervals=[(0, 14)])
    view = cohort_view(bundle, state, "?study=demo", nca=table)
    blood = table[(table["analyte"] == "car_copies") & (table["specimen"] == "PB")]
    shown = {r["subject_id"].split("]")[0][1:]: r["auc_0_14"] for r in view["rows"]}
    assert shown == pytest.approx(dict(zip(blood["subject_id"], blood["auc_0_14"], strict=True)), nan_ok=True)
    lines = [t for t in view["spaghetti"]["data"] if t["type"] == "scattergl"]
    assert [t["name"].split(" (")[0] for t in lines] == ["≥CR", "VGPR/PR", "<PR"]
    assert sum(t["name"].endswith(f"(n={len(set(filter(None, t['customdata'])))})") for t in lines) == 3
    legend = [t["name"] for t in view["spaghetti"]["data"] if t.get("showlegend")]
    assert legend == [t["name"] for t in lines]  # the bold summary lines carry the legend
    titles = [a["text"] for a in view["by_response"]["layout"]["annotations"]]
    assert any(t.startswith("Kruskal-Wallis p") for t in titles)
    assert "Spearman ρ" in view["flow"]["layout"]["annotations"][-1]["text"]


@pytest.mark.usefixtures("app")  # page modules register with Dash Pages on import: an app must exist
def test_summary_by_group_lists_groups_in_the_legend_order(bundle):
    from pages.kinetics import clean_state, cohort_view

    view = cohort_view(bundle, clean_state({"group": "crs_group"}), "", nca=nca(bundle.study.measurements))
    shown = list(dict.fromkeys(view["summary"][1].iloc[:, 0]))
    assert shown == ["No CRS", "CRS grade 1", "CRS grade 2", "CRS grade ≥3"]


def test_a_longer_footnote_gets_more_room_below_the_plot():
    from components.kinetics import _base_layout

    short, long = _base_layout(520, "one line"), _base_layout(520, "a<br>b<br>c<br>SIMULATED DATA")
    grown = long["margin"]["b"] - short["margin"]["b"]
    assert grown >= 2 * 14  # two more lines of 11 px type
    assert long["height"] - short["height"] == grown  # the plot area keeps its height


@pytest.mark.usefixtures("app")  # page modules register with Dash Pages on import: an app must exist
def test_facets_make_one_panel_per_group(bundle):
    from pages.kinetics import clean_state, cohort_view

    view = cohort_view(bundle, clean_state({"display": "facet"}), "", nca=nca(bundle.study.measurements))
    layout = view["spaghetti"]["layout"]
    assert [layout[k].get("matches") for k in ("xaxis2", "xaxis3")] == ["x", "x"] and "xaxis4" not in layout


def test_cohort_page_in_the_browser(dash_duo, app):
    dash_duo.start_server(app)
    open_page(dash_duo, "/kinetics", "Cohort kinetics")
    dash_duo.wait_for_element("#kinetics-spaghetti .main-svg", timeout=15)
    dash_duo.select_dcc_dropdown("#kinetics-group", value="Best response")
    dash_duo.find_element("#kinetics-scale input[value=linear]").click()
    wait_until(lambda: "group=response_group" in dash_duo.driver.current_url
               and "scale=linear" in dash_duo.driver.current_url)
    dash_duo.wait_for_contains_text("#kinetics-summary-table", "VGPR/PR", timeout=10)
    dash_duo.driver.save_screenshot(str(screenshot_dir() / "kinetics.png"))

    # A copied link reproduces the view.
    link = dash_duo.driver.current_url
    dash_duo.wait_for_page(url=link)
    dash_duo.wait_for_contains_text("#kinetics-summary-table", "VGPR/PR", timeout=10)
    assert dash_duo.find_element("#kinetics-scale input[value=linear]").is_selected()

    # Export the table.
    dash_duo.find_element("#kinetics-export-csv").click()
    target = Path(dash_duo.download_path) / "nca_demo_v1_car_copies_PB.csv"
    wait_until(lambda: target.exists() and target.stat().st_size > 0, timeout=15)
    exported = pd.read_csv(target, encoding="utf-8-sig")
    assert len(exported) == 62 and {"cmax", "auc_0_28", "tlast"} <= set(exported.columns)

    # Clicking a line opens that patient.
    dash_duo.driver.execute_script(
        "window.dash_clientside.set_props({type: 'cs-graph', page: 'kinetics', name: 'spaghetti'}, "
        "{clickData: {points: [{customdata: 'DM-005'}]}})")
    dash_duo.wait_for_contains_text("#_pages_content", "Patient DM-005", timeout=10)
    time.sleep(0.3)
    assert severe_logs(dash_duo) == []
