"""Configuration is read from the environment in settings.py only, with defaults that run locally."""
import re
from pathlib import Path

import pytest

import settings

REPO = Path(__file__).resolve().parent.parent


def test_only_settings_py_reads_the_environment():
    readers = []
    for path in REPO.rglob("*.py"):
        relative = path.relative_to(REPO)
        if relative.parts[0] in ("tests", "bench", "scripts", ".venv", "instance") or relative == Path("settings.py"):
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"os\.environ|os\.getenv|getenv\(", text):
            readers.append(str(relative))
    assert readers == []


def test_defaults_run_locally(monkeypatch):
    for name in ("HOST", "PORT", "CARTSCOPE_DATABASE_URL", "CARTSCOPE_CACHE_TYPE", "CARTSCOPE_IMAGE_TIMEOUT",
                 "CARTSCOPE_DEFAULT_STUDY", "CARTSCOPE_MAX_FILE_MB", "CARTSCOPE_MAX_ROWS", "CARTSCOPE_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    assert (settings.host(), settings.port(), settings.debug()) == ("127.0.0.1", 8050, False)
    assert settings.database_url() == f"sqlite:///{REPO / 'instance' / 'cartscope.db'}"
    assert settings.cache_config()["CACHE_TYPE"] == "FileSystemCache"
    assert settings.image_timeout_seconds() == 60 and settings.default_study() is None
    assert settings.max_file_bytes() == 100_000_000 and settings.max_rows() == 1_500_000


def test_values_come_from_the_environment_and_bad_numbers_name_the_variable(monkeypatch):
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("CARTSCOPE_MAX_FILE_MB", "1.5")
    monkeypatch.setenv("CARTSCOPE_DEFAULT_STUDY", "BCMA-01")
    assert (settings.port(), settings.max_file_bytes(), settings.default_study()) == (9000, 1_500_000, "BCMA-01")
    monkeypatch.setenv("CARTSCOPE_IMAGE_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="CARTSCOPE_IMAGE_TIMEOUT='soon' is not a number"):
        settings.image_timeout_seconds()
