"""Mappings (data_access/mapping.py): lab exports in their own shape and CDISC deliveries with codes the reader does
not know, proposed, applied, stored, saved and reused; bad mappings refused with nothing stored."""
from __future__ import annotations

import datetime
import io
import json
import os
import re
import subprocess
import sys

import openpyxl
import pandas as pd
import pyreadstat
import pytest
from sqlalchemy import func, select

from data_access import store
from data_access.importer import import_files
from data_access.mapping import (
    apply_mapping,
    check_mapping,
    code_rows,
    column_rows,
    dump_mapping,
    from_rows,
    load_mapping,
    needs_mapping,
    preview,
    propose_mapping,
    read_sources,
)
from data_access.readers import SourceFile, files_from_path, read_files
from data_access.validate import validate
from tests.conftest import DEMO_DIR, REPO, make_files
from tests.data_access.test_cdisc import sdtm_delivery, write

PATIENTS = ("PatientID,Cohort,Age,Gender,InfusionDate,LastVisit\n"
            "P-01,150e6 CAR+ T cells,61,Male,2025-03-01,2025-09-01\n"
            "P-02,450e6 CAR+ T cells,57,Female,2025-03-10T08:00,2025-06-10\n")
LONG_LABS = ("Patient,Test,Result,Units,Matrix,CollectionDate,Comment\n"
             "P-01,IL6,250,ng/L,Serum,2025-03-02,\n"
             "P-01,CARTGENE,15,copies/ng gDNA,Blood,2025-03-08,fresh\n"
             "P-01,CD19B,12,cells/uL,Blood,2025-03-08,\n"
             "P-02,IL6,<2,ng/L,Serum,2025-03-11T20:00,\n"
             "P-02,CARTGENE,8,copies/ng gDNA,Blood,2025-03-17,\n")
ASSESSMENTS = ("Patient,AssessmentDate,Overall Response\n"
               "P-01,2025-03-29,NON-CR/NON-PD\n"
               "P-01,2025-05-29,Complete Response\n"
               "P-02,2025-04-07,Progressive Disease\n")
WIDE_SUBJECTS = ("Subject,Dose,Age,Sex,Last contact day\nW-1,300e6,64,F,180\nW-2,300e6,49,M,90\n")
WIDE_LABS = [["Subject", "Study Day", "IL-6 (ng/mL)", "CRP (mg/dL)", "CAR copies (copies/ng gDNA)"],
             ["W-1", 1, 0.25, 3.2, 5], ["W-1", 7, None, 1.1, 20], ["W-2", 1, 0.04, "<0.5", 2]]


def csv(name: str, text: str) -> SourceFile:
    return SourceFile(name, text.encode("utf-8"))


