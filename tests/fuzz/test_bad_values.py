"""Regression suite of hostile values: each input below once crashed a page or the database, or misled a user.

Every one is refused (or warned about) by validation with a row-level message naming file, row and column, on
every database backend, and nothing is stored."""
import threading

import pytest

from data_access import store
from data_access.importer import import_files
from data_access.readers import read_files
from data_access.report import SHOWN_PER_COLUMN
from data_access.schema import is_computed_column
from data_access.validate import validate
from tests.conftest import VALID_TABLES, make_files

SUBJECTS = VALID_TABLES["subjects.csv"]
MEASUREMENTS = VALID_TABLES["measurements.csv"]
AES = VALID_TABLES["adverse_events.csv"]


def run(overrides=None):
    return validate(read_files(make_files(overrides), max_bytes=10_000_000), "t")


def errors(report, severity="error"):
    return {(i.file, i.row, i.column, i.message) for i in report.issues if i.severity == severity}


def renamed(old: str, new: str) -> dict:
    """Every table with subject id `old` given as `new` (so the id is consistent across the study)."""
    return {name: VALID_TABLES[name].replace(f"{old},", f"{new},") for name in VALID_TABLES}


# ---- 1. covariates named like computed columns; numbers beyond any plausible range ---------------------------

@pytest.mark.parametrize("name", ["progression_day", "worst_crs_grade", "response_group", "best_response",
                                  "cmax", "auc_0_28", "crs_group", "Worst_CRS_Grade"])
def test_a_covariate_named_like_a_computed_column_is_refused(name):
    study, report = run({"subjects.csv": SUBJECTS.replace("prior_lines", name)})
    assert study is None
    assert ("subjects.csv", 1, name.lower(), f"column '{name.lower()}' is computed by CARTscope from the study; "
            "rename the covariate") in errors(report)


def test_every_column_the_analysis_adds_to_the_per_subject_table_is_reserved():
    from analysis.nca import nca
    from analysis.patients import patient_table

    study, _ = run()
    patients = patient_table(study.subjects, study.responses, study.adverse_events)
    profiles = nca(study.measurements, intervals=((0, 28), (7.5, 90)))
    views = {"crs_group", "none"}  # assigned onto it by analysis/views/kinetics.py and safety.py
    added = (set(patients.columns) | set(profiles.columns) | views) - set(study.subjects.columns)
    assert not {c for c in added if not is_computed_column(c)}, "add them to schema.COMPUTED_SUBJECT_COLUMNS"
    assert {"progression_day", "worst_crs_grade", "response_group", "auc_0_28", "auc_7.5_90", "cmax"} <= added
    assert not is_computed_column("prior_lines") and not is_computed_column("auc")


BEYOND = "is beyond ±1,000,000,000,000,000, the largest number accepted"


@pytest.mark.parametrize("table,old,new,row,column,message", [
    ("measurements.csv", "S1,il6,serum,1,250", "S1,il6,serum,1,1e308", 6, "value", f"1e308 {BEYOND}"),
    ("measurements.csv", "250,pg/mL,1.5", "250,pg/mL,1e300", 6, "lloq", f"1e300 {BEYOND}"),
    ("measurements.csv", "S1,il6,serum,1,250", "S1,il6,serum,1,inf", 6, "value", "'inf' is not a number"),
    ("measurements.csv", "S1,il6,serum,1,250", "S1,il6,serum,1e308,250", 6, "day",
     "day 1e308 is outside ±36,525 days (100 years)"),
    ("measurements.csv", "S1,il6,serum,1,250", "S1,il6,serum,-inf,250", 6, "day",
     "'-inf' is not a number of days since infusion"),
    ("subjects.csv", "M,100,", "M,1e308,", 2, "last_contact_day", "day 1e308 is outside ±36,525 days (100 years)"),
    ("subjects.csv", "M,100,", "M,Infinity,", 2, "last_contact_day",
     "'Infinity' is not a number of days since infusion"),
    ("subjects.csv", ",60,M", ",1e308,M", 2, "age", f"1e308 {BEYOND}"),
    ("subjects.csv", ",4,TRUE", ",1e308,TRUE", 2, "prior_lines", f"1e308 {BEYOND}"),
    ("subjects.csv", ",4,TRUE", ",-inf,TRUE", 2, "prior_lines", "'-inf' is not a finite number"),
])
def test_numbers_beyond_any_plausible_range_are_refused(table, old, new, row, column, message):
    assert old in VALID_TABLES[table]
    study, report = run({table: VALID_TABLES[table].replace(old, new)})
    assert study is None
    assert (table, row, column, message) in errors(report)


