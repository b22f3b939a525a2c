"""Every setting CARTscope reads from the environment, in one place, with defaults that run locally.

Values are read when asked for (not at import), so a test or a benchmark can set a variable before
it builds the app. README.md lists the variables; nothing else in the code reads `os.environ`.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEMO_DIR = ROOT / "data" / "demo"
#: The demo simulator's true kinetic parameters: kept beside the demo study, never imported as its data.
DEMO_TRUTH_DIR = ROOT / "data" / "demo-truth"
DEMO_STUDY_NAME = "demo"


def _get(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _number(name: str, default: str) -> float:
    text = _get(name, default)
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r} is not a number") from None


def host() -> str:
    """HOST: where `python app.py` listens (default 127.0.0.1)."""
    return _get("HOST", "127.0.0.1")


def port() -> int:
    """PORT: the port `python app.py` listens on (default 8050)."""
    return int(_number("PORT", "8050"))


def debug() -> bool:
    """CARTSCOPE_DEBUG=1 runs Dash in debug mode."""
    return _get("CARTSCOPE_DEBUG", "") == "1"


def database_url() -> str:
    """CARTSCOPE_DATABASE_URL (any SQLAlchemy URL), default an SQLite file at instance/cartscope.db."""
    return _get("CARTSCOPE_DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'cartscope.db'}")


def auto_migrate() -> bool:
    """CARTSCOPE_AUTO_MIGRATE: 1 (the default) upgrades the database to the code's schema (data_access/migrations)
    when a process first uses it; 0 leaves that to `python -m data_access migrate` and refuses a database that is not
    at the newest revision (a deployment on several hosts migrates once, in its release step: docs/migrations.md)."""
    value = _get("CARTSCOPE_AUTO_MIGRATE", "1")
    if value not in ("0", "1"):
        raise ValueError(f"environment variable CARTSCOPE_AUTO_MIGRATE={value!r} is not 0 or 1")
    return value == "1"


def max_file_bytes() -> int:
    """CARTSCOPE_MAX_FILE_MB: the largest input file accepted, in MB (default 100: a million measurement rows as
    CSV are about 55 MB, and the largest dataset of the same study as SDTM XPT about 60 MB)."""
    return int(_number("CARTSCOPE_MAX_FILE_MB", "100") * 1_000_000)


def max_rows() -> int:
    """CARTSCOPE_MAX_ROWS: the most rows read from one CSV file, workbook sheet or SAS dataset (default 1,500,000:
    more than a spreadsheet program's 1,048,576 and than the benchmark's million measurement rows, and what an
    import of one file can hold within 1 GB of memory; see docs/performance.md)."""
    return int(_number("CARTSCOPE_MAX_ROWS", "1500000"))


def max_request_bytes() -> int:
    """CARTSCOPE_MAX_REQUEST_MB: the largest request body the server reads, in MB; larger ones are refused (413) before
    they are read. Default: room for an upload of files adding up to twice CARTSCOPE_MAX_FILE_MB (the browser sends
    them base64-encoded, 4/3 of their size, in one request) plus 10 MB for the rest of the request."""
    default = 2 * max_file_bytes() * 4 / 3 / 1_000_000 + 10
    return int(_number("CARTSCOPE_MAX_REQUEST_MB", f"{default:.0f}") * 1_000_000)


def trusted_proxy_user_header() -> str | None:
    """CARTSCOPE_TRUSTED_PROXY_USER_HEADER: the request header (e.g. X-Forwarded-User) in which a reverse proxy that
    authenticates users, and through which alone the app is reachable, names the user; the import log records it.
    Unset (the default), no request header is trusted for identity: a web import is logged as 'web upload from
    <client address>'."""
    return _get("CARTSCOPE_TRUSTED_PROXY_USER_HEADER", "") or None


def trusted_proxy_count() -> int:
    """CARTSCOPE_TRUSTED_PROXIES: how many reverse proxies in front of the app append to X-Forwarded-For (default 0:
    the client address is the connection's, and X-Forwarded-For is ignored)."""
    return int(_number("CARTSCOPE_TRUSTED_PROXIES", "0"))


def default_study() -> str | None:
    """CARTSCOPE_DEFAULT_STUDY: the study shown when the URL names none (default: the demo study)."""
    return _get("CARTSCOPE_DEFAULT_STUDY", "") or None


def image_timeout_seconds() -> float:
    """CARTSCOPE_IMAGE_TIMEOUT: seconds a server-side figure export may take (default 60)."""
    return _number("CARTSCOPE_IMAGE_TIMEOUT", "60")


