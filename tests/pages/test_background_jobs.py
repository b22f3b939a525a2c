"""Background jobs (pages/_jobs.py): imports and exports with progress and Cancel, on the local default (threads of
the web process) and on Celery with the real Redis (db 13) and a real worker process, which a test kills with
SIGKILL in the middle of an export."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data_access.store import get_engine, list_studies
from tests.conftest import REPO, wait_until

REDIS_URL = os.environ.get("CARTSCOPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
LOST_AFTER = 4  # the servers' CARTSCOPE_JOBS_LOST_AFTER: a killed worker's job is reported within a few seconds


def big_study(folder: Path) -> str:
    """About 175,000 measurement rows (8 MB): each import stage takes long enough to be seen and cancelled."""
    from bench.importing import write_csv_study

    write_csv_study(folder, 1_500)
    return "\n".join(str(p) for p in sorted(folder.iterdir()))


def shown(driver, selector: str) -> bool:
    elements = driver.find_elements("css selector", selector)
    return bool(elements) and elements[0].is_displayed()


def text_of(driver, selector: str) -> str:
    elements = driver.find_elements("css selector", selector)
    return elements[0].text if elements else ""


def upload(driver, paths: str, name: str) -> None:
    driver.find_element("css selector", "#data-upload input[type=file]").send_keys(paths)
    wait_until(lambda: "measurements.csv" in text_of(driver, "#data-selected-files"), timeout=15)
    field = driver.find_element("css selector", "#data-name")
    field.clear()
    field.send_keys(name)


def stored_names(url: str | None = None) -> set[str]:
    return set(list_studies(get_engine(url) if url else None)["name"])


# ---- the local default: threads of the web process ------------------------------------------------------------------

def test_local_import_shows_its_stages_and_a_cancelled_import_stores_nothing(browser, tmp_path):
    driver = browser.driver
    paths = big_study(tmp_path / "big")
    browser.open("/data", "Import a study")
    assert not shown(driver, "#data-progress")
    upload(driver, paths, "local-cancelled")
    driver.find_element("css selector", "#data-import").click()
    wait_until(lambda: "Step" in text_of(driver, "#data-progress-text"), timeout=30)
    assert shown(driver, "#data-progress") and not driver.find_element("css selector", "#data-import").is_enabled()
    browser.screenshot("jobs-import-in-progress")
    browser.find("#data-cancel").click()
    wait_until(lambda: not shown(driver, "#data-progress"), timeout=30)
    wait_until(lambda: browser.find("#data-import").is_enabled(), timeout=30)
    time.sleep(3)  # a cancelled job must not commit anything meanwhile
    assert "local-cancelled" not in stored_names()

    seen = set()
    browser.find("#data-import").click()  # again, to the end this time
    deadline = time.monotonic() + 90
    while "Stored 'local-cancelled' version 1" not in text_of(driver, "#data-result"):
        assert time.monotonic() < deadline, "the import did not finish"
        seen.add(text_of(driver, "#data-progress-text").split(":")[0])
        time.sleep(0.05)
    # The page polls once a second, so a stage shorter than that may pass unseen (on a loaded machine, all but one):
    # what it shows is a step of the import's, in order; that every stage is reported, in order, is checked below.
    steps = [s for s in seen if s.startswith("Step")]
    assert steps and all(s in ("Step 1 of 3", "Step 2 of 3", "Step 3 of 3") for s in steps), seen
    assert not shown(driver, "#data-progress") and "local-cancelled" in stored_names()
    assert browser.severe_logs() == []


def test_an_import_reports_every_stage_in_order(tmp_path):
    """The stages the Data page turns into 'Step k of 3' (pages/data.IMPORT_STAGES): each reported, in order."""
    from data_access.importer import import_path

    stages = []
    result = import_path(REPO / "data" / "demo", "stages-reported", source="test", progress=stages.append,
                         engine=get_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    assert result.stored, result.report.to_text()
    words = [next((w for w in ("reading", "validating", "storing") if t.startswith(w)), t) for t in stages]
    assert list(dict.fromkeys(words)) == ["reading", "validating", "storing"], stages


def test_local_deck_shows_its_slides_and_cancel_stops_it(browser):
    driver = browser.driver
    download = Path(browser.duo.download_path) / "cartscope_efficacy.pptx"
    browser.open("/efficacy", "Swimmer plot")
    assert not shown(driver, "#deck-job")
    browser.find("#deck-export").click()
    wait_until(lambda: "slide" in text_of(driver, "#deck-job-text"), timeout=60)
    assert shown(driver, "#deck-job") and not browser.find("#deck-export").is_enabled()
    browser.screenshot("jobs-deck-in-progress")
    browser.find("#deck-cancel").click()
    wait_until(lambda: not shown(driver, "#deck-job"), timeout=30)
    wait_until(lambda: browser.find("#deck-export").is_enabled(), timeout=30)
    time.sleep(4)
    assert not download.exists() and browser.text("#deck-status") == ""

    texts = set()
    browser.find("#deck-export").click()
    deadline = time.monotonic() + 120
    while not download.exists() or download.with_suffix(".pptx.crdownload").exists():
        assert time.monotonic() < deadline, "the deck was not downloaded"
        texts.add(text_of(driver, "#deck-job-text"))
        time.sleep(0.05)
    assert any(t.startswith("PowerPoint: slide ") for t in texts), texts
    assert browser.severe_logs() == []


def test_local_figure_export_shows_progress(browser):
    driver = browser.driver
    browser.open("/efficacy?slide=16x9", "Swimmer plot")
    [svg] = [b for b in browser.find_all(".cs-export-menu .cs-link-button") if b.text == "SVG"][:1]
    svg.click()
    texts = set()
    target = Path(browser.duo.download_path) / "best_overall_response_imwg_by_dose_level.svg"
    deadline = time.monotonic() + 60
    while not target.exists():
        assert time.monotonic() < deadline, "the figure was not downloaded"
        texts.add(text_of(driver, "#cs-export-job-text"))
        time.sleep(0.02)
    assert texts & {"Exporting…", "SVG: preparing the figure…", "SVG: drawing 'Best overall response (IMWG) by dose "
                    "level'…"}, texts  # a warm renderer draws within the page's first poll
    wait_until(lambda: not shown(driver, "#cs-export-job"), timeout=10)
    assert browser.text("#cs-export-outcome") == "" and browser.severe_logs() == []


def test_a_figure_export_reports_preparing_then_drawing(app):
    from pages._exports import figure_export

    said = []
    state = {"page": "efficacy", "study": "demo", "version": "1", "slide": "16x9"}
    download, message = figure_export(state, "efficacy", "best", "svg", said.append)
    assert said == ["SVG: preparing the figure…", "SVG: drawing 'Best overall response (IMWG) by dose level'…"]
    assert message == "" and download["filename"].endswith(".svg")
    assert figure_export(state, "efficacy", "nothing", "svg", said.append)[1] == "This figure cannot be exported."


def test_a_job_that_no_process_runs_any_more_is_reported_lost(tmp_path, monkeypatch):
    """The lost-job rules on the local board: no heartbeat after a start, no start within the start timeout."""
    from pages._jobs import LOST, NOT_STARTED, ThreadJobs

    monkeypatch.setenv("CARTSCOPE_JOBS_START_TIMEOUT", "0.5")
    jobs = ThreadJobs(tmp_path)
    started = jobs._queue("key-a")
    jobs.board.set(f"{started}:started", "1")
    jobs.board.set(f"{started}:alive", "1", ttl=0.3)
    waiting = jobs._queue("key-b")
    assert jobs.get_result("key-a", started) is jobs.UNDEFINED and jobs.job_running(started)
    assert jobs.get_result("key-b", waiting) is jobs.UNDEFINED and jobs.job_running(waiting)
    time.sleep(0.6)
    assert jobs.get_result("key-a", started) == {"background_callback_error": {"msg": LOST, "tb": ""}}
    assert jobs.get_result("key-b", waiting)["background_callback_error"]["msg"] == NOT_STARTED.format(seconds=0.5)
    assert not jobs.job_running(started) and jobs.board.get(f"{started}:abandoned")
    cancelled = jobs._queue("key-c")
    jobs.terminate_job(cancelled)
    time.sleep(0.6)
    assert jobs.get_result("key-c", cancelled) is jobs.UNDEFINED and not jobs.job_running(cancelled)


def test_two_identical_jobs_each_get_their_result(app, tmp_path):
    """Dash keys a job by its callback and arguments: two users exporting the same figure share the key, yet each
    job's result goes to the page that queued it (results are kept by job)."""
    from pages._jobs import ThreadJobs

    jobs = ThreadJobs(tmp_path)
    job_fn = jobs.make_job_fn(lambda set_progress, x: (set_progress(["half"]), x * 2)[1], True, "double")
    with app.server.test_request_context("/"):
        first, second = (jobs.call_job_fn("same-key", job_fn, [21], {}) for _ in range(2))
    wait_until(lambda: not jobs.job_running(first) and not jobs.job_running(second) or
               jobs.board.get(f"{first}:result") and jobs.board.get(f"{second}:result"), timeout=10)
    assert jobs.get_result("same-key", first) == 42 and jobs.get_result("same-key", second) == 42
    assert jobs.get_result("same-key", first) is jobs.UNDEFINED and not jobs.job_running(first)


