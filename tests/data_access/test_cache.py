"""The study cache: on the filesystem by default, and on Redis (shared by every worker on every host) when
CARTSCOPE_REDIS_URL is set; this machine kind runs a Redis server at 127.0.0.1:6379."""
import os
import uuid

import pytest
from flask import Flask

import settings
from data_access import cache as study_cache
from data_access import store
from data_access.importer import import_files
from tests.conftest import make_files

REDIS_URL = os.environ.get("CARTSCOPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_settings(monkeypatch):
    """CARTSCOPE_REDIS_URL pointing at the test Redis with a prefix of its own; the prefix's keys deleted after."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis at CARTSCOPE_TEST_REDIS_URL ({REDIS_URL}): {type(error).__name__}")
    prefix = f"cartscope-test-{uuid.uuid4().hex[:8]}:"
    monkeypatch.setenv("CARTSCOPE_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("CARTSCOPE_CACHE_PREFIX", prefix)
    yield client, prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def worker() -> Flask:
    """A Flask app with the study cache, as each gunicorn worker (on any host) has its own."""
    server = Flask(f"worker-{uuid.uuid4().hex[:6]}")
    study_cache.init_cache(server)
    return server


def test_redis_url_makes_the_cache_redis_with_its_prefix(redis_settings):
    _client, prefix = redis_settings
    config = settings.cache_config()
    assert (config["CACHE_TYPE"], config["CACHE_REDIS_URL"], config["CACHE_KEY_PREFIX"]) == \
        ("RedisCache", REDIS_URL, prefix)


def test_workers_share_a_study_read_by_one_of_them_through_redis(redis_settings, monkeypatch):
    client, prefix = redis_settings
    name = f"shared-{uuid.uuid4().hex[:6]}"
    assert import_files(make_files(), name, source="test").stored
    first, second = worker(), worker()
    with first.app_context():
        study = study_cache.cached_study(name)
    assert study is not None and list(client.scan_iter(f"{prefix}*"))  # stored in Redis under the prefix

    def no_database(*_args, **_kwargs):
        raise AssertionError("the second worker read the study from the database, not from the shared cache")

    monkeypatch.setattr(store, "load_study", no_database)
    with second.app_context():
        again = study_cache.cached_study(name)
    assert again.subjects.equals(study.subjects) and again.measurements.equals(study.measurements)
