"""data_access/accounts.py on SQLite and PostgreSQL: users, grants, passwords and the lock-out, the append-only audit
trail, and the rule that keeps an active admin."""
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from data_access import accounts
from data_access.accounts import AccountError, LastAdminError

PASSWORD = "correct horse battery"


def test_add_find_and_list_users(engine):
    added = accounts.add_user("Ada", "analyst", email="ada@example.org", password=PASSWORD, by="t", engine=engine)
    assert (added.name, added.role, added.email, added.active, added.has_password) == \
        ("Ada", "analyst", "ada@example.org", True, True)
    assert accounts.find_user("  ada ", engine=engine) == added
    assert accounts.user_by_email("ADA@example.org", engine=engine) == added
    assert accounts.user_by_id(added.user_id, engine=engine) == added
    assert accounts.find_user("nobody", engine=engine) is None
    accounts.add_user("boss", "admin", by="t", engine=engine)
    accounts.add_user("vic", "viewer", by="t", engine=engine)
    accounts.grant("vic", "BCMA-01", by="t", engine=engine)
    accounts.grant("vic", "ALPHA", by="t", engine=engine)
    users = accounts.list_users(engine=engine).set_index("name")
    assert list(users.index) == ["Ada", "boss", "vic"]
    assert users.loc["vic", "studies"] == "ALPHA, BCMA-01"
    assert users.loc["boss", "studies"] == "all"
    assert users.loc["Ada", "studies"] == ""
    assert users["password"].tolist() == [True, False, False]


@pytest.mark.parametrize(("name", "role", "password", "message"), [
    ("ada", "analyst", None, "there is already a user 'ada'"),
    ("new", "superuser", None, "role 'superuser' is not one of viewer, analyst, data-manager, admin"),
    ("new", "viewer", "short", "at least 12 characters"),
    ("", "viewer", None, "a user name is 1 to 100 printable characters"),
    ("tab\there", "viewer", None, "printable"),
    ("x" * 101, "viewer", None, "1 to 100"),
])
def test_add_user_refuses_with_a_reason(engine, name, role, password, message):
    accounts.add_user("Ada", "analyst", by="t", engine=engine)
    with pytest.raises(AccountError, match=message):
        accounts.add_user(name, role, password=password, by="t", engine=engine)
    assert len(accounts.list_users(engine=engine)) == 1


def test_roles_allow_what_they_should():
    user = accounts.User(1, "u", "analyst", None, True, False)
    assert user.may("view") and user.may("export") and not user.may("import") and not user.may("administer")
    assert accounts.User(1, "u", "admin", None, True, False).may("administer")
    assert not accounts.User(1, "u", "data-manager", None, True, False).may("administer")


def test_change_user_and_check_password(engine):
    accounts.add_user("ada", "viewer", password=PASSWORD, by="t", engine=engine)
    assert accounts.check_password("ADA", PASSWORD, "10.0.0.1", engine=engine).user.name == "ada"
    assert accounts.check_password("ada", "wrong password!", "10.0.0.1", engine=engine).user is None
    changed = accounts.change_user("ada", role="data-manager", password="another long secret", by="t", engine=engine)
    assert changed.role == "data-manager"
    assert accounts.check_password("ada", PASSWORD, "10.0.0.1", engine=engine).user is None
    assert accounts.check_password("ada", "another long secret", "10.0.0.1", engine=engine).user.role == "data-manager"
    accounts.change_user("ada", active=False, by="t", engine=engine)
    refused = accounts.check_password("ada", "another long secret", "10.0.0.1", engine=engine)
    assert refused.user is None and refused.reason == "wrong name or password"
    events = accounts.audit_events(user_name="ada", engine=engine)
    assert events["action"].tolist() == ["sign-in failed", "sign-in", "sign-in failed", "sign-in failed", "sign-in"]
    assert '"inactive account"' in events["detail"].iloc[0]
    with pytest.raises(AccountError, match="there is no user 'bob'"):
        accounts.change_user("bob", role="viewer", by="t", engine=engine)


def test_grants(engine):
    vic = accounts.add_user("vic", "viewer", by="t", engine=engine)
    boss = accounts.add_user("boss", "admin", by="t", engine=engine)
    assert accounts.granted_studies(vic, engine=engine) == frozenset()
    assert accounts.grant("vic", "BCMA-01", by="t", engine=engine) is True
    assert accounts.grant("vic", "BCMA-01", by="t", engine=engine) is False
    assert accounts.granted_studies(vic, engine=engine) == {"BCMA-01"}
    assert accounts.granted_studies(boss, engine=engine) is None
    assert accounts.revoke("vic", "BCMA-01", engine=engine) is True
    assert accounts.revoke("vic", "BCMA-01", engine=engine) is False
    assert accounts.granted_studies(vic, engine=engine) == frozenset()


def test_lock_out_by_account_and_by_address(engine):
    accounts.add_user("ada", "viewer", password=PASSWORD, by="t", engine=engine)
    for attempt in range(accounts.LOCKOUT_AFTER):
        assert accounts.lockout_wait("ada", "10.0.0.1", engine=engine) == 0, attempt
        accounts.check_password("ada", "wrong password!", "10.0.0.1", engine=engine)
    wait = accounts.lockout_wait("ada", "10.0.0.9", engine=engine)
    assert 0 < wait <= accounts.LOCKOUT_BASE_SECONDS
    # locked out: even the right password is not checked
    locked = accounts.check_password("ada", PASSWORD, "10.0.0.9", engine=engine)
    assert locked.user is None and locked.reason == "locked out" and locked.wait_seconds > 0
    # an address is locked out for every name after more failures (many people may share one, behind a proxy)
    assert accounts.lockout_wait("someone else", "10.0.0.1", engine=engine) == 0
    for attempt in range(accounts.LOCKOUT_AFTER_PER_ADDRESS - accounts.LOCKOUT_AFTER):
        accounts.check_password(f"guess{attempt}", "wrong password!", "10.0.0.1", engine=engine)
    assert accounts.lockout_wait("someone else", "10.0.0.1", engine=engine) > 0
    # and the lock-out ends after its wait, and the window
    later = datetime.now(UTC) + accounts.LOCKOUT_WINDOW + timedelta(minutes=1)
    assert accounts.lockout_wait("ada", "10.0.0.9", now=later, engine=engine) == 0
    assert accounts.lockout_wait("other", "10.0.0.2", engine=engine) == 0


