"""The analyst's NCA choices, per study version: samples left out of the NCA (with a reason) and the points of a
profile's lambda-z fit chosen by hand. Stored as an append-only history (who, when, what, why): each change is
a new row, the current choices are the history folded in order, nothing is ever edited or deleted. Each change
also goes into the audit trail, in the same transaction.

`current_choices` gives what the NCA applies (analysis.nca.NCAOptions.exclusions and .lambda_z_points);
`settings_document` / `choices_from_document` are the JSON file `python -m analysis nca --settings FILE` reads.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Column, DateTime, Float, Index, Integer, String, Table, Text, select
from sqlalchemy.engine import Engine

from data_access import accounts
from data_access.store import get_engine, metadata

#: What a change does: leave a sample out, put it back, use chosen lambda-z points, go back to the automatic ones.
ACTIONS = ("exclude", "include", "lambda_z", "lambda_z_auto")
REASON_LENGTH = 500
NAME_LENGTH = 100

choices_table = Table(
    "nca_choices", metadata,
    Column("id", Integer, primary_key=True),
    Column("study", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("subject_id", String(100), nullable=False),
    Column("analyte", String(40), nullable=False),
    Column("specimen", String(40), nullable=False),
    Column("action", String(20), nullable=False),
    #: the sample's day (exclude, include); NULL for lambda-z choices
    Column("day", Float),
    #: the chosen lambda-z days, as a JSON list (lambda_z); NULL otherwise
    Column("days", Text),
    Column("reason", String(REASON_LENGTH), nullable=False),
    Column("user_name", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_nca_choices_study_version", "study", "version"),
)


class ChoiceError(ValueError):
    """A choice that cannot be recorded (no reason, unknown action, too few points), with why."""


@dataclass(frozen=True)
class Choices:
    """The choices in force for one study version."""

    exclusions: tuple[tuple[str, str, str, float], ...] = ()
    lambda_z_points: tuple[tuple[str, str, str, tuple[float, ...]], ...] = ()
    reasons: tuple[tuple[tuple, str], ...] = ()      # ((kind, subject_id, analyte, specimen, day or days), reason)

    def reason_of(self, key: tuple) -> str | None:
        return dict(self.reasons).get(key)

    def __bool__(self) -> bool:
        return bool(self.exclusions or self.lambda_z_points)


def record_choice(study: str, version: int, subject_id: str, analyte: str, specimen: str, action: str, *,
                  reason: str, user: str, client: str = "command line", day: float | None = None,
                  days: list[float] | None = None, engine: Engine | None = None) -> None:
    """Add one change to the history (and to the audit trail, in the same transaction)."""
    if action not in ACTIONS:
        raise ChoiceError(f"unknown action '{action}' (one of {', '.join(ACTIONS)})")
    reason = (reason or "").strip()
    if action in ("exclude", "lambda_z") and not reason:
        raise ChoiceError("a reason is needed: say why the sample is left out, or why these lambda-z points")
    if action in ("exclude", "include") and (day is None or day != day):
        raise ChoiceError(f"'{action}' needs the sample's day")
    if action == "lambda_z":
        days = sorted({float(d) for d in days or []})
        if len(days) < 2:
            raise ChoiceError("lambda-z needs at least 2 chosen points")
    engine = engine or get_engine()
    now = datetime.now(UTC)
    row = dict(study=study, version=int(version), subject_id=str(subject_id)[:100], analyte=analyte[:40],
               specimen=specimen[:40], action=action, day=None if day is None else float(day),
               days=json.dumps(days) if action == "lambda_z" else None, reason=reason[:REASON_LENGTH],
               user_name=user[:200], at=now)
    with engine.begin() as conn:
        conn.execute(choices_table.insert().values(**row))
        conn.execute(accounts.audit_table.insert().values(
            at=now, user_name=user[:200], client=(client or "unknown")[:100], action="nca choice", study=study[:100],
            subject_id=str(subject_id)[:100], detail=json.dumps(
                {"version": int(version), "analyte": analyte, "specimen": specimen, "choice": action,
                 "day": row["day"], "days": days if action == "lambda_z" else None, "reason": row["reason"]},
                sort_keys=True)))


HISTORY_COLUMNS = ["at", "user_name", "subject_id", "analyte", "specimen", "action", "day", "days", "reason"]


def history(study: str, version: int, engine: Engine | None = None) -> pd.DataFrame:
    """Every change for the study version, oldest first (HISTORY_COLUMNS; `days` as a list)."""
    engine = engine or get_engine()
    query = select(*(choices_table.c[c] for c in HISTORY_COLUMNS)).where(
        choices_table.c.study == study, choices_table.c.version == int(version)).order_by(choices_table.c.id)
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    frame["days"] = [json.loads(d) if isinstance(d, str) else None for d in frame["days"]]
    return frame


def fold(changes: pd.DataFrame) -> Choices:
    """The choices in force after `changes` (history order): the last word on each sample and each profile."""
    excluded: dict[tuple, str] = {}
    manual: dict[tuple, tuple[tuple[float, ...], str]] = {}
    for row in changes.itertuples(index=False):
        profile = (row.subject_id, row.analyte, row.specimen)
        if row.action == "exclude":
            excluded[(*profile, float(row.day))] = row.reason
        elif row.action == "include":
            excluded.pop((*profile, float(row.day)), None)
        elif row.action == "lambda_z":
            manual[profile] = (tuple(float(d) for d in row.days), row.reason)
        elif row.action == "lambda_z_auto":
            manual.pop(profile, None)
    reasons = [(("exclude", *k), r) for k, r in excluded.items()] + \
        [(("lambda_z", *k, days), r) for k, (days, r) in manual.items()]
    return Choices(tuple(sorted(excluded)), tuple(sorted((*k, days) for k, (days, _) in manual.items())),
                   tuple(reasons))


def current_choices(study: str, version: int, engine: Engine | None = None) -> Choices:
    return fold(history(study, version, engine))


def current_table(choices: Choices) -> pd.DataFrame:
    """The choices in force, one row each: subject_id, analyte, specimen, choice, days, reason."""
    rows = [{"subject_id": s, "analyte": a, "specimen": p, "choice": "sample left out", "days": f"{d:g}",
             "reason": choices.reason_of(("exclude", s, a, p, d)) or ""} for s, a, p, d in choices.exclusions]
    rows += [{"subject_id": s, "analyte": a, "specimen": p, "choice": "lambda-z points",
              "days": ", ".join(f"{d:g}" for d in days), "reason": choices.reason_of(("lambda_z", s, a, p, days))
              or ""} for s, a, p, days in choices.lambda_z_points]
    return pd.DataFrame(rows, columns=["subject_id", "analyte", "specimen", "choice", "days", "reason"])


# ---- the settings file ------------------------------------------------------------------------------------------

def settings_document(choices: Choices, *, study: str | None = None, version: int | None = None,
                      options: dict | None = None) -> dict:
    """The JSON document `python -m analysis nca --settings FILE` reads: NCA options and the analyst's choices."""
    return {
        "cartscope_settings": 1, "study": study, "version": version, "options": options or {},
        "exclusions": [{"subject_id": s, "analyte": a, "specimen": p, "day": d,
                        "reason": choices.reason_of(("exclude", s, a, p, d)) or ""}
                       for s, a, p, d in choices.exclusions],
        "lambda_z": [{"subject_id": s, "analyte": a, "specimen": p, "days": list(days),
                      "reason": choices.reason_of(("lambda_z", s, a, p, days)) or ""}
                     for s, a, p, days in choices.lambda_z_points],
    }


