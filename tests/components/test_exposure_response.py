"""Exposure-response figures and tables on the demo study: the traces a reader needs, the methods in the footnotes,
the numbers of the analysis (not recomputed), and what is shown when no regression can be fitted."""
import html
import math

import numpy as np
import pandas as pd
import pytest

from analysis.nca import nca
from analysis.views.common import StudyData
from analysis.views.exposure_response import ERSettings, exposure_response_view
from components.frame import FOOTNOTE_NAME, screen, slide
from data_access.readers import files_from_path, read_files
from data_access.validate import validate
from tests.conftest import DEMO_DIR

NOTE = "demo v1; data cut-off: day 730 of follow-up; SIMULATED DATA, no real patient."


@pytest.fixture(scope="module")
def demo():
    study, _ = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    study.version = 1
    data = StudyData.of(study)
    return data, nca(study.measurements, intervals=((0, 28),))


def footnote(figure) -> str:
    return " ".join(figure["layout"]["meta"]["cs_footnote"])


def test_response_figure_has_patients_quartiles_and_the_fitted_curve_with_its_band(demo):
    from components.exposure_response import er_figure

    view = exposure_response_view(*demo, ERSettings(outcome="crs2"))
    figure = er_figure(view, NOTE, screen())
    traces = figure["data"]
    curve = next(t for t in traces if t.get("name") == "Logistic regression, 95% CI")
    band = [t for t in traces if t.get("legendgroup") == "fit" and t is not curve]
    assert len(band) == 2 and band[1]["fill"] == "tonexty"
    assert curve["y"] == pytest.approx((100 * view.fit.grid["probability"]).tolist())
    assert band[0]["y"] == pytest.approx((100 * view.fit.grid["upper"]).tolist())
    patients = [t for t in traces if "CAR+ T cells" in t.get("name", "")]
    assert sum(len(t["x"]) for t in patients) == len(view.points) == 62
    for t in patients:  # every patient at 0% or 100%, jittered by at most 4 points, id for a click
        outcome = [text == "yes" for text in t["text"]]
        assert all(abs(y - 100 * o) <= 4 for y, o in zip(t["y"], outcome, strict=True))
        assert all(isinstance(c, str) and c.startswith("DM-") for c in t["customdata"])
    quartiles = next(t for t in traces if t.get("name", "").startswith("Exposure quartile"))
    assert quartiles["x"] == view.quartiles["median_exposure"].tolist()
    assert quartiles["y"] == pytest.approx((100 * view.quartiles["proportion"]).tolist())
    assert quartiles["error_y"]["array"] == pytest.approx(
        (100 * (view.quartiles["ci_upper"] - view.quartiles["proportion"])).tolist())
    layout = figure["layout"]
    assert layout["xaxis"]["type"] == "log" and "Cmax" in layout["xaxis"]["title"]["text"]
    texts = [a["text"] for a in layout["annotations"] if a.get("name") != FOOTNOTE_NAME]
    assert texts[0].startswith("Logistic regression: OR per 10-fold exposure ")
    assert [t for t in texts if t.startswith("Q")] == [f"{r.quartile}<br>{r.events}/{r.n}"
                                                       for r in view.quartiles.itertuples()]
    text = footnote(figure)
    for method in ("exact (Clopper-Pearson) 95% CI", "Logistic regression of the outcome on log10 exposure",
                   "Wald (delta method on the linear predictor)", "CRS grade ≥2: worst cytokine release syndrome",
                   "NCA: AUC day 0–28", "SIMULATED DATA"):
        assert method in text, method
    assert text.count("SIMULATED DATA") == 1


