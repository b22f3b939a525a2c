"""Write the bundled simulated study as a CDISC delivery (SDTM or ADaM, SAS transport v5 files) for trying the import.

Whatever the demo Study holds is written: every analyte (flow cytometry in CP, qPCR in PC, everything else in LB;
cellular-kinetics analytes in ADPC, the rest in ADLB), adverse events, responses, concomitant medications and
time-to-event rows when there are any. Each subject gets a fixed infusion date (Day 0), spread from 2024-01-15, and
every date is written so that importing the files gives back exactly the days of the CSV study (a fractional day
gets a time of day in SDTM --DTC, and ADaM measurements carry AFRLT in hours; ADaM ADAE, ADRS and ADCM dates are SAS
dates, so their days must be whole, as the demo's are). DM and ADSL also hold two screen failures (no EX record, no
TRTSDT) that the import leaves out. Every dataset says it is simulated (STUDYID CARTSCOPE-DEMO-SIM, the file label).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import settings
from data_access.catalogue import BUILTIN
from data_access.cdisc import SAS_EPOCH
from data_access.study import Study

STUDYID = "CARTSCOPE-DEMO-SIM"
FIRST_INFUSION = pd.Timestamp("2024-01-15")
#: Days between consecutive subjects' infusions.
ENROLMENT_GAP = 4
SCREEN_FAILURES = (("SF-901", "F", 58), ("SF-902", "M", 71))
SPECIMEN_TERMS = {"PB": "BLOOD", "BM": "BONE MARROW", "serum": "SERUM", "plasma": "PLASMA"}
#: Analytes measured by flow cytometry (SDTM CP); car_copies is qPCR (PC); everything else is a lab test (LB).
FLOW_ANALYTES = ("car_t_pct", "car_t_abs", "cd4_car_pct", "cd8_car_pct")
QPCR_ANALYTES = ("car_copies",)
#: Covariates of the CSV demo and the 8-character SUPPDM QNAM / ADSL variable each is written as.
COVARIATE_NAMES = {"prior_lines": "PRIORLN", "high_risk_cytogenetics": "HRCYTO", "extramedullary_disease": "EMD"}
LABELS = {
    "STUDYID": "Study Identifier", "DOMAIN": "Domain Abbreviation", "USUBJID": "Unique Subject Identifier",
    "SUBJID": "Subject Identifier for the Study", "RFSTDTC": "Subject Reference Start Date/Time",
    "RFXSTDTC": "Date/Time of First Study Treatment", "RFPENDTC": "Date/Time of End of Participation",
    "DTHDTC": "Date/Time of Death", "DTHFL": "Subject Death Flag", "AGE": "Age", "AGEU": "Age Units", "SEX": "Sex",
    "ARMCD": "Planned Arm Code", "ARM": "Description of Planned Arm", "ACTARMCD": "Actual Arm Code",
    "ACTARM": "Description of Actual Arm", "RDOMAIN": "Related Domain Abbreviation", "IDVAR": "Identifying Variable",
    "IDVARVAL": "Identifying Variable Value", "QNAM": "Qualifier Variable Name", "QLABEL": "Qualifier Variable Label",
    "QVAL": "Data Value", "QORIG": "Origin", "EXSEQ": "Sequence Number", "EXTRT": "Name of Treatment",
    "EXDOSTXT": "Dose Description", "EXSTDTC": "Start Date/Time of Treatment", "EXSTDY": "Study Day of Start of "
    "Treatment", "SEQ": "Sequence Number", "TESTCD": "Short Name of Test", "TEST": "Name of Test",
    "ORRES": "Result or Finding in Original Units", "ORRESU": "Original Units",
    "STRESC": "Character Result/Finding in Std Format", "STRESN": "Numeric Result/Finding in Standard Units",
    "STRESU": "Standard Units", "SPEC": "Specimen Material Type", "LLOQ": "Lower Limit of Quantitation",
    "DTC": "Date/Time of Specimen Collection", "DY": "Study Day of Specimen Collection",
    "AETERM": "Reported Term for the Adverse Event", "AEDECOD": "Dictionary-Derived Term",
    "AETOXGR": "Standard Toxicity Grade", "AESER": "Serious Event", "AEREL": "Causality",
    "AESTDTC": "Start Date/Time of Adverse Event", "AEENDTC": "End Date/Time of Adverse Event",
    "AESTDY": "Study Day of Start of Adverse Event", "AEENDY": "Study Day of End of Adverse Event",
    "RSCAT": "Category for Assessment", "RSTESTCD": "Assessment Short Name", "RSTEST": "Assessment Name",
    "RSORRES": "Result or Finding in Original Units", "RSSTRESC": "Character Result/Finding in Std Format",
    "RSDTC": "Date/Time of Assessment", "RSDY": "Study Day of Assessment", "CMTRT": "Reported Name of Drug",
    "CMDECOD": "Standardized Medication Name", "CMINDC": "Indication", "CMSTDTC": "Start Date/Time of Medication",
    "CMENDTC": "End Date/Time of Medication", "TRT01P": "Planned Treatment for Period 01",
    "TRT01A": "Actual Treatment for Period 01", "TRTSDT": "Date of First Exposure to Treatment",
    "DTHDT": "Date of Death", "LSTALVDT": "Date Last Known Alive", "SAFFL": "Safety Population Flag",
    "PARAMCD": "Parameter Code", "PARAM": "Parameter", "AVAL": "Analysis Value", "AVALC": "Analysis Value (C)",
    "AVALU": "Analysis Value Unit", "ALLOQ": "Analysis Lower Limit of Quantitation", "ADT": "Analysis Date",
    "ADY": "Analysis Relative Day", "AFRLT": "Actual Relative Time from First Dose", "FRLTU": "Relative Time Unit",
    "PCSPEC": "Specimen Material Type", "LBSPEC": "Specimen Material Type", "ATOXGR": "Analysis Toxicity Grade",
    "ASTDT": "Analysis Start Date", "AENDT": "Analysis End Date", "ASTDY": "Analysis Start Relative Day",
    "AENDY": "Analysis End Relative Day", "MRDNEG": "MRD Negative (10^-5)", "CNSR": "Censor",
    "PRIORLN": "Prior Lines of Therapy", "HRCYTO": "High-Risk Cytogenetics", "EMD": "Extramedullary Disease",
    "TRTEMFL": "Treatment Emergent Analysis Flag",
}


def load_demo_study(folder: str | Path | None = None) -> Study:
    """The bundled simulated study as the CSV import reads it (raises if it does not validate)."""
    from data_access.readers import files_from_path, read_files
    from data_access.validate import validate

    study, report = validate(read_files(files_from_path(folder or settings.DEMO_DIR), settings.max_file_bytes()),
                             settings.DEMO_STUDY_NAME)
    if study is None:
        raise RuntimeError(f"the bundled demo study failed validation:\n{report.to_text()}")
    return study


def write_cdisc_demo(out: str | Path, standard: str = "sdtm", study: Study | None = None) -> list[Path]:
    """Write `study` (the bundled demo by default) as SDTM or ADaM .xpt files in `out`; returns the paths."""
    if standard not in ("sdtm", "adam"):
        raise ValueError(f"standard must be 'sdtm' or 'adam', not {standard!r}")
    study = study or load_demo_study()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    infusion = _infusion_dates(study)
    datasets = _sdtm(study, infusion) if standard == "sdtm" else _adam(study, infusion)
    paths = []
    for name, frame in datasets.items():
        paths.append(_write_xpt(frame, out / f"{name}.xpt", name.upper()))
    return paths


def _infusion_dates(study: Study) -> dict[str, pd.Timestamp]:
    subjects = sorted(study.subjects["subject_id"])
    return {sid: FIRST_INFUSION + pd.Timedelta(days=ENROLMENT_GAP * i) for i, sid in enumerate(subjects)}


def _when(subject: pd.Series, day: pd.Series, infusion: dict[str, pd.Timestamp]) -> pd.Series:
    """Timestamps of `day` since each subject's infusion (NaT where day is missing)."""
    start = subject.map(infusion)
    return start + pd.to_timedelta(day.astype(float), unit="D")


