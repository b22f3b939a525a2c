"""Schema migrations (data_access/migrations) on SQLite and PostgreSQL: a new database gets exactly the code's schema,
a database of the release before migrations keeps its studies, downgrades undo, concurrent processes upgrade once,
CARTSCOPE_AUTO_MIGRATE=0 refuses an old database, and `python -m data_access migrate [--status]`."""
import contextlib
import multiprocessing
import os
import subprocess
import sys

import alembic.op
import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    DDL,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import data_access.accounts  # noqa: F401 - the account tables are part of store.metadata, the schema compared with
import data_access.choices  # noqa: F401 - so is the analyst's choices table
from data_access import migrations, store
from data_access.accounts import audit_table
from data_access.importer import import_files
from tests.conftest import BACKENDS, REPO, fresh_database, make_files

HEAD = "0003_nca_choices"
#: A specimen name longer than the 10 characters of the release before migrations.
LONG_SPECIMEN = "cerebrospinal fluid, lumbar puncture, L4"
assert len(LONG_SPECIMEN) == 40


@contextlib.contextmanager
def engine_on(url: str):
    """An engine that leaves the schema alone (store.new_engine), disposed afterwards."""
    engine = store.new_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def schema_differences(engine) -> list:
    """What autogenerate finds between the database and store.metadata (tables, columns, types, indexes, unique
    constraints, foreign keys); [] when they are the same."""
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), store.metadata)


def table_names(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def assert_audit_trail_append_only(engine) -> None:
    """The database itself refuses to change or delete audit rows (the baseline's triggers)."""
    with engine.begin() as conn:
        conn.execute(audit_table.insert().values(at=pd.Timestamp.now(tz="UTC"), user_name="t", client="c",
                                                 action="export"))
    for statement in (update(audit_table).values(client="changed"), delete(audit_table)):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)


# ---- the schema of the release before migrations (d9ab3e8:data_access/store.py; the account tables as they were
# made by create_all at 7faad50), written out so the test does not follow later changes of the code ----------------

def previous_release_metadata(with_accounts: bool) -> MetaData:
    old = MetaData()
    Table("studies", old,
          Column("id", Integer, primary_key=True),
          Column("name", String(100), nullable=False),
          Column("version", Integer, nullable=False),
          Column("simulated", Boolean, nullable=False, default=False),
          Column("imported_at", DateTime(timezone=True), nullable=False),
          Column("imported_by", String(200), nullable=False),
          Column("n_subjects", Integer, nullable=False),
          Column("n_rows", Integer, nullable=False),
          UniqueConstraint("name", "version", name="uq_study_name_version"))
    Table("import_log", old,
          Column("id", Integer, primary_key=True),
          Column("study_id", Integer, ForeignKey("studies.id"), nullable=False),
          Column("imported_at", DateTime(timezone=True), nullable=False),
          Column("imported_by", String(200), nullable=False),
          Column("source", String(50), nullable=False),
          Column("files", Text, nullable=False),
          Column("row_counts", Text, nullable=False),
          Column("checksum", String(64), nullable=False),
          Column("mapping", Text))
    Table("mappings", old,
          Column("id", Integer, primary_key=True),
          Column("name", String(100), nullable=False, index=True),
          Column("created_at", DateTime(timezone=True), nullable=False),
          Column("created_by", String(200), nullable=False),
          Column("mapping", Text, nullable=False))

    def data_table(name: str, *columns: Column) -> None:
        Table(name, old,
              Column("id", Integer, primary_key=True),
              Column("study_id", Integer, ForeignKey("studies.id"), nullable=False, index=True),
              Column("subject_id", String(100), nullable=False),
              *columns,
              Column("extra", Text))

    data_table("subjects", Column("dose_level", String(200)), Column("age", Float), Column("sex", String(1)),
               Column("last_contact_day", Float), Column("death_day", Float))
    data_table("measurements", Column("analyte", String(40)), Column("specimen", String(10)), Column("day", Float),
               Column("value", Float), Column("unit", String(40)), Column("lloq", Float), Column("blq", Boolean))
    data_table("adverse_events", Column("term", String(300)), Column("grade", Integer), Column("onset_day", Float),
               Column("resolution_day", Float), Column("serious", Boolean), Column("related", Boolean))
    data_table("responses", Column("day", Float), Column("response", String(10)), Column("mrd_negative", Boolean))
    data_table("concomitant_medications", Column("drug", String(300)), Column("start_day", Float),
               Column("end_day", Float), Column("indication", String(300)))
    data_table("time_to_event", Column("endpoint", String(10)), Column("day", Float), Column("event", Boolean))
    Table("study_analytes", old,
          Column("id", Integer, primary_key=True),
          Column("study_id", Integer, ForeignKey("studies.id"), nullable=False, index=True),
          Column("code", String(40), nullable=False),
          Column("label", String(200), nullable=False),
          Column("unit", String(40), nullable=False),
          Column("kind", String(20), nullable=False),
          Column("specimens", String(200)),
          Column("method", String(300)),
          Column("extra", Text))
    if not with_accounts:
        return old
    Table("users", old,
          Column("id", Integer, primary_key=True),
          Column("name", String(100), nullable=False, unique=True),
          Column("role", String(20), nullable=False),
          Column("password_hash", String(200)),
          Column("email", String(200)),
          Column("active", Boolean, nullable=False, default=True),
          Column("created_at", DateTime(timezone=True), nullable=False),
          Column("created_by", String(200), nullable=False))
    Table("study_grants", old,
          Column("id", Integer, primary_key=True),
          Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
          Column("study_name", String(100), nullable=False),
          Column("granted_at", DateTime(timezone=True), nullable=False),
          Column("granted_by", String(200), nullable=False),
          UniqueConstraint("user_id", "study_name", name="uq_grant_user_study"))
    audit = Table("audit_events", old,
                  Column("id", Integer, primary_key=True),
                  Column("at", DateTime(timezone=True), nullable=False),
                  Column("user_name", String(200), nullable=False),
                  Column("client", String(100), nullable=False),
                  Column("action", String(40), nullable=False),
                  Column("study", String(100)),
                  Column("subject_id", String(100)),
                  Column("detail", Text),
                  Index("ix_audit_action_user_at", "action", "user_name", "at"),
                  Index("ix_audit_at", "at"))
    triggers = {
        "sqlite": ["CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
                   "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
                   "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
                   "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"],
        "postgresql": ["CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$",
                       "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events "
                       "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"],
    }
    for dialect, statements in triggers.items():
        for statement in statements:
            event.listen(audit, "after_create", DDL(statement).execute_if(dialect=dialect))
    return old


