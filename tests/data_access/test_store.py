"""The database: round trip, versions, the import log, and all-or-nothing imports."""
import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from sqlalchemy import func, select

from data_access import store
from data_access.importer import import_files, import_path
from data_access.readers import read_files
from data_access.validate import validate
from tests.conftest import DEMO_DIR, REPO, VALID_TABLES, make_files


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        tables = {"studies": store.studies_table, "import_log": store.import_log_table, **store.study_tables}
        return {name: conn.execute(select(func.count()).select_from(t)).scalar() for name, t in tables.items()}


def test_round_trip_gives_back_the_validated_study(engine):
    expected, _ = validate(read_files(make_files(), 10_000_000), "rt")
    result = import_files(make_files(), "rt", source="test", engine=engine)
    assert result.stored
    loaded = store.load_study("rt", engine=engine)
    for table in ("subjects", "measurements", "adverse_events", "responses"):
        pd.testing.assert_frame_equal(loaded.table(table), expected.table(table), check_dtype=False)
    assert (loaded.name, loaded.version, loaded.simulated) == ("rt", 1, False)


def test_round_trip_of_declared_analytes_conmeds_and_time_to_event(engine):
    extra = {"analytes.csv": "code,label,unit,kind,specimens,method\nXYZ,Something new,U/mL,biomarker,plasma,\n",
             "measurements.csv": VALID_TABLES["measurements.csv"] + "S1,XYZ,plasma,3,12.5,U/mL,,\n",
             "concomitant_medications.csv": "subject_id,drug,start_day,end_day,indication\nS1,tocilizumab,3,,CRS\n",
             "time_to_event.csv": "subject_id,endpoint,day,event\nS1,PFS,200,1\n"}
    expected, _ = validate(read_files(make_files(extra), 10_000_000), "rt")
    assert import_files(make_files(extra), "rt", source="test", engine=engine).stored
    loaded = store.load_study("rt", engine=engine)
    for table in ("analytes", "measurements", "concomitant_medications", "time_to_event"):
        pd.testing.assert_frame_equal(loaded.table(table), expected.table(table), check_dtype=False)
    assert loaded.catalogue["XYZ"].specimens == ("plasma",)


def test_demo_round_trip_keeps_covariates_and_blq(engine):
    import_path(DEMO_DIR, "demo", source="test", simulated=True, engine=engine)
    loaded = store.load_study("demo", engine=engine)
    assert loaded.simulated
    assert {"prior_lines", "high_risk_cytogenetics", "extramedullary_disease"} <= set(loaded.subjects.columns)
    raw = pd.read_csv(DEMO_DIR / "measurements.csv")
    assert len(loaded.measurements) == len(raw)
    assert loaded.measurements["blq"].sum() == raw["blq"].sum()


def test_same_name_makes_a_new_version_and_old_ones_stay(engine):
    first = import_files(make_files(), "trial", source="test", engine=engine).record
    second = import_files(make_files({"responses.csv": None}), "trial", source="test", engine=engine).record
    assert (first.version, second.version) == (1, 2)
    assert store.load_study("trial", engine=engine).version == 2
    assert len(store.load_study("trial", 1, engine=engine).responses) == 3
    assert store.load_study("trial", engine=engine).responses.empty
    listed = store.list_studies(engine)
    assert listed[["name", "version"]].values.tolist() == [["trial", 2], ["trial", 1]]


def test_import_log_records_who_when_what(engine):
    files = make_files()
    record = import_files(files, "logged", source="cli", user="alice", engine=engine).record
    log = store.import_log(engine)
    assert len(log) == 1
    entry = log.iloc[0]
    assert (entry["imported_by"], entry["source"], entry["name"], entry["version"]) == ("alice", "cli", "logged", 1)
    assert json.loads(entry["row_counts"]) == {"subjects": 2, "measurements": 7, "adverse_events": 2,
                                               "responses": 3}
    logged_files = json.loads(entry["files"])
    assert [f["name"] for f in logged_files] == [f.name for f in files]
    assert logged_files[0]["sha256"] == files[0].sha256
    assert entry["checksum"] == store.checksum(logged_files)
    assert record.imported_by == "alice"