def workbook(sheets: dict[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def long_export() -> list[SourceFile]:
    return [csv("patients.csv", PATIENTS), csv("labs.csv", LONG_LABS), csv("assessments.csv", ASSESSMENTS)]


def wide_export() -> list[SourceFile]:
    return [SourceFile("wide_export.xlsx", workbook({"Patients": [r.split(",") for r in WIDE_SUBJECTS.split("\n")
                                                                  if r], "Labs": WIDE_LABS}))]


def decided_long_mapping() -> dict:
    """The proposal with what it could not decide filled in as a user would."""
    mapping = propose_mapping(long_export())
    mapping["tests"]["CD19B"].update(analyte="cd19_b", label="CD19+ B cells", kind="biomarker")
    mapping["values"]["response"]["NON-CR/NON-PD"] = "SD"
    return mapping


def stored_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(store.studies_table)).scalar()


def test_the_proposal_guesses_names_dates_tests_and_values_and_lists_what_it_cannot_decide():
    mapping = propose_mapping(long_export())
    assert (mapping["format"], mapping["version"]) == ("cartscope-mapping", 1)
    assert mapping["files"]["patients.csv"]["table"] == "subjects"
    assert mapping["files"]["patients.csv"]["columns"] == {
        "PatientID": "subject_id", "Cohort": "dose_level", "Age": "age", "Gender": "sex",
        "InfusionDate": "day_zero_date", "LastVisit": "last_contact_date"}
    assert mapping["day_zero"] == {"file": "patients.csv", "column": "InfusionDate"}
    assert mapping["files"]["labs.csv"]["columns"] == {
        "Patient": "subject_id", "Test": "analyte", "Result": "value", "Units": "unit", "Matrix": "specimen",
        "CollectionDate": "date", "Comment": None}
    assert mapping["files"]["assessments.csv"]["table"] == "responses"
    assert mapping["tests"]["IL6"]["analyte"] == "il6" and mapping["tests"]["CARTGENE"]["analyte"] == "car_copies"
    assert mapping["tests"]["CD19B"]["kind"] is None
    assert mapping["values"]["response"] == {"NON-CR/NON-PD": None, "Complete Response": "CR",
                                             "Progressive Disease": "PD"}
    undecided = "\n".join(mapping["undecided"])
    assert "test code 'CD19B' is not in the analyte catalogue" in undecided
    assert "response value 'NON-CR/NON-PD'" in undecided and "column 'Comment' is not used" in undecided
    assert load_mapping(dump_mapping(mapping)) == mapping
    assert needs_mapping(long_export()) and needs_mapping(wide_export()) and not needs_mapping(make_files())
    assert needs_mapping(make_files({"responses.csv": "subject_id,day,outcome\nS1,28,PR\n"}))


def long_workbook() -> list[SourceFile]:
    """The long export as one workbook, dates as real date cells (a time only where the CSV has one)."""
    def cells(text: str) -> list[list]:
        rows = [line.split(",") for line in text.strip().split("\n")]
        return [rows[0]] + [[datetime.datetime.fromisoformat(v) if re.fullmatch(r"\d{4}-\d\d-\d\d(T.*)?", v) else v
                             for v in row] for row in rows[1:]]
    return [SourceFile("export.xlsx", workbook({"Patients": cells(PATIENTS), "Labs": cells(LONG_LABS),
                                                 "Assessments": cells(ASSESSMENTS)}))]


@pytest.mark.parametrize("export", [long_export, long_workbook])
def test_a_long_export_with_dates_units_and_a_declared_analyte_is_stored(engine, export):
    mapping = propose_mapping(export())
    assert mapping["day_zero"]["column"] == "InfusionDate"
    mapping["tests"]["CD19B"].update(analyte="cd19_b", label="CD19+ B cells", kind="biomarker")
    mapping["values"]["response"]["NON-CR/NON-PD"] = "SD"
    result = import_files(export(), "long-export", source="test", mapping=mapping, mapping_name="lab-x",
                          engine=engine)
    assert result.stored, result.report.to_text()
    study = store.load_study("long-export", engine=engine)
    m = study.measurements.set_index(["subject_id", "analyte", "day"])
    assert m.loc[("P-01", "il6", 1.0), "value"] == 250.0 and m.loc[("P-01", "il6", 1.0), "unit"] == "pg/mL"
    assert m.loc[("P-01", "car_copies", 7.0), "value"] == 15000.0  # copies/ng -> copies/µg
    assert m.loc[("P-01", "car_copies", 7.0), "specimen"] == "PB"
    # P-02 was infused at 08:00 on 10 March; the 20:00 sample on the 11th is day 1.5; '<2' is BLQ with LLOQ 2
    assert m.loc[("P-02", "il6", 1.5), "blq"] and m.loc[("P-02", "il6", 1.5), "lloq"] == 2.0
    assert m.loc[("P-01", "cd19_b", 7.0), "value"] == 12.0
    declared = study.analytes.set_index("code")
    assert declared.loc["cd19_b", ["label", "unit", "kind", "specimens"]].tolist() == [
        "CD19+ B cells", "cells/uL", "biomarker", "PB"]
    assert study.responses["response"].tolist() == ["SD", "CR", "PD"]
    assert study.responses["day"].tolist() == [28.0, 89.0, 28.0]
    assert study.subjects.set_index("subject_id")["last_contact_day"].to_dict() == {"P-01": 184.0, "P-02": 92.0}
    assert study.subjects["sex"].tolist() == ["M", "F"]
    log = store.import_log(engine=engine).iloc[0]
    assert json.loads(log["mapping"])["name"] == "lab-x"
    assert json.loads(log["mapping"])["mapping"]["tests"]["CD19B"]["analyte"] == "cd19_b"
    assert any(f["name"] == "(mapping) lab-x" for f in json.loads(log["files"]))


def test_the_same_files_with_another_mapping_are_a_new_version(engine):
    mapping = decided_long_mapping()
    assert import_files(long_export(), "again", source="test", mapping=mapping, engine=engine).stored
    assert import_files(long_export(), "again", source="test", mapping=mapping, engine=engine).identical_to
    mapping["values"]["response"]["NON-CR/NON-PD"] = "PR"
    assert import_files(long_export(), "again", source="test", mapping=mapping, engine=engine).record.version == 2


def test_a_wide_workbook_is_proposed_and_stored_with_units_converted(engine):
    files = wide_export()
    mapping = propose_mapping(files)
    labs = mapping["files"]["wide_export.xlsx [Labs]"]
    assert labs["layout"] == "wide" and labs["columns"] == {"Subject": "subject_id", "Study Day": "day"}
    assert labs["analyte_columns"]["IL-6 (ng/mL)"] == {"analyte": "il6", "unit": "ng/mL", "specimen": "serum"}
    assert labs["analyte_columns"]["CAR copies (copies/ng gDNA)"]["analyte"] == "car_copies"
    assert any("which specimen (PB or BM)" in u for u in mapping["undecided"])
    labs["analyte_columns"]["CAR copies (copies/ng gDNA)"]["specimen"] = "PB"
    assert mapping["files"]["wide_export.xlsx [Patients]"]["columns"]["Last contact day"] == "last_contact_day"
    result = import_files(files, "wide-export", source="test", mapping=mapping, engine=engine)
    assert result.stored, result.report.to_text()
    m = store.load_study("wide-export", engine=engine).measurements.set_index(["subject_id", "analyte", "day"])
    assert m.loc[("W-1", "il6", 1.0), "value"] == 250.0  # ng/mL -> pg/mL
    assert m.loc[("W-1", "crp", 7.0), "value"] == 11.0  # mg/dL -> mg/L
    assert m.loc[("W-1", "car_copies", 7.0), "value"] == 20_000.0
    assert ("W-1", "il6", 7.0) not in m.index  # a blank cell is no measurement
    assert m.loc[("W-2", "crp", 1.0), "blq"] and m.loc[("W-2", "crp", 1.0), "lloq"] == 5.0
    assert len(m) == 8


def test_messages_name_the_users_file_row_and_original_column():
    wide = [row[:] for row in WIDE_LABS]
    wide[2][3] = "high"  # CRP on row 3
    files = [SourceFile("wide_export.xlsx", workbook({"Patients": [r.split(",") for r in WIDE_SUBJECTS.split("\n")
                                                                   if r], "Labs": wide})),
             csv("more_labs.csv", "Patient,Day,Test,Result,Units\nW-1,3,IL6,abc,pg/mL\nW-2,3,IL6,4,furlongs\n")]
    mapping = propose_mapping(files)
    mapping["files"]["wide_export.xlsx [Labs]"]["analyte_columns"]["CAR copies (copies/ng gDNA)"]["specimen"] = "PB"
    mapping["tests"]["IL6"]["specimen"] = "serum"
    study, report = validate(apply_mapping(files, mapping, 10**8), "x")
    assert study is None
    issues = {(i.file, i.row, i.column) for i in report.errors}
    assert ("wide_export.xlsx [Labs]", 3, "CRP (mg/dL)") in issues
    assert ("more_labs.csv", 2, "Result") in issues
    assert ("more_labs.csv", 3, "Units") in issues
    assert "unit 'furlongs' is not a unit of il6" in report.to_text()


def test_a_bad_date_is_reported_at_its_cell_and_nothing_is_stored(engine):
    files = [csv("patients.csv", PATIENTS), csv("labs.csv", LONG_LABS.replace("2025-03-17", "17th of March"))]
    mapping = propose_mapping(files)
    mapping["tests"]["CD19B"].update(analyte="cd19_b", label="CD19+ B cells", kind="biomarker")
    result = import_files(files, "bad-date", source="test", mapping=mapping, engine=engine)
    assert not result.stored and stored_rows(engine) == 0
    assert [str(i) for i in result.report.errors] == [
        "ERROR: labs.csv, row 6, column 'CollectionDate': '17th of March' is not a date"]


def test_cdisc_test_code_and_response_value_translated_by_the_mapping(tmp_path, engine):
    delivery = sdtm_delivery()
    delivery["lb"][0].update(LBTESTCD="IL6SER", LBSTRESN=0.25, LBSTRESC="0.25", LBSTRESU="ng/mL", LBSPEC="SERUM")
    delivery["dm"][1]["SEX"] = "WOMAN"
    delivery["ae"][0]["AETOXGR"] = "Grade 2"
    delivery["rs"].append({"USUBJID": "S-002", "RSSEQ": 2, "RSCAT": "IMWG 2016", "RSTESTCD": "OVRLRESP",
                           "RSSTRESC": "NON-CR/NON-PD", "RSDTC": "2024-03-17"})
    write(tmp_path / "plain", sdtm_delivery())
    assert not needs_mapping(files_from_path(tmp_path / "plain"))  # VCN and TNFA are declared from the data
    write(tmp_path / "sdtm", delivery)
    lb = pyreadstat.read_xport(str(tmp_path / "sdtm" / "lb.xpt"))[0]
    pyreadstat.write_xport(lb, str(tmp_path / "sdtm" / "lb.xpt"), table_name="LB", file_format_version=5,
                           file_label="Laboratory Test Results")
    files = files_from_path(tmp_path / "sdtm")
    without = import_files(files, "cdisc", source="test", engine=engine)
    assert not without.stored and "unknown response 'NON-CR/NON-PD'" in without.report.to_text()
    mapping = propose_mapping(files)
    assert mapping["kind"] == "sdtm" and mapping["files"]["lb.xpt"] == {
        "dataset": "LB", "label": "Laboratory Test Results", "records": 3}
    assert mapping["tests"]["IL6SER"]["analyte"] == "IL6SER"
    assert {c: w for c, w in mapping["values"].items() if w} == {
        "response": {"NON-CR/NON-PD": None}, "sex": {"WOMAN": None}, "grade": {"Grade 2": "2"}}
    assert needs_mapping(files)
    mapping["tests"]["IL6SER"] = {"analyte": "il6", "unit": None, "specimen": None}
    mapping["tests"]["VCN"].update(analyte="vcn", label="Vector copies per cell", kind="cell_kinetics")
    mapping["values"]["response"]["NON-CR/NON-PD"] = "SD"
    mapping["values"]["sex"]["WOMAN"] = "F"
    result = import_files(files, "cdisc", source="test", mapping=mapping, engine=engine)
    assert result.stored, result.report.to_text()
    study = store.load_study("cdisc", engine=engine)
    il6 = study.measurements[study.measurements["analyte"] == "il6"]
    assert il6["value"].tolist() == [250.0]  # IL6SER in ng/mL is il6 in pg/mL
    assert set(study.analytes["code"]) == {"TNFA", "vcn"}
    assert study.analytes.set_index("code").loc["vcn", "label"] == "Vector copies per cell"
    assert study.responses.set_index("subject_id").loc["S-002", "response"].tolist() == ["SD", "SD"]
    assert study.subjects.set_index("subject_id")["sex"].to_dict() == {"S-001": "M", "S-002": "F"}
    assert study.adverse_events.set_index("subject_id").loc["S-001", "grade"] == 2


@pytest.mark.parametrize("change, message", [
    (lambda m: m["files"]["labs.csv"]["columns"].update({"Visit": "day"}),
     "labs.csv: the mapping names column 'Visit', which the file does not have"),
    (lambda m: m["tests"]["CD19B"].update(kind="cytokine"),
     "analyte 'cd19_b' is not in the catalogue, so it needs a kind: 'cytokine' is not one of cell_kinetics"),
    (lambda m: m["tests"]["IL6"].update(unit="mmol/L"),
     "test code 'IL6': unit 'mmol/L' is not a unit of il6; accepted: pg/mL, ng/L, ng/mL"),
    (lambda m: m["files"].update({"missing.csv": {"table": "responses", "columns": {}}}),
     "the mapping names file 'missing.csv', which was not given"),
    (lambda m: m["values"]["response"].update({"NON-CR/NON-PD": "GOOD"}),
     "response value 'NON-CR/NON-PD' -> 'GOOD' is not one of sCR, CR"),
    (lambda m: m.update(day_zero=None), "column 'CollectionDate' holds dates (date) but the mapping has no day_zero"),
    (lambda m: m["files"]["labs.csv"].update(layout="wide"), "labs.csv: a wide layout needs analyte columns"),
])
def test_bad_mappings_are_refused_by_name_and_nothing_is_stored(engine, change, message):
    mapping = decided_long_mapping()
    change(mapping)
    result = import_files(long_export(), "refused", source="test", mapping=mapping, engine=engine)
    assert not result.stored and stored_rows(engine) == 0
    assert message in result.report.to_text()
    assert all(i.file == "(mapping)" for i in result.report.errors)


def test_the_grids_round_trip_and_an_edit_changes_the_mapping():
    mapping = propose_mapping(wide_export())
    frames, _ = read_sources(wide_export(), 10**8)
    columns = column_rows(mapping, frames)
    assert from_rows(mapping, columns, code_rows(mapping)) == mapping
    row = next(r for r in columns if r["column"] == "IL-6 (ng/mL)")
    assert row["field"] == "analyte value" and row["examples"] == "0.25, 0.04"
    row["unit"] = "pg/mL"
    assert from_rows(mapping, columns)["files"]["wide_export.xlsx [Labs]"]["analyte_columns"]["IL-6 (ng/mL)"][
        "unit"] == "pg/mL"
    assert check_mapping(from_rows(mapping, columns), frames) == []


def test_preview_gives_the_first_rows_as_stored():
    mapping = propose_mapping(wide_export())
    mapping["files"]["wide_export.xlsx [Labs]"]["analyte_columns"]["CAR copies (copies/ng gDNA)"]["specimen"] = "BM"
    tables, report = preview(wide_export(), mapping, 10**8, rows=3)
    assert report.ok and len(tables["measurements"]) == 3 and set(tables) == {"subjects", "measurements"}
    assert "BM" in set(preview(wide_export(), mapping, 10**8)[0]["measurements"]["specimen"])


def cli(*args, db):
    env = {**os.environ, "CARTSCOPE_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run([sys.executable, "-m", "data_access", *args], cwd=REPO, env=env, capture_output=True,
                          text=True)


def test_cli_proposes_imports_saves_and_reuses_a_mapping_for_the_next_delivery(tmp_path):
    db = tmp_path / "cli.db"
    first = tmp_path / "delivery-1"
    first.mkdir()
    for f in long_export():
        (first / f.name).write_bytes(f.data)
    proposed = cli("mapping", str(first), "--out", str(tmp_path / "mapping.json"), db=db)
    assert proposed.returncode == 0, proposed.stderr
    assert "labs.csv: measurements" in proposed.stdout and "Undecided (3)" in proposed.stdout
    assert "test code 'CD19B' is not in the analyte catalogue" in proposed.stdout
    refused = cli("import", str(first), "--name", "LAB-1", "--mapping", str(tmp_path / "mapping.json"), db=db)
    assert refused.returncode == 1 and "response value 'NON-CR/NON-PD' has no category" in refused.stderr
    decided = decided_long_mapping()
    decided["files"]["labs*.csv"] = decided["files"].pop("labs.csv")  # monthly lab files: labs_2025-07.csv, ...
    (tmp_path / "mapping.json").write_text(dump_mapping(decided))
    for bad_name, message in (("x" * 101, "101 characters long"), ("lab\x01x", "must start with a letter")):
        refused = cli("import", str(first), "--name", "LAB-1", "--mapping", str(tmp_path / "mapping.json"),
                      "--save-mapping", bad_name, db=db)
        assert refused.returncode == 2 and "--save-mapping: mapping name" in refused.stderr \
            and message in refused.stderr, refused.stderr
    done = cli("import", str(first), "--name", "LAB-1", "--mapping", str(tmp_path / "mapping.json"),
               "--save-mapping", "lab-x", db=db)
    assert done.returncode == 0, done.stderr
    assert "Stored 'LAB-1' version 1: 2 subjects" in done.stdout and "Mapping saved as 'lab-x'." in done.stdout
    listed = cli("mappings", db=db).stdout.splitlines()
    assert listed[0].split() == ["name", "created_at", "created_by", "saves"] and listed[1].startswith("lab-x")
    second = tmp_path / "delivery-2"
    second.mkdir()
    for f in long_export():
        (second / f.name).write_bytes(f.data)
    (second / "labs.csv").rename(second / "labs_2025-07.csv")
    (second / "labs_2025-07.csv").write_text(LONG_LABS + "P-02,IL6,40,ng/L,Serum,2025-04-10,\n")
    again = cli("import", str(second), "--name", "LAB-1", "--mapping-name", "lab-x", db=db)
    assert again.returncode == 0 and "Stored 'LAB-1' version 2" in again.stdout, again.stderr
    assert "lab-x" in cli("log", db=db).stdout
    assert cli("list", db=db).stdout.splitlines()[1].split()[:4] == ["LAB-1", "2", "2", "11"]
    unknown = cli("import", str(second), "--name", "LAB-1", "--mapping-name", "nope", db=db)
    assert unknown.returncode == 1 and "no mapping is saved as 'nope'" in unknown.stderr


def test_a_cartscope_study_read_through_its_own_proposal_is_the_same_study():
    files = files_from_path(DEMO_DIR)
    assert not needs_mapping(files)
    mapping = propose_mapping(files)
    assert mapping["undecided"] == [] and mapping["files"]["concomitant_medications.csv"]["table"] == \
        "concomitant_medications"
    direct, _ = validate(read_files(files, 10**9), "demo")
    mapped, report = validate(apply_mapping(files, mapping, 10**9), "demo")
    assert report.issues == []
    for table in ("subjects", "measurements", "adverse_events", "responses", "concomitant_medications",
                  "time_to_event"):
        pd.testing.assert_frame_equal(mapped.table(table), direct.table(table), check_dtype=False)