def make_previous_release_database(url: str, *, with_mapping: bool = True, with_accounts: bool = False) -> None:
    """The database create_all of the release before migrations made, with the small valid study stored as 'old'
    (and, with the account tables, one audit event). Without mapping: as made before import_log.mapping existed."""
    with engine_on(url) as engine:
        previous_release_metadata(True).create_all(engine)  # today's import writes its audit event
        assert import_files(make_files(), "old", source="test", engine=engine).stored
        if not with_accounts:
            with engine.begin() as conn:
                for table in ("audit_events", "study_grants", "users"):
                    conn.execute(text(f"DROP TABLE {table}"))
                if engine.dialect.name == "postgresql":
                    conn.execute(text("DROP FUNCTION audit_events_append_only()"))
        if with_accounts:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO audit_events (at, user_name, client, action) "
                                  "VALUES (CURRENT_TIMESTAMP, 'before', 'cli', 'import')"))
        if not with_mapping:
            with engine.begin() as conn:
                conn.execute(text("ALTER TABLE import_log DROP COLUMN mapping"))
        assert "alembic_version" not in table_names(engine)


def assert_same_study(loaded, expected) -> None:
    assert (loaded.name, loaded.version, loaded.simulated) == (expected.name, expected.version, expected.simulated)
    for table in store.study_tables:
        pd.testing.assert_frame_equal(loaded.table(table), expected.table(table), check_dtype=False)


def specimen_length(engine) -> int:
    return next(c["type"].length for c in inspect(engine).get_columns("measurements") if c["name"] == "specimen")


# ---- tests -------------------------------------------------------------------------------------------------------

def test_upgrade_of_an_empty_database_gives_exactly_the_code_schema(engine):
    """The `engine` fixture's database was upgraded by get_engine."""
    assert migrations.status(engine).current == HEAD == migrations.head()
    assert schema_differences(engine) == []
    assert table_names(engine) == set(store.metadata.tables) | {"alembic_version"}
    assert specimen_length(engine) == 40 == store.text_limits("measurements")["specimen"]
    assert_audit_trail_append_only(engine)