def test_an_import_and_a_saved_mapping_are_in_the_audit_trail_with_who_and_from_where(engine):
    from data_access.accounts import audit_events

    import_files(make_files(), "audited", source="web", user="dan", client="192.0.2.4", engine=engine)
    store.save_mapping("lab export", "{}", user="dan", client="192.0.2.4", engine=engine)
    import_files(make_files({"subjects.csv": None}), "audited", source="cli", user="eve", engine=engine)  # refused
    events = audit_events(engine=engine)
    assert list(events["action"]) == ["mapping saved", "import"]
    imported = events.iloc[1]
    assert (imported["user_name"], imported["client"], imported["study"]) == ("dan", "192.0.2.4", "audited")
    assert json.loads(imported["detail"])["version"] == 1 and "subjects.csv" in imported["detail"]


def test_failed_validation_stores_nothing(engine):
    before = row_counts(engine)
    bad = make_files({"responses.csv": "subject_id,day,response\nS1,28,XX\n"})
    result = import_files(bad, "bad", source="test", engine=engine)
    assert not result.stored and result.report.errors
    assert row_counts(engine) == before


def test_failure_half_way_through_the_write_leaves_the_database_unchanged(engine, monkeypatch):
    import_files(make_files(), "kept", source="test", engine=engine)
    before = row_counts(engine)
    real_records = store._records

    def failing_records(frame, table, study_id):
        if table == "responses":  # subjects, measurements and adverse events are already written
            raise RuntimeError("disk full")
        return real_records(frame, table, study_id)

    monkeypatch.setattr(store, "_records", failing_records)
    corrected = VALID_TABLES["subjects.csv"].replace("S1,150e6 CAR+ T cells,60", "S1,150e6 CAR+ T cells,61")
    with pytest.raises(RuntimeError, match="disk full"):
        import_files(make_files({"subjects.csv": corrected}), "kept", source="test", engine=engine)
    assert row_counts(engine) == before
    assert store.find_study("kept", engine=engine).version == 1
    from data_access.accounts import audit_events

    assert len(audit_events(action="import", engine=engine)) == 1  # the first import's; the failed one left none


def test_process_killed_half_way_leaves_the_database_unchanged(tmp_path):
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    script = textwrap.dedent(f"""
        import os, signal
        from data_access import store
        from data_access.importer import import_path
        engine = store.get_engine({url!r})
        import_path({str(DEMO_DIR)!r}, "first", source="test", engine=engine)
        real = store._records
        def records_then_die(frame, table, study_id):
            if table == "adverse_events":   # the measurements rows are already inserted
                os.kill(os.getpid(), signal.SIGKILL)
            return real(frame, table, study_id)
        store._records = records_then_die
        import_path({str(DEMO_DIR)!r}, "second", source="test", engine=engine)
    """)
    completed = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert completed.returncode == -9, completed.stderr
    engine = store.get_engine(url)
    listed = store.list_studies(engine)
    assert listed["name"].tolist() == ["first"]
    counts = row_counts(engine)
    assert counts["measurements"] == len(pd.read_csv(DEMO_DIR / "measurements.csv"))
    assert counts["import_log"] == 1


def test_unknown_study_and_version(engine):
    import_files(make_files(), "x", source="test", engine=engine)
    assert store.find_study("nope", engine=engine) is None
    with pytest.raises(KeyError, match="no stored study named 'x' with version 7"):
        store.load_study("x", 7, engine=engine)


def test_bad_study_names_are_rejected(engine):
    for name, message in (("", "give the study a name"),
                          ("../etc", "study name '../etc' must start with a letter or digit and use only letters, "
                                     "digits, spaces, '.', '_' or '-'")):
        result = import_files(make_files(), name, source="test", engine=engine)
        assert not result.stored
        assert [(i.file, i.message) for i in result.report.errors] == [("(study name)", message)]


def test_identical_files_make_no_new_version_but_changed_ones_do(engine):
    first = import_files(make_files(), "same", source="test", engine=engine)
    again = import_files(make_files(), "same", source="test", engine=engine)
    assert not again.stored and again.identical_to.version == first.record.version == 1
    assert len(store.list_studies(engine)) == 1 and row_counts(engine)["import_log"] == 1
    corrected = VALID_TABLES["subjects.csv"].replace("S1,150e6 CAR+ T cells,60", "S1,150e6 CAR+ T cells,61")
    changed = import_files(make_files({"subjects.csv": corrected}), "same", source="test", engine=engine)
    assert changed.record.version == 2 and changed.identical_to is None
    # the same files as version 1 are new relative to the newest (version 2): stored as version 3
    assert import_files(make_files(), "same", source="test", engine=engine).record.version == 3


