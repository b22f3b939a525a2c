"""The Admin page: the accounts as a table, and the audit trail filtered by user, action, study and dates, shown
and exported (the CSV holds exactly the filtered events)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd

#: The users table: column, header.
USER_COLUMNS = [("name", "User"), ("role", "Role"), ("email", "E-mail"), ("active", "Active"),
                ("password", "Has password"), ("studies", "Studies granted"), ("created", "Created")]
#: The audit table on screen: column, header.
AUDIT_COLUMNS = [("at", "When (UTC)"), ("user_name", "User"), ("client", "Client"), ("action", "Action"),
                 ("study", "Study"), ("subject_id", "Patient"), ("detail", "Detail")]
#: The CSV export: the stored columns, as stored (the time in ISO 8601 UTC, the detail as its JSON).
CSV_COLUMNS = ["at", "user_name", "client", "action", "study", "subject_id", "detail"]
#: The table shows at most this many events (the newest); the CSV has every event the filters match.
SHOWN_EVENTS = 500
CSV_NAME = "audit-trail.csv"


def _yes(value) -> str:
    return "yes" if bool(value) else "no"


def users_rows(users: pd.DataFrame) -> list[dict]:
    """accounts.list_users as the page's table rows."""
    frame = users.copy()
    frame["email"] = frame["email"].fillna("")
    frame["active"] = frame["active"].map(_yes)
    frame["password"] = frame["password"].map(_yes)
    frame["studies"] = frame["studies"].replace({"all": "all (admin)"}).replace({"": "none"})
    stamps = pd.to_datetime(frame["created_at"], utc=True)
    frame["created"] = stamps.dt.strftime("%Y-%m-%d") + " by " + frame["created_by"].astype(str)
    return frame.reindex(columns=[c for c, _ in USER_COLUMNS]).to_dict("records")


@dataclass(frozen=True)
class AuditFilter:
    """What the audit table and its CSV are narrowed to (None: any). Dates are whole days in UTC, both included."""

    user: str | None = None
    action: str | None = None
    study: str | None = None
    start: date | None = None
    end: date | None = None

    def query(self) -> dict:
        """The keyword arguments of accounts.audit_events for this filter."""
        return {"user_name": self.user, "action": self.action, "study": self.study,
                "since": datetime.combine(self.start, time(), UTC) if self.start else None,
                "until": datetime.combine(self.end + timedelta(days=1), time(), UTC) if self.end else None}

    def describe(self) -> str:
        parts = [f"user {self.user}" if self.user else "", f"action '{self.action}'" if self.action else "",
                 f"study {self.study}" if self.study else ""]
        if self.start or self.end:
            parts.append(f"from {self.start or 'the start'} to {self.end or 'today'}")
        kept = [p for p in parts if p]
        return ", ".join(kept) if kept else "no filter"


def _day(value) -> date | None:
    """A date picker's value ('YYYY-MM-DD', maybe with a time after it) as a date; None for anything else."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _choice(value, allowed=None) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()[:200]
    return value if allowed is None or value in allowed else None


def audit_filter(user, action, study, start, end, actions) -> tuple[AuditFilter, str | None]:
    """The filter the controls ask for, and a problem to show (an end before the start: the two are swapped).
    Values no control sends (a crafted request) count as 'any'."""
    first, last = _day(start), _day(end)
    problem = None
    if first and last and last < first:
        first, last = last, first
        problem = "The end date was before the start date; the two are swapped."
    return AuditFilter(_choice(user), _choice(action, actions), _choice(study), first, last), problem


def _detail_text(detail) -> str:
    """The stored JSON detail as 'key: value; ...' for people."""
    if not isinstance(detail, str) or not detail:
        return ""
    try:
        values = json.loads(detail)
    except ValueError:
        return detail
    if not isinstance(values, dict):
        return str(values)
    return "; ".join(f"{k}: {_value_text(v)}" for k, v in values.items())


def _value_text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "–"
    if isinstance(value, list):
        return ", ".join(map(_value_text, value))
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value_text(v)}" for k, v in value.items())
    return str(value)


def audit_rows(events: pd.DataFrame) -> list[dict]:
    """accounts.audit_events (newest first) as the page's table rows, at most SHOWN_EVENTS."""
    frame = events.head(SHOWN_EVENTS).copy()
    frame["at"] = pd.to_datetime(frame["at"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S")
    frame["detail"] = frame["detail"].map(_detail_text)
    frame = frame.reindex(columns=[c for c, _ in AUDIT_COLUMNS]).astype(object)
    return frame.where(frame.notna(), "").to_dict("records")


def audit_summary(n_events: int, chosen: AuditFilter) -> str:
    """The line above the table. `n_events`: the events read for it (the page reads SHOWN_EVENTS + 1: more than
    SHOWN_EVENTS means there are more)."""
    if n_events == 0:
        return f"No events match ({chosen.describe()})."
    if n_events > SHOWN_EVENTS:
        return (f"More than {SHOWN_EVENTS:,} events match ({chosen.describe()}); the newest {SHOWN_EVENTS:,} are "
                "shown. The CSV has all of them.")
    return f"{n_events:,} event(s) match ({chosen.describe()}), newest first."


def audit_csv_frame(events: pd.DataFrame) -> pd.DataFrame:
    """Every event of `events` as the CSV holds it (analysis.spreadsheet.write_csv neutralises its text)."""
    frame = events.reindex(columns=CSV_COLUMNS).copy()
    frame["at"] = pd.to_datetime(frame["at"], utc=True).map(lambda t: t.isoformat(timespec="seconds"))
    return frame
