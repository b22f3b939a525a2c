"""Who may use CARTscope, and what they did: user accounts with a role, per-study grants, and the audit trail.

Roles, each with everything the one before it may do:
- viewer: sees the studies granted to them;
- analyst: plus exports (figures, tables, decks, reports) and saved settings;
- data-manager: plus imports and mappings;
- admin: every study, plus users and grants.

Passwords are kept as argon2id hashes (argon2-cffi). The audit trail is append-only: this module only inserts into
it, and the database refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) on it: triggers made with the table by
the baseline migration (data_access/migrations/versions/0001_baseline.py).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
)

from data_access.store import get_engine, metadata

ROLES = ("viewer", "analyst", "data-manager", "admin")
#: What each action needs, at least.
PERMISSIONS = {"view": "viewer", "export": "analyst", "save settings": "analyst", "import": "data-manager",
               "map": "data-manager", "administer": "admin"}
NAME_LENGTH = 100
MIN_PASSWORD_LENGTH = 12
#: Sign-in lock-out: after LOCKOUT_AFTER failed attempts in a row for one account (LOCKOUT_AFTER_PER_ADDRESS from one
#: client address: many people may share one, behind a proxy), each further attempt waits LOCKOUT_BASE_SECONDS,
#: doubling per failure, at most LOCKOUT_MAX_SECONDS.
LOCKOUT_AFTER = 5
LOCKOUT_AFTER_PER_ADDRESS = 20
LOCKOUT_BASE_SECONDS = 30
LOCKOUT_MAX_SECONDS = 15 * 60
#: Failures older than this are forgotten by the lock-out.
LOCKOUT_WINDOW = timedelta(hours=1)

users_table = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    #: argon2 hash; NULL for an account that signs in only through single sign-on or a trusted proxy
    Column("password_hash", String(200)),
    Column("email", String(200)),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
)

study_grants_table = Table(
    "study_grants", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    #: a grant covers every version of the study name
    Column("study_name", String(100), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("granted_by", String(200), nullable=False),
    UniqueConstraint("user_id", "study_name", name="uq_grant_user_study"),
)

audit_table = Table(
    "audit_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user_name", String(200), nullable=False),
    Column("client", String(100), nullable=False),
    #: what happened: one of AUDIT_ACTIONS
    Column("action", String(40), nullable=False),
    Column("study", String(100)),
    Column("subject_id", String(100)),
    #: anything else (the export's format, the grant's user, a failure's reason), as JSON
    Column("detail", Text),
    Index("ix_audit_action_user_at", "action", "user_name", "at"),
    Index("ix_audit_at", "at"),
)

AUDIT_ACTIONS = ("sign-in", "sign-in failed", "sign-out", "study view", "patient view", "export", "import",
                 "mapping saved", "user added", "user changed", "grant", "revoke", "access refused", "nca choice",
                 "settings saved")

_hasher = PasswordHasher()
#: Verified against when the account does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone's")


class AccountError(ValueError):
    """A request about accounts that cannot be done (unknown user, bad role, weak password ...), with why."""


@dataclass(frozen=True)
class User:
    """One account, as the app needs it."""

    user_id: int
    name: str
    role: str
    email: str | None
    active: bool
    has_password: bool

    def may(self, action: str) -> bool:
        """Whether the user's role allows `action` (one of PERMISSIONS)."""
        return ROLES.index(self.role) >= ROLES.index(PERMISSIONS[action])

    @property
    def sees_every_study(self) -> bool:
        return self.role == "admin"


def _user(row) -> User:
    return User(row["id"], row["name"], row["role"], row["email"], bool(row["active"]),
                row["password_hash"] is not None)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role '{role}' is not one of {', '.join(ROLES)}")
    return role


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


def add_user(name: str, role: str, *, password: str | None = None, email: str | None = None, by: str,
             engine: Engine | None = None) -> User:
    """A new account. Without a password it can sign in only by single sign-on or through a trusted proxy."""
    engine = engine or get_engine()
    name = name.strip()
    if not name or len(name) > NAME_LENGTH or not name.isprintable():
        raise AccountError(f"a user name is 1 to {NAME_LENGTH} printable characters, not '{name[:40]}'")
    _check_role(role)
    hashed = _hasher.hash(_check_password(password)) if password is not None else None
    with engine.begin() as conn:
        if conn.execute(select(users_table.c.id).where(func.lower(users_table.c.name) == name.lower())).first():
            raise AccountError(f"there is already a user '{name}'")
        conn.execute(users_table.insert().values(name=name, role=role, password_hash=hashed, email=email,
                                                 active=True, created_at=datetime.now(UTC), created_by=by))
    return find_user(name, engine=engine)