def choices_from_document(document: dict, source: str = "settings file") -> tuple[Choices, dict]:
    """(choices, options) from a settings document; ChoiceError naming the entry and field that is wrong."""
    if not isinstance(document, dict) or document.get("cartscope_settings") != 1:
        raise ChoiceError(f"{source}: not a CARTscope settings file (no \"cartscope_settings\": 1)")
    excluded, manual, reasons = [], [], []
    for i, item in enumerate(document.get("exclusions") or []):
        try:
            key = (str(item["subject_id"]), str(item["analyte"]), str(item["specimen"]), float(item["day"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ChoiceError(f"{source}: exclusions[{i}]: needs subject_id, analyte, specimen and a numeric day "
                              f"({error})") from None
        excluded.append(key)
        reasons.append((("exclude", *key), str(item.get("reason", ""))))
    for i, item in enumerate(document.get("lambda_z") or []):
        try:
            days = tuple(sorted({float(d) for d in item["days"]}))
            key = (str(item["subject_id"]), str(item["analyte"]), str(item["specimen"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ChoiceError(f"{source}: lambda_z[{i}]: needs subject_id, analyte, specimen and numeric days "
                              f"({error})") from None
        if len(days) < 2:
            raise ChoiceError(f"{source}: lambda_z[{i}]: needs at least 2 days")
        manual.append((*key, days))
        reasons.append((("lambda_z", *key, days), str(item.get("reason", ""))))
    options = document.get("options") or {}
    if not isinstance(options, dict):
        raise ChoiceError(f"{source}: options: not an object")
    return Choices(tuple(sorted(set(excluded))), tuple(sorted(manual)), tuple(reasons)), options


# ---- named settings ---------------------------------------------------------------------------------------------

named_settings_table = Table(
    "named_settings", metadata,
    Column("id", Integer, primary_key=True),
    Column("study", String(100), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    #: the settings document (settings_document: options, and the choices in force when it was saved), as JSON
    Column("document", Text, nullable=False),
    Column("saved_by", String(200), nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
    Index("ix_named_settings_study_name", "study", "name"),
)


def save_settings(study: str, name: str, document: dict, *, user: str, client: str = "command line",
                  engine: Engine | None = None) -> None:
    """Save named analysis settings for a study, shared with everyone who may see it; saving a name again keeps the
    earlier ones (the newest is loaded). In the audit trail too."""
    name = (name or "").strip()
    if not name:
        raise ChoiceError("give the settings a name")
    if len(name) > NAME_LENGTH:
        raise ChoiceError(f"a settings name has at most {NAME_LENGTH} characters")
    engine = engine or get_engine()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(named_settings_table.insert().values(study=study[:100], name=name, saved_by=user[:200],
                                                          saved_at=now, document=json.dumps(document, sort_keys=True)))
        conn.execute(accounts.audit_table.insert().values(
            at=now, user_name=user[:200], client=(client or "unknown")[:100], action="settings saved",
            study=study[:100], detail=json.dumps({"name": name}, sort_keys=True)))


def named_settings(study: str, engine: Engine | None = None) -> pd.DataFrame:
    """The study's named settings, the newest of each name: name, saved_by, saved_at, document (a dict)."""
    engine = engine or get_engine()
    t = named_settings_table
    query = select(t.c.id, t.c.name, t.c.saved_by, t.c.saved_at, t.c.document).where(t.c.study == study) \
        .order_by(t.c.id)
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame = frame.drop_duplicates("name", keep="last").sort_values("name", key=lambda n: n.str.lower())
    frame["saved_at"] = pd.to_datetime(frame["saved_at"], utc=True)
    frame["document"] = [json.loads(d) for d in frame["document"]]
    return frame.drop(columns="id").reset_index(drop=True)
