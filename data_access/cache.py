"""Cached study reads for the web app (flask-caching; filesystem by default, see settings.cache_config).

A stored study version never changes, so a version is cached for as long as the cache keeps it;
only the name -> newest-version lookup goes to the database each time. Caches of computed results (the
cohort NCA) belong to the app layer: pages/_context.py.
"""
from __future__ import annotations

from flask import Flask
from flask_caching import Cache

import settings
from data_access import store
from data_access.study import Study

cache = Cache()


def init_cache(server: Flask) -> None:
    cache.init_app(server, config=settings.cache_config())


@cache.memoize()
def _load_version(database_url: str, name: str, version: int) -> Study:
    return store.load_study(name, version)


def cached_study(name: str, version: int | None = None) -> Study | None:
    """The stored study (newest version when version is None), or None if there is no such study."""
    record = store.find_study(name, version)
    if record is None:
        return None
    return _load_version(settings.database_url(), record.name, record.version)
