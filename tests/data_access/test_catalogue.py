"""The analyte catalogue: unit spellings and conversions, kinds, CDISC codes, specimens, study declarations."""
import pytest

from data_access.catalogue import (
    BUILTIN,
    DEFAULT,
    SEED_ANALYTES,
    Analyte,
    Catalogue,
    builtin_for_test_code,
    normalise_unit_spelling,
    specimen_code,
)


def conversion_factor(analyte, unit):
    return BUILTIN[analyte].factor(unit)


def accepted_units(analyte):
    return BUILTIN[analyte].accepted_units()


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
    ("m_protein", "g/L", 0.1),
    ("crp", "mg/dL", 10.0),
    ("car_t_abs", "10^9/L", 1000.0),
    ("sbcma", "pg/mL", 0.001),
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


def test_seed_analytes_keep_their_behaviour():
    assert [DEFAULT.kind(a) for a in SEED_ANALYTES] == ["cell_kinetics", "cell_kinetics", "tumour_burden",
                                                         "biomarker"]
    assert BUILTIN["car_copies"].unit == "copies/µg gDNA" and BUILTIN["car_copies"].specimens == ("PB", "BM")
    assert not BUILTIN["plasma_cells_pct"].log_scale and BUILTIN["il6"].log_scale


def test_companions_are_built_in_with_their_units():
    units = {code: BUILTIN[code].unit for code in ("car_t_abs", "cd4_car_pct", "cd8_car_pct", "crp", "ferritin",
                                                   "ifng", "il10", "sbcma", "m_protein", "iflc")}
    assert units == {"car_t_abs": "cells/µL", "cd4_car_pct": "%", "cd8_car_pct": "%", "crp": "mg/L",
                     "ferritin": "ng/mL", "ifng": "pg/mL", "il10": "pg/mL", "sbcma": "ng/mL", "m_protein": "g/dL",
                     "iflc": "mg/L"}


def test_cdisc_codes_and_specimen_terms():
    assert builtin_for_test_code("il6") == "il6" and builtin_for_test_code("CRP") == "crp"
    assert builtin_for_test_code("car_copies") == "car_copies" and builtin_for_test_code("XYZ") is None
    assert [specimen_code(t) for t in ("BLOOD", "BONE MARROW", "SERUM", "PLASMA", "urine")] == \
        ["PB", "BM", "serum", "plasma", None]


def test_a_study_declares_analytes_and_overrides_builtins():
    declared = Analyte("XYZ", "Something new", "U/mL", ("plasma",), "biomarker")
    catalogue = Catalogue([declared, Analyte("il6", "IL-6 (local)", "ng/L", ("plasma",), "biomarker")])
    assert catalogue["XYZ"] is declared and catalogue["il6"].label == "IL-6 (local)"
    assert catalogue.kind("never-declared") == "biomarker"
    assert catalogue.order(["XYZ", "il6", "car_copies"]) == ["car_copies", "il6", "XYZ"]
    with pytest.raises(ValueError, match="kind 'weird'"):
        Analyte("a", "A", "%", (), "weird")


def test_docs_show_the_catalogue_table():
    from pathlib import Path

    from data_access.catalogue import markdown_table

    docs = Path(__file__).resolve().parents[2] / "docs" / "data-format.md"
    assert markdown_table() in docs.read_text(encoding="utf-8")
