"""IL-6 baseline, peak and fold-change; marrow plasma-cell baseline, nadir and reduction."""
import math

import pytest

from tests.analysis.nca.helpers import one


def test_il6_baseline_peak_and_fold_change():
    r = one({-5: 4, 0: 5, 1: 40, 3: 500, 5: 120, 14: 6}, analyte="il6", specimen="serum", lloq=1.5)
    assert (r["baseline"], r["peak"], r["peak_day"]) == (5, 500, 3)
    assert r["peak_fold_change"] == pytest.approx(100)
    assert math.isnan(r["nadir"])


def test_blq_baseline_is_taken_at_the_lloq():
    r = one({0: "BLQ", 3: 300}, analyte="il6", specimen="serum", lloq=1.5)
    assert r["baseline"] == 1.5 and r["peak_fold_change"] == pytest.approx(200)
    assert "baseline BLQ: taken at its LLOQ" in r["reason"]


def test_plasma_cell_nadir_and_reduction():
    r = one({-21: 40, 28: 10, 90: 2, 180: 2, 365: 30}, analyte="plasma_cells_pct", specimen="BM", lloq=float("nan"))
    assert (r["baseline"], r["nadir"], r["nadir_day"]) == (40, 2, 90)
    assert r["nadir_percent_reduction"] == pytest.approx(95)
    assert math.isnan(r["peak"])


def test_car_profiles_have_no_extras():
    r = one({7: 1000})
    assert math.isnan(r["baseline"]) and math.isnan(r["peak"]) and math.isnan(r["nadir"])