def test_a_job_gets_who_imports_from_its_request_but_not_the_requests_cookies(app, tmp_path):
    from dash import ctx

    from pages._jobs import ThreadJobs, settled

    jobs = ThreadJobs(tmp_path)
    job_fn = jobs.make_job_fn(lambda: [settled("uploader"), ctx.cookies, ctx.headers], False, "who")
    with app.server.test_request_context("/", environ_base={"REMOTE_ADDR": "198.51.100.4"}):
        job = jobs.call_job_fn("who", job_fn, [], {"cookies": {"session": "secret"}, "headers": {"Cookie": "x"}})
    wait_until(lambda: jobs.board.get(f"{job}:result"), timeout=10)
    assert jobs.get_result("who", job) == ["web upload from 198.51.100.4", {}, {}]


def test_the_test_process_exits_when_a_local_job_is_still_running(tmp_path):
    """A job thread never keeps the server (or a test run) from exiting, and nothing is forked."""
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "import app\n"
        "manager = app.app._background_manager\n"
        "job_fn = manager.make_job_fn(lambda set_progress: time.sleep(600), True, 'x')\n"
        "with app.server.test_request_context('/'):\n"
        "    job = manager.call_job_fn('x', job_fn, [], {})\n"
        "time.sleep(2)\n"
        "assert manager.job_running(job)\n"
        "print('running', manager.get_progress('x'), flush=True)\n")
    env = {**os.environ, "CARTSCOPE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
           "CARTSCOPE_CACHE_DIR": str(tmp_path / "cache"), "CARTSCOPE_JOBS_DIR": str(tmp_path / "jobs"),
           "CARTSCOPE_JOBS_REDIS_URL": ""}
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "running" in done.stdout and time.monotonic() - started < 60