# ---- 2. text the database cannot hold, invisible differences in ids ------------------------------------------

@pytest.mark.parametrize("table,old,column,limit", [
    ("subjects.csv", "150e6 CAR+ T cells", "dose_level", 200),
    ("adverse_events.csv", "CRS", "term", 300),
])
def test_text_longer_than_the_store_holds_is_refused_on_every_backend(engine, table, old, column, limit):
    result = import_files(make_files({table: VALID_TABLES[table].replace(old, "x" * (limit + 1), 1)}), "long",
                          source="test", engine=engine)
    assert not result.stored and store.list_studies(engine).empty
    assert (table, 2, column, f"{column} is {limit + 1:,} characters long; at most {limit} are allowed") \
        in errors(result.report)


def test_a_long_subject_id_is_refused_on_every_backend(engine):
    long_id = "S" * 101
    result = import_files(make_files(renamed("S2", long_id)), "long", source="test", engine=engine)
    assert not result.stored and store.list_studies(engine).empty
    assert ("subjects.csv", 3, "subject_id", "subject_id is 101 characters long; at most 100 are allowed") \
        in errors(result.report)


def test_a_nul_byte_in_any_cell_is_refused_on_every_backend(engine, monkeypatch):
    """A CSV with NUL is refused by the reader as binary; a workbook or a CDISC dataset can carry one in a cell."""
    from data_access import importer

    def read_with_nul(files, kind=None):
        raw = read_files(files, max_bytes=10_000_000)
        raw.tables["adverse_events"].loc[1, "term"] = "ICA\x00NS"
        raw.tables["subjects"].loc[0, "prior_lines"] = "4\x00"
        return raw

    monkeypatch.setattr(importer, "read_study_files", read_with_nul)
    result = import_files(make_files(), "nul", source="test", engine=engine)
    assert not result.stored and store.list_studies(engine).empty
    assert {("adverse_events.csv", 3, "term", "'ICA\\x00NS' contains a control character (U+0000)"),
            ("subjects.csv", 2, "prior_lines", "'4\\x00' contains a control character (U+0000)")} \
        <= errors(result.report)


def test_control_characters_in_ids_are_refused():
    study, report = run(renamed("S2", "S\t2"))
    assert study is None
    assert ("subjects.csv", 3, "subject_id", "'S\\t2' contains a control character (U+0009)") in errors(report)


def test_control_characters_in_covariate_names_are_refused():
    study, report = run({"subjects.csv": SUBJECTS.replace("prior_lines", "prior\x01lines")})
    assert study is None
    assert ("subjects.csv", 1, "prior\\x01lines", "column name 'prior\\x01lines' contains a control character") \
        in errors(report)


def test_ids_are_nfc_normalised_and_zero_width_characters_dropped():
    decomposed, zero_width = "Jose\u0301-1", "S\u200b1"
    overrides = renamed("S2", decomposed)
    overrides["subjects.csv"] = overrides["subjects.csv"].replace("S1,", f"{zero_width},")
    study, report = run(overrides)
    assert report.ok, report.to_text()
    assert study.subjects["subject_id"].tolist() == ["José-1", "S1"]  # the rest of the study says S1: it matches


def test_subject_ids_differing_only_invisibly_are_one_id():
    study, report = run({"subjects.csv": SUBJECTS + "S\u200b1,150e6 CAR+ T cells,60,M,100,,4,TRUE\n"})
    assert study is None
    assert ("subjects.csv", 4, "subject_id", "subject_id 'S1' appears again (first at row 2)") in errors(report)


def test_subject_ids_differing_only_in_case_are_a_warning():
    study, report = run({"subjects.csv": SUBJECTS + "s1,150e6 CAR+ T cells,60,M,100,,4,TRUE\n",
                         "measurements.csv": MEASUREMENTS + "s1,car_copies,PB,7,100,copies/µg gDNA,,\n"})
    assert study is not None
    assert ("subjects.csv", 4, "subject_id", "subject_id 's1' differs from 'S1' (row 2) only in case: are they "
            "the same patient?") in errors(report, "warning")


