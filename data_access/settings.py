"""Configuration from environment variables, with defaults that work out of the box."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "data" / "demo"
DEMO_STUDY_NAME = "demo"


def database_url() -> str:
    """CARTSCOPE_DATABASE_URL (any SQLAlchemy URL), default an SQLite file at instance/cartscope.db."""
    return os.environ.get("CARTSCOPE_DATABASE_URL") or f"sqlite:///{ROOT / 'instance' / 'cartscope.db'}"


def max_file_bytes() -> int:
    """CARTSCOPE_MAX_FILE_MB: the largest input file accepted, in MB (default 50)."""
    return int(float(os.environ.get("CARTSCOPE_MAX_FILE_MB", "50")) * 1_000_000)


def cache_config() -> dict:
    """flask-caching settings: CARTSCOPE_CACHE_TYPE (default FileSystemCache) in CARTSCOPE_CACHE_DIR."""
    return {
        "CACHE_TYPE": os.environ.get("CARTSCOPE_CACHE_TYPE", "FileSystemCache"),
        "CACHE_DIR": os.environ.get("CARTSCOPE_CACHE_DIR", str(ROOT / "instance" / "cache")),
        "CACHE_DEFAULT_TIMEOUT": int(os.environ.get("CARTSCOPE_CACHE_TIMEOUT", "86400")),
        "CACHE_THRESHOLD": 2000,
    }
