"""Real servers on loopback for the load benchmark and the fault tests: the Procfile's gunicorn command, a Redis
server of one's own, a PostgreSQL cluster of one's own (initdb/pg_ctl as the postgres user), a fresh database on an
existing PostgreSQL server. Each is a context manager that stops what it started (by its process id)."""
from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("CARTSCOPE_PG_BIN", "/usr/local/bin"))


def sign_in_env() -> dict:
    """The environment that turns sign-in on, over plain HTTP on loopback (a fresh secret key)."""
    return {"CARTSCOPE_SECRET_KEY": secrets.token_hex(32), "CARTSCOPE_SECURE_COOKIES": "0"}


def add_analysts(database_url: str, names: list[str], study: str) -> dict[str, str]:
    """Accounts with the analyst role, each granted `study`, through data_access.accounts (what `python -m
    data_access users add/grant` does); their passwords by name. Also an admin account (sign-in refuses to start
    without one), which does not sign in."""
    from data_access import accounts
    from data_access.store import get_engine

    engine = get_engine(database_url)
    if not accounts.has_admin(engine=engine):
        accounts.add_user("bench-admin", "admin", password=secrets.token_urlsafe(18), by="bench", engine=engine)
    passwords = {}
    for name in names:
        passwords[name] = secrets.token_urlsafe(18)
        accounts.add_user(name, "analyst", password=passwords[name], by="bench", engine=engine)
        accounts.grant(name, study, by="bench", engine=engine)
    return passwords


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_command(port: int) -> list[str]:
    """The Procfile's web command, bound to 127.0.0.1:port (loopback only), run with this Python."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web: "))
    line = line.removeprefix("web: ")
    line = line.replace("0.0.0.0:${PORT:-8050}", f"127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in line, f"the Procfile's bind changed: {line}"
    return [sys.executable, "-m", *shlex.split(line)]


class Gunicorn:
    """The Procfile's gunicorn (2 workers x 4 threads, --preload) with `env` added, its output in `log`."""

    def __init__(self, env: dict, log: Path, port: int | None = None):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(procfile_command(self.port), cwd=ROOT, env={**os.environ, **env},
                                            stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{self.output()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/_dash-layout", timeout=5):
                    return
            except urllib.error.HTTPError:  # an answer (401 without a session): it is up
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer in {timeout} s:\n{self.output()[-3000:]}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def gunicorn(env: dict, log: Path, timeout: float = 180):
    server = Gunicorn(env, log)
    try:
        server.wait_ready(timeout)
        yield server
    finally:
        server.stop()


class RedisServer:
    """A redis-server of one's own on a free loopback port, no persistence; stop() and start() again on the same
    port (a Redis outage and its return)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(self.port), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.ping():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def keys(self) -> list[bytes]:
        import redis

        return redis.Redis(port=self.port).keys("*")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


class PostgresCluster:
    """A PostgreSQL cluster of one's own in a temporary folder on a free loopback port, run as the postgres user
    (initdb, pg_ctl), so it can be stopped and started again (a database restart) without touching anyone else's
    server."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="cartscope-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str, timeout: float = 120) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True,
                              timeout=timeout, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def init(self) -> None:
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                          "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off "
                   "-c full_page_writes=off -c max_connections=60")
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"),
                          "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            with contextlib.suppress(RuntimeError):
                self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def postgres_cluster():
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@contextlib.contextmanager
def fresh_postgres_database(server_url: str):
    """A new, empty database on the PostgreSQL server at `server_url` (its URL), dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"cartscope_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
