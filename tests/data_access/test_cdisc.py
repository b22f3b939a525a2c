"""CDISC SDTM and ADaM import (data_access/cdisc.py): every mapping rule on small .xpt files, and bad deliveries
refused with the dataset, record and variable named and nothing stored."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from sqlalchemy import func, select

from data_access import store
from data_access.cdisc import detect_kind, parse_iso8601, read_cdisc
from data_access.importer import import_path
from data_access.readers import SourceFile, files_from_path
from data_access.validate import validate

SAS_DAY = pd.Timestamp("1960-01-01")


def sas_date(text: str) -> float:
    return float((pd.Timestamp(text) - SAS_DAY).days)


def write(folder, datasets: dict[str, list[dict]]) -> None:
    """Each dataset as SAS transport v5: character variables as text (None -> blank), numbers as floats."""
    folder.mkdir(exist_ok=True)
    for name, rows in datasets.items():
        frame = pd.DataFrame(rows)
        for column in frame.columns:
            if frame[column].map(lambda v: isinstance(v, str)).any():
                frame[column] = frame[column].map(lambda v: "" if v is None or v != v else str(v))
            else:
                frame[column] = frame[column].astype(float)
        pyreadstat.write_xport(frame, str(folder / f"{name}.xpt"), table_name=name.upper(), file_format_version=5)


def sdtm_delivery() -> dict[str, list[dict]]:
    """Two dosed subjects (S-001 dosed on a date, S-002 at 12:00) and a screen failure (S-003)."""
    dm = [{"USUBJID": "S-001", "ARM": "Planned 150", "ACTARM": "150e6 CAR+ T cells", "AGE": 61, "SEX": "M",
           "RFPENDTC": "2024-06-30", "DTHDTC": None, "DTHFL": None},
          {"USUBJID": "S-002", "ARM": "450e6 CAR+ T cells", "ACTARM": None, "AGE": 55, "SEX": "F",
           "RFPENDTC": None, "DTHDTC": None, "DTHFL": None},
          {"USUBJID": "S-003", "ARM": "Screen Failure", "ACTARM": "Not Treated", "AGE": 70, "SEX": "M",
           "RFPENDTC": None, "DTHDTC": None, "DTHFL": None}]
    ex = [{"USUBJID": "S-001", "EXTRT": "FLUDARABINE", "EXSTDTC": "2024-01-05"},
          {"USUBJID": "S-001", "EXTRT": "CAR-T", "EXSTDTC": "2024-01-10"},
          {"USUBJID": "S-002", "EXTRT": "CAR-T", "EXSTDTC": "2024-01-20T12:00"}]
    pc = [  # CARCOPY is car_copies; PCSTAT NOT DONE is left out
        {"USUBJID": "S-001", "PCTESTCD": "CARCOPY", "PCTEST": "CAR transgene", "PCSTRESC": "<20", "PCSTRESN": 20,
         "PCSTRESU": "copies/ug gDNA", "PCSPEC": "BLOOD", "PCLLOQ": None, "PCDTC": "2024-01-05", "PCDY": -5,
         "PCSTAT": None},
        {"USUBJID": "S-001", "PCTESTCD": "CARCOPY", "PCTEST": "CAR transgene", "PCSTRESC": "15000",
         "PCSTRESN": 15000, "PCSTRESU": "copies/ug gDNA", "PCSPEC": "BLOOD", "PCLLOQ": 20,
         "PCDTC": "2024-01-10T06:00", "PCDY": 1, "PCSTAT": None},
        {"USUBJID": "S-001", "PCTESTCD": "CARCOPY", "PCTEST": "CAR transgene", "PCSTRESC": "bloq", "PCSTRESN": None,
         "PCSTRESU": None, "PCSPEC": "BONE MARROW", "PCLLOQ": 20, "PCDTC": None, "PCDY": 8, "PCSTAT": None},
        {"USUBJID": "S-002", "PCTESTCD": "CARCOPY", "PCTEST": "CAR transgene", "PCSTRESC": "8", "PCSTRESN": 8,
         "PCSTRESU": "copies/ng gDNA", "PCSPEC": "BLOOD", "PCLLOQ": None, "PCDTC": "2024-01-21T00:00", "PCDY": 2,
         "PCSTAT": None},
        {"USUBJID": "S-002", "PCTESTCD": "CARCOPY", "PCTEST": "CAR transgene", "PCSTRESC": "900", "PCSTRESN": 900,
         "PCSTRESU": "copies/ug gDNA", "PCSPEC": "BLOOD", "PCLLOQ": None, "PCDTC": "2024-01-22", "PCDY": 3,
         "PCSTAT": None},
        {"USUBJID": "S-002", "PCTESTCD": "VCN", "PCTEST": "Vector copy number", "PCSTRESC": "1.5", "PCSTRESN": 1.5,
         "PCSTRESU": "copies/cell", "PCSPEC": "BLOOD", "PCLLOQ": None, "PCDTC": "2024-01-22", "PCDY": 3,
         "PCSTAT": None},
        {"USUBJID": "S-002", "PCTESTCD": "CARCOPY", "PCTEST": "CAR transgene", "PCSTRESC": None, "PCSTRESN": None,
         "PCSTRESU": None, "PCSPEC": "BLOOD", "PCLLOQ": None, "PCDTC": "2024-01-25", "PCDY": 6,
         "PCSTAT": "NOT DONE"}]
    lb = [
        {"USUBJID": "S-001", "LBTESTCD": "IL6", "LBTEST": "Interleukin 6", "LBSTRESC": "250", "LBSTRESN": 250,
         "LBSTRESU": "pg/mL", "LBSPEC": None, "LBDTC": "2024-02"},
        {"USUBJID": "S-001", "LBTESTCD": "TNFA", "LBTEST": "Tumor Necrosis Factor Alpha", "LBSTRESC": "12",
         "LBSTRESN": 12, "LBSTRESU": "pg/mL", "LBSPEC": "SERUM", "LBDTC": "2024-01-12"},
        {"USUBJID": "S-003", "LBTESTCD": "IL6", "LBTEST": "Interleukin 6", "LBSTRESC": "3", "LBSTRESN": 3,
         "LBSTRESU": "pg/mL", "LBSPEC": "SERUM", "LBDTC": "2023-12-20"}]  # the screen failure's lab: left out
    ae = [{"USUBJID": "S-001", "AETERM": "CRS", "AEDECOD": "Cytokine release syndrome", "AETOXGR": "2",
           "AESTDTC": "2024-01-12", "AEENDTC": "2024-03", "AESER": "Y", "AEREL": "RELATED"},
          {"USUBJID": "S-002", "AETERM": "neurotox", "AEDECOD": "Immune effector cell-associated neurotoxicity "
           "syndrome", "AETOXGR": "1", "AESTDTC": "2024-01-24", "AEENDTC": None, "AESER": "N",
           "AEREL": "NOT RELATED"}]
    rs = [{"USUBJID": "S-001", "RSSEQ": 1, "RSCAT": "IMWG 2016", "RSTESTCD": "OVRLRESP", "RSSTRESC": "PR",
           "RSDTC": "2024-02-07"},
          {"USUBJID": "S-001", "RSSEQ": 2, "RSCAT": "IMWG 2016", "RSTESTCD": "OVRLRESP",
           "RSSTRESC": "STRINGENT COMPLETE RESPONSE", "RSDTC": "2024-04-09"},
          {"USUBJID": "S-001", "RSSEQ": 3, "RSCAT": "RECIST 1.1", "RSTESTCD": "OVRLRESP", "RSSTRESC": "XYZ",
           "RSDTC": "2024-04-09"},
          {"USUBJID": "S-002", "RSSEQ": 1, "RSCAT": "IMWG 2016", "RSTESTCD": "OVRLRESP", "RSSTRESC": "sd",
           "RSDTC": "2024-02-17"}]
    supprs = [{"USUBJID": "S-001", "RDOMAIN": "RS", "IDVAR": "RSSEQ", "IDVARVAL": "2", "QNAM": "MRDNEG",
               "QVAL": "Y"},
              {"USUBJID": "S-001", "RDOMAIN": "RS", "IDVAR": "RSSEQ", "IDVARVAL": "1", "QNAM": "RSEVAL",
               "QVAL": "INVESTIGATOR"}]
    suppdm = [{"USUBJID": "S-001", "RDOMAIN": "DM", "IDVAR": "", "IDVARVAL": "", "QNAM": "PRIORLN", "QVAL": "5"},
              {"USUBJID": "S-002", "RDOMAIN": "DM", "IDVAR": "", "IDVARVAL": "", "QNAM": "PRIORLN", "QVAL": "3"}]
    cm = [{"USUBJID": "S-001", "CMTRT": "Actemra", "CMDECOD": "TOCILIZUMAB", "CMINDC": "CRS",
           "CMSTDTC": "2024-01-13", "CMENDTC": "2024-01"}]
    return {"dm": dm, "ex": ex, "pc": pc, "lb": lb, "ae": ae, "rs": rs, "supprs": supprs, "suppdm": suppdm, "cm": cm}


def adam_delivery() -> dict[str, list[dict]]:
    """A-1 dosed 2024-03-01 (date), A-2 at 2024-03-05T08:00 (TRTSDTM), A-3 never dosed."""
    adsl = [{"USUBJID": "A-1", "TRT01A": "150e6 CAR+ T cells", "AGE": 60, "SEX": "F", "TRTSDT": sas_date("2024-03-01"),
             "TRTSDTM": None, "LSTALVDT": sas_date("2024-09-01"), "DTHDT": None, "PRIORLN": 4, "SAFFL": "Y"},
            {"USUBJID": "A-2", "TRT01A": "450e6 CAR+ T cells", "AGE": 52, "SEX": "M", "TRTSDT": sas_date("2024-03-05"),
             "TRTSDTM": sas_date("2024-03-05") * 86400 + 8 * 3600, "LSTALVDT": sas_date("2024-04-04"),
             "DTHDT": sas_date("2024-04-04"), "PRIORLN": 6, "SAFFL": "Y"},
            {"USUBJID": "A-3", "TRT01A": None, "AGE": 66, "SEX": "M", "TRTSDT": None, "TRTSDTM": None,
             "LSTALVDT": None, "DTHDT": None, "PRIORLN": 2, "SAFFL": "N"}]
    row = {"PARAM": "CAR transgene", "AVALU": "copies/ug gDNA", "PCSPEC": "BLOOD", "ALLOQ": 20, "DTYPE": None,
           "ANL01FL": "Y", "AVALC": None, "ADT": None, "ADY": None, "AFRLT": None, "FRLTU": "hours"}
    adpc = [{**row, "USUBJID": "A-1", "PARAMCD": "CARCOPY", "AVAL": None, "AVALC": "BLQ", "AFRLT": -48},
            {**row, "USUBJID": "A-1", "PARAMCD": "CARCOPY", "AVAL": 10, "AVALC": None, "AFRLT": -48,
             "DTYPE": "HALFLLOQ"},
            {**row, "USUBJID": "A-1", "PARAMCD": "CARCOPY", "AVAL": 5000, "AFRLT": 6},
            {**row, "USUBJID": "A-1", "PARAMCD": "CARCOPY", "AVAL": 5100, "AFRLT": 6, "ANL01FL": "N"},
            {**row, "USUBJID": "A-2", "PARAMCD": "CARCOPY", "AVAL": 700, "ADT": sas_date("2024-03-15")},
            {**row, "USUBJID": "A-2", "PARAMCD": "CARCOPY", "AVAL": 800, "ADY": 29}]
    adlb = [{"USUBJID": "A-1", "PARAMCD": "FERRITIN", "PARAM": "Ferritin (ug/L)", "AVAL": 900, "AVALU": "ug/L",
             "LBSPEC": "SERUM", "ADT": sas_date("2024-03-03"), "ADTF": None},
            {"USUBJID": "A-1", "PARAMCD": "FERRITIN", "PARAM": "Ferritin (ug/L)", "AVAL": 500, "AVALU": "ug/L",
             "LBSPEC": "SERUM", "ADT": sas_date("2024-04-01"), "ADTF": "D"}]
    adae = [{"USUBJID": "A-1", "AEDECOD": "Cytokine release syndrome", "AETERM": "CRS", "ATOXGR": None,
             "AESEV": "MODERATE", "ASTDT": sas_date("2024-03-03"), "AENDT": sas_date("2024-03-06"), "AESER": "N",
             "AEREL": "Y"}]
    adrs = [{"USUBJID": "A-1", "PARAMCD": "OVR", "AVALC": "VGPR", "ADT": sas_date("2024-03-29"), "MRDNEG": None},
            {"USUBJID": "A-1", "PARAMCD": "OVR", "AVALC": "CR", "ADT": sas_date("2024-05-30"), "MRDNEG": "Y"},
            {"USUBJID": "A-1", "PARAMCD": "BOR", "AVALC": "CR", "ADT": sas_date("2024-05-30"), "MRDNEG": None}]
    adtte = [{"USUBJID": "A-1", "PARAMCD": "PFS", "AVAL": 6, "AVALU": "MONTHS", "CNSR": 1},
             {"USUBJID": "A-2", "PARAMCD": "OS", "AVAL": 30, "AVALU": "DAYS", "CNSR": 0}]
    adcm = [{"USUBJID": "A-1", "CMTRT": "dexamethasone", "CMDECOD": None, "ASTDT": sas_date("2024-03-04"),
             "AENDT": None, "CMINDC": "CRS"}]
    return {"adsl": adsl, "adpc": adpc, "adlb": adlb, "adae": adae, "adrs": adrs, "adtte": adtte, "adcm": adcm}


def load(folder):
    raw = read_cdisc(files_from_path(folder), 50_000_000)
    study, report = validate(raw, "cdisc")
    return raw, study, report


@pytest.fixture(scope="module")
def sdtm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sdtm")
    write(folder, sdtm_delivery())
    raw, study, report = load(folder)
    assert study is not None, report.to_text()
    return raw, study, report


@pytest.fixture(scope="module")
def adam(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adam")
    write(folder, adam_delivery())
    raw, study, report = load(folder)
    assert study is not None, report.to_text()
    return raw, study, report


def measurement(study, subject, day, analyte="car_copies"):
    m = study.measurements
    rows = m[(m["subject_id"] == subject) & (m["analyte"] == analyte) & np.isclose(m["day"], day)]
    assert len(rows) == 1, m[m["subject_id"] == subject]
    return rows.iloc[0]


def test_detect_kind():
    assert detect_kind(["subjects.csv", "measurements.csv"]) == "cartscope"
    assert detect_kind(["study.xlsx"]) == "cartscope"
    assert detect_kind(["DM.XPT", "ex.xpt", "pc.sas7bdat", "define.xml"]) == "sdtm"
    assert detect_kind([SourceFile("adsl.sas7bdat", b""), SourceFile("adpc.xpt", b"")]) == "adam"


def test_partial_dates_are_imputed_by_start_or_end():
    parsed = parse_iso8601(pd.Series(["2013-08", "2013", "2013-08-14", "2013-08-14T06:30", "", "2013-02-30"]))
    assert parsed["ts"].dt.strftime("%Y-%m-%d").fillna("").tolist() == ["2013-08-01", "2013-01-01", "2013-08-14",
                                                                           "2013-08-14", "", ""]
    assert parsed["imputed"].tolist() == ["day", "month", "", "", "", ""]
    assert parsed["has_time"].tolist() == [False, False, False, True, False, False]
    assert parsed["bad"].tolist() == [False, False, False, False, False, True]
    ends = parse_iso8601(pd.Series(["2024-02", "2023"]), end=True)
    assert ends["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-02-29", "2023-12-31"]


def test_sdtm_subjects_screen_failures_and_last_contact(sdtm):
    _raw, study, report = sdtm
    s = study.subjects.set_index("subject_id")
    assert list(s.index) == ["S-001", "S-002"]
    assert s.loc["S-001", "dose_level"] == "150e6 CAR+ T cells"  # ACTARM
    assert s.loc["S-002", "dose_level"] == "450e6 CAR+ T cells"  # ARM when ACTARM is blank
    assert s.loc["S-001", "last_contact_day"] == 172  # RFPENDTC 2024-06-30 - 2024-01-10
    assert s.loc["S-002", "last_contact_day"] == 28  # no RFPENDTC: the latest date seen (RS 2024-02-17)
    assert s.loc["S-001", "priorln"] == 5  # SUPPDM qualifier -> covariate
    messages = [str(w) for w in report.warnings]
    assert any("1 subject(s) in DM have no EX record" in m and "S-003" in m for m in messages), messages


def test_sdtm_days_from_first_car_t_dose(sdtm):
    _raw, study, _report = sdtm
    assert measurement(study, "S-001", 0.25)["value"] == 15000  # 06:00 on a dosing date without time
    assert measurement(study, "S-001", -5)["blq"]  # lymphodepletion on 2024-01-05 is not Day 0
    assert measurement(study, "S-002", 0.5)["value"] == 8000  # dose at 12:00, sample at midnight; ng -> ug
    assert measurement(study, "S-002", 2)["value"] == 900  # a date without time: whole days
    assert measurement(study, "S-001", 7)["specimen"] == "BM"  # no PCDTC: PCDY 8 is day 7


def test_sdtm_blq_codes_and_lloq(sdtm):
    _raw, study, _report = sdtm
    below = measurement(study, "S-001", -5)
    assert below["blq"] and below["value"] == 20 and below["lloq"] == 20  # '<20': BLQ whatever PCSTRESN says
    bloq = measurement(study, "S-001", 7)
    assert bloq["blq"] and np.isnan(bloq["value"]) and bloq["unit"] == "copies/µg gDNA"
    assert not measurement(study, "S-001", 0.25)["blq"]
    assert len(study.measurements[study.measurements["day"] == 5]) == 0  # PCSTAT NOT DONE left out


def test_sdtm_partial_dates_flagged_and_counted(sdtm):
    _raw, study, report = sdtm
    il6 = measurement(study, "S-001", 22, "il6")  # LBDTC 2024-02 -> 2024-02-01
    assert il6["date_imputed"] == "day" and il6["specimen"] == "serum"  # LBSPEC blank: IL-6's one specimen
    assert pd.isna(measurement(study, "S-001", 0.25)["date_imputed"])
    crs = study.adverse_events.set_index("subject_id").loc["S-001"]
    assert crs["resolution_day"] == 81 and crs["date_imputed"] == "day"  # AEENDTC 2024-03 -> 2024-03-31
    assert study.concomitant_medications.iloc[0]["end_day"] == 21  # CMENDTC 2024-01 -> 2024-01-31
    assert any("3 partial date(s) were imputed" in str(w) for w in report.warnings), report.to_text()


def test_sdtm_unknown_test_code_is_declared(sdtm):
    _raw, study, report = sdtm
    declared = study.analytes.set_index("code")
    assert declared.loc["TNFA", "kind"] == "biomarker" and declared.loc["TNFA", "unit"] == "pg/mL"
    assert declared.loc["TNFA", "label"] == "Tumor Necrosis Factor Alpha"
    assert declared.loc["VCN", "kind"] == "cell_kinetics"  # from PC
    assert measurement(study, "S-001", 2, "TNFA")["value"] == 12
    assert any("declared from the data" in str(w) and "TNFA" in str(w) for w in report.warnings)


def test_sdtm_adverse_events_responses_conmeds(sdtm):
    _raw, study, _report = sdtm
    ae = study.adverse_events.set_index("subject_id")
    assert ae.loc["S-001", "term"] == "Cytokine release syndrome" and ae.loc["S-001", "grade"] == 2
    assert ae.loc["S-001", "serious"] and ae.loc["S-001", "related"]
    assert ae.loc["S-002", "term"] == "Immune effector cell-associated neurotoxicity syndrome"
    assert ae.loc["S-002", "related"] is not None and not ae.loc["S-002", "related"]
    assert ae.loc["S-002", "onset_day"] == 4  # 2024-01-24, dose 2024-01-20T12:00: a date counts whole days
    r = study.responses
    assert r[["subject_id", "day", "response"]].values.tolist() == [["S-001", 28, "PR"], ["S-001", 90, "sCR"],
                                                                    ["S-002", 28, "SD"]]  # RECIST row left out
    assert r["mrd_negative"].tolist()[:2] == [None, True]
    assert r["rseval"].tolist()[0] == "INVESTIGATOR"  # other SUPPRS qualifiers are kept, named by QNAM
    cm = study.concomitant_medications.iloc[0]
    assert (cm["drug"], cm["start_day"], cm["indication"]) == ("tocilizumab", 3, "CRS")


def test_sdtm_frames_name_the_cdisc_variables(sdtm):
    raw, _study, _report = sdtm
    m = raw.tables["measurements"]
    assert m.attrs["source_columns_by_file"]["pc.xpt"]["value"] == "PCSTRESN"
    assert m.attrs["source_columns_by_file"]["lb.xpt"]["day"] == "LBDTC"
    assert set(m["_file"]) == {"pc.xpt", "lb.xpt"}
    assert m.loc[m["_file"] == "pc.xpt", "_row"].tolist() == [1, 2, 3, 4, 5, 6]  # record numbers; row 7 NOT DONE


def test_adam_import(adam):
    _raw, study, report = adam
    s = study.subjects.set_index("subject_id")
    assert list(s.index) == ["A-1", "A-2"]
    assert s.loc["A-1", "dose_level"] == "150e6 CAR+ T cells" and s.loc["A-1", "last_contact_day"] == 184
    assert s.loc["A-2", "death_day"] == 30 and s.loc["A-1", "priorln"] == 4
    assert any("1 subject(s) in ADSL have no TRTSDT" in str(w) and "A-3" in str(w) for w in report.warnings)
    m = study.measurements
    a1 = m[(m["subject_id"] == "A-1") & (m["analyte"] == "car_copies")]
    # AFRLT in hours; the HALFLLOQ copy (DTYPE) and the ANL01FL N record are left out
    assert a1["day"].tolist() == [-2, 0.25] and a1["blq"].tolist() == [True, False] and a1["value"].iloc[1] == 5000
    a2 = m[(m["subject_id"] == "A-2") & (m["analyte"] == "car_copies")]
    assert a2["day"].tolist() == [10, 28]  # ADT 2024-03-15 against TRTSDTM 2024-03-05T08:00; ADY 29 -> day 28
    ferritin = m[m["analyte"] == "ferritin"]
    assert ferritin["day"].tolist() == [2, 31] and ferritin["date_imputed"].fillna("").tolist() == ["", "day"]


def test_adam_events_responses_time_to_event(adam):
    _raw, study, report = adam
    ae = study.adverse_events.iloc[0]
    assert (ae["term"], ae["grade"], ae["onset_day"], ae["resolution_day"]) == ("Cytokine release syndrome", 2, 2, 5)
    assert any("AESEV MILD/MODERATE/SEVERE was taken as grade 1/2/3" in str(w) for w in report.warnings)
    assert study.responses[["day", "response"]].values.tolist() == [[28, "VGPR"], [90, "CR"]]  # BOR left out
    assert study.responses["mrd_negative"].tolist() == [None, True]
    tte = study.time_to_event.set_index("endpoint")
    assert tte.loc["PFS", "day"] == pytest.approx(6 * 365.25 / 12) and not tte.loc["PFS", "event"]
    assert tte.loc["OS", "day"] == 30 and tte.loc["OS", "event"]
    assert study.concomitant_medications.iloc[0]["drug"] == "dexamethasone"


def test_sas7bdat_files_are_read_with_pyreadstat(tmp_path, monkeypatch):
    """pyreadstat cannot write sas7bdat: stand its reader in with the XPT one to cover the path."""
    write(tmp_path, adam_delivery())
    for path in tmp_path.glob("*.xpt"):
        path.rename(path.with_suffix(".sas7bdat"))
    calls = []

    def read_sas7bdat(path, **kwargs):
        calls.append(path)
        return pyreadstat.read_xport(path, **kwargs)

    monkeypatch.setattr(pyreadstat, "read_sas7bdat", read_sas7bdat)
    _raw, study, report = load(tmp_path)
    assert study is not None and len(set(calls)) == 7, report.to_text()  # metadata, then the variables used
    garbage = read_cdisc([SourceFile("adsl.sas7bdat", b"not a dataset")], 1_000_000)
    assert "not a readable SAS dataset file" in garbage.report.to_text()


def table_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        counts = {name: conn.execute(select(func.count()).select_from(t)).scalar()
                  for name, t in store.data_tables.items()}
        counts["studies"] = conn.execute(select(func.count()).select_from(store.studies_table)).scalar()
    return counts


def broken(datasets: dict, name: str, index: int, **changes) -> dict:
    datasets[name][index] = {**datasets[name][index], **changes}
    return datasets


@pytest.mark.parametrize("make, file, row, column, message", [
    (lambda: broken(sdtm_delivery(), "lb", 0, LBSTRESU="mg/dL"), "lb.xpt", 1, "LBSTRESU",
     "unit 'mg/dL' is not a unit of il6"),
    (lambda: broken(sdtm_delivery(), "lb", 0, LBTESTCD="TNFA", LBSTRESU="ng/mL"), "lb.xpt", 2, "LBSTRESU",
     "test code TNFA is given in 'pg/mL' (records 2) and in 'ng/mL', which do not convert"),
    (lambda: broken(sdtm_delivery(), "pc", 3, USUBJID="S-999"), "pc.xpt", 4, "USUBJID",
     "USUBJID 'S-999' is not in DM"),
    (lambda: broken(sdtm_delivery(), "pc", 1, PCDTC="2024-13-45"), "pc.xpt", 2, "PCDTC",
     "'2024-13-45' is not an ISO 8601 date"),
    (lambda: broken(sdtm_delivery(), "ae", 0, AESTDTC="12JAN2024"), "ae.xpt", 1, "AESTDTC",
     "'12JAN2024' is not an ISO 8601 date"),
    (lambda: broken(sdtm_delivery(), "rs", 3, RSSTRESC="CRu"), "rs.xpt", 4, "RSSTRESC",
     "unknown response 'CRu'"),
    (lambda: broken(adam_delivery(), "adrs", 0, AVALC="Near CR"), "adrs.xpt", 1, "AVALC",
     "unknown response 'Near CR'"),
    (lambda: broken(adam_delivery(), "adae", 0, USUBJID="A-404"), "adae.xpt", 1, "USUBJID",
     "USUBJID 'A-404' is not in ADSL"),
    (lambda: broken(adam_delivery(), "adpc", 2, FRLTU="FORTNIGHTS"), "adpc.xpt", 3, "FRLTU",
     "AFRLT has unit 'FORTNIGHTS'"),
    (lambda: broken(sdtm_delivery(), "lb", 0, LBTESTCD="XYZ", LBSTRESU=""), "lb.xpt", 1, "LBSTRESU",
     "test code XYZ is not in the analyte catalogue and none of its 1 records gives a unit in LBSTRESU"),
])
def test_bad_deliveries_are_refused_and_nothing_is_stored(tmp_path, make, file, row, column, message):
    folder = tmp_path / "delivery"
    write(folder, make())
    engine = store.get_engine("sqlite:///" + str(tmp_path / "db.sqlite"))
    result = import_path(folder, "bad", source="test", engine=engine)
    assert not result.stored
    matching = [e for e in result.report.errors if message in e.message]
    assert matching, result.report.to_text()
    assert (matching[0].file, matching[0].row, matching[0].column) == (file, row, column), str(matching[0])
    assert set(table_counts(engine).values()) == {0}
    assert not any("unknown analyte" in e.message for e in result.report.errors)  # one message, not one a record


def test_a_good_delivery_is_stored(tmp_path):
    folder = tmp_path / "delivery"
    write(folder, sdtm_delivery())
    engine = store.get_engine("sqlite:///" + str(tmp_path / "db.sqlite"))
    result = import_path(folder, "cdisc", source="test", engine=engine)
    assert result.stored, result.report.to_text()
    assert table_counts(engine)["measurements"] == 8 and table_counts(engine)["studies"] == 1


def test_what_a_delivery_lacks_or_has_too_much_is_reported(tmp_path):
    datasets = sdtm_delivery()
    write(tmp_path / "no-dm", {k: v for k, v in datasets.items() if k != "dm"})
    assert "no DM dataset" in load(tmp_path / "no-dm")[2].to_text()
    write(tmp_path / "no-findings", {k: v for k, v in datasets.items() if k not in ("pc", "lb")})
    assert "no measurements: give PC, CP, LB, IS or GF" in load(tmp_path / "no-findings")[2].to_text()
    no_dates = {**datasets, "ex": [{k: v for k, v in r.items() if k != "EXSTDTC"} for r in datasets["ex"]]}
    write(tmp_path / "no-exstdtc", no_dates)
    errors = [str(e) for e in load(tmp_path / "no-exstdtc")[2].errors]
    assert errors == ["ERROR: ex.xpt, column 'EXSTDTC': dataset EX has no variable EXSTDTC"], errors
    write(tmp_path / "extra", {**datasets, "vs": [{"USUBJID": "S-001", "VSTESTCD": "TEMP"}]})
    (tmp_path / "extra" / "define.xml").write_text("<ODM/>")
    _raw, study, report = load(tmp_path / "extra")
    assert study is not None
    text = report.to_text()
    assert "WARNING: vs.xpt: dataset VS is not used by the SDTM import" in text
    assert "WARNING: define.xml: not a SAS dataset (.xpt or .sas7bdat): ignored" in text


def test_a_renamed_dataset_is_read_by_the_name_inside_it(tmp_path):
    write(tmp_path, sdtm_delivery())
    lb = pyreadstat.read_xport(str(tmp_path / "lb.xpt"))[0]
    (tmp_path / "lb.xpt").unlink()
    pyreadstat.write_xport(lb, str(tmp_path / "lb_2024-06.xpt"), table_name="LB", file_format_version=5)
    raw, study, report = load(tmp_path)
    assert "read as LB, the dataset name inside the file" in report.to_text()
    assert study is not None and "il6" in set(study.measurements["analyte"])


def test_a_dataset_is_read_in_chunks_whose_repeated_text_is_one_object(tmp_path, monkeypatch):
    """Chunked reading gives the records as they are; a subject id or unit repeated over records (and chunks) is
    held once, not once per record (pyreadstat's own frame has a new string for each)."""
    import pyreadstat

    from data_access import cdisc
    from data_access.report import ValidationReport

    records = pd.DataFrame({"USUBJID": ["S-01"] * 3 + ["S-02"] * 2, "PCSTRESN": [1.0, 2.5, None, 4.0, 5.0],
                            "PCSTRESU": ["copies/ug"] * 5, "PCDTC": [f"2024-01-0{i}" for i in range(1, 6)]})
    path = tmp_path / "pc.xpt"
    pyreadstat.write_xport(records, str(path), table_name="PC")
    monkeypatch.setattr(cdisc, "SAS_CHUNK_ROWS", 2)
    report = ValidationReport()
    frame = cdisc._read_sas(SourceFile("pc.xpt", path.read_bytes()), report, "pc")
    assert report.ok
    pd.testing.assert_frame_equal(frame[list(records.columns)], records, check_dtype=False)
    assert frame["USUBJID"][0] is frame["USUBJID"][2] and frame["PCSTRESU"][0] is frame["PCSTRESU"][4]
    empty = tmp_path / "empty.xpt"
    pyreadstat.write_xport(records.iloc[:0], str(empty), table_name="PC")
    assert cdisc._read_sas(SourceFile("pc.xpt", empty.read_bytes()), report, "pc").empty and report.ok


def test_a_dataset_over_the_row_limit_is_refused_by_name(tmp_path, monkeypatch):
    import pyreadstat

    from data_access import cdisc
    from data_access.report import ValidationReport

    path = tmp_path / "pc.xpt"
    pyreadstat.write_xport(pd.DataFrame({"USUBJID": ["S-01"] * 7, "PCSTRESN": range(7)}), str(path), table_name="PC")
    monkeypatch.setenv("CARTSCOPE_MAX_ROWS", "5")
    monkeypatch.setattr(cdisc, "SAS_CHUNK_ROWS", 2)
    report = ValidationReport()
    assert cdisc._read_sas(SourceFile("pc.xpt", path.read_bytes()), report, "pc") is None
    assert [str(i) for i in report.errors] == ["ERROR: pc.xpt: the dataset has more than 5 records, the most "
                                               "CARTscope reads from one dataset (CARTSCOPE_MAX_ROWS)"]
