"""Studies in a real database (SQLite by default, any SQLAlchemy URL), one transaction per import.

Each import of a name adds a new version; nothing is overwritten. The import log records who,
when and what (file names, sizes, checksums, row counts) for every stored study.
"""
from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import pandas as pd
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

import settings
from data_access.schema import QUIET_OPTIONAL_TABLES
from data_access.study import COLUMNS, Study

metadata = MetaData()

studies_table = Table(
    "studies", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("simulated", Boolean, nullable=False, default=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("imported_by", String(200), nullable=False),
    Column("n_subjects", Integer, nullable=False),
    Column("n_rows", Integer, nullable=False),
    UniqueConstraint("name", "version", name="uq_study_name_version"),
)

import_log_table = Table(
    "import_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", Integer, ForeignKey("studies.id"), nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("imported_by", String(200), nullable=False),
    Column("source", String(50), nullable=False),
    Column("files", Text, nullable=False),
    Column("row_counts", Text, nullable=False),
    Column("checksum", String(64), nullable=False),
    #: the mapping the files were read with (data_access/mapping.py), as JSON with its saved name if any; NULL when
    #: the files were CARTscope tables or a CDISC delivery read as it is
    Column("mapping", Text),
)

#: Mappings saved by name for the next delivery of the same shape; saving a name again adds a newer row.
mappings_table = Table(
    "mappings", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("mapping", Text, nullable=False),
)


def _data_table(name: str, *columns: Column) -> Table:
    return Table(
        name, metadata,
        Column("id", Integer, primary_key=True),
        Column("study_id", Integer, ForeignKey("studies.id"), nullable=False, index=True),
        Column("subject_id", String(100), nullable=False),
        *columns,
        Column("extra", Text),
    )


data_tables: dict[str, Table] = {
    "subjects": _data_table(
        "subjects", Column("dose_level", String(200)), Column("age", Float), Column("sex", String(1)),
        Column("last_contact_day", Float), Column("death_day", Float)),
    "measurements": _data_table(
        "measurements", Column("analyte", String(40)), Column("specimen", String(40)), Column("day", Float),
        Column("value", Float), Column("unit", String(40)), Column("lloq", Float), Column("blq", Boolean)),
    "adverse_events": _data_table(
        "adverse_events", Column("term", String(300)), Column("grade", Integer), Column("onset_day", Float),
        Column("resolution_day", Float), Column("serious", Boolean), Column("related", Boolean)),
    "responses": _data_table(
        "responses", Column("day", Float), Column("response", String(10)), Column("mrd_negative", Boolean)),
    "concomitant_medications": _data_table(
        "concomitant_medications", Column("drug", String(300)), Column("start_day", Float), Column("end_day", Float),
        Column("indication", String(300))),
    "time_to_event": _data_table(
        "time_to_event", Column("endpoint", String(10)), Column("day", Float), Column("event", Boolean)),
}
#: The analytes a study declared (the built-ins are in data_access/catalogue.py, not stored).
analytes_table = Table(
    "study_analytes", metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", Integer, ForeignKey("studies.id"), nullable=False, index=True),
    Column("code", String(40), nullable=False),
    Column("label", String(200), nullable=False),
    Column("unit", String(40), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("specimens", String(200)),
    Column("method", String(300)),
    Column("extra", Text),
)
#: Every per-study table, by the Study attribute it holds.
study_tables: dict[str, Table] = {"analytes": analytes_table, **data_tables}


#: The longest study name, and the largest version, the studies table holds.
NAME_LENGTH: int = studies_table.c.name.type.length
MAX_VERSION = 2**31 - 1


def text_limits(table: str) -> dict[str, int]:
    """The longest text each column of a study table holds (its String(n)), the same limit on every database."""
    return {c.name: c.type.length for c in study_tables[table].columns
            if isinstance(c.type, String) and c.type.length}


@dataclass(frozen=True)
class StudyRecord:
    """What the studies table says of one stored version."""

    study_id: int
    name: str
    version: int
    simulated: bool
    imported_at: datetime
    imported_by: str
    n_subjects: int
    n_rows: int


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """One engine per database URL, its schema at the code's revision: on first use the database is upgraded
    (data_access/migrations, under a lock other processes wait on), or with CARTSCOPE_AUTO_MIGRATE=0 one that is not
    at the newest revision is refused with a RuntimeError naming `python -m data_access migrate`."""
    from data_access import migrations

    engine = new_engine(url)
    if settings.auto_migrate():
        migrations.upgrade(engine)
    else:
        migrations.require_head(engine)
    # A process forked after this (gunicorn --preload workers, Celery's prefork pool) must not use the parent's
    # connections: two processes on one socket read each other's results. The child starts with an empty pool
    # and leaves the parent's connections to the parent (SQLAlchemy's "Using Connection Pools with
    # Multiprocessing or os.fork()").
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    return engine


def new_engine(url: str | None = None) -> Engine:
    """An engine on the database (default CARTSCOPE_DATABASE_URL), the SQLite folder made, the schema left as it is:
    what `python -m data_access migrate` works on. Everything else uses get_engine."""
    url = url or settings.database_url()
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # pool_pre_ping: a connection the database dropped (a restart) is replaced before use, not handed to a request
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")  # first: the journal mode change below may wait for a lock
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()
    return engine


#: Rows per executemany when storing a study (one transaction for all of them).
INSERT_BATCH = 50_000


def _records(frame: pd.DataFrame, table: str, study_id: int) -> list[dict]:
    """Rows as dicts for executemany (built column by column: a million rows in seconds); NaN as None; extra
    columns folded into a JSON text column."""
    base = [c for c in COLUMNS[table] if c in frame.columns]
    extras = [c for c in frame.columns if c not in COLUMNS[table]]
    names = [*base, "study_id"]
    values = [_plain_column(frame[c]) for c in base] + [[study_id] * len(frame)]
    if extras:
        names.append("extra")
        columns = [_plain_column(frame[c]) for c in extras]
        blank = json.dumps(dict.fromkeys(extras))  # most rows of a sparse extra column: one string, not a dump each
        values.append([blank if all(v is None for v in row) else json.dumps(dict(zip(extras, row, strict=True)))
                       for row in zip(*columns, strict=True)])
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def _plain_column(column: pd.Series) -> list:
    """Python values (int, float, bool, str) with None for every kind of blank."""
    values = column.astype(object).where(column.notna(), None).tolist()
    return [v.item() if hasattr(v, "item") else v for v in values] if column.dtype == object else values


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def save_study(study: Study, *, files: list[dict], source: str, user: str | None = None,
               engine: Engine | None = None, mapping: str | None = None, client: str | None = None) -> StudyRecord:
    """Store a validated study as the next version of its name, with its import-log entry (and the mapping's JSON
    when the files were read through one) and its audit-trail event (by `user` from `client`), atomically."""
    engine = engine or get_engine()
    user = user or _current_user()
    now = datetime.now(UTC)
    counts = {t: int(len(study.table(t))) for t in study_tables}
    counts = {t: n for t, n in counts.items() if n or t in data_tables and t not in QUIET_OPTIONAL_TABLES}
    n_rows = sum(n for t, n in counts.items() if t != "analytes")
    with engine.begin() as conn:
        version, study_id = _new_version(conn, study.name, studies_table.insert().values(
            name=study.name, simulated=study.simulated, imported_at=now, imported_by=user,
            n_subjects=counts["subjects"], n_rows=n_rows))
        for table, sql_table in study_tables.items():
            frame = study.table(table)
            for start in range(0, len(frame), INSERT_BATCH):  # in batches: memory stays flat for a million rows
                conn.execute(sql_table.insert(), _records(frame.iloc[start:start + INSERT_BATCH], table, study_id))
        conn.execute(import_log_table.insert().values(
            study_id=study_id, imported_at=now, imported_by=user, source=source,
            files=json.dumps(files), row_counts=json.dumps(counts), checksum=checksum(files), mapping=mapping,
        ))
        _audit(conn, "import", user, client, study=study.name,
               detail={"version": version, "source": source, "files": [f["name"] for f in files], "rows": n_rows})
    return StudyRecord(study_id, study.name, version, study.simulated, now, user, counts["subjects"], n_rows)


class VersionConflict(RuntimeError):
    """Another import of the same name took the version number this one was adding (nothing was stored)."""


def _new_version(conn, name: str, insert) -> tuple[int, int]:
    """Add the studies row (`insert`, all but its version) of the name's next version; its version and id. The
    version is read by the inserting statement itself (SQLite's writers take turns), and on PostgreSQL under a
    per-name lock held to the commit, so concurrent imports of one name get distinct versions instead of a
    unique-constraint error."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
    next_version = select(func.coalesce(func.max(studies_table.c.version), 0) + 1) \
        .where(studies_table.c.name == name).scalar_subquery()
    try:
        row = conn.execute(insert.values(version=next_version)
                           .returning(studies_table.c.version, studies_table.c.id)).one()
    except IntegrityError as error:  # a database without either guarantee
        raise VersionConflict(f"another import of '{name}' stored the same version at the same moment; "
                              "nothing was stored, import again") from error
    return row.version, row.id


def checksum(files: list[dict]) -> str:
    """SHA-256 over the sorted (file name, file SHA-256) pairs: the same files give the same checksum."""
    import hashlib

    lines = sorted(f"{f['name']}:{f['sha256']}" for f in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def list_studies(engine: Engine | None = None) -> pd.DataFrame:
    """Every stored version, newest first within each name."""
    engine = engine or get_engine()
    query = select(studies_table).order_by(studies_table.c.name, studies_table.c.version.desc())
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    return frame.rename(columns={"id": "study_id"})


def find_study(name: str, version: int | None = None, engine: Engine | None = None) -> StudyRecord | None:
    """The named study at `version`, or its newest version when version is None; None when there is none (also for
    a name or version no study can have: a NUL, too long, beyond the INTEGER column)."""
    engine = engine or get_engine()
    if "\x00" in name or len(name) > NAME_LENGTH or version is not None and not 1 <= version <= MAX_VERSION:
        return None
    query = select(studies_table).where(studies_table.c.name == name)
    query = query.where(studies_table.c.version == version) if version is not None else query
    query = query.order_by(studies_table.c.version.desc()).limit(1)
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    return StudyRecord(row["id"], row["name"], row["version"], bool(row["simulated"]), row["imported_at"],
                       row["imported_by"], row["n_subjects"], row["n_rows"])


def names_differing_in_case(name: str, engine: Engine | None = None) -> list[str]:
    """Stored study names that differ from `name` only in (ASCII) case."""
    engine = engine or get_engine()
    query = select(studies_table.c.name).distinct().where(func.lower(studies_table.c.name) == name.lower(),
                                                          studies_table.c.name != name)
    with engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


def newest_checksum(name: str, engine: Engine | None = None) -> tuple[StudyRecord, str] | None:
    """The newest version of `name` and the checksum of the files it was imported from, or None."""
    engine = engine or get_engine()
    record = find_study(name, engine=engine)
    if record is None:
        return None
    with engine.connect() as conn:
        value = conn.execute(select(import_log_table.c.checksum).where(import_log_table.c.study_id ==
                                                                       record.study_id)).scalar()
    return record, value


def load_study(name: str, version: int | None = None, engine: Engine | None = None) -> Study:
    """Read one stored study version back into typed DataFrames (covariates as columns)."""
    engine = engine or get_engine()
    record = find_study(name, version, engine)
    if record is None:
        raise KeyError(f"no stored study named '{name}'" + (f" with version {version}" if version else ""))
    frames = {}
    with engine.connect() as conn:
        for table, sql_table in study_tables.items():
            columns = [sql_table.c[c] for c in COLUMNS[table]] + [sql_table.c.extra]
            query = select(*columns).where(sql_table.c.study_id == record.study_id).order_by(sql_table.c.id)
            frames[table] = _expand_extra(pd.read_sql(query, conn), table)
    return Study(name=record.name, version=record.version, simulated=record.simulated,
                 imported_at=record.imported_at, study_id=record.study_id, **frames)


def _expand_extra(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    extra = frame.pop("extra")
    for column in ("blq", "serious", "related", "mrd_negative", "event"):
        if column in frame:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
            if column in ("blq", "event"):
                frame[column] = frame[column].astype(bool)
    if "grade" in frame:
        frame["grade"] = frame["grade"].astype("Int64")
    for column in ("age", "last_contact_day", "death_day", "day", "value", "lloq", "onset_day", "resolution_day",
                   "start_day", "end_day"):
        if column in frame:
            frame[column] = frame[column].astype(float)
    if extra.notna().any():
        parsed = pd.DataFrame([json.loads(x) if isinstance(x, str) else {} for x in extra], index=frame.index)
        frame = pd.concat([frame, parsed], axis=1)
    return frame


def import_log(engine: Engine | None = None) -> pd.DataFrame:
    """The import log joined to study names, newest first."""
    engine = engine or get_engine()
    query = (select(import_log_table, studies_table.c.name, studies_table.c.version)
             .join(studies_table, studies_table.c.id == import_log_table.c.study_id)
             .order_by(import_log_table.c.id.desc()))
    with engine.connect() as conn:
        return pd.read_sql(query, conn)


def save_mapping(name: str, mapping_json: str, *, user: str | None = None, engine: Engine | None = None,
                 client: str | None = None) -> None:
    """Keep a mapping under `name` (a newer save of the same name is the one used from then on), with its
    audit-trail event."""
    engine = engine or get_engine()
    user = user or _current_user()
    with engine.begin() as conn:
        conn.execute(mappings_table.insert().values(name=name.strip(), created_at=datetime.now(UTC),
                                                    created_by=user, mapping=mapping_json))
        _audit(conn, "mapping saved", user, client, detail={"mapping": name.strip()})


def _audit(conn, action: str, user: str, client: str | None, *, study: str | None = None, detail: dict) -> None:
    """The audit-trail event of a change this module makes, in the change's own transaction (data_access/accounts.py
    holds the trail; a change from the command line has the client 'command line')."""
    from data_access.accounts import audit_table

    conn.execute(audit_table.insert().values(at=datetime.now(UTC), user_name=user[:200],
                                             client=(client or "command line")[:100], action=action, study=study,
                                             detail=json.dumps(detail, sort_keys=True, default=str)))


def load_mapping_json(name: str, engine: Engine | None = None) -> str | None:
    """The newest mapping saved as `name`, as JSON text; None when there is none."""
    engine = engine or get_engine()
    query = (select(mappings_table.c.mapping).where(mappings_table.c.name == name.strip())
             .order_by(mappings_table.c.id.desc()).limit(1))
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def list_mappings(engine: Engine | None = None) -> pd.DataFrame:
    """Saved mappings, newest save of each name: name, created_at, created_by, saves (how often it was saved)."""
    engine = engine or get_engine()
    query = select(mappings_table.c.id, mappings_table.c.name, mappings_table.c.created_at,
                   mappings_table.c.created_by).order_by(mappings_table.c.name, mappings_table.c.id.desc())
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    if frame.empty:
        return pd.DataFrame(columns=["name", "created_at", "created_by", "saves"])
    saves = frame.groupby("name")["id"].count()
    newest = frame.drop_duplicates("name").copy()
    newest["saves"] = newest["name"].map(saves)
    return newest[["name", "created_at", "created_by", "saves"]].reset_index(drop=True)
