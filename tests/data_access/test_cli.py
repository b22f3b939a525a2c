"""`python -m data_access import|list|log` as a user runs them."""
import os
import shutil
import subprocess
import sys

from tests.conftest import DEMO_DIR, REPO, VALID_TABLES


def cli(*args, db):
    env = {**os.environ, "CARTSCOPE_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run([sys.executable, "-m", "data_access", *args], cwd=REPO, env=env, capture_output=True,
                          text=True)


def test_import_then_list(tmp_path):
    db = tmp_path / "cli.db"
    done = cli("import", str(DEMO_DIR), "--name", "BCMA-01", db=db)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Stored 'BCMA-01' version 1: 62 subjects,")
    again = cli("import", str(DEMO_DIR), "--name", "BCMA-01", db=db)
    assert again.returncode == 0 and again.stdout.startswith("Not stored: the files are identical to 'BCMA-01' "
                                                             "version 1")
    changed = tmp_path / "v2"
    shutil.copytree(DEMO_DIR, changed)
    (changed / "responses.csv").write_text((DEMO_DIR / "responses.csv").read_text() + "DM-001,700,PD,\n")
    assert cli("import", str(changed), "--name", "BCMA-01", db=db).stdout.startswith("Stored 'BCMA-01' version 2")
    listing = cli("list", db=db)
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["name", "version", "subjects", "rows", "simulated", "imported_at", "imported_by"]
    assert [line.split()[:3] for line in lines[1:]] == [["BCMA-01", "2", "62"], ["BCMA-01", "1", "62"]]
    assert "BCMA-01" in cli("log", db=db).stdout


def test_failed_import_exits_non_zero_with_the_report(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for name, text in VALID_TABLES.items():
        (folder / name).write_text(text.replace("250,pg/mL", "250,mg/dL"), encoding="utf-8")
    db = tmp_path / "cli.db"
    done = cli("import", str(folder), "--name", "bad", db=db)
    assert done.returncode == 1
    assert "NOT STORED: 'bad' failed validation." in done.stderr
    assert ("ERROR: measurements.csv, row 6, column 'unit': unit 'mg/dL' is not a unit of il6; accepted: pg/mL, "
            "ng/L, ng/mL") in done.stderr
    assert cli("list", db=db).stdout.strip() == "No studies stored."


def test_missing_path(tmp_path):
    done = cli("import", str(tmp_path / "nowhere"), "--name", "x", db=tmp_path / "cli.db")
    assert done.returncode == 1 and "no such file or folder" in done.stderr
