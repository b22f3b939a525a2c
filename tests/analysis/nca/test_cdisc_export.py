"""NCA results as SDTM PP and ADaM ADPP: written as SAS transport v5, read back, and compared with the engine."""
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from analysis.nca import NCAOptions
from analysis.nca.cdisc_export import (
    ADPP_LABELS,
    NOT_DONE,
    PP_LABELS,
    adpp_dataset,
    analyte_units,
    ascii_text,
    cdisc_unit,
    interval_paramcd,
    iso_duration,
    not_done_reason,
    pp_domain,
    specimen_term,
    write_pp_adpp,
    write_xpt,
)
from analysis.nca.engine import run_nca
from analysis.nca.parameters import BY_NAME, INTERVAL_AUC, PARAMETERS
from data_access.catalogue import DEFAULT
from data_access.cdisc_demo import load_demo_study
from tests.conftest import DEMO_DIR

STUDY_ID = "CARTSCOPE-DEMO"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "cdisc.md"
INTERVALS = ((0.0, 28.0), (0.0, 90.0), (0.0, 7.5), (-5.0, 7.5))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo study's NCA with four intervals (one starting before Day 0, so before every profile's first sample),
    written and read back."""
    study = load_demo_study(DEMO_DIR)
    options = NCAOptions(intervals=INTERVALS, kinds=study.nca_kinds)
    result = run_nca(study.measurements, options)
    out = tmp_path_factory.mktemp("cdisc")
    pp_path, adpp_path = write_pp_adpp(result, out, STUDY_ID, analyte_units(study.measurements), study.subjects,
                                       options=options)
    pp, pp_meta = pyreadstat.read_xport(str(pp_path))
    adpp, adpp_meta = pyreadstat.read_xport(str(adpp_path))
    return study, options, result, (pp_path, pp, pp_meta), (adpp_path, adpp, adpp_meta)


def profile_key(result: pd.DataFrame) -> pd.Series:
    """USUBJID, PPCAT and PPSPEC of each result row, as PP spells them."""
    return (result["subject_id"] + "|" + result["analyte"].map(lambda a: ascii_text(DEFAULT.label(a))) + "|"
            + result["specimen"].map(specimen_term))


def test_files_are_sas_transport_v5_with_the_ig_variables_and_labels(demo):
    *_, (pp_path, pp, pp_meta), (adpp_path, adpp, adpp_meta) = demo
    for path, frame, meta, labels, name in ((pp_path, pp, pp_meta, PP_LABELS, "PP"),
                                            (adpp_path, adpp, adpp_meta, ADPP_LABELS, "ADPP")):
        assert path.read_bytes()[:80].startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD")  # v8: LIBV8
        assert meta.table_name == name
        assert meta.column_names == list(labels) == list(frame.columns)
        assert meta.column_labels == list(labels.values())
        assert all(len(c) <= 8 for c in meta.column_names) and all(len(label) <= 40 for label in meta.column_labels)
        text = frame.select_dtypes(object)
        assert text.map(lambda v: len(v.encode()) <= 200 and v.isascii()).all().all()
    assert list(pp.columns[:6]) == ["STUDYID", "DOMAIN", "USUBJID", "PPSEQ", "PPGRPID", "PPTESTCD"]
    assert {"TRT01A", "PARAMCD", "PARAM", "AVAL", "AVALU", "SRCSEQ"} <= set(adpp.columns)


def test_every_test_code_and_name_comes_from_the_registry(demo):
    *_, (_, pp, _), _ = demo
    registry = {p.pptestcd: p.pptest for p in (*PARAMETERS, INTERVAL_AUC) if p.pptestcd}
    # the demo has every kind of analyte, so every coded parameter is there; uncoded ones (peak, baseline) are not
    assert set(pp["PPTESTCD"]) == set(registry)
    assert (pp["PPTEST"] == pp["PPTESTCD"].map(registry)).all()
    assert pp["PPTESTCD"].str.len().max() <= 8
    tumour_burden = {ascii_text(a.label) for a in DEFAULT.values() if a.kind == "tumour_burden"}
    assert set(pp.loc[pp["PPTESTCD"].isin(["CMIN", "TMIN"]), "PPCAT"]) == tumour_burden


def test_one_record_per_profile_and_parameter_with_the_engines_numbers(demo):
    study, options, result, (_, pp, _), _ = demo
    kinds = options.kind_of(result["analyte"].to_numpy())
    coded = [p for p in PARAMETERS if p.pptestcd]
    per_profile = np.array([sum(1 for p in coded if not p.kinds or k in p.kinds) for k in kinds]) + len(INTERVALS)
    assert len(pp) == per_profile.sum()
    keyed = pp.assign(key=pp["USUBJID"] + "|" + pp["PPCAT"] + "|" + pp["PPSPEC"])
    by_profile = result.assign(key=profile_key(result)).set_index("key")
    for name, code in (("cmax", "CMAX"), ("tlast", "TLST"), ("auclast", "AUCLST"), ("half_life", "LAMZHL"),
                       ("lambda_z_n_points", "LAMZNPT"), ("nadir", "CMIN")):
        rows = keyed[keyed["PPTESTCD"] == code]
        expected = by_profile.loc[rows["key"], name].astype(float).to_numpy()
        assert np.array_equal(rows["PPSTRESN"].to_numpy(), expected, equal_nan=True), name
        written = rows["PPORRES"].map(lambda t: float(t) if t else np.nan).to_numpy()
        np.testing.assert_allclose(written, expected, rtol=1e-14)
        assert (rows["PPSTRESC"] == rows["PPORRES"]).all()
    units = analyte_units(study.measurements)
    car = keyed[(keyed["PPCAT"] == "CAR transgene") & (keyed["PPSTAT"] == "")]
    assert {ascii_text(units["car_copies"])} == {"copies/ug gDNA"}
    assert set(car.loc[car["PPTESTCD"] == "CMAX", "PPSTRESU"]) == {"copies/ug gDNA"}
    assert set(car.loc[car["PPTESTCD"] == "AUCLST", "PPSTRESU"]) == {"day*copies/ug gDNA"}
    assert set(car.loc[car["PPTESTCD"] == "LAMZ", "PPSTRESU"]) == {"/day"}
    assert set(car.loc[car["PPTESTCD"] == "R2", "PPSTRESU"]) == {""}


def test_blank_parameters_are_not_done_with_a_reason(demo):
    *_, result, (_, pp, _), _ = demo
    not_done = pp["PPSTAT"] == NOT_DONE
    assert not_done.any() and (~not_done).any()
    assert (not_done == pp["PPSTRESN"].isna()).all()
    assert (pp.loc[not_done, "PPREASND"].str.len() > 0).all()
    assert (pp.loc[~not_done, "PPREASND"] == "").all() and (pp.loc[~not_done, "PPSTAT"] == "").all()
    assert (pp.loc[not_done, ["PPORRES", "PPSTRESC", "PPSTRESU"]] == "").all().all()
    lamz = pp[not_done & (pp["PPTESTCD"] == "LAMZ")]
    assert lamz["PPREASND"].str.contains("lambda-z|no quantifiable value").all()
    early = pp[not_done & (pp["PPSTINT"] == "-P5D")]
    assert len(early) and early["PPREASND"].str.contains("starts before the first sample").all()
    assert not pp["PPREASND"].str.contains("auc_").any()  # notes of other intervals are left out
    assert result["reason"].str.contains("auc_0_90: ends after the last quantifiable sample").any()


def test_reason_of_one_parameter():
    reason = ("lambda-z: fewer than 3 positive samples after Tmax; auc_0_28: ends after the last quantifiable "
              "sample; area after it counted as 0; auc_m7_7.5: starts before the first sample")
    assert not_done_reason(reason, "lambda_z") == "lambda-z: fewer than 3 positive samples after Tmax"
    assert not_done_reason(reason, "auc_m7_7.5") == ("lambda-z: fewer than 3 positive samples after Tmax; starts "
                                                     "before the first sample")
    assert not_done_reason(reason, "auc_0_28").endswith("ends after the last quantifiable sample; area after it "
                                                        "counted as 0")
    assert not_done_reason("", "cmax") and len(not_done_reason("x; " * 100, "cmax")) == 200


def test_identifiers_and_sequence_numbers(demo):
    study, _, result, (_, pp, _), (_, adpp, _) = demo
    assert set(pp["STUDYID"]) == {STUDY_ID} == set(adpp["STUDYID"]) and set(pp["DOMAIN"]) == {"PP"}
    assert set(pp["USUBJID"]) == set(result["subject_id"]) == set(adpp["USUBJID"])
    assert (pp.groupby("USUBJID")["PPSEQ"].apply(lambda s: list(s) == list(range(1, len(s) + 1)))).all()
    source = adpp.merge(pp, left_on=["USUBJID", "SRCSEQ"], right_on=["USUBJID", "PPSEQ"], how="left",
                        validate="one_to_one")
    assert (source["AVAL"] == source["PPSTRESN"]).all() and (source["AVALU"] == source["PPSTRESU"]).all()
    assert (source["PPTESTCD_x"] == source["PPTESTCD_y"]).all() and (source["PPCAT_x"] == source["PPCAT_y"]).all()
    assert set(adpp["SRCDOM"]) == {"PP"} and set(adpp["SRCVAR"]) == {"PPSTRESN"}
    dose = study.subjects.set_index("subject_id")["dose_level"]
    assert (adpp["TRT01A"] == adpp["USUBJID"].map(dose).map(ascii_text)).all()
    assert len(adpp) == (pp["PPSTAT"] != NOT_DONE).sum() and adpp["AVAL"].notna().all()


def test_partial_aucs_are_aucint_with_their_interval(demo):
    *_, result, (_, pp, _), (_, adpp, _) = demo
    aucint = pp[pp["PPTESTCD"] == "AUCINT"]
    assert (pp.loc[pp["PPTESTCD"] != "AUCINT", ["PPSTINT", "PPENINT"]] == "").all().all()
    spans = {("P0D", "P28D"): "auc_0_28", ("P0D", "P90D"): "auc_0_90", ("P0D", "P7.5D"): "auc_0_7.5",
             ("-P5D", "P7.5D"): "auc_m5_7.5"}
    assert set(zip(aucint["PPSTINT"], aucint["PPENINT"], strict=True)) == set(spans)
    by_profile = result.assign(key=profile_key(result)).set_index("key")
    for (start, end), column in spans.items():
        rows = aucint[(aucint["PPSTINT"] == start) & (aucint["PPENINT"] == end)]
        assert len(rows) == len(result)
        key = rows["USUBJID"] + "|" + rows["PPCAT"] + "|" + rows["PPSPEC"]
        assert np.array_equal(rows["PPSTRESN"].to_numpy(), by_profile.loc[key, column].to_numpy(), equal_nan=True)
    codes = adpp[adpp["PPTESTCD"] == "AUCINT"].drop_duplicates("PARAMCD").set_index("PARAMCD")["PARAM"].to_dict()
    assert codes == {"AUC0_28": "AUC from Day 0 to Day 28", "AUC0_90": "AUC from Day 0 to Day 90",
                     "AUC0_7P5": "AUC from Day 0 to Day 7.5"}  # the interval from day -5 is NOT DONE throughout
    assert (aucint.loc[aucint["PPSTINT"] == "-P5D", "PPSTAT"] == NOT_DONE).all()
    assert (adpp.loc[adpp["PPTESTCD"] != "AUCINT", "PARAMCD"] == adpp.loc[adpp["PPTESTCD"] != "AUCINT",
                                                                          "PPTESTCD"]).all()


def test_codes_units_and_durations():
    assert [iso_duration(d) for d in (0, 28, 7.5, -7, 365.25)] == ["P0D", "P28D", "P7.5D", "-P7D", "P365.25D"]
    assert interval_paramcd(0, 28, 1) == "AUC0_28" and interval_paramcd(-7, 7.5, 2) == "AUCINT2"
    assert interval_paramcd(-7, 7, 2) == "AUCM7_7" and interval_paramcd(0, 7.5, 2) == "AUC0_7P5"
    assert interval_paramcd(28, 180, 3) == "AUCINT3" and interval_paramcd(28, 180, 120) == "AUCI120"
    assert cdisc_unit(BY_NAME["aucinf_obs"], "cells/µL") == "day*cells/uL"
    assert (cdisc_unit(BY_NAME["half_life"], "%"), cdisc_unit(BY_NAME["r2"], "%")) == ("day", "")
    assert cdisc_unit(BY_NAME["auc_pct_extrap"], "pg/mL") == "%"


def test_analytes_a_study_declared_keep_their_code_and_name(tmp_path):
    measurements = pd.DataFrame({"subject_id": "S1", "analyte": "XYZ", "specimen": "CSF", "day": [0.0, 7, 14, 21],
                                 "value": [5.0, 50, 20, 8], "unit": "U/mL", "blq": False})
    options = NCAOptions(intervals=((0, 14),), kinds=(("XYZ", "biomarker"),))
    result = run_nca(measurements, options)
    pp = pp_domain(result, "S", analyte_units(measurements), options=options, analyte_names={"XYZ": "Xyz factor"})
    assert set(pp["PPCAT"]) == {"Xyz factor"} and set(pp["PPSPEC"]) == {"CSF"} and set(pp["PPGRPID"]) == {"XYZ-CSF"}
    assert pp.loc[pp["PPTESTCD"] == "CMAX", "PPSTRESN"].tolist() == [50.0]
    assert "CMIN" not in set(pp["PPTESTCD"])  # a tumour-burden parameter, and XYZ is a biomarker
    adpp = adpp_dataset(result, "S", analyte_units(measurements), options=options)
    assert "TRT01A" not in adpp.columns  # no subjects given
    assert adpp.loc[adpp["PARAMCD"] == "AUC0_14", "AVAL"].tolist() == [result["auc_0_14"].iloc[0]]


def test_writer_refuses_what_sas_transport_v5_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="PPLONGNAME"):
        write_xpt(pd.DataFrame({"PPLONGNAME": ["x"]}), tmp_path / "a.xpt", "PP", {"PPLONGNAME": "Name"})
    with pytest.raises(ValueError, match="label"):
        write_xpt(pd.DataFrame({"PPX": ["x"]}), tmp_path / "b.xpt", "PP", {"PPX": "L" * 41})
    with pytest.raises(ValueError, match="201 bytes"):
        write_xpt(pd.DataFrame({"PPX": ["x" * 201]}), tmp_path / "c.xpt", "PP", {"PPX": "Label"})


def test_no_profiles_give_empty_datasets_with_every_variable(tmp_path):
    empty = pd.DataFrame({"subject_id": [], "analyte": [], "specimen": [], "day": [], "value": [], "unit": [],
                          "blq": []}).astype({"day": float, "value": float, "blq": bool})
    pp_path, adpp_path = write_pp_adpp(run_nca(empty, NCAOptions()), tmp_path, "S", {})
    pp, _ = pyreadstat.read_xport(str(pp_path))
    adpp, _ = pyreadstat.read_xport(str(adpp_path))
    assert (len(pp), list(pp.columns)) == (0, list(PP_LABELS))
    assert (len(adpp), list(adpp.columns)) == (0, [c for c in ADPP_LABELS if c != "TRT01A"])


def test_docs_describe_every_variable_written():
    section = DOCS.read_text(encoding="utf-8").split("## Exporting NCA results as PP and ADPP")[1]
    pp_part, adpp_part = section.split("### ADPP (ADaM)")
    for variables, text in ((PP_LABELS, pp_part), (ADPP_LABELS, adpp_part)):
        missing = [v for v in variables if f"`{v}`" not in text.split("### Files")[0]]
        assert not missing, missing
