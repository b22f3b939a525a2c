"""Shared test set-up: a throw-away database and cache for the whole run, the `engine` fixture on SQLite and on
PostgreSQL (CARTSCOPE_TEST_POSTGRES_URL; skipped when no server answers), Chromium for browser tests."""
import contextlib
import functools
import os
import tempfile
import time
import uuid
from pathlib import Path

_RUN_DIR = Path(tempfile.mkdtemp(prefix="cartscope-tests-"))
# Set before the app or the store is imported anywhere, so no test touches instance/cartscope.db.
os.environ["CARTSCOPE_DATABASE_URL"] = f"sqlite:///{_RUN_DIR / 'app.db'}"
os.environ["CARTSCOPE_CACHE_DIR"] = str(_RUN_DIR / "cache")
os.environ["CARTSCOPE_JOBS_DIR"] = str(_RUN_DIR / "jobs")

import pytest  # noqa: E402

from data_access.readers import SourceFile  # noqa: E402
from data_access.store import get_engine  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO / "data" / "demo"
DEMO_TRUTH_DIR = REPO / "data" / "demo-truth"

VALID_TABLES = {
    "subjects.csv": (
        "subject_id,dose_level,age,sex,last_contact_day,death_day,prior_lines,high_risk_cytogenetics\n"
        "S1,150e6 CAR+ T cells,60,M,100,,4,TRUE\n"
        "S2,450e6 CAR+ T cells,55,F,50,50,6,FALSE\n"
    ),
    "measurements.csv": (
        "subject_id,analyte,specimen,day,value,unit,lloq,blq\n"
        "S1,car_copies,PB,-5,,copies/µg gDNA,20,TRUE\n"
        "S1,car_copies,PB,7,15000,copies/µg gDNA,20,FALSE\n"
        "S1,car_copies,PB,28,12,copies/µg gDNA,20,\n"
        "S1,car_t_pct,PB,7,12.5,%,0.1,\n"
        "S1,il6,serum,1,250,pg/mL,1.5,\n"
        "S1,plasma_cells_pct,BM,28,2.5,%,,\n"
        "S2,car_copies,PB,7,8,copies/ng gDNA,,\n"
    ),
    "adverse_events.csv": (
        "subject_id,term,grade,onset_day,resolution_day,serious,related\n"
        "S1,CRS,2,2,6,FALSE,TRUE\n"
        "S2,ICANS,1,4,,FALSE,TRUE\n"
    ),
    "responses.csv": (
        "subject_id,day,response,mrd_negative\n"
        "S1,28,PR,\n"
        "S1,90,cr,TRUE\n"
        "S2,28,SD,\n"
    ),
}


def make_files(overrides: dict[str, str | bytes | None] | None = None) -> list[SourceFile]:
    """The small valid study above, with some files replaced (text or bytes) or removed (None)."""
    tables = {**VALID_TABLES, **(overrides or {})}
    return [SourceFile(name, text if isinstance(text, bytes) else text.encode("utf-8"))
            for name, text in tables.items() if text is not None]


#: A PostgreSQL server for the tests that run on every backend (the `engine` fixture); skipped when unreachable.
POSTGRES_URL = os.environ.get("CARTSCOPE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@functools.cache
def _postgres_admin():
    """An engine on the PostgreSQL server's maintenance database, or the reason there is none."""
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure to connect means: no PostgreSQL here
        return None, f"no PostgreSQL at CARTSCOPE_TEST_POSTGRES_URL ({POSTGRES_URL}): {type(error).__name__}"
    return admin, None


@contextlib.contextmanager
def fresh_database(backend: str, tmp_path: Path):
    """The URL of a new, empty database on `backend` (sqlite or postgresql), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    admin, reason = _postgres_admin()
    if admin is None:
        pytest.skip(reason)
    name = f"cartscope_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path):
    """A fresh, empty database for one test, on SQLite and (when a server is reachable) on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as url:
        yield get_engine(url)


def pytest_setup_options():
    """Debian's Chromium for dash_duo, headless-friendly flags for a closed network."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--window-size=1600,1000"):
        options.add_argument(flag)
    return options


# ---- browser tests (dash_duo in headless Chromium) ----------------------------------------------------------

SCREENSHOTS = Path(__file__).parent / "pages" / "screenshots"


@pytest.fixture(scope="session")
def app():
    """The real app (pages register with Dash Pages when it is built)."""
    from dash.testing.application_runners import import_app

    return import_app("app")


class Browser:
    """dash_duo with the helpers every page test uses."""

    def __init__(self, dash_duo):
        self.duo = dash_duo
        self.driver = dash_duo.driver

    def open(self, path: str, expected_text: str, timeout: float = 15) -> None:
        self.duo.wait_for_page(url=self.duo.server_url + path)
        self.duo.wait_for_contains_text("#_pages_content", expected_text, timeout=timeout)

    def find(self, selector: str):
        return self.duo.find_element(selector)

    def find_all(self, selector: str):
        return self.duo.find_elements(selector)

    def text(self, selector: str) -> str:
        return self.duo.find_element(selector).text

    def wait_for_text(self, selector: str, text: str, timeout: float = 15) -> None:
        self.duo.wait_for_contains_text(selector, text, timeout=timeout)

    def size(self, width: int, height: int) -> None:
        self.driver.set_window_size(width, height)

    def idle(self, timeout: float = 30) -> None:
        """Until no Dash callback is pending and every figure on the page has drawn."""
        wait_until(lambda: self.driver.execute_script(
            "return !document.querySelector('[data-dash-is-loading=\"true\"]') && "
            "[...document.querySelectorAll('.js-plotly-plot')].every(p => p._fullLayout);"), timeout)
        time.sleep(0.3)

    def severe_logs(self) -> list:
        return [entry for entry in self.duo.get_logs() or [] if entry["level"] == "SEVERE"]

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def downloaded(self, name: str, timeout: float = 60) -> Path:
        path = Path(self.duo.download_path) / name
        wait_until(lambda: path.exists() and path.stat().st_size > 0 and not path.with_suffix(
            path.suffix + ".crdownload").exists(), timeout=timeout)
        return path

    @property
    def url(self) -> str:
        return self.driver.current_url

    def query(self) -> dict[str, str]:
        from urllib.parse import parse_qs, urlparse

        return {k: v[0] for k, v in parse_qs(urlparse(self.driver.current_url).query).items()}


def fixed_port(offset: int = 0) -> int | None:
    """CARTSCOPE_TEST_PORT plus `offset` when the variable is set (on a machine shared with others, the ports this run
    may use), else None."""
    first = os.environ.get("CARTSCOPE_TEST_PORT")
    return int(first) + offset if first else None


@pytest.fixture
def browser(dash_duo, app) -> Browser:
    """The app served on dash's port (8050, or CARTSCOPE_TEST_PORT), and headless Chromium on it."""
    dash_duo.start_server(app, port=fixed_port() or 8050)
    return Browser(dash_duo)


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
