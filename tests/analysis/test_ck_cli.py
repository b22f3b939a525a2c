"""`python -m analysis ck STUDY --out FILE` writes the same parameters as analysis.ck.cohort.fit_cohort."""
import os
import subprocess
import sys

import numpy as np
import pandas as pd

from analysis.ck.cohort import fit_cohort
from data_access.readers import files_from_path, read_files
from data_access.validate import validate
from tests.conftest import DEMO_DIR, REPO


def run(*args):
    return subprocess.run([sys.executable, "-m", "analysis", "ck", *args], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True)


def test_the_file_holds_the_cohort_fit_to_the_last_digit(tmp_path):
    out = tmp_path / "ck.csv"
    done = run(str(DEMO_DIR), "--out", str(out), "--specimen", "blood")
    assert done.returncode == 0, done.stderr
    assert "62 profiles written" in done.stderr and "pooled over" in done.stderr
    written = pd.read_csv(out, float_precision="round_trip")
    study, _ = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    expected = fit_cohort(study.measurements).parameters
    assert list(written.columns) == ["subject_id", "analyte", "specimen", *expected.columns[1:]]
    assert set(written["analyte"]) == {"car_copies"} and set(written["specimen"]) == {"PB"}
    for column in expected.columns[3:]:
        if expected[column].dtype.kind == "f":
            assert np.array_equal(written[column].to_numpy(float), expected[column].to_numpy(float),
                                  equal_nan=True), column
    assert written["status"].tolist() == expected["status"].tolist()


def test_a_given_residual_sd_and_bad_arguments(tmp_path):
    out = tmp_path / "ck.csv"
    done = run(str(DEMO_DIR), "--out", str(out), "--residual-sd", "0.5", "--analyte", "CAR_COPIES")
    assert done.returncode == 0 and "0.5 on the log scale, given" in done.stderr
    assert (pd.read_csv(out)["residual_sd"] == 0.5).all()
    refused = run(str(DEMO_DIR), "--out", str(out), "--residual-sd", "-1")
    assert refused.returncode == 2 and "not a positive number" in refused.stderr
    missing = run(str(DEMO_DIR), "--out", str(out), "--analyte", "nothing")
    assert missing.returncode != 0 and "the study has no analyte 'nothing'" in missing.stderr
