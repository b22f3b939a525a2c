"""Cmax, Tmax, Clast, Tlast."""
import math

from tests.analysis.nca.helpers import BLQ, one


def test_cmax_tmax_clast_tlast():
    r = one({4: 100, 7: 1000, 10: 800, 60: 35, 90: BLQ})
    assert (r["cmax"], r["tmax"], r["clast"], r["tlast"]) == (1000, 7, 35, 60)


def test_tmax_is_the_first_time_of_the_maximum():
    assert one({7: 1000, 10: 1000, 14: 500})["tmax"] == 7


def test_single_sample_without_day0_zero():
    r = one({3: 42.0}, analyte="il6", specimen="serum")
    assert (r["cmax"], r["tmax"], r["tlast"]) == (42, 3, 3)
    assert math.isnan(r["auclast"]) and math.isnan(r["auc_0_28"])
    assert r["reason"].startswith("only one sample: no AUC")
