"""Cached study reads for the web app (flask-caching; filesystem by default, see settings.cache_config).

A stored study version never changes, so a version is cached for as long as the cache keeps it;
only the name -> newest-version lookup goes to the database each time. Caches of computed results (the
cohort NCA) belong to the app layer: pages/_context.py.

The cache is only ever a shortcut: when Redis stops answering, reads miss and writes are dropped (one warning in
the log, not a traceback per request), the app computes from the database, and Redis is used again once it
answers (TolerantRedisCache).
"""
from __future__ import annotations

import logging
import os
import threading
import time

from flask import Flask
from flask_caching import Cache
from flask_caching.backends import FileSystemCache, RedisCache
from redis.exceptions import RedisError

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


log = logging.getLogger(__name__)


class TolerantRedisCache(RedisCache):
    """flask-caching's RedisCache that treats a Redis it cannot reach as an empty cache instead of raising: a read
    misses, a write is dropped, the caller computes the value from the database. The first failure of an outage is
    logged once (a warning, no traceback); for RETRY_SECONDS after a failure Redis is not asked at all, so a
    request does not wait on a dead server each time; then it is asked again, and when it answers the log says so
    and the cache is used as before (redis-py reconnects by itself)."""

    #: Seconds Redis is left alone after a failed command before it is tried again.
    RETRY_SECONDS = 2.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._down_since: float | None = None  # time.monotonic() of the outage's first failure, None when up
        self._retry_at = 0.0

    @property
    def available(self) -> bool:
        """Whether the cache is in use (False during an outage, until the next retry)."""
        return self._down_since is None or time.monotonic() >= self._retry_at

    def _call(self, method: str, miss, *args, **kwargs):
        if not self.available:
            return miss
        try:
            result = getattr(super(), method)(*args, **kwargs)
        except RedisError as error:
            with self._lock:
                first = self._down_since is None
                if first:
                    self._down_since = time.monotonic()
                self._retry_at = time.monotonic() + self.RETRY_SECONDS
            if first:
                log.warning("The Redis cache is not answering (%s: %s); the app computes from the database and "
                            "tries Redis again every %.0f s.", type(error).__name__, error, self.RETRY_SECONDS)
            return miss
        if self._down_since is not None:
            with self._lock:
                down_since, self._down_since = self._down_since, None
            if down_since is not None:
                log.warning("The Redis cache answers again (after %.0f s); using it.", time.monotonic() - down_since)
        return result

    def get(self, key):
        return self._call("get", None, key)

    def get_many(self, *keys):
        return self._call("get_many", [None] * len(keys), *keys)

    def has(self, key):
        return self._call("has", False, key)

    def set(self, key, value, timeout=None):
        return self._call("set", False, key, value, timeout)

    def add(self, key, value, timeout=None):
        return self._call("add", False, key, value, timeout)

    def set_many(self, mapping, timeout=None):
        return self._call("set_many", [], mapping, timeout)

    def delete(self, key):
        return self._call("delete", False, key)

    def delete_many(self, *keys):
        return self._call("delete_many", [], *keys)


#: redis-py's connection settings for the cache: a dead or unreachable Redis costs a request at most about this
#: long (the default is to wait for the operating system's TCP timeout, minutes for an unreachable host).
REDIS_OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 5.0, "health_check_interval": 30}


def init_cache(server: Flask) -> None:
    config = settings.cache_config()
    if config["CACHE_TYPE"] == "FileSystemCache":
        config["CACHE_TYPE"] = f"{__name__}.{RecreatingFileSystemCache.__name__}"
    elif config["CACHE_TYPE"] == "RedisCache":
        config["CACHE_TYPE"] = f"{__name__}.{TolerantRedisCache.__name__}"
        config["CACHE_OPTIONS"] = {**REDIS_OPTIONS, **config.get("CACHE_OPTIONS", {})}
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