def find_user(name: str, *, engine: Engine | None = None) -> User | None:
    """The account named `name` (names are matched ignoring case), or None."""
    engine = engine or get_engine()
    if not isinstance(name, str) or len(name) > NAME_LENGTH:
        return None
    with engine.connect() as conn:
        row = conn.execute(select(users_table).where(func.lower(users_table.c.name) == name.strip().lower())
                           ).mappings().first()
    return _user(row) if row else None


def user_by_id(user_id: int, *, engine: Engine | None = None) -> User | None:
    engine = engine or get_engine()
    with engine.connect() as conn:
        row = conn.execute(select(users_table).where(users_table.c.id == user_id)).mappings().first()
    return _user(row) if row else None


def user_by_email(email: str, *, engine: Engine | None = None) -> User | None:
    engine = engine or get_engine()
    with engine.connect() as conn:
        row = conn.execute(select(users_table).where(func.lower(users_table.c.email) == email.strip().lower())
                           ).mappings().first()
    return _user(row) if row else None


def _require(name: str, engine: Engine) -> User:
    user = find_user(name, engine=engine)
    if user is None:
        raise AccountError(f"there is no user '{name}'")
    return user


def change_user(name: str, *, by: str, role: str | None = None, password: str | None = None,
                active: bool | None = None, email: str | None = None, engine: Engine | None = None) -> User:
    """Change an account's role, password, e-mail or whether it may sign in."""
    engine = engine or get_engine()
    user = _require(name, engine)
    values = {}
    if role is not None:
        values["role"] = _check_role(role)
    if password is not None:
        values["password_hash"] = _hasher.hash(_check_password(password))
    if active is not None:
        values["active"] = active
    if email is not None:
        values["email"] = email or None
    if values:
        with engine.begin() as conn:
            conn.execute(users_table.update().where(users_table.c.id == user.user_id).values(**values))
    return _require(name, engine)


def list_users(*, engine: Engine | None = None) -> pd.DataFrame:
    """Every account with its grants (study names, comma-separated): name, role, email, active, password,
    created_at, created_by, studies."""
    engine = engine or get_engine()
    with engine.connect() as conn:
        users = pd.read_sql(select(users_table).order_by(users_table.c.name), conn)
        grants = pd.read_sql(select(study_grants_table.c.user_id, study_grants_table.c.study_name)
                             .order_by(study_grants_table.c.study_name), conn)
    studies = grants.groupby("user_id")["study_name"].agg(", ".join)
    users["studies"] = users["id"].map(studies).fillna("")
    users.loc[users["role"] == "admin", "studies"] = "all"
    users["password"] = users["password_hash"].notna()
    return users[["name", "role", "email", "active", "password", "created_at", "created_by", "studies"]].copy()


def has_admin(*, engine: Engine | None = None) -> bool:
    """Whether an active admin account exists (the server starts with sign-in only then, or with single sign-on)."""
    engine = engine or get_engine()
    with engine.connect() as conn:
        return conn.execute(select(users_table.c.id).where(users_table.c.role == "admin",
                                                           users_table.c.active.is_(True)).limit(1)).first() is not None


# ---- grants ------------------------------------------------------------------------------------------------------

def grant(user_name: str, study_name: str, *, by: str, engine: Engine | None = None) -> bool:
    """Let the user see every version of `study_name`; False when they already could."""
    engine = engine or get_engine()
    user = _require(user_name, engine)
    with engine.begin() as conn:
        exists = conn.execute(select(study_grants_table.c.id).where(
            study_grants_table.c.user_id == user.user_id, study_grants_table.c.study_name == study_name)).first()
        if exists:
            return False
        conn.execute(study_grants_table.insert().values(user_id=user.user_id, study_name=study_name,
                                                        granted_at=datetime.now(UTC), granted_by=by))
    return True


