"""Redis stopped while the Procfile's gunicorn serves with CARTSCOPE_REDIS_URL on it, three times: the pages keep
answering 200 (computed from the database), the log warns once per outage and worker instead of a traceback per
request, and when Redis is back the app uses it again by itself (new results are stored in it)."""
import shutil
import time

import pytest

from bench.dash_client import DashClient, cohort_update, page_state, router
from bench.services import RedisServer, add_analysts, gunicorn, sign_in_env
from data_access.cache import TolerantRedisCache
from tests.conftest import wait_until

OUTAGES = 3
WORKERS = 2


def test_pages_answer_from_the_database_while_redis_is_down_and_use_it_again_when_it_is_back(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("no redis-server to start and stop")
    redis = RedisServer()
    redis.start()
    url = f"sqlite:///{tmp_path / 'app.db'}"
    env = {"CARTSCOPE_DATABASE_URL": url, "CARTSCOPE_REDIS_URL": redis.url, "CARTSCOPE_CACHE_PREFIX": "faults:"}
    passwords = add_analysts(url, ["fault-user"], "demo")
    env.update(sign_in_env())
    try:
        with gunicorn(env, tmp_path / "gunicorn.log") as server:
            client = DashClient(server.base)
            for name, password in passwords.items():
                client.sign_in(name, password)
            state = page_state(router(client.navigate("/kinetics", "?study=demo")), "kinetics")
            assert state is not None
            end = 10
            assert cohort_update(client, state, end=end).ok
            assert any(key.startswith(b"faults:nca:") for key in redis.keys())
            for outage in range(OUTAGES):
                redis.stop()
                answers = []
                for _ in range(8):  # new AUC windows: not in any cache, computed from the database
                    end += 1
                    answers.append(cohort_update(client, state, end=end))
                answers += client.navigate("/patients/DM-001", "?study=demo")
                answers += client.navigate("/efficacy", "?study=demo")
                assert [(a.name, a.status) for a in answers if not a.ok] == [], f"outage {outage + 1}"
                redis.start()  # empty, on the same port

                def stored_again():
                    nonlocal end
                    end += 1
                    assert cohort_update(client, state, end=end).ok
                    return any(key.startswith(b"faults:nca:") for key in redis.keys())

                wait_until(stored_again, timeout=TolerantRedisCache.RETRY_SECONDS * 5 + 10)
                time.sleep(0.2)
            log = server.output()
    finally:
        redis.stop()
    assert "Traceback" not in log, log[-3000:]
    assert 1 <= log.count("The Redis cache is not answering") <= OUTAGES * WORKERS, log[-3000:]
    assert "The Redis cache answers again" in log, log[-3000:]
