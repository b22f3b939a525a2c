"""analysis/views/admin.py: the audit filter the controls ask for, the rows shown, the CSV frame."""
from datetime import UTC, date, datetime

import pandas as pd

from analysis.views.admin import (
    SHOWN_EVENTS,
    AuditFilter,
    audit_csv_frame,
    audit_filter,
    audit_rows,
    audit_summary,
    users_rows,
)
from data_access.accounts import AUDIT_ACTIONS


def events(n: int = 2) -> pd.DataFrame:
    return pd.DataFrame({
        "id": range(n, 0, -1), "at": pd.to_datetime(["2026-11-26 10:00:05+00:00"] * n, utc=True),
        "user_name": ["ada"] * n, "client": ["10.0.0.1"] * n, "action": ["grant"] * n, "study": ["S1"] * n,
        "subject_id": [None] * n, "detail": ['{"user": "vic"}'] + [None] * (n - 1)})


def test_the_filter_takes_what_the_controls_send_and_ignores_anything_else():
    chosen, problem = audit_filter(" ada ", "grant", "S1", "2026-11-01", "2026-11-26T00:00:00", AUDIT_ACTIONS)
    assert problem is None
    assert chosen == AuditFilter("ada", "grant", "S1", date(2026, 11, 1), date(2026, 11, 26))
    query = chosen.query()
    assert query["since"] == datetime(2026, 11, 1, tzinfo=UTC)
    assert query["until"] == datetime(2026, 11, 27, tzinfo=UTC)  # the end day is included
    assert chosen.describe() == "user ada, action 'grant', study S1, from 2026-11-01 to 2026-11-26"
    crafted, _ = audit_filter(["x"], "drop table", {"a": 1}, "not a date", 42, AUDIT_ACTIONS)
    assert crafted == AuditFilter()
    assert crafted.query() == {"user_name": None, "action": None, "study": None, "since": None, "until": None}
    assert crafted.describe() == "no filter"


def test_an_end_before_the_start_is_swapped_and_said():
    chosen, problem = audit_filter(None, None, None, "2026-11-26", "2026-11-01", AUDIT_ACTIONS)
    assert (chosen.start, chosen.end) == (date(2026, 11, 1), date(2026, 11, 26))
    assert "swapped" in problem


def test_rows_summary_and_csv():
    rows = audit_rows(events())
    assert rows[0] == {"at": "2026-11-26 10:00:05", "user_name": "ada", "client": "10.0.0.1", "action": "grant",
                       "study": "S1", "subject_id": "", "detail": "user: vic"}
    assert rows[1]["detail"] == ""
    detail = events(1).assign(detail='{"active": false, "email": null, "pages": ["overview", "kinetics"]}')
    assert audit_rows(detail)[0]["detail"] == "active: no; email: –; pages: overview, kinetics"
    assert len(audit_rows(events(SHOWN_EVENTS + 1))) == SHOWN_EVENTS
    assert audit_summary(0, AuditFilter()) == "No events match (no filter)."
    assert audit_summary(2, AuditFilter(action="grant")) == "2 event(s) match (action 'grant'), newest first."
    assert "More than 500 events match" in audit_summary(SHOWN_EVENTS + 1, AuditFilter())
    csv = audit_csv_frame(events())
    assert list(csv.columns) == ["at", "user_name", "client", "action", "study", "subject_id", "detail"]
    assert csv["at"].iloc[0] == "2026-11-26T10:00:05+00:00" and csv["detail"].iloc[0] == '{"user": "vic"}'


def test_users_rows():
    users = pd.DataFrame({"name": ["boss", "vic"], "role": ["admin", "viewer"], "email": [None, "v@x.org"],
                          "active": [True, False], "password": [True, False],
                          "created_at": pd.to_datetime(["2026-11-01", "2026-11-02"], utc=True),
                          "created_by": ["root", "boss"], "studies": ["all", ""]})
    assert users_rows(users) == [
        {"name": "boss", "role": "admin", "email": "", "active": "yes", "password": "yes",
         "studies": "all (admin)", "created": "2026-11-01 by root"},
        {"name": "vic", "role": "viewer", "email": "v@x.org", "active": "no", "password": "no", "studies": "none",
         "created": "2026-11-02 by boss"}]