def test_without_a_fit_the_figure_says_why_and_draws_no_curve(demo):
    from components.exposure_response import er_figure, fit_frame

    data, result = demo
    patients = data.patients.assign(best_response="SD")  # nobody responded
    view = exposure_response_view(StudyData(data.study, patients, data.measurements_by_subject), result,
                                  ERSettings())
    assert not view.fit.fitted
    figure = er_figure(view, NOTE, slide("4:3"))
    assert not any(t.get("legendgroup") == "fit" for t in figure["data"])
    assert "No logistic regression: no patient had the outcome (response (≥PR): 0 of 62)." in footnote(figure)
    assert figure["layout"]["annotations"][0]["text"] == "No logistic regression (the footnote says why)"
    assert fit_frame(view.fit)["Estimate"].tolist() == [view.fit.reason]


def test_patients_left_out_are_counted_in_the_footnote(demo):
    from components.exposure_response import er_figure

    view = exposure_response_view(*demo, ERSettings(analyte="car_t_pct", specimen="BM"))
    zeros = int((view.exposure["cmax"] == 0).sum())
    assert zeros > 0 and len(view.points) == 62 - zeros
    assert f"{zeros} patients left out of the analysis: {zeros} with exposure 0" in footnote(
        er_figure(view, NOTE, screen()))


def test_dose_figure_draws_every_patient_with_n_under_each_dose(demo):
    from components.exposure_response import dose_figure, dose_frame

    view = exposure_response_view(*demo, ERSettings())
    figure = dose_figure(view, NOTE, screen(560))
    boxes = [t for t in figure["data"] if t["type"] == "box"]
    assert len(boxes) == 2 * 3  # Cmax and AUC, three dose levels
    for box in boxes:
        assert f"n={len(box['y'])}" in box["x"][0]
    assert "Box: median and quartiles" in footnote(figure) and "NCA: AUC day 0–28" in footnote(figure)
    table = dose_frame(view)
    assert table["n"].tolist() == ["12", "22", "28"] * 2 and "n at 0" not in table.columns  # no zero in blood
    assert table.iloc[0][["Exposure", "Dose level"]].tolist() == ["Cmax (copies/µg gDNA)", "150 × 10⁶ CAR+ T cells"]


def test_forest_has_a_row_per_level_reference_lines_and_the_methods(demo):
    from components.exposure_response import forest_figure, forest_rows, subgroup_frame

    view = exposure_response_view(*demo, ERSettings())
    subgroups = view.subgroups
    figure = forest_figure(subgroups, NOTE, slide("16:9"))
    layout = figure["layout"]
    rows = forest_rows(subgroups)
    labels = [html.unescape(t).replace("\u00a0", "").replace("<b>", "").replace("</b>", "")
              for t in layout["yaxis"]["ticktext"]]
    assert labels[:2] == ["All patients", "Dose level"] and "High-risk cytogenetics" in labels
    assert len(labels) == len(rows) == len(subgroups.table) + len(subgroups.covariates)
    n_column = [a["text"] for a in layout["annotations"] if a.get("name") == "n"]
    assert n_column == [str(n) for n in subgroups.table["n"]]
    overall = subgroups.overall
    lines = {(s["xref"], s["x0"]) for s in layout["shapes"] if s["type"] == "line"}
    assert {("x2", 100 * overall["orr"]), ("x3", 100 * overall["crs2_rate"]), ("x4", 1)} <= lines
    assert layout["xaxis4"]["type"] == "log" and 1 in layout["xaxis4"]["tickvals"]
    hr = next(t for t in figure["data"] if t.get("xaxis") == "x4" and t["mode"] == "markers")
    estimated = subgroups.table[~subgroups.table["reference"] & subgroups.table["hr"].notna()]
    assert hr["x"] == pytest.approx(estimated["hr"].tolist())
    text = footnote(figure)
    for method in ("exact (Clopper-Pearson) 95% CIs", "Cox proportional hazards", "Efron ties", "Wald 95% CI",
                   "age < 65 / ≥ 65 years", "prior lines ≤ 5 / > 5", "SIMULATED DATA"):
        assert method in text, method
    table = subgroup_frame(subgroups)
    assert table["PFS HR (95% CI)"].iloc[1] == "1 (reference)" and table["n"].iloc[0] == "62"


