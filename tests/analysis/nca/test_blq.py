"""The four BLQ rules on one profile: 7: 1000, 14: BLQ, 21: 400, 28: BLQ, 35: BLQ (LLOQ 20)."""
import math

import pytest

from tests.analysis.nca.helpers import BLQ, one

POINTS = {7: 1000, 14: BLQ, 21: 400, 28: BLQ, 35: BLQ}


def test_pknca_rule_drops_middle_blq_keeps_trailing_as_zero():
    r = one(POINTS, blq="pknca")
    auclast = 3500 + 14 * 600 / math.log(2.5)
    assert r["auclast"] == pytest.approx(auclast, rel=1e-14)
    assert r["aucall"] == pytest.approx(auclast + 7 * 400 / 2, rel=1e-14)
    assert (r["tlast"], r["clast"], r["n_samples"], r["n_blq"]) == (21, 400, 5, 3)


def test_zero_rule_counts_every_blq_as_zero():
    r = one(POINTS, blq="zero")
    assert r["auclast"] == pytest.approx(3500 + 3500 + 1400)
    assert r["aucall"] == pytest.approx(9800)


def test_drop_rule_ignores_every_blq():
    r = one(POINTS, blq="drop")
    assert r["auclast"] == pytest.approx(3500 + 8400 / math.log(2.5), rel=1e-14)
    assert r["aucall"] == r["auclast"]


def test_lloq_half_rule_substitutes_half_the_lloq():
    r = one(POINTS, blq="lloq_half")
    auclast = 3500 + 7 * 990 / math.log(100) + 7 * 410 / 2
    assert r["auclast"] == pytest.approx(auclast, rel=1e-14)
    assert r["aucall"] == pytest.approx(auclast + 7 * 410 / 2, rel=1e-14)
    assert r["tlast"] == 21  # Tlast stays the last quantifiable sample


def test_leading_blq_counts_as_zero_under_pknca():
    r = one({0: BLQ, 1: BLQ, 7: 1000, 14: 500}, analyte="il6", specimen="serum")
    assert r["auclast"] == pytest.approx(6 * 1000 / 2 + 7 * 500 / math.log(2), rel=1e-14)