@pytest.mark.parametrize("with_mapping, with_accounts", [(True, False), (False, False), (True, True)],
                         ids=["previous release", "before import_log.mapping", "with the account tables"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_database_of_the_previous_release_upgrades_keeping_its_study(backend, with_mapping, with_accounts, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        make_previous_release_database(url, with_mapping=with_mapping, with_accounts=with_accounts)
        with engine_on(url) as old:
            expected = store.load_study("old", engine=old)
            assert specimen_length(old) == 10

        engine = store.get_engine(url)

        assert migrations.status(engine).current == HEAD
        assert schema_differences(engine) == []
        assert_same_study(store.load_study("old", engine=engine), expected)
        assert store.import_log(engine)["name"].tolist() == ["old"]
        with engine.connect() as conn:
            events = conn.execute(select(func.count()).select_from(audit_table)).scalar()
        assert events == 2 * int(with_accounts)  # the import's own and the one written by hand, kept
        assert_audit_trail_append_only(engine)
        # a specimen of 40 characters now fits, on PostgreSQL too (which enforces VARCHAR lengths)
        assert specimen_length(engine) == 40
        longer = store.load_study("old", engine=engine)
        longer.measurements.loc[0, "specimen"] = LONG_SPECIMEN
        store.save_study(longer, files=[], source="test", engine=engine)
        assert store.load_study("old", engine=engine).measurements.loc[0, "specimen"] == LONG_SPECIMEN


@pytest.mark.parametrize("backend", BACKENDS)
def test_downgrade_to_base_and_upgrade_again(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url, engine_on(url) as engine:
        assert migrations.upgrade(engine).after == HEAD
        migrations.downgrade(engine, "base")
        assert table_names(engine) == {"alembic_version"}
        assert migrations.status(engine).current is None
        with engine.connect() as conn:
            if backend == "postgresql":
                assert conn.execute(text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_events_append_only'"))\
                    .scalar() == 0
            else:
                assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")).scalar() == 0

        upgraded = migrations.upgrade(engine)
        assert (upgraded.before.current, upgraded.after) == (None, HEAD)
        assert schema_differences(engine) == []
        assert_audit_trail_append_only(engine)


@pytest.mark.parametrize("backend", BACKENDS)
def test_downgrade_refuses_to_cut_longer_specimens(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        engine = store.get_engine(url)
        import_files(make_files(), "s", source="test", engine=engine)
        study = store.load_study("s", engine=engine)
        study.measurements.loc[0, "specimen"] = LONG_SPECIMEN
        store.save_study(study, files=[], source="test", engine=engine)

        with pytest.raises(RuntimeError, match="cannot narrow measurements.specimen back to 10 characters: 1 stored"):
            migrations.downgrade(engine, "0001_baseline")

        assert migrations.status(engine).current == HEAD
        assert store.load_study("s", engine=engine).measurements.loc[0, "specimen"] == LONG_SPECIMEN


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_revision_that_fails_leaves_the_database_as_it_was(backend, tmp_path, monkeypatch):
    """The revisions run in one transaction: when 0002 fails, the tables 0001 made are gone too (on SQLite as well,
    whose driver opens no transaction before DDL by itself)."""
    def broken(*_args, **_kwargs):
        raise RuntimeError("revision broke half way")

    monkeypatch.setattr(alembic.op, "batch_alter_table", broken)
    with fresh_database(backend, tmp_path) as url, engine_on(url) as engine:
        with pytest.raises(RuntimeError, match="revision broke half way"):
            migrations.upgrade(engine)
        assert table_names(engine) == set()
        monkeypatch.undo()
        assert migrations.upgrade(engine).after == HEAD


def _get_engine_in_a_new_process(url: str, barrier, results) -> None:
    """A spawned process: everything imported first, then get_engine at the same moment as the others."""
    from data_access import migrations, store

    barrier.wait(timeout=120)
    try:
        results.put(("ok", migrations.status(store.get_engine(url)).current))
    except Exception as error:  # noqa: BLE001 - reported to the test, which shows it
        results.put(("error", repr(error)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_processes_starting_at_once_all_get_the_upgraded_database(backend, tmp_path):
    processes = 4
    context = multiprocessing.get_context("spawn")
    with fresh_database(backend, tmp_path) as url:
        barrier, results = context.Barrier(processes), context.Queue()
        started = [context.Process(target=_get_engine_in_a_new_process, args=(url, barrier, results))
                   for _ in range(processes)]
        for process in started:
            process.start()
        outcomes = [results.get(timeout=180) for _ in started]
        for process in started:
            process.join(timeout=60)

        assert outcomes == [("ok", HEAD)] * processes
        assert [process.exitcode for process in started] == [0] * processes
        with engine_on(url) as engine:
            assert schema_differences(engine) == []
            with engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]
    if backend == "sqlite":
        assert (tmp_path / f"test.db{migrations.SQLITE_LOCK_SUFFIX}").exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_upgraded_on_its_own_connection(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = store.get_engine(url)
    assert migrations.status(engine).current == HEAD
    assert import_files(make_files(), "in memory", source="test", engine=engine).stored
    assert store.load_study("in memory", engine=engine).name == "in memory"
    assert list(tmp_path.iterdir()) == []  # no lock file (nor database file) for a database in memory


@pytest.mark.parametrize("backend", BACKENDS)
def test_auto_migrate_off_refuses_a_database_not_at_head(backend, tmp_path, monkeypatch):
    with fresh_database(backend, tmp_path) as url:
        make_previous_release_database(url)
        shown = make_url(url).render_as_string(hide_password=True)
        with monkeypatch.context() as env:
            env.setenv("CARTSCOPE_AUTO_MIGRATE", "0")
            with pytest.raises(RuntimeError) as refused:
                store.get_engine(url)
            assert str(refused.value) == (
                f"database {shown} is at revision none (tables made before migrations), but this code needs "
                f"revision {HEAD}; run `python -m data_access migrate` (CARTSCOPE_AUTO_MIGRATE=0: the app does not "
                "upgrade it itself)")
            with engine_on(url) as engine:
                assert "alembic_version" not in table_names(engine)  # untouched
                migrations.upgrade(engine)
                migrations.downgrade(engine, "0001_baseline")
            with pytest.raises(RuntimeError, match=f"at revision 0001_baseline, but this code needs revision {HEAD}"):
                store.get_engine(url)
            with engine_on(url) as engine:
                migrations.upgrade(engine)
            assert store.load_study("old", engine=store.get_engine(url)).name == "old"


def test_auto_migrate_setting_accepts_only_0_or_1(monkeypatch):
    import settings

    assert settings.auto_migrate() is True
    monkeypatch.setenv("CARTSCOPE_AUTO_MIGRATE", "0")
    assert settings.auto_migrate() is False
    monkeypatch.setenv("CARTSCOPE_AUTO_MIGRATE", "no")
    with pytest.raises(ValueError, match="CARTSCOPE_AUTO_MIGRATE='no' is not 0 or 1"):
        settings.auto_migrate()


def migrate_cli(*args: str, url: str) -> str:
    env = {**os.environ, "CARTSCOPE_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "data_access", "migrate", *args], cwd=REPO, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrate_command_and_its_status(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        make_previous_release_database(url, with_mapping=False)
        shown = make_url(url).render_as_string(hide_password=True)

        assert migrate_cli("--status", url=url) == (
            f"database {shown}\ncurrent: none (tables made before migrations)\n"
            f"head:    {HEAD} (`python -m data_access migrate` upgrades it)\n")
        with engine_on(url) as engine:
            assert "alembic_version" not in table_names(engine)  # --status changed nothing

        assert migrate_cli(url=url) == f"database {shown}: revision none (tables made before migrations) -> {HEAD}\n"
        assert migrate_cli(url=url) == f"database {shown}: already at {HEAD}\n"
        assert migrate_cli("--status", url=url) == f"database {shown}\ncurrent: {HEAD}\nhead:    {HEAD} (up to date)\n"

        with engine_on(url) as engine:
            migrations.downgrade(engine, "0001_baseline")
        assert migrate_cli(url=url) == f"database {shown}: revision 0001_baseline -> {HEAD}\n"
        with engine_on(url) as engine:
            assert schema_differences(engine) == []
            assert store.load_study("old", engine=engine).name == "old"


def test_migrate_command_on_an_empty_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert migrate_cli("--status", url=url) == (
        f"database {url}\ncurrent: none (empty database)\n"
        f"head:    {HEAD} (`python -m data_access migrate` upgrades it)\n")
    assert not (tmp_path / "new.db").exists()  # --status made no database file
    assert migrate_cli(url=url) == f"database {url}: revision none (empty database) -> {HEAD}\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_upgraded_by_a_newer_release_is_not_touched(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url, engine_on(url) as engine:
        migrations.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
        with pytest.raises(RuntimeError, match="is at revision 0099_from_the_future, which this code does not know "
                           f"\\(its newest is {HEAD}\\): a newer release upgraded it"):
            migrations.upgrade(engine)
        assert migrations.status(engine).current == "0099_from_the_future"
        with engine.begin() as conn:  # back at head, so the fixture's teardown may use get_engine
            conn.execute(text(f"UPDATE alembic_version SET version_num = '{HEAD}'"))


def test_the_next_revision_is_numbered_after_the_head():
    from data_access.migrations.__main__ import next_revision_id

    assert next_revision_id("Add sample site to measurements!") == "0004_add_sample_site_to_measurements"
    assert next_revision_id("???") == "0004_change"


def test_the_command_line_says_plainly_that_the_schema_is_behind(tmp_path):
    env = {**os.environ, "CARTSCOPE_DATABASE_URL": f"sqlite:///{tmp_path / 'behind.db'}", "CARTSCOPE_AUTO_MIGRATE": "0"}
    done = subprocess.run([sys.executable, "-m", "data_access", "list"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("Not done: database ") and "run `python -m data_access migrate`" in done.stderr
