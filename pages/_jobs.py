"""Background jobs: the long callbacks (imports, figure exports, PowerPoint decks) run as Dash background callbacks,
with progress, a Cancel button, and an error (not an endless spinner) when the process running one dies.

Two managers, chosen by `job_manager()` from the settings:

* With CARTSCOPE_JOBS_REDIS_URL, `CeleryJobs`: Dash's CeleryManager on a Celery app (`celery_app`, broker and
  result backend on that Redis). Jobs run in `celery -A app:celery_app worker` processes (the Procfile's `worker:`
  line), on any host that reaches the Redis server.
* Otherwise `ThreadJobs`, the local default: each job runs in a thread of the web process itself; its state is in
  a small SQLite file (CARTSCOPE_JOBS_DIR), so any process of the same server on the same host can answer the
  page's polling. It forks nothing. Dash's DiskcacheManager forks the web server for every job (the
  `multiprocess` package's default start method, which DiskcacheManager gives no way to change); a fork of a
  threaded server copies locks other threads held at that moment, and a forked import deadlocked on one and
  kept the test run from exiting (commit b0e629e). A spawned process would avoid that but must import the whole
  app for every job (seconds each). A thread shares the server's memory: cheap, and nothing to inherit.

Both keep a job's state in a "board" (Redis, or the SQLite file) under its job id, the same way:

* `queued` (when the web process handed it over), `started`, `done`, and `alive`, which the job's heartbeat thread
  rewrites every HEARTBEAT_SECONDS with an expiry of CARTSCOPE_JOBS_LOST_AFTER seconds. The page polls every
  second; a job that started and whose `alive` has expired (its process was killed: kill -9, out of memory, a
  restarted host), or that no worker started within CARTSCOPE_JOBS_START_TIMEOUT seconds, or that Celery itself
  reports failed (a pool process killed under a living worker: WorkerLostError) is *lost*: the poll answers the
  page with an error the callback's `on_error` shows, and the job is marked `abandoned`.
* Cancel (and a newer run of the same callback) marks the job `cancelled`. Jobs stop cooperatively: every
  progress report, and every SQL statement and commit a job makes (a SQLAlchemy event), first checks the marks
  and raises JobStopped when the job is cancelled or abandoned, so an import's transaction is rolled back and
  nothing is stored, even if the job outlived the moment it was given up on. A Celery job is also terminated
  (SIGTERM to its pool process) so a long step without progress reports ends at once; its open transaction dies
  with it.
* Celery tasks are acknowledged when they start (Celery's default, not acks_late): a job whose worker dies is not
  delivered again. The user was told it failed; a redelivered import would store a study after that. The
  `abandoned` mark stops one that starts late anyway.

Job functions get everything they need in their arguments: they run without a Flask request (in a thread or in a
worker process), so who imports is settled in the page request, and access checks happen in the web process
before a job is queued.
"""
from __future__ import annotations

import contextvars
import json
import sqlite3
import threading
import time
import traceback
import uuid
from contextvars import copy_context
from pathlib import Path

from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.background_callback._proxy_set_props import ProxySetProps
from dash.background_callback.managers import BaseBackgroundCallbackManager
from dash.exceptions import PreventUpdate
from plotly.utils import PlotlyJSONEncoder
from sqlalchemy import event
from sqlalchemy.engine import Engine

import settings

HEARTBEAT_SECONDS = 1.0
#: How long a finished job's result, and a job's marks, are kept (a page that stopped polling leaves them).
KEEP_SECONDS = 24 * 3600
KEY_PREFIX = "cartscope-job:"
LOST = "the process running it was lost (killed or restarted). Nothing from it was stored; try again."
NOT_STARTED = "no job worker took it within {seconds:g} s (is a worker running?). Nothing was done; try again."
ERROR_KEY = "background_callback_error"


class JobStopped(Exception):  # noqa: N818 - a stop, not an error
    """The job was cancelled, or given up as lost: it ends without a result and without storing anything."""


# ---- the board: where jobs and the page meet ----------------------------------------------------------------------