def test_many_covariates_are_split_over_deck_slides_and_a_slide_picture_says_so(demo):
    """Ten more covariates (51 rows): the deck splits them so every row is readable, each slide with the all-patients
    row; a single slide picture keeps every row at a smaller size and says the deck splits them."""
    from analysis.subgroups import subgroup_analysis
    from analysis.survival import study_time_to_event
    from components.exposure_response import DECK_ROWS, MIN_ROW_FONT, forest_figure, forest_parts

    data, _ = demo
    rng = np.random.default_rng(0)
    patients = data.patients.assign(**{f"flag_{i}": rng.uniform(size=62) < 0.5 for i in range(10)})
    tte, _ = study_time_to_event(data.study.subjects, data.study.responses)
    subgroups = subgroup_analysis(patients, tte)
    assert len(subgroups.covariates) == 16
    parts = forest_parts(subgroups)
    assert len(parts) > 1 and [c for part in parts for c in part] == subgroups.covariates
    for covariates in parts:
        for deck in (slide("16:9", chrome=False, height=500), slide("4:3", chrome=False, height=480)):
            figure = forest_figure(subgroups, NOTE, deck, covariates, " (1 of 2)")
            ticks = figure["layout"]["yaxis"]["ticktext"]
            assert "<b>All patients</b>" in ticks[0] and len(ticks) <= DECK_ROWS
            assert figure["layout"]["yaxis"]["tickfont"]["size"] >= 11
    whole = forest_figure(subgroups, NOTE, slide("16:9"))
    assert len(whole["layout"]["yaxis"]["ticktext"]) == len(subgroups.table) + 16
    assert whole["layout"]["yaxis"]["tickfont"]["size"] >= MIN_ROW_FONT
    assert "the PowerPoint export splits them over slides" in footnote(whole)
    demo_parts = forest_parts(exposure_response_view(*demo, ERSettings()).subgroups)
    assert len(demo_parts) == 1 and len(demo_parts[0]) == 6  # a study like the demo: one slide


def test_tables_state_the_numbers_of_the_analysis(demo):
    from components.exposure_response import exposure_export_frame, fit_frame, quartile_frame

    view = exposure_response_view(*demo, ERSettings(metric="auc_0_28"))
    quartiles = quartile_frame(view)
    q1 = view.quartiles.iloc[0]
    assert quartiles["% (exact 95% CI)"].iloc[0] == (f"{100 * q1.proportion:.0f}% ({100 * q1.ci_lower:.0f}–"
                                                     f"{100 * q1.ci_upper:.0f})")
    fit = fit_frame(view.fit)
    assert fit["Term"].tolist() == ["Intercept", "Slope (per log10 exposure)", "Odds ratio per 10-fold exposure"]
    assert float(fit["Estimate"].iloc[1]) == pytest.approx(view.fit.slope, rel=5e-3)
    exported = exposure_export_frame(view)
    assert len(exported) == 62 and "AUC day 0–28 (copies/µg gDNA·day)" in exported.columns
    assert exported["Cmax (copies/µg gDNA)"].tolist() == pytest.approx(view.exposure["cmax"].tolist())
    assert not math.isnan(pd.to_numeric(exported["Worst CRS grade"]).sum())


def test_a_log_axis_has_ticks_to_read_over_any_range():
    from components.exposure_response import log_ticks

    assert log_ticks(2.5, 6.2) == {"dtick": 1}  # 3 decades or more: powers of ten
    narrow = log_ticks(0.1, 2.4)                 # 1.3 to 250
    assert narrow["tickvals"] == pytest.approx([2, 5, 10, 20, 50, 100, 200])
    assert narrow["ticktext"] == ["2", "5", "10", "20", "50", "100", "200"]
    assert log_ticks(3.3, 3.6) == {}             # within one 1-2-5 step: plotly's own ticks