def _dtc(subject: pd.Series, day: pd.Series, infusion: dict[str, pd.Timestamp]) -> pd.Series:
    """ISO 8601 --DTC: a date for a whole day, a date-time (to the second) for a fractional one."""
    ts = _when(subject, day, infusion)
    whole = day.astype(float) % 1 == 0
    text = ts.dt.strftime("%Y-%m-%d").where(whole, ts.dt.strftime("%Y-%m-%dT%H:%M:%S"))
    return text.where(ts.notna(), "")


def _study_day(day: pd.Series) -> pd.Series:
    """Days since infusion as CDISC --DY (no day 0); whole days only, blank otherwise."""
    day = day.astype(float)
    dy = np.floor(day)
    return dy.where(dy < 0, dy + 1)


def _sas_date(subject: pd.Series, day: pd.Series, infusion: dict[str, pd.Timestamp]) -> pd.Series:
    """A SAS date (days since 1960-01-01) for ADaM *DT variables."""
    return (_when(subject, day, infusion).dt.normalize() - SAS_EPOCH) / pd.Timedelta(days=1)


def _yes_no(flags: pd.Series) -> pd.Series:
    return flags.map({True: "Y", False: "N"}).fillna("")


def _text(values: pd.Series) -> pd.Series:
    """Character variables: ASCII text (XPT v5 has no encoding), blank for missing."""
    return values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else _ascii(str(v)))