def cache_config() -> dict:
    """flask-caching settings. With CARTSCOPE_REDIS_URL (e.g. redis://127.0.0.1:6379/0) the cache is Redis, shared by
    every worker on every host, its keys starting with CARTSCOPE_CACHE_PREFIX (default 'cartscope:'). Otherwise
    CARTSCOPE_CACHE_TYPE (default FileSystemCache) in CARTSCOPE_CACHE_DIR. Entries are kept CARTSCOPE_CACHE_TIMEOUT
    seconds (default 86400)."""
    common = {"CACHE_DEFAULT_TIMEOUT": int(_number("CARTSCOPE_CACHE_TIMEOUT", "86400"))}
    if redis_url := _get("CARTSCOPE_REDIS_URL", ""):
        return {**common, "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url,
                "CACHE_KEY_PREFIX": _get("CARTSCOPE_CACHE_PREFIX", "cartscope:")}
    return {
        **common,
        "CACHE_TYPE": _get("CARTSCOPE_CACHE_TYPE", "FileSystemCache"),
        "CACHE_DIR": _get("CARTSCOPE_CACHE_DIR", str(ROOT / "instance" / "cache")),
        "CACHE_THRESHOLD": 2000,
    }


# ---- sign-in -------------------------------------------------------------------------------------------------------

def secret_key() -> str | None:
    """CARTSCOPE_SECRET_KEY: signs session cookies and sign-in form tokens; setting it turns sign-in on (at least 32
    characters, e.g. `python -c "import secrets; print(secrets.token_urlsafe(48))"`; the same on every web host).
    Unset, the app runs as a single local user, which only `python app.py` on a loopback address allows."""
    return _get("CARTSCOPE_SECRET_KEY", "") or None


def secure_cookies() -> bool:
    """CARTSCOPE_SECURE_COOKIES (default 1): the session cookie is sent over HTTPS only. Set 0 only to sign in over
    plain HTTP on a loopback address (a test or a benchmark); a deployment serves HTTPS through its TLS proxy."""
    return _get("CARTSCOPE_SECURE_COOKIES", "1") != "0"


def session_hours() -> float:
    """CARTSCOPE_SESSION_HOURS: how long a sign-in lasts (default 12 hours)."""
    return _number("CARTSCOPE_SESSION_HOURS", "12")


def oidc() -> dict | None:
    """Single sign-on by OpenID Connect: CARTSCOPE_OIDC_ISSUER (the provider's issuer URL; its
    /.well-known/openid-configuration is read), CARTSCOPE_OIDC_CLIENT_ID, CARTSCOPE_OIDC_CLIENT_SECRET, and
    CARTSCOPE_OIDC_NAME (the button's label, default 'single sign-on'). A signed-in person is the CARTscope account
    whose e-mail is the token's `email` claim. None when CARTSCOPE_OIDC_ISSUER is unset."""
    issuer = _get("CARTSCOPE_OIDC_ISSUER", "")
    if not issuer:
        return None
    missing = [n for n in ("CARTSCOPE_OIDC_CLIENT_ID", "CARTSCOPE_OIDC_CLIENT_SECRET") if not _get(n, "")]
    if missing:
        raise ValueError(f"CARTSCOPE_OIDC_ISSUER is set but {' and '.join(missing)} not")
    return {"issuer": issuer.rstrip("/"), "client_id": _get("CARTSCOPE_OIDC_CLIENT_ID", ""),
            "client_secret": _get("CARTSCOPE_OIDC_CLIENT_SECRET", ""),
            "name": _get("CARTSCOPE_OIDC_NAME", "single sign-on")}


def served_by_gunicorn() -> bool:
    """Whether this process is a gunicorn server (gunicorn sets SERVER_SOFTWARE before it loads the app)."""
    return _get("SERVER_SOFTWARE", "").startswith("gunicorn")


def jobs_redis_url() -> str | None:
    """CARTSCOPE_JOBS_REDIS_URL (e.g. redis://127.0.0.1:6379/1): long jobs (imports, exports, decks) run in Celery
    workers (`celery -A app:celery_app worker`, the Procfile's `worker:` line), Celery's broker and result backend
    on this Redis. Unset (the default), they run in threads of the web process (docs/jobs.md)."""
    return _get("CARTSCOPE_JOBS_REDIS_URL", "") or None


def jobs_dir() -> Path:
    """CARTSCOPE_JOBS_DIR: where the local job manager keeps its jobs' state, progress and results (default
    instance/jobs)."""
    return Path(_get("CARTSCOPE_JOBS_DIR", str(ROOT / "instance" / "jobs")))


def jobs_lost_after() -> float:
    """CARTSCOPE_JOBS_LOST_AFTER: seconds without a heartbeat (a running job writes one every second) after which
    the job's process is taken for dead and the page says so (default 15)."""
    return _number("CARTSCOPE_JOBS_LOST_AFTER", "15")


def jobs_start_timeout() -> float:
    """CARTSCOPE_JOBS_START_TIMEOUT: seconds a queued job may wait for a worker before the page says none took it
    (default 120)."""
    return _number("CARTSCOPE_JOBS_START_TIMEOUT", "120")
