"""Cached study reads for the web app (flask-caching; filesystem by default, see settings.cache_config).

A stored study version never changes, so a version is cached for as long as the cache keeps it;
only the name -> newest-version lookup goes to the database each time. Caches of computed results (the
cohort NCA) belong to the app layer: pages/_context.py.
"""
from __future__ import annotations

import os

from flask import Flask
from flask_caching import Cache
from flask_caching.backends import FileSystemCache

import settings
from data_access import store
from data_access.study import Study

cache = Cache()


class RecreatingFileSystemCache(FileSystemCache):
    """flask-caching's FileSystemCache that makes its folder again when it was deleted while the app runs (else every
    write fails with a warning and caching is off until a restart)."""

    def set(self, key, value, timeout=None, mgmt_element=False):
        os.makedirs(self._path, exist_ok=True)
        return super().set(key, value, timeout, mgmt_element)


def init_cache(server: Flask) -> None:
    config = settings.cache_config()
    if config["CACHE_TYPE"] == "FileSystemCache":
        config["CACHE_TYPE"] = f"{__name__}.{RecreatingFileSystemCache.__name__}"
    cache.init_app(server, config=config)


@cache.memoize()
def _load_version(database_url: str, name: str, version: int) -> Study:
    return store.load_study(name, version)


def cached_study(name: str, version: int | None = None) -> Study | None:
    """The stored study (newest version when version is None), or None if there is no such study."""
    record = store.find_study(name, version)
    if record is None:
        return None
    return _load_version(settings.database_url(), record.name, record.version)