def revoke(user_name: str, study_name: str, *, engine: Engine | None = None) -> bool:
    """Take a grant away; False when there was none."""
    engine = engine or get_engine()
    user = _require(user_name, engine)
    with engine.begin() as conn:
        result = conn.execute(study_grants_table.delete().where(
            study_grants_table.c.user_id == user.user_id, study_grants_table.c.study_name == study_name))
    return result.rowcount > 0


def granted_studies(user: User, *, engine: Engine | None = None) -> frozenset[str] | None:
    """The study names the user may see; None for every study (admins)."""
    if user.sees_every_study:
        return None
    engine = engine or get_engine()
    with engine.connect() as conn:
        rows = conn.execute(select(study_grants_table.c.study_name)
                            .where(study_grants_table.c.user_id == user.user_id)).scalars()
        return frozenset(rows)


# ---- passwords and the lock-out ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignIn:
    """The outcome of a password check: the user when it passed; otherwise why not, and how long to wait."""

    user: User | None
    reason: str | None = None
    wait_seconds: int = 0


def _failures(conn, column, value: str, now: datetime) -> list[datetime]:
    """Times of the failed sign-ins in a row (since the last success) for a user name or a client address."""
    since = now - LOCKOUT_WINDOW
    last_success = conn.execute(select(func.max(audit_table.c.at)).where(
        audit_table.c.action == "sign-in", column == value, audit_table.c.at >= since)).scalar()
    start = max(since, _aware(last_success)) if last_success is not None else since
    return [_aware(t) for t in conn.execute(select(audit_table.c.at).where(
        audit_table.c.action == "sign-in failed", column == value, audit_table.c.at > start)
        .order_by(audit_table.c.at)).scalars()]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def lockout_wait(user_name: str, client: str, *, now: datetime | None = None, engine: Engine | None = None) -> int:
    """Seconds before the next sign-in attempt for this name from this address is heard (0: now)."""
    engine = engine or get_engine()
    now = now or datetime.now(UTC)
    wait = 0
    with engine.connect() as conn:
        for column, value, after in ((func.lower(audit_table.c.user_name), user_name.strip().lower(), LOCKOUT_AFTER),
                                     (audit_table.c.client, client, LOCKOUT_AFTER_PER_ADDRESS)):
            failures = _failures(conn, column, value, now)
            if len(failures) >= after:
                delay = min(LOCKOUT_MAX_SECONDS, LOCKOUT_BASE_SECONDS * 2 ** (len(failures) - after))
                wait = max(wait, math.ceil((failures[-1] + timedelta(seconds=delay) - now).total_seconds()))
    return max(wait, 0)


def check_password(user_name: str, password: str, client: str, *, engine: Engine | None = None) -> SignIn:
    """Check a sign-in and record it (success or failure) in the audit trail. A locked-out name or address is
    refused without checking; an unknown name costs as long as a wrong password and gets the same answer."""
    engine = engine or get_engine()
    user_name = (user_name or "").strip()[:NAME_LENGTH]
    wait = lockout_wait(user_name, client, engine=engine)
    if wait > 0:
        record("sign-in failed", user_name or "?", client, detail={"reason": "locked out"}, engine=engine)
        return SignIn(None, "locked out", wait)
    user = find_user(user_name, engine=engine) if user_name else None
    with engine.connect() as conn:
        stored = conn.execute(select(users_table.c.password_hash).where(users_table.c.id == user.user_id)
                              ).scalar() if user else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password or "")
        matched = stored is not None
    except (VerificationError, InvalidHashError):
        matched = False
    if not matched or not user.active:
        reason = "inactive account" if matched else "wrong name or password"
        record("sign-in failed", user.name if user else user_name or "?", client, detail={"reason": reason},
               engine=engine)
        return SignIn(None, "wrong name or password", lockout_wait(user_name, client, engine=engine))
    if _hasher.check_needs_rehash(stored):
        change_user(user.name, by=user.name, password=password, engine=engine)
    record("sign-in", user.name, client, engine=engine)
    return SignIn(user)


# ---- the audit trail ---------------------------------------------------------------------------------------------

