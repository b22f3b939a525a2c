"""Every validation rule, with the exact message a user sees."""
import pandas as pd
import pytest

from data_access.readers import read_files
from data_access.validate import validate
from tests.conftest import VALID_TABLES, make_files


def run(overrides=None):
    return validate(read_files(make_files(overrides), max_bytes=10_000_000), "t")


def replace_line(table: str, old: str, new: str) -> dict:
    text = VALID_TABLES[table]
    assert old in text
    return {table: text.replace(old, new)}


def messages(report, severity="error"):
    return {(i.file, i.row, i.column, i.message) for i in report.issues if i.severity == severity}


def test_valid_study_passes_and_is_typed():
    study, report = run()
    assert report.ok and not report.warnings, report.to_text()
    assert list(study.subjects["subject_id"]) == ["S1", "S2"]
    assert study.subjects["prior_lines"].tolist() == [4.0, 6.0]
    assert study.subjects["high_risk_cytogenetics"].tolist() == [True, False]
    assert study.adverse_events["term"].tolist() == ["Cytokine release syndrome",
                                                     "Immune effector cell-associated neurotoxicity syndrome"]
    assert study.responses["response"].tolist() == ["PR", "CR", "SD"]
    assert study.responses["mrd_negative"].tolist() == [None, True, None]


def test_blq_from_flag_and_from_lloq_is_kept_not_dropped():
    study, _ = run()
    m = study.measurements.set_index(["subject_id", "analyte", "day"])
    assert m.loc[("S1", "car_copies", -5.0), "blq"]  # flagged, value blank
    assert pd.isna(m.loc[("S1", "car_copies", -5.0), "value"])
    assert m.loc[("S1", "car_copies", 28.0), "blq"]  # 12 < LLOQ 20
    assert m.loc[("S1", "car_copies", 28.0), "value"] == 12
    assert not m.loc[("S1", "car_copies", 7.0), "blq"]
    assert len(study.measurements) == 7


def test_units_are_converted_to_canonical():
    study, _ = run()
    s2 = study.measurements[study.measurements["subject_id"] == "S2"].iloc[0]
    assert s2["value"] == 8000.0 and s2["unit"] == "copies/µg gDNA"


def test_column_names_are_case_insensitive():
    text = VALID_TABLES["subjects.csv"].replace("subject_id,dose_level", "Subject_ID,DOSE_LEVEL")
    study, report = run({"subjects.csv": text})
    assert report.ok and study.subjects["dose_level"].iloc[0] == "150e6 CAR+ T cells"


def test_missing_required_column():
    text = VALID_TABLES["measurements.csv"].replace(",unit,", ",units,")
    _, report = run({"measurements.csv": text})
    assert ("measurements.csv", 1, "unit", "missing required column 'unit'") in messages(report)


@pytest.mark.parametrize("old,new,column,message", [
    ("S1,il6,serum,1,250", "S1,il7,serum,1,250", "analyte",
     "unknown analyte 'il7': declare it in the analytes table (code, label, unit, kind) or use one of car_copies, "
     "car_t_pct, car_t_abs, cd4_car_pct, cd8_car_pct, plasma_cells_pct, m_protein, iflc, il6, ifng, il10, crp, "
     "ferritin, sbcma"),
    ("S1,il6,serum,1,250", "S1,il6,CSF,1,250", "specimen", "specimen 'CSF' is not measured for il6; expected serum"),
    ("S1,plasma_cells_pct,BM", "S1,plasma_cells_pct,PB", "specimen",
     "specimen 'PB' is not measured for plasma_cells_pct; expected BM"),
    ("250,pg/mL", "250,mg/dL", "unit", "unit 'mg/dL' is not a unit of il6; accepted: pg/mL, ng/L, ng/mL"),
    ("S1,il6,serum,1,250", "S1,il6,serum,1,abc", "value", "'abc' is not a number"),
    ("S1,il6,serum,1,250", "S1,il6,serum,1,-250", "value", "negative value -250 is not allowed"),
    ("S1,il6,serum,1,250", "S1,il6,serum,D1,250", "day", "'D1' is not a number of days since infusion"),
    ("S1,il6,serum,1,250", "S1,il6,serum,,250", "day", "required value is blank"),
    ("S1,car_t_pct,PB,7,12.5", "S1,car_t_pct,PB,7,120", "value", "value 120 is over 100 %"),
    ("S1,car_t_pct,PB,7,12.5,%,0.1,", "S1,car_t_pct,PB,7,12.5,%,0.1,maybe", "blq", "'maybe' is not true or false"),
    ("S1,car_t_pct,PB,7,12.5,%,0.1,", "S1,car_t_pct,PB,7,,%,0.1,", "value",
     "value is blank and the sample is not flagged blq"),
    ("S1,il6,serum,1,250", "S9,il6,serum,1,250", "subject_id", "subject 'S9' is not in the subjects table"),
])
def test_measurement_rules(old, new, column, message):
    text = VALID_TABLES["measurements.csv"]
    row = 1 + text.splitlines().index(next(line for line in text.splitlines() if old in line))
    _, report = run(replace_line("measurements.csv", old, new))
    assert ("measurements.csv", row, column, message) in messages(report)
    assert not report.ok