def _ascii(text: str) -> str:
    return (text.replace("µ", "u").replace("μ", "u").replace("γ", "gamma").replace("α", "alpha")
            .replace("β", "beta").replace("≥", ">=").replace("≤", "<=")).encode("ascii", "replace").decode()


def _subjects(study: Study) -> pd.DataFrame:
    """The study's subjects plus the screen failures (no dose), sorted by subject."""
    s = study.subjects.copy()
    failures = pd.DataFrame([{"subject_id": sid, "sex": sex, "age": float(age), "dose_level": None,
                              "last_contact_day": np.nan, "death_day": np.nan} for sid, sex, age in SCREEN_FAILURES])
    return pd.concat([s, failures], ignore_index=True).sort_values("subject_id", kind="stable").reset_index(drop=True)


def _domain_of(code: str, study: Study) -> str:
    if code in FLOW_ANALYTES:
        return "cp"
    if code in QPCR_ANALYTES:
        return "pc"
    return "lb"


def _test_code(code: str) -> str:
    """The analyte's CDISC test code (its first catalogue code); a declared analyte keeps its own code."""
    analyte = BUILTIN.get(code)
    return analyte.cdisc_codes[0] if analyte is not None and analyte.cdisc_codes else code


def _findings(study: Study, m: pd.DataFrame, prefix: str, infusion: dict[str, pd.Timestamp]) -> pd.DataFrame:
    catalogue = study.catalogue
    m = m.sort_values(["subject_id", "day", "analyte", "specimen"], kind="stable").reset_index(drop=True)
    value = m["value"].astype(float)
    blq = m["blq"].astype(bool)
    result = value.map(lambda v: "" if np.isnan(v) else f"{v:.15g}")
    lloq = m["lloq"].astype(float)
    below = "<" + lloq.map(lambda v: f"{v:.15g}")
    stresc = result.where(~blq, below.where(lloq.notna() & value.notna(), "BLQ"))
    unit = _text(m["analyte"].map(catalogue.unit))
    frame = pd.DataFrame({
        "STUDYID": STUDYID, "DOMAIN": prefix, "USUBJID": m["subject_id"],
        f"{prefix}SEQ": m.groupby("subject_id").cumcount().astype(float) + 1,
        f"{prefix}TESTCD": m["analyte"].map(_test_code), f"{prefix}TEST": _text(m["analyte"].map(catalogue.label)),
        f"{prefix}ORRES": stresc, f"{prefix}ORRESU": unit, f"{prefix}STRESC": stresc, f"{prefix}STRESN": value,
        f"{prefix}STRESU": unit, f"{prefix}SPEC": m["specimen"].map(SPECIMEN_TERMS).fillna(m["specimen"]),
        f"{prefix}LLOQ": m["lloq"].astype(float), f"{prefix}DTC": _dtc(m["subject_id"], m["day"], infusion),
        f"{prefix}DY": _study_day(m["day"]),
    })
    return frame


