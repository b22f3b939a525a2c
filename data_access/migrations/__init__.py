"""Schema migrations: Alembic, run from code on the store's engine (no alembic.ini).

Every change to the tables in data_access/store.py or data_access/accounts.py is a revision in versions/, applied in
order; the database's alembic_version table says which one it is at. `upgrade` brings a database to the newest
revision (the head) under a lock, so several processes starting at once (gunicorn workers, tests in parallel) upgrade
it once between them: a PostgreSQL advisory lock held by the upgrading transaction, an fcntl lock on a file beside an
SQLite database. On SQLite the upgrade is one transaction too (BEGIN IMMEDIATE), so a failed revision leaves nothing
half done.

A database made before migrations (by create_all of an earlier release: tables, but no alembic_version) is at no
revision; the baseline revision adds only what it lacks (tables, the import_log.mapping column, the audit trail's
triggers), keeping its rows, and the later revisions follow. See docs/migrations.md.
"""
from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

HERE = Path(__file__).resolve().parent
#: The PostgreSQL advisory lock (any number, the same in every process) held by the transaction that upgrades a
#: database; advisory locks are per database, so upgrades of different databases on one server do not wait.
POSTGRES_LOCK_KEY = 0x43415254_6D696772  # "CARTmigr"
#: What an SQLite database's lock file is called: the database's own path with this added.
SQLITE_LOCK_SUFFIX = ".migrate-lock"
#: The command that upgrades the database of CARTSCOPE_DATABASE_URL.
MIGRATE_COMMAND = "python -m data_access migrate"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration in code: the scripts here, and the connection env.py runs them on."""
    config = Config()
    config.set_main_option("script_location", str(HERE).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision: the schema of the code."""
    return _scripts().get_current_head()


def known(revision: str) -> bool:
    """Whether the revision is one of this code's (a database upgraded by a newer release is at one it lacks)."""
    return revision in {script.revision for script in _scripts().walk_revisions()}


def current(connection: Connection) -> str | None:
    """The revision a database is at; None when it has no alembic_version (empty, or made before migrations)."""
    return MigrationContext.configure(connection).get_current_revision()


def made_before_migrations(connection: Connection) -> bool:
    """Whether the database has CARTscope's tables but no revision: made by create_all of an earlier release."""
    names = set(inspect(connection).get_table_names())
    return "alembic_version" not in names and "studies" in names


def describe(engine: Engine) -> str:
    """The database as it may be printed (the URL without its password)."""
    return engine.url.render_as_string(hide_password=True)


@dataclass(frozen=True)
class Status:
    """Where a database is, and where the code is."""

    database: str
    current: str | None
    head: str
    made_before_migrations: bool

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    def current_text(self) -> str:
        if self.current is not None:
            return self.current
        return "none (tables made before migrations)" if self.made_before_migrations else "none (empty database)"


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade` did: the revision before and after."""

    before: Status
    after: str

    def describe(self) -> str:
        if self.before.at_head:
            return f"database {self.before.database}: already at {self.after}"
        return f"database {self.before.database}: revision {self.before.current_text()} -> {self.after}"


def status(engine: Engine) -> Status:
    """The database's revision and the head, changing nothing (an SQLite file that does not exist is not made)."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and not _in_memory(engine) and not Path(database).exists():
        return Status(describe(engine), None, head(), False)
    with engine.connect() as connection:
        return Status(describe(engine), current(connection), head(), made_before_migrations(connection))


def upgrade(engine: Engine) -> Upgrade:
    """Bring the database to the head, under the migration lock (a process that waited for another's upgrade finds
    the database at the head and does nothing)."""
    with _locked_transaction(engine) as connection:
        before = Status(describe(engine), current(connection), head(), made_before_migrations(connection))
        if before.current is not None and not known(before.current):
            raise RuntimeError(f"database {before.database} is at revision {before.current}, which this code does "
                               f"not know (its newest is {before.head}): a newer release upgraded it; run that "
                               "release, or restore the backup made before its upgrade")
        if not before.at_head:
            command.upgrade(alembic_config(connection), "head")
        after = current(connection)
    return Upgrade(before, after)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to `revision` ("base": no tables at all, every row gone); for tests and for undoing a
    release."""
    with _locked_transaction(engine) as connection:
        command.downgrade(alembic_config(connection), revision)


class SchemaNotCurrent(RuntimeError):
    """The database's schema is not the code's, and this process may not upgrade it (CARTSCOPE_AUTO_MIGRATE=0)."""


def require_head(engine: Engine) -> None:
    """Raise SchemaNotCurrent (a RuntimeError), naming the database, its revision, the head and the command to run,
    unless the database is at the head (CARTSCOPE_AUTO_MIGRATE=0: this process does not change the schema itself)."""
    found = status(engine)
    if not found.at_head:
        raise SchemaNotCurrent(
            f"database {found.database} is at revision {found.current_text()}, but this code needs revision "
            f"{found.head}; run `{MIGRATE_COMMAND}` (CARTSCOPE_AUTO_MIGRATE=0: the app does not upgrade it itself)")


@contextlib.contextmanager
def _locked_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the migration lock, committed when the block ends."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK_KEY})
            yield connection
        return
    if engine.dialect.name == "sqlite":
        with _sqlite_file_lock(engine), engine.connect() as connection:
            yield from _sqlite_transaction(connection)
        return
    with engine.begin() as connection:  # another database: one transaction, no lock between processes
        yield connection


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """An exclusive fcntl lock on <database>.migrate-lock, waited for as long as another process's upgrade takes (an
    SQLite busy timeout would give up). An in-memory database is this process's alone: no lock."""
    if _in_memory(engine):
        yield
        return
    # The file is left in place: removing it would race a process waiting on it.
    with open(f"{engine.url.database}{SQLITE_LOCK_SUFFIX}", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


#: The PostgreSQL advisory lock of other start-up work (seeding the demo study), held by a session for its duration.
POSTGRES_STARTUP_LOCK_KEY = POSTGRES_LOCK_KEY + 1


@contextlib.contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """Start-up work one process does at a time (web workers and job workers start together): a PostgreSQL advisory
    lock held by a session of its own, or the SQLite database's lock file (the migrations' own, their work being
    start-up work too); nothing for other databases."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": POSTGRES_STARTUP_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": POSTGRES_STARTUP_LOCK_KEY})
                connection.commit()
    elif engine.dialect.name == "sqlite":
        with _sqlite_file_lock(engine):
            yield
    else:
        yield


def _in_memory(engine: Engine) -> bool:
    database = engine.url.database
    return not database or database == ":memory:" or engine.url.query.get("mode") == "memory"


def _sqlite_transaction(connection: Connection) -> Iterator[Connection]:
    """Revisions in one SQLite transaction, with foreign keys off while tables are rebuilt (SQLite's procedure for
    schema changes: a batch operation drops and renames tables others may refer to) and checked before the commit."""
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # no effect inside a transaction: set before BEGIN
    connection.commit()
    try:
        # pysqlite opens no transaction before DDL by itself; an explicit one makes the revisions all-or-nothing.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield connection
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken[:5]}")
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
