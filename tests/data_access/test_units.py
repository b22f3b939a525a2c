"""Unit spellings and conversions to canonical units."""
import pytest

from data_access.units import accepted_units, conversion_factor, normalise_unit_spelling


@pytest.mark.parametrize("analyte,unit,factor", [
    ("car_copies", "copies/µg gDNA", 1.0),   # micro sign
    ("car_copies", "copies/μg gDNA", 1.0),   # Greek mu
    ("car_copies", "Copies/ug  gDNA", 1.0),
    ("car_copies", "copies/mcg", 1.0),
    ("car_copies", "copies/ng gDNA", 1000.0),
    ("il6", "pg/ml", 1.0),
    ("il6", "ng/L", 1.0),
    ("il6", "ng/mL", 1000.0),
    ("car_t_pct", "%", 1.0),
    ("plasma_cells_pct", "percent", 1.0),
])
def test_accepted_spellings_and_factors(analyte, unit, factor):
    assert conversion_factor(analyte, unit) == factor


@pytest.mark.parametrize("analyte,unit", [("il6", "mg/dL"), ("car_copies", "copies/mL"), ("car_t_pct", "cells/uL"),
                                          ("il6", "%")])
def test_other_units_are_rejected(analyte, unit):
    assert conversion_factor(analyte, unit) is None


def test_normalise_and_accepted_lists():
    assert normalise_unit_spelling("  Copies/µg   gDNA ") == "copies/ug gdna"
    assert accepted_units("il6") == ["pg/mL", "ng/L", "ng/mL"]
