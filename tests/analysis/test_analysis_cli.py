"""`python -m analysis nca STUDY ...` gives the same numbers as the engine, for folders, CSVs and stored studies."""
import io
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from analysis.nca import nca
from data_access.readers import files_from_path, read_files
from data_access.validate import validate
from tests.conftest import DEMO_DIR, REPO


def run(*args, db=None):
    env = dict(os.environ)
    if db:
        env["CARTSCOPE_DATABASE_URL"] = f"sqlite:///{db}"
    return subprocess.run([sys.executable, "-m", "analysis", "nca", *args], cwd=REPO, env=env, capture_output=True,
                          text=True)


def demo_measurements():
    study, _ = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    return study.measurements


def test_folder_output_equals_the_engine_to_the_last_digit():
    done = run(str(DEMO_DIR), "--analyte", "car_copies", "--specimen", "PB", "--interval", "0,28",
               "--interval", "0,7.5")
    assert done.returncode == 0, done.stderr
    printed = pd.read_csv(io.StringIO(done.stdout), float_precision="round_trip")
    m = demo_measurements()
    expected = nca(m[(m["analyte"] == "car_copies") & (m["specimen"] == "PB")], intervals=[(0, 28), (0, 7.5)])
    assert list(printed.columns[:3]) == ["subject_id", "analyte", "specimen"]
    assert list(printed.columns) == list(expected.columns)
    for column in expected.columns[3:-1]:
        if column == "lambda_z_selection":
            assert printed[column].tolist() == expected[column].tolist()
            continue
        assert np.array_equal(printed[column].to_numpy(float), expected[column].to_numpy(float), equal_nan=True)
    assert printed["reason"].fillna("").tolist() == expected["reason"].tolist()


def test_measurements_csv_and_options(tmp_path):
    out = tmp_path / "nca.csv"
    done = run(str(DEMO_DIR / "measurements.csv"), "--blq", "zero", "--auc-method", "linear", "--extrapolate",
               "--out", str(out))
    assert done.returncode == 0, done.stderr
    written = pd.read_csv(out)
    expected = nca(demo_measurements(), blq="zero", auc_method="linear", extrapolate=True)
    assert np.allclose(written["auc_0_90"], expected["auc_0_90"], rtol=1e-15, equal_nan=True)
    assert done.stderr.strip() == f"{len(expected)} profiles written to {out}"


def test_stored_study_by_name(tmp_path):
    db = tmp_path / "cli.db"
    subprocess.run([sys.executable, "-m", "data_access", "import", str(DEMO_DIR), "--name", "kin"], cwd=REPO,
                   env={**os.environ, "CARTSCOPE_DATABASE_URL": f"sqlite:///{db}"}, check=True, capture_output=True)
    done = run("kin", "--analyte", "il6", db=db)
    assert done.returncode == 0, done.stderr
    printed = pd.read_csv(io.StringIO(done.stdout))
    assert set(printed["analyte"]) == {"il6"} and printed["peak_fold_change"].notna().all()


def test_invalid_measurements_are_reported_not_analysed(tmp_path):
    bad = tmp_path / "labs.csv"
    bad.write_text("subject_id,analyte,specimen,day,value,unit\nS1,il6,serum,1,5,mg/dL\n", encoding="utf-8")
    done = run(str(bad))
    assert done.returncode == 1
    assert "unit 'mg/dL' is not a unit of il6" in done.stderr


def test_bad_arguments(tmp_path):
    assert run("no-such-study", db=tmp_path / "x.db").returncode == 1
    bad_interval = run(str(DEMO_DIR), "--interval", "28,0")
    assert bad_interval.returncode == 2 and "must have finite start < end" in bad_interval.stderr
    assert run(str(DEMO_DIR), "--blq", "sometimes").returncode == 2


def test_twenty_intervals_each_get_a_column():
    """Sixteen or more --interval used to overflow the engine's note bits (OverflowError)."""
    intervals = [f"0,{7 * d}" for d in range(1, 21)]
    done = run(str(DEMO_DIR), "--analyte", "car_copies", "--specimen", "PB",
               *[arg for interval in intervals for arg in ("--interval", interval)])
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(io.StringIO(done.stdout))
    assert [c for c in out.columns if c.startswith("auc_0_")] == [f"auc_0_{7 * d}" for d in range(1, 21)]
    expected = nca(demo_measurements().query("analyte == 'car_copies' and specimen == 'PB'"),
                   intervals=[(0, 7 * d) for d in range(1, 21)])
    np.testing.assert_allclose(out["auc_0_140"], expected["auc_0_140"], rtol=1e-12)
    assert out["reason"].str.contains("auc_0_140: ends after the last quantifiable sample").any()


