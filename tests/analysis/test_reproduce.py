"""The command line and the Python snippet the Kinetics page shows reproduce its NCA table, choices included."""

import json
import os
import shlex
import subprocess
import sys

import pandas as pd
import pytest

from analysis.nca.engine import run_nca
from analysis.views.kinetics import CohortSettings, reproduce
from data_access import store
from data_access.choices import current_choices, record_choice, settings_document
from data_access.importer import import_path
from tests.conftest import DEMO_DIR, REPO


def test_the_snippet_and_the_command_give_the_page_s_numbers(tmp_path):
    """Both run as a user runs them: in their own process, on the database CARTSCOPE_DATABASE_URL names (this
    process's default database is the test session's, and stays so)."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = store.get_engine(url)
    assert import_path(DEMO_DIR, "demo", source="test", engine=engine).stored
    record_choice("demo", 1, "DM-003", "car_copies", "PB", "exclude", day=21, reason="haemolysed", user="ana",
                  engine=engine)
    record_choice("demo", 1, "DM-005", "car_copies", "PB", "lambda_z", days=[21, 28, 60], reason="slow phase",
                  user="ana", engine=engine)
    s = CohortSettings(start=0, end=21, auc_method="linear", blq="zero")
    command, python = reproduce("demo", 1, s, with_settings=True)

    # what the page computes (pages/_context.cohort_nca: the study's NCA with its choices)
    from analysis.nca import NCAOptions
    from pages._context import with_choices
    study = store.load_study("demo", 1, engine)
    chosen = current_choices("demo", 1, engine)
    options = with_choices(NCAOptions(intervals=((0, 21),), auc_method="linear", blq="zero", kinds=study.nca_kinds),
                           chosen)
    page = run_nca(study.measurements, options)
    page = page[(page["analyte"] == "car_copies") & (page["specimen"] == "PB")].reset_index(drop=True)

    env = {**os.environ, "CARTSCOPE_DATABASE_URL": url}
    snippet_out = tmp_path / "snippet.pkl"
    done = subprocess.run([sys.executable, "-c", python + f"\nresult.to_pickle({str(snippet_out)!r})\n"], cwd=REPO,
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(pd.read_pickle(snippet_out).reset_index(drop=True), page)

    settings_file = tmp_path / "settings_demo_v1.json"
    settings_file.write_text(json.dumps(settings_document(chosen, study="demo", version=1)))
    out = tmp_path / "nca.csv"
    args = shlex.split(command)
    args[args.index("--settings") + 1] = str(settings_file)
    args[args.index("--out") + 1] = str(out)
    assert args[:3] == ["python", "-m", "analysis"]
    done = subprocess.run([sys.executable, *args[1:]], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    written = pd.read_csv(out, float_precision="round_trip")
    for column in ("cmax", "auc_0_21", "lambda_z", "aucinf_obs"):
        assert written[column].to_numpy(float) == pytest.approx(page[column].to_numpy(float), nan_ok=True)
    assert written.set_index("subject_id").loc["DM-005", "lambda_z_selection"] == "manual"
    assert "left out by the analyst: day 21" in written.set_index("subject_id").loc["DM-003", "reason"]



@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reproduce")
    url = f"sqlite:///{tmp / 'db.sqlite'}"
    engine = store.get_engine(url)
    assert import_path(DEMO_DIR, "demo", source="test", engine=engine).stored
    record_choice("demo", 1, "DM-003", "car_copies", "PB", "exclude", day=21, reason="haemolysed", user="ana",
                  engine=engine)
    return tmp, url, engine


def run_snippet(python: str, tmp, url: str, names: list[str]) -> dict:
    """Run a page's snippet as a user would (its own process, the database in CARTSCOPE_DATABASE_URL) and bring
    back the named results."""
    out = tmp / "out.pkl"
    tail = f"\nimport pickle\npickle.dump({{n: globals()[n] for n in {names!r}}}, open({str(out)!r}, 'wb'))\n"
    done = subprocess.run([sys.executable, "-c", python + tail], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "CARTSCOPE_DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    return pd.read_pickle(out)


def test_the_ck_model_page_s_snippet_gives_its_fits_and_summary(stored):
    from analysis.ck.cohort import fit_cohort
    from analysis.ck.population import two_stage
    from analysis.kinetics import grouping_values
    from analysis.patients import patient_table
    from analysis.views.reproduce import ck_fits

    tmp, url, engine = stored
    command, python = ck_fits("demo", 1, "car_copies", "PB", "cov:sex")
    got = run_snippet(python, tmp, url, ["parameters", "summary"])
    study = store.load_study("demo", 1, engine)
    cohort = fit_cohort(study.measurements)
    patients = patient_table(study.subjects, study.responses, study.adverse_events)
    groups, order = grouping_values(patients, "cov:sex")
    pd.testing.assert_frame_equal(got["parameters"], cohort.parameters)
    pd.testing.assert_frame_equal(got["summary"], two_stage(cohort.parameters, pd.Series(
        groups.to_numpy(), index=patients["subject_id"]), order))
    assert command == "python -m analysis ck demo --analyte car_copies --specimen PB --out ck.csv"


def test_the_endpoint_pages_snippet_and_the_patient_s_command(stored):
    from analysis.endpoints import endpoints
    from analysis.views.reproduce import endpoint_tables, nca_table

    tmp, url, engine = stored
    _, python = endpoint_tables("demo", 1, "survival")
    got = run_snippet(python.replace("result.time_to_event\nresult.km_summary", "km = result.km_summary"), tmp, url,
                      ["km"])
    pd.testing.assert_frame_equal(got["km"], endpoints(store.load_study("demo", 1, engine)).km_summary)

    command, _ = nca_table("demo", 1, "car_copies", "PB", 0, 28, "linuplogdown", "pknca", False, subject_id="DM-003")
    args = shlex.split(command)
    args[args.index("--out") + 1] = str(tmp / "one.csv")
    done = subprocess.run([sys.executable, *args[1:]], cwd=REPO, env={**os.environ, "CARTSCOPE_DATABASE_URL": url},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    one = pd.read_csv(tmp / "one.csv")
    assert one["subject_id"].tolist() == ["DM-003"] and one["specimen"].tolist() == ["PB"]


def test_the_exposure_page_s_snippet_gives_its_quartiles(stored):
    from analysis.exposure_response import AUC_WINDOW, exposure_table, response_by_quartile
    from analysis.nca import NCAOptions
    from analysis.patients import patient_table
    from analysis.views.reproduce import exposure_response

    tmp, url, engine = stored
    _, python = exposure_response("demo", 1, "car_copies", "PB", "cmax", "response", True)
    got = run_snippet(python, tmp, url, ["quartiles"])
    study = store.load_study("demo", 1, engine)
    chosen = current_choices("demo", 1, engine)
    nca = run_nca(study.measurements, NCAOptions(intervals=(AUC_WINDOW,), kinds=study.nca_kinds,
                                                 exclusions=chosen.exclusions))
    exposure = exposure_table(patient_table(study.subjects, study.responses, study.adverse_events), nca)
    pd.testing.assert_frame_equal(got["quartiles"], response_by_quartile(exposure, "cmax", "response"))