# ---- Celery with the real Redis and a real worker ----------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CeleryStack:
    """The web server (python app.py) and one Celery worker as their own processes, on Redis db 13 and a database
    of their own."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_url = f"sqlite:///{folder / 'app.db'}"
        self.env = {**os.environ, "CARTSCOPE_DATABASE_URL": self.db_url, "CARTSCOPE_CACHE_DIR": str(folder / "cache"),
                    "CARTSCOPE_JOBS_REDIS_URL": REDIS_URL, "CARTSCOPE_JOBS_LOST_AFTER": str(LOST_AFTER),
                    "HOST": "127.0.0.1", "PORT": str(self.port)}
        self.worker = None
        self.web = self._start([sys.executable, "app.py"], "web.log")
        try:  # the server first: it makes the database (and stores the demo study) the worker then uses
            wait_until(self._web_answers, timeout=90)
            self.start_worker()
        except BaseException:
            self.stop()
            print((folder / "web.log").read_text(errors="replace")[-3000:])
            raise

    def _start(self, command: list[str], log: str) -> subprocess.Popen:
        out = open(self.folder / log, "ab")  # noqa: SIM115 - kept open for the process's life
        return subprocess.Popen(command, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def _web_answers(self) -> bool:
        import urllib.request

        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            return opener.open(self.url + "/_dash-layout", timeout=2).status == 200
        except OSError:
            return False

    def start_worker(self) -> None:
        self.worker = self._start([sys.executable, "-m", "celery", "-A", "app:celery_app", "worker", "--loglevel",
                                   "INFO", "--concurrency", "1", "--without-mingle", "--without-gossip"],
                                  "worker.log")
        wait_until(lambda: "ready." in self.worker_log(), timeout=90)

    def worker_log(self) -> str:
        return (self.folder / "worker.log").read_text(errors="replace")

    def kill_worker(self) -> None:
        """SIGKILL to the worker, its pool process and their image renderer: nothing gets to clean up."""
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(10)
        (self.folder / "worker.log").rename(self.folder / f"worker-killed-{time.time():.0f}.log")

    def stop(self) -> None:
        for process in (self.worker, self.web):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)


@pytest.fixture(scope="module")
def celery_stack(tmp_path_factory):
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis at {REDIS_URL} ({type(error).__name__}): the Celery job tests need one")
    client.flushdb()
    stack = CeleryStack(tmp_path_factory.mktemp("celery-stack"))
    try:
        yield stack
    finally:
        stack.stop()
        client.flushdb()


@pytest.fixture
def remote(dash_duo, celery_stack):
    """Headless Chromium on the Celery-backed server."""
    def open_page(path: str, expected: str) -> None:
        dash_duo.driver.get(celery_stack.url + path)
        dash_duo.wait_for_contains_text("#_pages_content", expected, timeout=30)

    dash_duo.open_page = open_page
    return dash_duo


def test_celery_worker_runs_an_export_and_an_import_with_progress(remote, celery_stack, tmp_path):
    driver = remote.driver
    remote.open_page("/efficacy", "Swimmer plot")
    [png] = [b for b in driver.find_elements("css selector", ".cs-export-menu .cs-link-button") if b.text == "PNG"][:1]
    png.click()
    target = Path(remote.download_path) / "best_overall_response_imwg_by_dose_level.png"
    texts = set()

    def progress_seen() -> bool:
        text = text_of(driver, "#cs-export-job-text")
        if text.startswith("PNG: drawing") and not any(t.startswith("PNG: drawing") for t in texts):
            driver.save_screenshot(str(Path(__file__).parent / "screenshots" / "jobs-figure-export-in-progress.png"))
        texts.add(text)
        return target.exists()

    wait_until(progress_seen, timeout=90)
    assert any(t.startswith("PNG: ") for t in texts), texts
    assert target.read_bytes().startswith(b"\x89PNG")

    paths = big_study(tmp_path / "big")
    remote.open_page("/data", "Import a study")
    upload(driver, paths, "celery-import")
    driver.find_element("css selector", "#data-import").click()
    stages = set()
    wait_until(lambda: stages.add(text_of(driver, "#data-progress-text")[:11])
               or "Stored 'celery-import' version 1" in text_of(driver, "#data-result"), timeout=120)
    # the page polls once a second: a loaded machine may read a worker's fast stages at the last one only
    assert {s for s in stages if s.startswith("Step")}, stages
    assert "celery-import" in stored_names(celery_stack.db_url)
    log = celery_stack.worker_log()
    assert log.count("succeeded in") >= 2  # both jobs ran in the worker, not in the web process
    record = list_studies(get_engine(celery_stack.db_url)).set_index("name").loc["celery-import"]
    assert record["imported_by"] == "web upload from 127.0.0.1"  # settled in the request that queued the job
    assert [e for e in remote.get_logs() or [] if e["level"] == "SEVERE"] == []


def test_celery_import_cancelled_stores_nothing(remote, celery_stack, tmp_path):
    driver = remote.driver
    paths = big_study(tmp_path / "big")
    remote.open_page("/data", "Import a study")
    upload(driver, paths, "celery-cancelled")
    driver.find_element("css selector", "#data-import").click()
    wait_until(lambda: "Step" in text_of(driver, "#data-progress-text"), timeout=60)
    driver.find_element("css selector", "#data-cancel").click()
    wait_until(lambda: not shown(driver, "#data-progress"), timeout=30)
    wait_until(lambda: driver.find_element("css selector", "#data-import").is_enabled(), timeout=30)
    time.sleep(5)
    assert "celery-cancelled" not in stored_names(celery_stack.db_url)
    assert text_of(driver, "#data-result") == "" or "Stored" not in text_of(driver, "#data-result")


def test_a_worker_killed_during_an_export_is_an_error_and_a_restarted_worker_serves_the_next(remote, celery_stack):
    driver = remote.driver
    remote.open_page("/efficacy", "Swimmer plot")
    driver.find_element("css selector", "#deck-export").click()
    wait_until(lambda: "slide" in text_of(driver, "#deck-job-text"), timeout=90)
    celery_stack.kill_worker()
    killed_at = time.monotonic()
    wait_until(lambda: "did not finish" in text_of(driver, "#deck-status"), timeout=LOST_AFTER + 20)
    assert time.monotonic() - killed_at < LOST_AFTER + 10
    assert "the process running it was lost" in text_of(driver, "#deck-status")
    assert not shown(driver, "#deck-job") and driver.find_element("css selector", "#deck-export").is_enabled()
    remote.driver.save_screenshot(str(Path(__file__).parent / "screenshots" / "jobs-worker-lost.png"))

    celery_stack.start_worker()
    [pdf] = [b for b in driver.find_elements("css selector", ".cs-export-menu .cs-link-button") if b.text == "PDF"][:1]
    pdf.click()
    target = Path(remote.download_path) / "best_overall_response_imwg_by_dose_level.pdf"
    wait_until(target.exists, timeout=90)
    assert target.read_bytes().startswith(b"%PDF")
    assert "succeeded in" in celery_stack.worker_log()
    assert not (Path(remote.download_path) / "cartscope_efficacy.pptx").exists()


def test_a_pool_process_killed_during_an_import_is_an_error_and_stores_nothing(remote, celery_stack, tmp_path):
    """The worker lives on but the process running the import dies (as the kernel's out-of-memory killer would do):
    the page says so, the study is not stored, and the worker goes on serving."""
    import psutil

    driver = remote.driver
    paths = big_study(tmp_path / "big")
    remote.open_page("/data", "Import a study")
    upload(driver, paths, "celery-pool-killed")
    driver.find_element("css selector", "#data-import").click()
    wait_until(lambda: "Step" in text_of(driver, "#data-progress-text"), timeout=60)
    [pool] = psutil.Process(celery_stack.worker.pid).children()
    pool.kill()
    killed_at = time.monotonic()
    wait_until(lambda: "did not finish" in text_of(driver, "#data-result"), timeout=LOST_AFTER + 20)
    assert time.monotonic() - killed_at < LOST_AFTER + 10
    assert "lost" in text_of(driver, "#data-result") and "Nothing from it was stored" in text_of(driver, "#data-result")
    assert not shown(driver, "#data-progress")
    time.sleep(3)
    assert "celery-pool-killed" not in stored_names(celery_stack.db_url)
    driver.find_element("css selector", "#data-import").click()  # the worker's new pool process takes the next
    wait_until(lambda: "Stored 'celery-pool-killed' version 1" in text_of(driver, "#data-result"), timeout=120)


def test_an_import_cancelled_while_storing_is_rolled_back(app, tmp_path):
    """Cancel reaches a job between its SQL statements too: an import cancelled once it has begun storing stops at
    its next statement and its transaction is rolled back."""
    from data_access.importer import import_files
    from pages._jobs import ThreadJobs
    from tests.conftest import make_files

    jobs = ThreadJobs(tmp_path)
    holder = {}

    def cancel_when_storing(stage: str) -> None:
        if stage.startswith("storing"):
            jobs.terminate_job(holder["job"])  # as the Cancel button does, once the job is past its last report

    def job(set_progress):
        return import_files(make_files(), "cancelled-while-storing", source="test", progress=cancel_when_storing)

    job_fn = jobs.make_job_fn(job, True, "storing")
    with app.server.test_request_context("/"):
        holder["job"] = jobs.call_job_fn("storing", job_fn, [], {})
    wait_until(lambda: jobs.board.get(f"{holder['job']}:done"), timeout=30)
    assert jobs.board.get(f"{holder['job']}:result") is None
    assert "cancelled-while-storing" not in stored_names()

    job_fn = jobs.make_job_fn(lambda set_progress: import_files(make_files(), "stored-whole", source="test").record
                              is not None, True, "whole")
    with app.server.test_request_context("/"):
        whole = jobs.call_job_fn("whole", job_fn, [], {})
    wait_until(lambda: jobs.board.get(f"{whole}:done"), timeout=30)
    assert jobs.get_result("whole", whole) is True and "stored-whole" in stored_names()
