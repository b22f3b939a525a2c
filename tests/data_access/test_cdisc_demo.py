"""The demo study written as SDTM and as ADaM (data_access/cdisc_demo.py) imports back to exactly the CSV demo."""
import os
import subprocess
import sys

import pandas as pd
import pyreadstat
import pytest

from data_access import store
from data_access.cdisc_demo import COVARIATE_NAMES, STUDYID, load_demo_study, write_cdisc_demo
from data_access.importer import import_path
from data_access.study import COLUMNS
from tests.conftest import REPO


@pytest.fixture(scope="module")
def csv_demo():
    return load_demo_study()


def same_rows(expected: pd.DataFrame, got: pd.DataFrame, columns: list[str]) -> None:
    """Equal after sorting on every column, whatever the row order and the dtype the store gives back."""
    def tidy(frame):
        frame = frame[columns].astype(object).where(frame[columns].notna(), None)
        return frame.sort_values(columns, key=lambda c: c.astype(str), kind="stable").reset_index(drop=True)

    pd.testing.assert_frame_equal(tidy(expected), tidy(got), check_dtype=False)


@pytest.mark.parametrize("standard", ["sdtm", "adam"])
def test_demo_written_as_cdisc_imports_back_exactly(tmp_path, csv_demo, standard):
    folder = tmp_path / standard
    paths = write_cdisc_demo(folder, standard, study=csv_demo)
    engine = store.get_engine("sqlite:///" + str(tmp_path / "db.sqlite"))
    result = import_path(folder, f"demo-{standard}", source="test", engine=engine)
    assert result.stored, result.report.to_text()
    warnings = [str(w) for w in result.report.warnings]
    assert any("2 subject(s)" in w and "SF-901, SF-902" in w for w in warnings), warnings
    # nothing else to say, unless the demo has analytes of its own (declared again from their test codes)
    assert all("SF-901" in w or "declared from the data" in w for w in warnings), warnings
    study = store.load_study(f"demo-{standard}", engine=engine)
    for table in ("subjects", "measurements", "adverse_events", "responses", "concomitant_medications",
                  "time_to_event"):
        expected, got = csv_demo.table(table), study.table(table)
        assert len(got) == len(expected), table
        if len(expected):
            same_rows(expected, got, COLUMNS[table])
    covariates = {column: name.lower() for column, name in COVARIATE_NAMES.items() if column in csv_demo.subjects}
    same_rows(csv_demo.subjects.rename(columns=covariates), study.subjects, ["subject_id", *covariates.values()])
    assert set(study.measurements["analyte"]) == set(csv_demo.measurements["analyte"])
    for path in paths:
        frame, meta = pyreadstat.read_xport(str(path))
        assert all(len(name) <= 8 for name in meta.column_names), path.name
        assert all(label and label != name for name, label in zip(meta.column_names, meta.column_labels,
                                                                  strict=True)), (path.name, meta.column_labels)
        assert set(frame["STUDYID"]) == {STUDYID} and "simulated" in meta.file_label


def test_cli_writes_the_demo_as_sdtm(tmp_path):
    env = {**os.environ, "CARTSCOPE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    done = subprocess.run([sys.executable, "-m", "data_access", "demo", "--format", "sdtm", "--out",
                           str(tmp_path / "sdtm")], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert {p.name for p in (tmp_path / "sdtm").iterdir()} >= {"dm.xpt", "ex.xpt", "pc.xpt", "cp.xpt", "lb.xpt",
                                                               "ae.xpt", "rs.xpt", "supprs.xpt", "suppdm.xpt"}
    imported = subprocess.run([sys.executable, "-m", "data_access", "import", str(tmp_path / "sdtm"), "--name",
                               "demo-sdtm"], cwd=REPO, env=env, capture_output=True, text=True)
    assert imported.returncode == 0 and imported.stdout.startswith("Stored 'demo-sdtm' version 1: 62 subjects,"), \
        imported.stderr
    no_out = subprocess.run([sys.executable, "-m", "data_access", "demo", "--format", "adam"], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert no_out.returncode == 2 and "needs --out" in no_out.stderr


@pytest.mark.parametrize("standard", ["sdtm", "adam"])
def test_fractional_sampling_days_round_trip(tmp_path, csv_demo, standard):
    """A sample 6 h or 36 h after infusion: PCDTC with a time (SDTM) or AFRLT in hours (ADaM) gives the day back."""
    from dataclasses import replace

    from data_access.cdisc import read_cdisc
    from data_access.readers import files_from_path
    from data_access.validate import validate

    m = csv_demo.measurements.copy()
    first = m.index[(m["analyte"] == "car_copies") & (m["specimen"] == "PB") & (m["day"] > 0)][:2]
    m.loc[first, "day"] = [0.25, 1.5]
    study = replace(csv_demo, measurements=m)
    write_cdisc_demo(tmp_path, standard, study=study)
    imported, report = validate(read_cdisc(files_from_path(tmp_path), 50_000_000), "fractional")
    assert imported is not None, report.to_text()
    same_rows(m, imported.measurements, COLUMNS["measurements"])
    assert {0.25, 1.5} <= set(imported.measurements["day"])