def _sdtm(study: Study, infusion: dict[str, pd.Timestamp]) -> dict[str, pd.DataFrame]:
    subjects = _subjects(study)
    sid = subjects["subject_id"]
    dosed = subjects["dose_level"].notna()
    arm = _text(subjects["dose_level"]).where(dosed, "Screen Failure")
    dm = pd.DataFrame({
        "STUDYID": STUDYID, "DOMAIN": "DM", "USUBJID": sid, "SUBJID": sid,
        "RFSTDTC": _dtc(sid, pd.Series(0.0, index=sid.index).where(dosed), infusion),
        "RFXSTDTC": _dtc(sid, pd.Series(0.0, index=sid.index).where(dosed), infusion),
        "RFPENDTC": _dtc(sid, subjects["last_contact_day"], infusion),
        "DTHDTC": _dtc(sid, subjects["death_day"], infusion),
        "DTHFL": np.where(subjects["death_day"].notna(), "Y", ""),
        "AGE": subjects["age"].astype(float), "AGEU": "YEARS", "SEX": _text(subjects["sex"]),
        "ARMCD": np.where(dosed, "DL" + arm.str.extract(r"^(\d+)", expand=False).fillna(""), "SCRNFAIL"),
        "ARM": arm, "ACTARMCD": np.where(dosed, "DL" + arm.str.extract(r"^(\d+)", expand=False).fillna(""),
                                          "SCRNFAIL"),
        "ACTARM": arm.where(dosed, "Not Treated"),
    })
    datasets = {"dm": dm}
    supp = []
    for column, qnam in COVARIATE_NAMES.items():
        if column in study.subjects:
            values = study.subjects[["subject_id", column]].dropna()
            text = values[column].map(lambda v: ("Y" if v else "N") if isinstance(v, bool | np.bool_) else
                                      f"{v:g}" if isinstance(v, float) else str(v))
            supp.append(pd.DataFrame({"STUDYID": STUDYID, "RDOMAIN": "DM", "USUBJID": values["subject_id"],
                                      "IDVAR": "", "IDVARVAL": "", "QNAM": qnam,
                                      "QLABEL": LABELS[qnam], "QVAL": text, "QORIG": "CRF"}))
    if supp:
        datasets["suppdm"] = pd.concat(supp, ignore_index=True).sort_values(["USUBJID", "QNAM"], kind="stable")
    treated = study.subjects.sort_values("subject_id")
    datasets["ex"] = pd.DataFrame({
        "STUDYID": STUDYID, "DOMAIN": "EX", "USUBJID": treated["subject_id"], "EXSEQ": 1.0,
        "EXTRT": "CARTSCOPE SIMULATED CAR-T", "EXDOSTXT": _text(treated["dose_level"]),
        "EXSTDTC": _dtc(treated["subject_id"], pd.Series(0.0, index=treated.index), infusion), "EXSTDY": 1.0})
    m = study.measurements
    domains = m["analyte"].map(lambda a: _domain_of(a, study))
    for name in ("pc", "cp", "lb"):
        if (domains == name).any():
            datasets[name] = _findings(study, m[domains == name], name.upper(), infusion)
    ae = study.adverse_events.sort_values(["subject_id", "onset_day"], kind="stable").reset_index(drop=True)
    if len(ae):
        datasets["ae"] = pd.DataFrame({
            "STUDYID": STUDYID, "DOMAIN": "AE", "USUBJID": ae["subject_id"],
            "AESEQ": ae.groupby("subject_id").cumcount().astype(float) + 1, "AETERM": _text(ae["term"]),
            "AEDECOD": _text(ae["term"]), "AETOXGR": ae["grade"].astype(int).astype(str),
            "AESER": _yes_no(ae["serious"]), "AEREL": ae["related"].map({True: "RELATED", False: "NOT RELATED"})
            .fillna(""), "AESTDTC": _dtc(ae["subject_id"], ae["onset_day"], infusion),
            "AEENDTC": _dtc(ae["subject_id"], ae["resolution_day"], infusion),
            "AESTDY": _study_day(ae["onset_day"]), "AEENDY": _study_day(ae["resolution_day"])})
    rs = study.responses.sort_values(["subject_id", "day"], kind="stable").reset_index(drop=True)
    if len(rs):
        seq = rs.groupby("subject_id").cumcount().astype(float) + 1
        datasets["rs"] = pd.DataFrame({
            "STUDYID": STUDYID, "DOMAIN": "RS", "USUBJID": rs["subject_id"], "RSSEQ": seq,
            "RSCAT": "IMWG 2016", "RSTESTCD": "OVRLRESP", "RSTEST": "Overall Response", "RSORRES": rs["response"],
            "RSSTRESC": rs["response"], "RSDTC": _dtc(rs["subject_id"], rs["day"], infusion),
            "RSDY": _study_day(rs["day"])})
        tested = rs["mrd_negative"].notna()
        if tested.any():
            datasets["supprs"] = pd.DataFrame({
                "STUDYID": STUDYID, "RDOMAIN": "RS", "USUBJID": rs.loc[tested, "subject_id"], "IDVAR": "RSSEQ",
                "IDVARVAL": seq[tested].astype(int).astype(str), "QNAM": "MRDNEG", "QLABEL": LABELS["MRDNEG"],
                "QVAL": _yes_no(rs.loc[tested, "mrd_negative"]), "QORIG": "Assigned"})
    cm = study.concomitant_medications.sort_values(["subject_id", "start_day"], kind="stable").reset_index(drop=True)
    if len(cm):
        datasets["cm"] = pd.DataFrame({
            "STUDYID": STUDYID, "DOMAIN": "CM", "USUBJID": cm["subject_id"],
            "CMSEQ": cm.groupby("subject_id").cumcount().astype(float) + 1, "CMTRT": _text(cm["drug"]),
            "CMDECOD": _text(cm["drug"]).str.upper(), "CMINDC": _text(cm["indication"]),
            "CMSTDTC": _dtc(cm["subject_id"], cm["start_day"], infusion),
            "CMENDTC": _dtc(cm["subject_id"], cm["end_day"], infusion)})
    return datasets


