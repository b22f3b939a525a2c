"""`python -m data_access users ...` and `audit ...` as an operator runs them: every change is in the audit trail
with the operating-system user and the client 'command line'."""
import os
import subprocess
import sys

import pandas as pd

from data_access import accounts
from data_access.store import _current_user, get_engine
from tests.conftest import DEMO_DIR, REPO

PASSWORD = "a long enough secret"


def cli(*args, db, stdin: str = ""):
    env = {**os.environ, "CARTSCOPE_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run([sys.executable, "-m", "data_access", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, input=stdin)


def test_users_add_set_list_grant_revoke_and_the_audit_trail(tmp_path):
    db = tmp_path / "cli.db"
    engine = get_engine(f"sqlite:///{db}")
    done = cli("users", "add", "boss", "--role", "admin", "--email", "boss@example.org", db=db,
               stdin=PASSWORD + "\nignored second line\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Added boss (admin) with a password."
    assert accounts.check_password("boss", PASSWORD, "test", engine=engine).user.name == "boss"
    done = cli("users", "add", "vic", "--role", "viewer", "--no-password", db=db)
    assert done.stdout.strip() == "Added vic (viewer), no password."
    assert not accounts.find_user("vic", engine=engine).has_password
    # refusals: a short password, a name taken, an unknown role (argparse), the last admin
    done = cli("users", "add", "shorty", "--role", "viewer", db=db, stdin="short\n")
    assert done.returncode == 1 and "Not done: a password needs at least 12 characters" in done.stderr
    done = cli("users", "add", "nopass", "--role", "viewer", db=db)
    assert done.returncode == 1 and "Not done: standard input gave no password" in done.stderr
    assert accounts.find_user("nopass", engine=engine) is None
    assert cli("users", "add", "VIC", "--role", "viewer", "--no-password", db=db).returncode == 1
    assert cli("users", "add", "x", "--role", "root", "--no-password", db=db).returncode == 2
    done = cli("users", "set", "boss", "--active", "no", db=db)
    assert done.returncode == 1 and "'boss' is the last active admin and cannot be deactivated" in done.stderr
    assert accounts.find_user("boss", engine=engine).active
    assert cli("users", "set", "boss", db=db).returncode == 2  # nothing to change
    # changes
    done = cli("users", "set", "vic", "--role", "analyst", "--password", db=db, stdin="another long secret\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Changed vic: role analyst, may sign in, new password set."
    assert accounts.check_password("vic", "another long secret", "t", engine=engine).user.role == "analyst"
    # grants: only stored studies
    done = cli("users", "grant", "vic", "BCMA-01", db=db)
    assert done.returncode == 1 and "there is no stored study 'BCMA-01' (stored: none)" in done.stderr
    assert cli("import", str(DEMO_DIR), "--name", "BCMA-01", db=db).returncode == 0
    assert cli("users", "grant", "vic", "BCMA-01", db=db).stdout.strip() == "Granted BCMA-01 to vic."
    assert cli("users", "grant", "vic", "BCMA-01", db=db).stdout.strip() == "vic already has BCMA-01; nothing changed."
    listing = cli("users", "list", db=db).stdout.splitlines()
    assert listing[0].split() == ["name", "role", "email", "active", "password", "created_at", "created_by", "studies"]
    assert listing[1].split()[:5] == ["boss", "admin", "boss@example.org", "yes", "yes"]
    assert listing[2].split()[:4] == ["vic", "analyst", "yes", "yes"] and listing[2].endswith("BCMA-01")
    assert cli("users", "revoke", "vic", "BCMA-01", db=db).stdout.strip() == "Revoked BCMA-01 from vic."
    assert accounts.granted_studies(accounts.find_user("vic", engine=engine), engine=engine) == frozenset()
    assert cli("users", "revoke", "nobody", "BCMA-01", db=db).returncode == 1
    # every change is in the audit trail, by the operating-system user, from the command line
    events = accounts.audit_events(engine=engine)
    events = events[events["action"] != "sign-in"]  # the test's own password checks
    assert events["action"].tolist() == ["revoke", "grant", "import", "user changed", "user added", "user added"]
    assert set(events["user_name"]) == {_current_user()} and set(events["client"]) == {"command line"}
    assert "another long secret" not in "".join(events["detail"]) and PASSWORD not in "".join(events["detail"])
    # audit: on screen, filtered, and as CSV
    shown = cli("audit", "--action", "grant", db=db).stdout.splitlines()
    assert len(shown) == 2 and "grant" in shown[1] and "BCMA-01" in shown[1]
    assert cli("audit", "--study", "nope", db=db).stdout.strip() == "No events match."
    assert cli("audit", "--since", "2999-01-01", db=db).stdout.strip() == "No events match."
    assert cli("audit", "--since", "yesterday", db=db).returncode == 2
    out = tmp_path / "audit.csv"
    done = cli("audit", "--user", _current_user(), "--since", f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%d}", "--csv",
               str(out), db=db)
    assert done.stdout.strip() == f"Wrote 6 event(s) to {out}."
    csv = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert csv["action"].tolist() == ["revoke", "grant", "import", "user changed", "user added", "user added"]
    assert list(csv.columns) == ["at", "user_name", "client", "action", "study", "subject_id", "detail"]
    # the export itself is recorded
    assert accounts.audit_events(action="export", limit=1, engine=engine)["detail"].iloc[0].count("audit trail") == 1


def test_audit_csv_neutralises_formula_like_text(tmp_path):
    db = tmp_path / "cli.db"
    engine = get_engine(f"sqlite:///{db}")
    accounts.record("sign-in failed", "=cmd|' /C calc'!A0", "10.0.0.1", engine=engine)
    out = tmp_path / "audit.csv"
    assert cli("audit", "--csv", str(out), db=db).returncode == 0
    assert pd.read_csv(out, dtype=str)["user_name"].tolist() == ["'=cmd|' /C calc'!A0"]