@pytest.mark.parametrize("old,new,column,message", [
    ("S1,CRS,2,", "S1,CRS,6,", "grade", "grade '6' is not a CTCAE grade 1-5"),
    ("S1,CRS,2,", "S1,CRS,severe,", "grade", "grade 'severe' is not a CTCAE grade 1-5"),
    ("S1,CRS,2,2,6,", "S1,CRS,2,6,2,", "resolution_day", "resolution day 2 is before onset day 6"),
    ("S1,CRS,2,2,6,", "S1,,2,2,6,", "term", "required value is blank"),
    ("S1,CRS,2,2,6,FALSE", "S1,CRS,2,2,6,sometimes", "serious", "'sometimes' is not true or false"),
])
def test_adverse_event_rules(old, new, column, message):
    _, report = run(replace_line("adverse_events.csv", old, new))
    assert ("adverse_events.csv", 2, column, message) in messages(report)


def test_event_after_death_is_an_error_sample_after_death_a_warning():
    overrides = {
        **replace_line("adverse_events.csv", "S2,ICANS,1,4,,", "S2,ICANS,1,60,,"),
        **replace_line("responses.csv", "S2,28,SD,", "S2,70,SD,"),
        "measurements.csv": VALID_TABLES["measurements.csv"] + "S2,car_copies,PB,55,30,copies/µg gDNA,20,\n",
    }
    _, report = run(overrides)
    assert ("adverse_events.csv", 3, "onset_day", "onset day 60 is after the subject's death on day 50") \
        in messages(report)
    assert ("responses.csv", 4, "day", "day 70 is after the subject's death on day 50") in messages(report)
    assert ("measurements.csv", 9, "day", "sample on day 55 is after the subject's death on day 50") \
        in messages(report, "warning")


@pytest.mark.parametrize("old,new,column,message", [
    ("S2,450e6", "S1,450e6", "subject_id", "subject_id 'S1' appears again (first at row 2)"),
    ("S2,450e6 CAR+ T cells,55,F,50,50", "S2,450e6 CAR+ T cells,55,X,50,50", "sex",
     "unknown sex 'X'; expected M, F or U"),
    ("S2,450e6 CAR+ T cells,55,F,50,50", "S2,450e6 CAR+ T cells,55,F,60,50", "last_contact_day",
     "last contact on day 60 is after death on day 50"),
    ("S2,450e6 CAR+ T cells,55,F,50,50", "S2,450e6 CAR+ T cells,55,F,-3,", "last_contact_day",
     "last_contact_day -3 is before infusion (day 0); only infused subjects belong in the study"),
    ("S2,450e6 CAR+ T cells,55", "S2,450e6 CAR+ T cells,old", "age", "'old' is not a number"),
])
def test_subject_rules(old, new, column, message):
    _, report = run(replace_line("subjects.csv", old, new))
    assert ("subjects.csv", 3, column, message) in messages(report)


def test_unknown_response():
    _, report = run(replace_line("responses.csv", "S1,28,PR,", "S1,28,nCR,"))
    assert ("responses.csv", 2, "response",
            "unknown response 'nCR'; expected one of sCR, CR, VGPR, PR, MR, SD, PD, NE") in messages(report)