def _adam(study: Study, infusion: dict[str, pd.Timestamp]) -> dict[str, pd.DataFrame]:
    subjects = _subjects(study)
    sid = subjects["subject_id"]
    dosed = subjects["dose_level"].notna()
    treatment = _text(subjects["dose_level"])
    adsl = pd.DataFrame({
        "STUDYID": STUDYID, "USUBJID": sid, "SUBJID": sid, "AGE": subjects["age"].astype(float), "AGEU": "YEARS",
        "SEX": _text(subjects["sex"]), "ARM": treatment.where(dosed, "Screen Failure"),
        "ACTARM": treatment.where(dosed, "Not Treated"), "TRT01P": treatment, "TRT01A": treatment,
        "TRTSDT": _sas_date(sid, pd.Series(0.0, index=sid.index).where(dosed), infusion),
        "DTHDT": _sas_date(sid, subjects["death_day"], infusion),
        "DTHFL": np.where(subjects["death_day"].notna(), "Y", ""),
        "LSTALVDT": _sas_date(sid, subjects["last_contact_day"], infusion),
        "SAFFL": np.where(dosed, "Y", "N"),
    })
    for column, name in COVARIATE_NAMES.items():
        if column in subjects:
            values = subjects[column]
            if values.dropna().map(lambda v: isinstance(v, bool | np.bool_)).all():
                adsl[name] = _yes_no(values.astype(object))
            else:
                adsl[name] = pd.to_numeric(values, errors="coerce").astype(float)
    datasets = {"adsl": adsl}
    m = study.measurements.sort_values(["subject_id", "day", "analyte", "specimen"], kind="stable")
    kinetic = m["analyte"].map(study.catalogue.kind).eq("cell_kinetics")
    for name, rows, spec in (("adpc", m[kinetic], "PCSPEC"), ("adlb", m[~kinetic], "LBSPEC")):
        if len(rows):
            datasets[name] = _bds(study, rows.reset_index(drop=True), spec, infusion)
    ae = study.adverse_events.sort_values(["subject_id", "onset_day"], kind="stable").reset_index(drop=True)
    if len(ae):
        datasets["adae"] = pd.DataFrame({
            "STUDYID": STUDYID, "USUBJID": ae["subject_id"], "AETERM": _text(ae["term"]),
            "AEDECOD": _text(ae["term"]), "ATOXGR": ae["grade"].astype(int).astype(str),
            "AESER": _yes_no(ae["serious"]), "AEREL": ae["related"].map({True: "RELATED", False: "NOT RELATED"})
            .fillna(""), "ASTDT": _sas_date(ae["subject_id"], ae["onset_day"], infusion),
            "AENDT": _sas_date(ae["subject_id"], ae["resolution_day"], infusion),
            "ASTDY": _study_day(ae["onset_day"]), "AENDY": _study_day(ae["resolution_day"]),
            "TRTEMFL": np.where(ae["onset_day"] >= 0, "Y", "")})
    rs = study.responses.sort_values(["subject_id", "day"], kind="stable").reset_index(drop=True)
    if len(rs):
        overall = pd.DataFrame({
            "STUDYID": STUDYID, "USUBJID": rs["subject_id"], "PARAMCD": "OVR",
            "PARAM": "Overall Response by Investigator (IMWG)", "AVALC": rs["response"],
            "ADT": _sas_date(rs["subject_id"], rs["day"], infusion), "ADY": _study_day(rs["day"]),
            "MRDNEG": _yes_no(rs["mrd_negative"])})
        # best overall response: a summary record per subject, which the import must not take for an assessment
        from data_access.schema import RESPONSES

        best = rs.assign(rank=rs["response"].map(RESPONSES.index)).sort_values(["subject_id", "rank", "day"]) \
            .drop_duplicates("subject_id")
        bor = pd.DataFrame({"STUDYID": STUDYID, "USUBJID": best["subject_id"], "PARAMCD": "BOR",
                            "PARAM": "Best Overall Response (IMWG)", "AVALC": best["response"],
                            "ADT": _sas_date(best["subject_id"], best["day"], infusion),
                            "ADY": _study_day(best["day"]), "MRDNEG": ""})
        datasets["adrs"] = pd.concat([overall, bor], ignore_index=True).sort_values(["USUBJID", "PARAMCD", "ADT"],
                                                                                  kind="stable")
    cm = study.concomitant_medications.sort_values(["subject_id", "start_day"], kind="stable").reset_index(drop=True)
    if len(cm):
        datasets["adcm"] = pd.DataFrame({
            "STUDYID": STUDYID, "USUBJID": cm["subject_id"], "CMTRT": _text(cm["drug"]),
            "CMDECOD": _text(cm["drug"]).str.upper(), "CMINDC": _text(cm["indication"]),
            "ASTDT": _sas_date(cm["subject_id"], cm["start_day"], infusion),
            "AENDT": _sas_date(cm["subject_id"], cm["end_day"], infusion),
            "ASTDY": _study_day(cm["start_day"]), "AENDY": _study_day(cm["end_day"])})
    tte = study.time_to_event
    if len(tte):
        datasets["adtte"] = pd.DataFrame({
            "STUDYID": STUDYID, "USUBJID": tte["subject_id"], "PARAMCD": tte["endpoint"],
            "PARAM": tte["endpoint"].map({"PFS": "Progression-Free Survival", "OS": "Overall Survival",
                                          "DOR": "Duration of Response"}),
            "AVAL": tte["day"].astype(float), "AVALU": "DAYS",
            "CNSR": tte["event"].map({True: 0.0, False: 1.0}).astype(float)})
    return datasets