@pytest.mark.parametrize("name,message", [
    ("T" * 101, "study name is 101 characters long; at most 100 are allowed"),
    ("Trial\x00", "study name 'Trial\\x00' must start with a letter or digit and use only letters, digits, spaces, "
                  "'.', '_' or '-'"),
])
def test_bad_study_names_are_refused_on_every_backend(engine, name, message):
    result = import_files(make_files(), name, source="test", engine=engine)
    assert not result.stored
    assert [(i.file, i.message) for i in result.report.errors] == [("(study name)", message)]


def test_study_names_are_normalised_and_a_name_differing_only_in_case_is_a_warning(engine):
    assert import_files(make_files(), "Trial\u200b-1", source="test", engine=engine).record.name == "Trial-1"
    result = import_files(make_files(), "TRIAL-1", source="test", engine=engine)
    assert result.stored
    assert [(i.file, i.message) for i in result.report.warnings] == [
        ("(study name)", "study name 'TRIAL-1' differs from the stored 'Trial-1' only in case: it is stored as "
                         "another study")]


def test_lookups_of_impossible_versions_and_names_find_nothing(engine):
    import_files(make_files(), "x", source="test", engine=engine)
    for version in (0, -1, 2**31, 2**63, 10**30):
        assert store.find_study("x", version, engine=engine) is None
    for name in ("x\x00", "x" * 10_000):
        assert store.find_study(name, engine=engine) is None
    assert store.find_study("x", 1, engine=engine).version == 1


# ---- 3. a huge number of issues: counted, not all kept ---------------------------------------------------------

def test_two_hundred_thousand_bad_rows_keep_a_bounded_report():
    rows = "".join(f"S1,car_copies,PB,2024-01-{1 + i % 28:02d},{i},copies/µg gDNA,,\n" for i in range(200_000))
    files = make_files({"measurements.csv": "subject_id,analyte,specimen,day,value,unit,lloq,blq\n" + rows})
    study, report = validate(read_files(files, max_bytes=50_000_000), "t")
    assert study is None
    assert report.n_errors >= 200_000
    assert len(report.issues) <= 10 * SHOWN_PER_COLUMN  # kept: the first per file, column and severity
    records = report.to_records()
    assert len(records) <= len(report.issues) + 10
    assert f"… and {200_000 - SHOWN_PER_COLUMN:,} more errors in column 'day' (the first {SHOWN_PER_COLUMN} are " \
        "listed)" in [r["message"] for r in records]
    assert len(report.to_text()) < 20_000
    assert report.to_text().splitlines()[0].startswith(f"{report.n_errors:,} error(s)")


def test_a_huge_cell_gives_a_short_message():
    from data_access.report import MAX_MESSAGE

    huge = "9x" * 60_000  # 120,000 characters: under the readers' cell limit (131,072), so validation quotes it
    study, report = run({"measurements.csv": MEASUREMENTS.replace("S1,il6,serum,1,250", f"S1,il6,serum,1,{huge}")})
    assert study is None
    [issue] = [i for i in report.errors if i.column == "value"]
    assert len(issue.message) == MAX_MESSAGE and issue.message.startswith("'9x9x")
    assert issue.message.endswith("9x' is not a number")
    assert len(report.to_text()) < 2_000


# ---- 4. concurrent imports of one name ---------------------------------------------------------------------------

def test_concurrent_imports_of_one_name_all_store_with_distinct_versions(engine):
    imports = 12
    results, failures = [], []
    start = threading.Barrier(imports)

    def one(i):
        subjects = SUBJECTS.replace("S1,150e6 CAR+ T cells,60", f"S1,150e6 CAR+ T cells,{20 + i}")
        start.wait()
        try:
            results.append(import_files(make_files({"subjects.csv": subjects}), "race", source="test",
                                        engine=engine).record)
        except Exception as error:  # noqa: BLE001 - the failure is what the test reports
            failures.append(repr(error))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(imports)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(r.version for r in results) == list(range(1, imports + 1))
    listed = store.list_studies(engine)
    assert sorted(listed["version"]) == list(range(1, imports + 1))
    ages = {store.load_study("race", v, engine=engine).subjects["age"].iloc[0] for v in range(1, imports + 1)}
    assert ages == {20.0 + i for i in range(imports)}  # every version is whole: its own subjects