class RedisBoard:
    """Job state in Redis, keys under KEY_PREFIX, every key with an expiry."""

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url)

    def get(self, key: str) -> str | None:
        value = self.client.get(KEY_PREFIX + key)
        return None if value is None else value.decode()

    def set(self, key: str, value: str, ttl: float = KEEP_SECONDS) -> None:
        self.client.set(KEY_PREFIX + key, value, px=int(ttl * 1000))

    def delete(self, key: str) -> None:
        self.client.delete(KEY_PREFIX + key)

    def add(self, key: str, value: str) -> str:
        self.client.set(KEY_PREFIX + key, value, nx=True)
        return self.get(key)


class SqliteBoard:
    """Job state in an SQLite file (one connection per thread; WAL, so readers do not wait for the writer)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self.local = threading.local()
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS board (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                       "expires REAL NOT NULL)")
            db.execute("DELETE FROM board WHERE expires < ?", (time.time(),))

    def _db(self) -> sqlite3.Connection:
        db = getattr(self.local, "db", None)
        if db is None or getattr(self.local, "pid", None) != _pid():
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            self.local.db, self.local.pid = db, _pid()
        return db

    def get(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM board WHERE key = ? AND expires >= ?",
                                 (key, time.time())).fetchone()
        return None if row is None else row[0]

    def set(self, key: str, value: str, ttl: float = KEEP_SECONDS) -> None:
        self._db().execute("INSERT OR REPLACE INTO board VALUES (?, ?, ?)", (key, value, time.time() + ttl))

    def delete(self, key: str) -> None:
        self._db().execute("DELETE FROM board WHERE key = ?", (key,))

    def add(self, key: str, value: str) -> str:
        self._db().execute("INSERT OR IGNORE INTO board VALUES (?, ?, ?)", (key, value, time.time() + 10 * 365 * 86400))
        return self.get(key)


def _pid() -> int:
    import os

    return os.getpid()


# ---- inside a job ------------------------------------------------------------------------------------------------

class JobControl:
    """What a running job checks: has it been cancelled or given up?"""

    def __init__(self, board, job: str):
        self.board, self.job = board, job

    def stopped(self) -> bool:
        return bool(self.board.get(f"{self.job}:cancelled") or self.board.get(f"{self.job}:abandoned"))

    def check(self) -> None:
        if self.stopped():
            raise JobStopped(self.job)


CURRENT_JOB: contextvars.ContextVar[JobControl | None] = contextvars.ContextVar("cartscope_job", default=None)


def check_current_job(*_args, **_kwargs) -> None:
    """Raise JobStopped if this code runs in a job that was cancelled or given up (no-op outside jobs)."""
    control = CURRENT_JOB.get()
    if control is not None:
        control.check()


# Every SQL statement and every commit a job makes checks first: a cancelled import's transaction never commits.
event.listen(Engine, "before_cursor_execute", check_current_job)
event.listen(Engine, "commit", check_current_job)


def _dumps(value) -> str:
    return json.dumps(value, cls=PlotlyJSONEncoder)


def run_job(board, job: str, fn, has_progress: bool, result_key: str, progress_key: str, args, context) -> None:
    """Run one background callback `fn` as job `job`: heartbeat, progress, cooperative stop, result on the board.
    The same for a thread of the web process and a Celery worker."""
    control = JobControl(board, job)
    if control.stopped():  # cancelled or given up before it started
        board.set(f"{job}:done", "stopped")
        return
    board.set(f"{job}:started", str(time.time()))
    board.set(f"{job}:alive", "1", ttl=settings.jobs_lost_after())
    beating = threading.Event()

    def heartbeat():
        while not beating.wait(HEARTBEAT_SECONDS):
            board.set(f"{job}:alive", "1", ttl=settings.jobs_lost_after())

    threading.Thread(target=heartbeat, name=f"cartscope-heartbeat-{job[:8]}", daemon=True).start()

    def set_progress(value):
        control.check()
        board.set(progress_key, _dumps(list(value) if isinstance(value, (list, tuple)) else [value]))

    def set_props(component_id, props):
        board.set(f"{result_key}-set_props", _dumps({component_id: props}))

    def run():
        CURRENT_JOB.set(control)
        dash_context = AttributeDict(**(context or {}))
        dash_context.ignore_register_page = False
        dash_context.updated_props = ProxySetProps(set_props)
        context_value.set(dash_context)
        extra = [set_progress] if has_progress else []
        try:
            if isinstance(args, dict):
                output = fn(*extra, **args)
            elif isinstance(args, (list, tuple)):
                output = fn(*extra, *args)
            else:
                output = fn(*extra, args)
        except PreventUpdate:
            output = {"_dash_no_update": "_dash_no_update"}
        except JobStopped:
            return None
        except Exception as error:  # noqa: BLE001 - the page shows it (the callback's on_error)
            output = {ERROR_KEY: {"msg": f"{type(error).__name__}: {error}", "tb": traceback.format_exc()}}
        if control.stopped():  # cancelled while a step that reports nothing ran (e.g. drawing an image)
            return None
        try:
            return _dumps(output)
        except (TypeError, ValueError) as error:
            return _dumps({ERROR_KEY: {"msg": f"the job's result could not be stored: {error}", "tb": ""}})

    try:
        result = copy_context().run(run)
        if result is not None:
            board.set(f"{job}:result", result)  # by job, not by Dash's key: two identical jobs share that
    finally:
        beating.set()
        board.set(f"{job}:done", "1")


# ---- in the web process: what the page's polling asks -------------------------------------------------------------

#: What jobs need from the request that queued them (name -> function of the current request), settled in the web
#: process when a job is queued and handed to the job in its Dash context: a job runs without a request.
REQUEST_FACTS: dict = {}
FACTS_KEY = "cartscope_request_facts"


def settle_in_request(name: str, fact) -> None:
    """Have `fact()` (e.g. who imports) evaluated in the request of every job queued; the job reads `settled(name)`."""
    REQUEST_FACTS[name] = fact


def settled(name: str):
    """In a job: what `settle_in_request(name, ...)` gave in the request that queued it."""
    return (context_value.get().get(FACTS_KEY) or {}).get(name)


#: Parts of Dash's callback context a job does not get: the request's cookies (the session's among them) and headers
#: would otherwise travel through Redis with every job.
WITHHELD = ("cookies", "headers")


def _with_facts(context):
    """The Dash context a job gets: without WITHHELD, with the request facts settled now."""
    kept = {key: value for key, value in (context or {}).items() if key not in WITHHELD}
    return {**kept, FACTS_KEY: {name: fact() for name, fact in REQUEST_FACTS.items()}}


class JobBoardMixin:
    """The manager methods Dash calls from the web process, answered from the board."""

    board = None

    def _queue(self, key: str) -> str:
        job = uuid.uuid4().hex
        self.board.set(f"{job}:queued", str(time.time()))
        return job

    def lost_reason(self, job: str) -> str | None:
        """Why job `job` will never finish (None while it may)."""
        board = self.board
        if board.get(f"{job}:done") or board.get(f"{job}:cancelled"):
            return None
        if board.get(f"{job}:started"):
            return None if board.get(f"{job}:alive") else LOST
        queued = board.get(f"{job}:queued")
        timeout = settings.jobs_start_timeout()
        if queued is None or time.time() - float(queued) > timeout:
            return NOT_STARTED.format(seconds=timeout)
        return None

    def terminate_job(self, job) -> None:
        if job is not None:
            self.board.set(f"{job}:cancelled", "1")

    def terminate_unhealthy_job(self, job) -> bool:
        return False

    def job_running(self, job) -> bool:
        if job is None:
            return False
        if self.board.get(f"{job}:done"):
            return self.board.get(f"{job}:result") is not None  # a result the next poll collects
        return not self.board.get(f"{job}:cancelled") and self.lost_reason(job) is None

    def get_progress(self, key):
        progress_key = self._make_progress_key(key)
        value = self.board.get(progress_key)
        if value is None:
            return None
        self.board.delete(progress_key)
        return json.loads(value)

    def get_result(self, key, job):
        if job is None:
            return self.UNDEFINED
        value = self.board.get(f"{job}:result")
        if value is not None:
            self.board.delete(f"{job}:result")
            self.board.delete(self._make_progress_key(key))
            return json.loads(value)
        reason = self.lost_reason(job)
        if reason is None:
            return self.UNDEFINED
        self.board.set(f"{job}:abandoned", "1")  # should it still start or come back, it stores nothing
        self.board.delete(self._make_progress_key(key))
        return {ERROR_KEY: {"msg": reason, "tb": ""}}

    def get_updated_props(self, key):
        props_key = self._make_set_props_key(key)
        value = self.board.get(props_key)
        if value is None:
            return {}
        self.board.delete(props_key)
        return json.loads(value)

    def clear_cache_entry(self, key) -> None:
        self.board.delete(key)


class ThreadJobs(JobBoardMixin, BaseBackgroundCallbackManager):
    """The local default: jobs in threads of the web process, state in an SQLite file (see the module's notes)."""

    celery_app = None

    def __init__(self, folder: Path):
        self.board = SqliteBoard(folder / "jobs.sqlite")
        super().__init__(cache_by=None)

    def make_job_fn(self, fn, progress, key=None):
        def job_fn(job, result_key, progress_key, args, context):
            run_job(self.board, job, fn, progress, result_key, progress_key, args, context)

        return job_fn

    def call_job_fn(self, key, job_fn, args, context):
        job = self._queue(key)
        threading.Thread(target=job_fn, args=(job, key, self._make_progress_key(key), args, _with_facts(context)),
                         name=f"cartscope-job-{job[:8]}", daemon=True).start()
        return job

    def get_or_create_signing_secret(self, generate):
        return bytes.fromhex(self.board.add(self.SIGNING_SECRET_KEY, generate().hex()))


def make_celery_app(redis_url: str):
    """The Celery app: broker and result backend on `redis_url`; tasks acknowledged when they start (a lost job is
    not run again), one task fetched at a time per pool process."""
    from celery import Celery

    app = Celery("cartscope", broker=redis_url, backend=redis_url)
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_acks_late=False, task_reject_on_worker_lost=False, worker_prefetch_multiplier=1,
        result_expires=KEEP_SECONDS, broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


def _celery_manager_class():
    from dash import CeleryManager

    class CeleryJobs(JobBoardMixin, CeleryManager):
        """Jobs in Celery workers; state on the Redis board (see the module's notes)."""

        def __init__(self, celery_app, redis_url: str):
            self.board = RedisBoard(redis_url)
            self.celery_app = celery_app
            super().__init__(celery_app)

        def make_job_fn(self, fn, progress, key=None):
            board = self.board

            @self.handle.task(name=f"background_callback_{key}", bind=True)
            def job_fn(task, result_key, progress_key, args, context=None):
                run_job(board, task.request.id, fn, progress, result_key, progress_key, args, context)

            return job_fn

        def call_job_fn(self, key, job_fn, args, context):
            job = self._queue(key)
            job_fn.apply_async(args=(key, self._make_progress_key(key), args, _with_facts(context)), task_id=job)
            return job

        def lost_reason(self, job):
            reason = super().lost_reason(job)
            if reason is None and not self.board.get(f"{job}:done") and not self.board.get(f"{job}:cancelled"):
                # a pool process killed under a living worker: Celery records WorkerLostError at once
                if self.handle.AsyncResult(job).state == "FAILURE":
                    reason = LOST
            return reason

        def terminate_job(self, job):
            if job is None or self.board.get(f"{job}:done"):
                return
            super().terminate_job(job)
            self.handle.control.revoke(job, terminate=True, signal="SIGTERM")

    return CeleryJobs


def job_manager():
    """The background callback manager the settings ask for (Celery on CARTSCOPE_JOBS_REDIS_URL, else threads); its
    `celery_app` is the Celery app, or None."""
    if redis_url := settings.jobs_redis_url():
        return _celery_manager_class()(make_celery_app(redis_url), redis_url)
    return ThreadJobs(settings.jobs_dir())


def job_error_text(error: Exception) -> str:
    """What a page says when a job failed or was lost (the first line of Dash's message, without its prefix)."""
    text = str(error).removeprefix("An error occurred inside a background callback: ")
    return text.splitlines()[0] if text else "The job failed."