def _bds(study: Study, m: pd.DataFrame, spec: str, infusion: dict[str, pd.Timestamp]) -> pd.DataFrame:
    """ADPC/ADLB records: AVAL in the canonical unit, AVALC 'BLQ' for a BLQ sample, AFRLT in hours since dose."""
    catalogue = study.catalogue
    blq = m["blq"].astype(bool)
    return pd.DataFrame({
        "STUDYID": STUDYID, "USUBJID": m["subject_id"], "PARAMCD": m["analyte"].map(_test_code),
        "PARAM": _text(m["analyte"].map(catalogue.label)), "AVAL": m["value"].astype(float),
        "AVALC": np.where(blq, "BLQ", ""), "AVALU": _text(m["analyte"].map(catalogue.unit)),
        "ALLOQ": m["lloq"].astype(float), spec: m["specimen"].map(SPECIMEN_TERMS).fillna(m["specimen"]),
        "ADT": _sas_date(m["subject_id"], m["day"], infusion), "ADY": _study_day(m["day"]),
        "AFRLT": m["day"].astype(float) * 24, "FRLTU": "HOURS"})


def _write_xpt(frame: pd.DataFrame, path: Path, name: str) -> Path:
    """SAS transport v5: 8-character names, a label on every variable, character variables as text."""
    import pyreadstat

    frame = frame.reset_index(drop=True).copy()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = _text(frame[column].astype(object))
    labels = [LABELS.get(c, LABELS.get(c[2:], c)) for c in frame.columns]
    date_formats = {c: "DATE9" for c in frame.columns if c.endswith("DT")}
    pyreadstat.write_xport(frame, str(path), file_label=f"{name} (simulated, {STUDYID})", column_labels=labels,
                           table_name=name, file_format_version=5, variable_format=date_formats)
    return path