def test_a_cdisc_delivery_of_the_demo_gives_the_numbers_of_its_csv_files(tmp_path):
    from data_access.cdisc_demo import write_cdisc_demo

    write_cdisc_demo(tmp_path / "sdtm", "sdtm")
    outputs = {}
    for name, folder in (("csv", DEMO_DIR), ("sdtm", tmp_path / "sdtm")):
        done = run(str(folder), "--interval", "0,28", "--out", str(tmp_path / f"{name}.csv"))
        assert done.returncode == 0, done.stderr
        outputs[name] = pd.read_csv(tmp_path / f"{name}.csv")
    assert len(outputs["csv"]) > 500 and set(outputs["csv"]["analyte"]) >= {"car_copies", "crp", "m_protein"}
    pd.testing.assert_frame_equal(outputs["sdtm"], outputs["csv"])
    crp = outputs["csv"][outputs["csv"]["analyte"] == "crp"]
    assert crp["peak"].notna().all() and crp["auclast"].notna().any()  # a biomarker: peak and fold change
    burden = outputs["csv"][outputs["csv"]["analyte"] == "m_protein"]
    assert burden["nadir_percent_reduction"].notna().any() and burden["peak"].isna().all()


def test_filters_take_any_case_cdisc_codes_and_specimen_words_and_refuse_what_is_not_there():
    done = run(str(DEMO_DIR), "--analyte", "CARCOPY", "--specimen", "blood")
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(io.StringIO(done.stdout))
    assert len(out) == 62 and set(out["analyte"]) == {"car_copies"} and set(out["specimen"]) == {"PB"}
    missing = run(str(DEMO_DIR), "--analyte", "foo")
    assert missing.returncode == 1 and "the study has no analyte 'foo'; it has car_copies" in missing.stderr


def test_text_a_spreadsheet_would_run_is_written_as_text_unless_raw_text_is_asked_for(tmp_path):
    from tests.conftest import VALID_TABLES

    evil = "+cmd|' /C calc'!A0"
    folder = tmp_path / "study"
    folder.mkdir()
    for name, text in VALID_TABLES.items():
        (folder / name).write_text(text.replace("S1,", f"\"{evil}\",").replace("CRS,", "@SUM(A1),"),
                                   encoding="utf-8")
    nca_csv = pd.read_csv(io.StringIO(run(str(folder)).stdout), dtype=str)
    assert "'" + evil in set(nca_csv["subject_id"]) and evil not in set(nca_csv["subject_id"])
    raw_csv = pd.read_csv(io.StringIO(run(str(folder), "--raw-text").stdout), dtype=str)
    assert evil in set(raw_csv["subject_id"])

    out = tmp_path / "endpoints"
    subprocess.run([sys.executable, "-m", "analysis", "endpoints", str(folder), "--out", str(out)], cwd=REPO,
                   check=True, capture_output=True)
    written = "".join(path.read_text(encoding="utf-8") for path in out.glob("*.csv"))
    assert "'" + evil in written and "'@SUM(A1)" in written
    assert not any(line.startswith(("+", "@", "=")) or ",+" in line or ",@" in line
                   for line in written.splitlines())