def test_report_lists_issues_by_file_then_row():
    from data_access.report import ValidationReport

    report = ValidationReport()
    report.error("b.csv", "late", row=9)
    report.warning("a.csv", "whole file")
    report.error("a.csv", "row 3", row=3, column="x")
    report.error("b.csv", "early", row=2)
    assert [(r["file"], r["row"]) for r in report.to_records()] == [("a.csv", None), ("a.csv", 3), ("b.csv", 2),
                                                                    ("b.csv", 9)]
    assert report.to_text().splitlines()[1:] == ["ERROR: a.csv, row 3, column 'x': row 3", "ERROR: b.csv, row 2: early",
                                                 "ERROR: b.csv, row 9: late", "WARNING: a.csv: whole file"]


def test_report_lists_the_first_issues_per_column_and_counts_the_rest():
    from data_access.report import ValidationReport

    report = ValidationReport()
    for row in range(2, 1_002):
        report.error("m.csv", "bad day", row=row, column="day")
    report.error("m.csv", "bad unit", row=5, column="unit")
    report.warning("m.csv", "late sample", row=7, column="day")
    records = report.to_records(per_column=10)
    assert len(records) == 10 + 1 + 1 + 1
    assert records[-1]["message"] == "… and 990 more errors in column 'day' (the first 10 are listed)"
    assert report.n_errors == 1_001 and not report.ok  # counted whole: the import is refused on every error
    text = report.to_text(per_column=10).splitlines()
    assert text[0] == "1,001 error(s), 1 warning(s)" and text[-1].startswith("WARNING: m.csv, row 7")
    kept = report.to_records(per_column=None)  # all that is kept: the first 50 per column, and the count
    assert len(kept) == 50 + 1 + 1 + 1
    assert kept[-1]["message"] == "… and 950 more errors in column 'day' (the first 50 are listed)"


def test_a_merged_report_counts_what_either_only_counted():
    from data_access.report import SHOWN_PER_COLUMN, ValidationReport

    first, second = ValidationReport(), ValidationReport()
    for row in range(2, 2 + SHOWN_PER_COLUMN + 30):
        first.error("m.csv", "bad day", row=row, column="day")
        second.error("m.csv", "bad day", row=row, column="day")
    second.warning("s.csv", "no samples", row=2)
    first.extend(second)
    assert (first.n_errors, first.n_warnings) == (2 * (SHOWN_PER_COLUMN + 30), 1)
    assert len(first.issues) == SHOWN_PER_COLUMN + 1


def test_report_keeps_the_first_issue_of_each_rule_of_a_column_beyond_the_cap():
    """A column's few negative values are listed even behind a thousand unreadable days in the same column."""
    from data_access.report import MORE_RULES_PER_COLUMN, SHOWN_PER_COLUMN, ValidationReport, rule

    assert rule("'2024-01-05' is not a number of days since infusion") == "… is not a number of days since infusion"
    report = ValidationReport()
    for row in range(2, 1_002):
        report.error("m.csv", f"'2024-01-{row % 28 + 1:02d}' is not a number of days since infusion", row=row,
                     column="value")
    for row in range(1_002, 1_005):
        report.error("m.csv", f"negative value -{row} is not allowed", row=row, column="value")
    for n in range(40):  # rules beyond the bound are counted, not kept: the report stays bounded
        report.error("m.csv", f"rule number {'x' * n}", row=2_000 + n, column="value")
    assert len(report.issues) == SHOWN_PER_COLUMN + MORE_RULES_PER_COLUMN
    messages = [r["message"] for r in report.to_records(per_column=10)]
    assert "negative value -1002 is not allowed" in messages and "negative value -1003 is not allowed" not in messages
    assert report.n_errors == 1_000 + 3 + 40


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_starting_together_store_the_demo_study_once(backend, tmp_path):
    """Web and job workers start together, each making sure the demo study is stored: one version, not one each."""
    from tests.conftest import fresh_database

    with fresh_database(backend, tmp_path) as url:
        store.get_engine(url)  # the schema, so the processes race on the demo alone
        code = textwrap.dedent(f"""
            from data_access.importer import ensure_demo_study
            from data_access.store import get_engine
            ensure_demo_study(get_engine({url!r}))
        """)
        processes = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO) for _ in range(4)]
        assert [p.wait(timeout=300) for p in processes] == [0] * 4
        assert store.list_studies(store.get_engine(url))["version"].tolist() == [1]
