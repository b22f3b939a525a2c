"""The database restarted under the Procfile's gunicorn (a PostgreSQL cluster of the test's own, pg_ctl stop and
start), four times: while it is down, callback requests that need it answer 503 with a plain message (no
traceback, in the answer or the log); when it is back, every request succeeds again by itself, also after a
restart no request saw (the pool's connections from before it are dead: they are checked before use)."""
import concurrent.futures
import os
import shutil

import pytest
from sqlalchemy import create_engine, text

from bench.dash_client import DashClient, cohort_update, page_state, router
from bench.services import PG_BIN, add_analysts, gunicorn, postgres_cluster, sign_in_env
from data_access.importer import import_path
from data_access.store import get_engine
from pages._requests import DATABASE_UNAVAILABLE
from tests.conftest import DEMO_DIR, wait_until

PARALLEL = 8


def accepts_connections(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - not up yet
        return False
    finally:
        engine.dispose()


def test_requests_fail_clearly_while_the_database_restarts_and_recover_by_themselves(tmp_path):
    if os.geteuid() != 0 or not (PG_BIN / "initdb").exists() or not shutil.which("runuser"):
        pytest.skip(f"a PostgreSQL cluster of the test's own needs root, runuser and {PG_BIN}/initdb")
    with postgres_cluster() as cluster:
        import_path(DEMO_DIR, "demo", source="test", simulated=True, engine=get_engine(cluster.url))
        passwords = add_analysts(cluster.url, ["fault-user"], "demo")
        get_engine(cluster.url).dispose()
        env = {"CARTSCOPE_DATABASE_URL": cluster.url, "CARTSCOPE_CACHE_DIR": str(tmp_path / "cache"),
               **sign_in_env()}
        with gunicorn(env, tmp_path / "gunicorn.log") as server:
            clients = [DashClient(server.base) for _ in range(PARALLEL)]
            for client in clients:
                for name, password in passwords.items():
                    client.sign_in(name, password)
            state = page_state(router(clients[0].navigate("/kinetics", "?study=demo")), "kinetics")
            windows = iter(range(5, 10_000))

            def one_each() -> list:
                """A page and a new cohort window from each client at once: both workers, most of their threads."""
                def ask(client):
                    return [*client.navigate("/kinetics", "?study=demo", full_load=True),
                            cohort_update(client, state, end=next(windows))]
                with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
                    return [a for answers in pool.map(ask, clients) for a in answers]

            assert all(a.ok for a in one_each())
            for restart in range(4):
                cluster.stop()
                if restart % 2 == 0:  # requests while it is down
                    answers = one_each()
                    failed = [a for a in answers if not a.ok]
                    # these need the database; the navigation links do not (unless signing in reads the account)
                    assert {a.name for a in failed} >= {"page", "study selector", "cohort update"}, \
                        [(a.name, a.status) for a in answers]
                    for answer in failed:
                        assert answer.status == 503, (answer.name, answer.status, answer.text[:500])
                        assert DATABASE_UNAVAILABLE in answer.text and "Traceback" not in answer.text
                cluster.start()
                wait_until(lambda: accepts_connections(cluster.url), timeout=60)
                answers = one_each()
                assert [(a.name, a.status) for a in answers if not a.ok] == [], f"after restart {restart + 1}"
            log = server.output()
    assert "Traceback" not in log, log[-3000:]
    assert "The database is not answering" in log


def test_only_errors_of_reaching_the_database_answer_503(tmp_path):
    """Real errors from SQLite: a file locked by another writer past the busy timeout is 'not answering' (503); a
    missing table is a mistake in the app (500, as before), though SQLite calls both OperationalError."""
    from sqlalchemy.exc import OperationalError

    from pages._requests import database_unavailable

    url = f"sqlite:///{tmp_path / 'locked.db'}"
    writer, reader = create_engine(url), create_engine(url, connect_args={"timeout": 0})
    with writer.connect() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.commit()
        conn.execute(text("BEGIN EXCLUSIVE"))
        with pytest.raises(OperationalError, match="locked") as locked, reader.connect() as other:
            other.execute(text("SELECT * FROM t"))
        conn.rollback()
    with pytest.raises(OperationalError, match="no such table") as missing, reader.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    unreachable = create_engine("postgresql://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    with pytest.raises(OperationalError) as refused:
        unreachable.connect()
    assert database_unavailable(locked.value) and database_unavailable(refused.value)
    assert not database_unavailable(missing.value)