def test_cdisc_out_writes_pp_and_adpp_with_the_engines_numbers(tmp_path):
    import pyreadstat

    out = tmp_path / "cdisc"
    done = run(str(DEMO_DIR), "--analyte", "car_copies", "--cdisc-out", str(out), "--study-id", "DEMO-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(out / "pp.xpt"), str(out / "adpp.xpt")]  # no CSV mixed in
    pp, meta = pyreadstat.read_xport(str(out / "pp.xpt"))
    adpp, _ = pyreadstat.read_xport(str(out / "adpp.xpt"))
    assert meta.table_name == "PP" and set(pp["STUDYID"]) == {"DEMO-1"} == set(adpp["STUDYID"])
    expected = nca(demo_measurements().query("analyte == 'car_copies'"))
    blood = pp[(pp["PPTESTCD"] == "CMAX") & (pp["PPSPEC"] == "BLOOD")].set_index("USUBJID")["PPSTRESN"]
    engine = expected[expected["specimen"] == "PB"].set_index("subject_id")["cmax"]
    assert blood.sort_index().equals(engine.sort_index().rename("PPSTRESN").rename_axis("USUBJID"))
    assert set(pp.loc[pp["PPTESTCD"] == "AUCINT", "PPENINT"]) == {"P28D", "P90D"}  # the default intervals
    assert adpp["TRT01A"].str.contains("CAR+ T cells", regex=False).all()  # the dose level, from the folder's subjects

    both = run(str(DEMO_DIR / "measurements.csv"), "--analyte", "il6", "--cdisc-out", str(tmp_path / "il6"),
               "--out", str(tmp_path / "il6.csv"))
    assert both.returncode == 0, both.stderr
    assert len(pd.read_csv(tmp_path / "il6.csv")) == len(pyreadstat.read_xport(str(tmp_path / "il6" / "pp.xpt"))[0]
                                                        .drop_duplicates(["USUBJID", "PPGRPID"]))
    adpp_csv, _ = pyreadstat.read_xport(str(tmp_path / "il6" / "adpp.xpt"))
    assert "TRT01A" not in adpp_csv.columns and set(adpp_csv["STUDYID"]) == {"measurements"}  # a file: no subjects


def test_stored_choices_go_to_a_settings_file_that_the_nca_applies(tmp_path):
    """`python -m analysis choices STUDY --out FILE` writes what the app stored; `nca --settings FILE` applies it
    and gives the numbers the engine gives with the same choices; the command's own options win over the file's."""
    import json

    from data_access.choices import record_choice
    from data_access.store import get_engine

    db = tmp_path / "cli.db"
    env = {**os.environ, "CARTSCOPE_DATABASE_URL": f"sqlite:///{db}"}
    subprocess.run([sys.executable, "-m", "data_access", "import", str(DEMO_DIR), "--name", "kin"], cwd=REPO,
                   env=env, check=True, capture_output=True)
    engine = get_engine(f"sqlite:///{db}")
    record_choice("kin", 1, "DM-003", "car_copies", "PB", "exclude", day=21, reason="haemolysed", user="ana",
                  engine=engine)
    record_choice("kin", 1, "DM-003", "car_copies", "PB", "lambda_z", days=[28, 63, 90], reason="slow phase",
                  user="ana", engine=engine)
    settings_file = tmp_path / "settings.json"
    done = subprocess.run([sys.executable, "-m", "analysis", "choices", "kin", "--out", str(settings_file)],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "1 samples left out and 1 lambda-z choices of kin version 1" in done.stderr
    document = json.loads(settings_file.read_text())
    document["options"] = {"blq": "zero", "intervals": [[0, 14]]}
    settings_file.write_text(json.dumps(document))

    done = run(str(DEMO_DIR), "--analyte", "car_copies", "--specimen", "PB", "--settings", str(settings_file),
               "--blq", "pknca")
    assert done.returncode == 0, done.stderr
    printed = pd.read_csv(io.StringIO(done.stdout)).set_index("subject_id")
    m = demo_measurements()
    rows = m[(m["analyte"] == "car_copies") & (m["specimen"] == "PB")]
    from analysis.nca import NCAOptions
    from analysis.nca.engine import run_nca

    expected = run_nca(rows, NCAOptions(intervals=((0, 14),), blq="pknca", exclusions=(
        ("DM-003", "car_copies", "PB", 21.0),), lambda_z_points=(("DM-003", "car_copies", "PB",
                                                                   (28.0, 63.0, 90.0)),))).set_index("subject_id")
    assert printed.loc["DM-003", "lambda_z_selection"] == "manual" and "auc_0_14" in printed.columns
    for column in ("auclast", "lambda_z", "aucinf_obs", "auc_0_14"):
        assert printed.loc["DM-003", column] == pytest.approx(expected.loc["DM-003", column], rel=1e-12)
    wrong = subprocess.run([sys.executable, "-m", "analysis", "choices", "nope", "--out", str(settings_file)],
                           cwd=REPO, env=env, capture_output=True, text=True)
    assert wrong.returncode == 1 and "no stored study 'nope'" in wrong.stderr