def test_duplicate_measurements_conflicting_is_error_exact_is_collapsed_with_warning():
    conflicting = VALID_TABLES["measurements.csv"] + "S1,il6,serum,1,300,pg/mL,1.5,\n"
    _, report = run({"measurements.csv": conflicting})
    assert ("measurements.csv", 9, "value",
            "S1 il6 serum day 1 is given twice with different values (also row 6)") in messages(report)
    exact = VALID_TABLES["measurements.csv"] + "S1,il6,serum,1,250,pg/mL,1.5,\n"
    study, report = run({"measurements.csv": exact})
    assert report.ok
    assert ("measurements.csv", 9, None, "exact duplicate of row 6; kept once") in messages(report, "warning")
    assert len(study.measurements) == 7


def test_subject_without_post_infusion_samples_is_a_warning():
    text = VALID_TABLES["measurements.csv"].replace("S2,car_copies,PB,7,", "S2,car_copies,PB,-2,")
    study, report = run({"measurements.csv": text})
    assert report.ok
    assert ("subjects.csv", 3, "subject_id", "subject 'S2' has no samples after infusion") \
        in messages(report, "warning")


def test_every_problem_is_reported_at_once():
    overrides = {**replace_line("measurements.csv", "250,pg/mL", "250,mg/dL"),
                 **replace_line("adverse_events.csv", "S1,CRS,2,", "S1,CRS,9,"),
                 **replace_line("responses.csv", "S1,28,PR,", "S1,28,XX,")}
    study, report = run(overrides)
    assert study is None
    assert {i.table for i in report.errors} == {"measurements", "adverse_events", "responses"}


def test_optional_tables_may_be_absent_with_a_warning():
    study, report = run({"adverse_events.csv": None, "responses.csv": None})
    assert report.ok and study.adverse_events.empty and study.responses.empty
    assert ("(study)", None, None, "no 'responses' table: the study is stored without it") \
        in messages(report, "warning")


def test_required_table_missing():
    _, report = run({"measurements.csv": None})
    assert ("(study)", None, None, "required table 'measurements' is missing: give measurements.csv or a sheet "
            "named 'measurements'") in messages(report)


def test_header_only_subjects_table_is_an_error():
    _, report = run({"subjects.csv": "subject_id,dose_level,age,sex,last_contact_day,death_day\n"})
    assert ("subjects.csv", None, None, "the table has a header but no rows") in messages(report)


ANALYTES_CSV = ("code,label,unit,kind,specimens,method\n"
                "XYZ,Something new,U/mL,biomarker,plasma serum,ELISA\n")


def test_declared_analytes_are_stored_with_their_kind_and_measured():
    measurements = VALID_TABLES["measurements.csv"] + "S1,XYZ,PLASMA,3,12.5,u/ml,,\nS1,crp,serum,3,2.1,mg/dL,,\n"
    study, report = run({"analytes.csv": ANALYTES_CSV, "measurements.csv": measurements})
    assert report.ok, report.to_text()
    assert study.catalogue["XYZ"].kind == "biomarker" and study.catalogue["XYZ"].specimens == ("plasma", "serum")
    rows = study.measurements.set_index("analyte")
    assert rows.loc["XYZ", "specimen"] == "plasma" and rows.loc["XYZ", "unit"] == "U/mL"
    assert rows.loc["crp", "value"] == pytest.approx(21.0) and rows.loc["crp", "unit"] == "mg/L"  # built-in companion
    assert "XYZ" in study.analytes_measured and study.analytes_measured[0] == "car_copies"


@pytest.mark.parametrize("line,column,message", [
    ("XYZ,Something new,U/mL,hormone,,", "kind",
     "kind 'hormone' is not one of cell_kinetics, biomarker, tumour_burden"),
    ("9XY,Something new,U/mL,biomarker,,", "code", "analyte code '9XY' must start with a letter and use only "
     "letters, digits, '_', '.' or '-' (at most 40 characters)"),
    ("XYZ,,U/mL,biomarker,,", "label", "required value is blank"),
])
def test_analyte_declaration_rules(line, column, message):
    _, report = run({"analytes.csv": "code,label,unit,kind,specimens,method\n" + line + "\n"})
    assert ("analytes.csv", 2, column, message) in messages(report)