def test_lock_out_doubles_with_each_further_failure(engine):
    for _ in range(accounts.LOCKOUT_AFTER + 2):
        accounts.record("sign-in failed", "ada", "10.0.0.1", engine=engine)
    wait = accounts.lockout_wait("ada", "elsewhere", engine=engine)
    assert accounts.LOCKOUT_BASE_SECONDS * 2 < wait <= accounts.LOCKOUT_BASE_SECONDS * 4


def test_audit_trail_is_append_only_in_the_database(engine):
    accounts.record("export", "ada", "10.0.0.1", study="BCMA-01", detail={"format": "csv"}, engine=engine)
    statements = ["UPDATE audit_events SET user_name = 'mallory'", "DELETE FROM audit_events"]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    events = accounts.audit_events(engine=engine)
    assert events[["user_name", "action", "study", "detail"]].values.tolist() == \
        [["ada", "export", "BCMA-01", '{"format": "csv"}']]


def test_audit_events_filter_and_record_refuses_unknown_actions(engine):
    with pytest.raises(ValueError, match="unknown audit action"):
        accounts.record("tea break", "ada", "x", engine=engine)
    accounts.record("export", "ada", "a", study="S1", engine=engine)
    accounts.record("grant", "Boss", "b", study="S2", detail={"user": "ada"}, engine=engine)
    accounts.record("export", "boss", "b", study="S2", engine=engine)
    events = accounts.audit_events(engine=engine)
    assert events["action"].tolist() == ["export", "grant", "export"]  # newest first
    assert len(accounts.audit_events(user_name="BOSS", engine=engine)) == 2
    assert accounts.audit_events(action="export", study="S2", engine=engine)["user_name"].tolist() == ["boss"]
    future = datetime.now(UTC) + timedelta(days=1)
    assert accounts.audit_events(since=future, engine=engine).empty
    assert len(accounts.audit_events(until=future, limit=2, engine=engine)) == 2
    assert accounts.audit_choices(engine=engine) == {"user_name": ["ada", "boss", "Boss"], "study": ["S1", "S2"]}


def test_the_last_active_admin_is_kept(engine):
    accounts.add_user("boss", "admin", by="t", engine=engine)
    accounts.add_user("vic", "viewer", by="t", engine=engine)
    assert "last active admin" in accounts.last_admin_problem("boss", role="analyst", engine=engine)
    assert "cannot be deactivated" in accounts.last_admin_problem("boss", active=False, engine=engine)
    assert accounts.last_admin_problem("boss", role="admin", engine=engine) is None
    assert accounts.last_admin_problem("vic", active=False, engine=engine) is None
    for change in ({"role": "viewer"}, {"active": False}, {"role": "admin", "active": False}):
        with pytest.raises(LastAdminError, match="'boss' is the last active admin"):
            accounts.change_user_keeping_an_admin("boss", by="t", **change, engine=engine)
    assert accounts.find_user("boss", engine=engine).role == "admin" and accounts.has_admin(engine=engine)
    # other changes to the last admin, and to anyone else, go through
    assert accounts.change_user_keeping_an_admin("boss", email="b@example.org", by="t", engine=engine).email
    assert accounts.change_user_keeping_an_admin("vic", role="admin", by="t", engine=engine).role == "admin"
    # with a second admin, the first may go
    assert accounts.last_admin_problem("boss", active=False, engine=engine) is None
    assert not accounts.change_user_keeping_an_admin("boss", active=False, by="t", engine=engine).active
    with pytest.raises(LastAdminError):
        accounts.change_user_keeping_an_admin("vic", role="analyst", by="t", engine=engine)


def test_without_any_admin_in_the_database_changes_are_not_refused(engine):
    """Single-user mode has no admin account; the rule only keeps one that exists."""
    accounts.add_user("ada", "analyst", by="t", engine=engine)
    assert accounts.change_user_keeping_an_admin("ada", role="viewer", by="t", engine=engine).role == "viewer"


def test_two_admins_demoting_each_other_at_once_leave_one(engine):
    """The second change waits for the first and then sees that it would leave no admin (PostgreSQL; SQLite writes
    one transaction at a time anyway)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL")
    accounts.add_user("a", "admin", by="t", engine=engine)
    accounts.add_user("b", "admin", by="t", engine=engine)
    outcome = {}

    def demote_b():
        try:
            accounts.change_user_keeping_an_admin("b", role="viewer", by="t", engine=engine)
            outcome["b"] = "demoted"
        except LastAdminError:
            outcome["b"] = "refused"

    with engine.connect() as conn, conn.begin():
        # a first change, not yet committed: 'a' demoted
        conn.execute(accounts.users_table.update().where(accounts.users_table.c.name == "a").values(role="viewer"))
        worker = threading.Thread(target=demote_b)
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive(), "the second change did not wait for the first"
    worker.join(timeout=20)
    assert outcome == {"b": "refused"}
    assert accounts.has_admin(engine=engine)