def record(action: str, user_name: str, client: str, *, study: str | None = None, subject_id: str | None = None,
           detail: dict | None = None, engine: Engine | None = None) -> None:
    """Add one event to the audit trail."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action '{action}'")
    engine = engine or get_engine()
    with engine.begin() as conn:
        conn.execute(audit_table.insert().values(
            at=datetime.now(UTC), user_name=user_name[:200], client=(client or "unknown")[:100], action=action,
            study=study[:100] if study else None, subject_id=subject_id[:100] if subject_id else None,
            detail=json.dumps(detail, sort_keys=True, default=str) if detail else None))


AUDIT_COLUMNS = ["at", "user_name", "client", "action", "study", "subject_id", "detail"]


def audit_events(*, user_name: str | None = None, action: str | None = None, study: str | None = None,
                 since: datetime | None = None, until: datetime | None = None, limit: int | None = 1000,
                 engine: Engine | None = None) -> pd.DataFrame:
    """Audit events, newest first, filtered by user, action, study and time (each optional)."""
    engine = engine or get_engine()
    query = select(*(audit_table.c[c] for c in ["id", *AUDIT_COLUMNS])).order_by(audit_table.c.id.desc())
    if user_name:
        query = query.where(func.lower(audit_table.c.user_name) == user_name.strip().lower())
    if action:
        query = query.where(audit_table.c.action == action)
    if study:
        query = query.where(audit_table.c.study == study)
    if since is not None:
        query = query.where(audit_table.c.at >= since)
    if until is not None:
        query = query.where(audit_table.c.at < until)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


# ---- keeping an admin --------------------------------------------------------------------------------------------

class LastAdminError(AccountError):
    """A change that would leave no active admin (nobody could manage users any more)."""


def _active_admin_ids(conn, *, lock: bool = False) -> set[int]:
    query = select(users_table.c.id).where(users_table.c.role == "admin", users_table.c.active.is_(True))
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return set(conn.execute(query).scalars())


def _last_admin_problem(conn, user: User, role: str | None, active: bool | None) -> str | None:
    stays_admin = (role or user.role) == "admin" and (user.active if active is None else active)
    if not (user.role == "admin" and user.active) or stays_admin:
        return None
    if _active_admin_ids(conn) - {user.user_id}:
        return None
    return _last_admin_message(user, role, active)


def _last_admin_message(user: User, role: str | None, active: bool | None) -> str:
    change = "deactivated" if active is False else f"made {role}"
    return (f"'{user.name}' is the last active admin and cannot be {change}: make another user an admin first, "
            "or nobody could manage users any more")


def last_admin_problem(name: str, *, role: str | None = None, active: bool | None = None,
                       engine: Engine | None = None) -> str | None:
    """Why giving `name` this role or active state would leave no active admin, or None when it would not (also
    when there is no active admin to begin with: single-user mode has none in the database)."""
    engine = engine or get_engine()
    user = _require(name, engine)
    with engine.connect() as conn:
        return _last_admin_problem(conn, user, role, active)


def change_user_keeping_an_admin(name: str, *, by: str, role: str | None = None, password: str | None = None,
                                 active: bool | None = None, email: str | None = None,
                                 engine: Engine | None = None) -> User:
    """change_user, refused with LastAdminError when the change would demote or deactivate the last active admin.
    The check and the change are one transaction that holds the active admins' rows (PostgreSQL: FOR UPDATE; SQLite
    writes one transaction at a time), so two admins demoting each other at once cannot both succeed."""
    engine = engine or get_engine()
    user = _require(name, engine)
    values = {}
    if role is not None:
        values["role"] = _check_role(role)
    if password is not None:
        values["password_hash"] = _hasher.hash(_check_password(password))
    if active is not None:
        values["active"] = active
    if email is not None:
        values["email"] = email or None
    if values:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                _active_admin_ids(conn, lock=True)  # a second change waits here until this one is committed
            conn.execute(users_table.update().where(users_table.c.id == user.user_id).values(**values))
            # Counted after the change, in its transaction: on SQLite the update holds the one write lock.
            if user.role == "admin" and user.active and not _active_admin_ids(conn):
                raise LastAdminError(_last_admin_message(user, role, active))
    return _require(name, engine)


def audit_choices(*, engine: Engine | None = None) -> dict[str, list[str]]:
    """The user names and studies the audit trail mentions (for its filters), each sorted."""
    engine = engine or get_engine()
    with engine.connect() as conn:
        users = conn.execute(select(audit_table.c.user_name).distinct()).scalars()
        studies = conn.execute(select(audit_table.c.study).where(audit_table.c.study.is_not(None)).distinct()
                               ).scalars()
        return {"user_name": sorted(users, key=str.lower), "study": sorted(studies, key=str.lower)}