def test_declared_specimens_and_units_are_enforced():
    measurements = VALID_TABLES["measurements.csv"] + "S1,XYZ,BM,3,12.5,U/mL,,\nS1,XYZ,serum,4,1,mg/L,,\n"
    _, report = run({"analytes.csv": ANALYTES_CSV, "measurements.csv": measurements})
    found = messages(report)
    n = len(measurements.strip().splitlines())
    assert ("measurements.csv", n - 1, "specimen", "specimen 'BM' is not measured for XYZ; expected plasma or serum") \
        in found
    assert ("measurements.csv", n, "unit", "unit 'mg/L' is not a unit of XYZ; accepted: U/mL") in found


CONMEDS_CSV = ("subject_id,drug,start_day,end_day,indication\n"
               "S1,Tocilizumab,3,3,CRS\nS1,dexamethasone,4,6,ICANS\nS2,anakinra,5,,CRS\n")


def test_concomitant_medications_and_time_to_event():
    tte = "subject_id,endpoint,day,event\nS1,pfs,90,1\nS1,OS,100,0\nS2,PFS,50,1\nS2,OS,50,1\n"
    study, report = run({"concomitant_medications.csv": CONMEDS_CSV, "time_to_event.csv": tte})
    assert report.ok and not report.warnings, report.to_text()
    assert study.concomitant_medications["drug"].tolist() == ["tocilizumab", "dexamethasone", "anakinra"]
    assert pd.isna(study.concomitant_medications["end_day"].iloc[2])
    assert study.time_to_event[["endpoint", "day", "event"]].values.tolist() == [
        ["OS", 100.0, False], ["PFS", 90.0, True], ["OS", 50.0, True], ["PFS", 50.0, True]]


@pytest.mark.parametrize("table,text,row,column,message", [
    ("concomitant_medications.csv", CONMEDS_CSV.replace("S1,Tocilizumab,3,3", "S1,Tocilizumab,3,1"), 2, "end_day",
     "end day 1 is before start day 3"),
    ("concomitant_medications.csv", CONMEDS_CSV.replace("S2,anakinra", "S7,anakinra"), 4, "subject_id",
     "subject 'S7' is not in the subjects table"),
    ("time_to_event.csv", "subject_id,endpoint,day,event\nS1,EFS,200,1\n", 2, "endpoint",
     "endpoint 'EFS' is not one of PFS, OS, DOR"),
    ("time_to_event.csv", "subject_id,endpoint,day,event\nS1,PFS,200,1\nS1,PFS,300,0\n", 3, "endpoint",
     "S1 has PFS twice"),
    ("measurements.csv", VALID_TABLES["measurements.csv"] + "S1,il6,serum,1e308,2,pg/mL,,\n", None, "day",
     "day 1e308 is outside ±36,525 days (100 years)"),
])
def test_new_table_rules(table, text, row, column, message):
    _, report = run({table: text})
    row = row or len(text.strip().splitlines())
    assert (table, row, column, message) in messages(report)


def test_errors_name_the_source_variable():
    raw = read_files(make_files(), max_bytes=10_000_000)
    frame = raw.tables["measurements"]
    frame.attrs["source_columns"] = {"unit": "PCSTRESU"}
    frame.loc[frame.index[0], "unit"] = "furlongs"
    _, report = validate(raw, "t")
    assert any(i.column == "PCSTRESU" and "furlongs" in i.message for i in report.errors)


def test_given_time_to_event_that_disagrees_with_the_study_is_flagged():
    tte = "subject_id,endpoint,day,event\nS1,OS,5000,0\nS2,DOR,50,1\n"
    study, report = run({"time_to_event.csv": tte})
    assert study is not None  # warnings: the study is stored, and the user told what to check
    found = messages(report, "warning")
    assert ("time_to_event.csv", None, "endpoint", "OS is given for 1 of 2 subjects: the others (S2) are not in its "
            "Kaplan-Meier, and it is not derived for them") in found
    last = study.subjects.set_index("subject_id").at["S1", "last_contact_day"]
    assert ("time_to_event.csv", 2, "day", f"OS day 5000 is after the subject's last contact on day {last:g}") in found
    responded = set(study.responses.loc[study.responses["response"].isin(["sCR", "CR", "VGPR", "PR"]), "subject_id"])
    assert "S2" not in responded
    assert ("time_to_event.csv", 3, "endpoint", "DOR is given for 'S2', who has no response of PR or better") in found
