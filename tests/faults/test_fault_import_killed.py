"""kill -9 of `python -m data_access import` at random moments, 20 times on each database: afterwards every visible
version is whole (its rows are the counts its import log recorded), the database passes its own integrity checks,
and the next import of the name stores the next version."""
import json
import random
import signal
import time

import pytest

from data_access import store
from data_access.importer import import_path
from tests.conftest import fresh_database
from tests.faults.integrity import problems, start_import, variant

KILLS = 20
NAME = "killed"


def kill_at_random(process, rng: random.Random, anytime: float, while_storing: bool) -> None:
    """SIGKILL the import: at a random moment of its whole run, or at a random moment after it said it started
    storing (the transaction is open, rows are going in)."""
    if while_storing:
        for line in process.stderr:
            if "storing" in line:
                break
        time.sleep(rng.uniform(0, 0.25))
    else:
        time.sleep(rng.uniform(0, anytime))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_import_killed_at_random_moments_leaves_whole_versions_and_a_sound_database(backend, tmp_path):
    rng = random.Random(f"kill-{backend}")
    with fresh_database(backend, tmp_path) as url:
        engine = store.get_engine(url)
        first = import_path(variant(tmp_path, 0), NAME, source="test", engine=engine)
        assert first.stored
        expected = json.loads(store.import_log(engine)["row_counts"].iloc[0])
        started = time.perf_counter()
        reference = start_import(variant(tmp_path, 1), NAME, url)
        assert reference.wait(timeout=120) == 0, reference.stderr.read()
        whole_run = time.perf_counter() - started
        outcomes = []
        for kill in range(KILLS):
            before = store.find_study(NAME, engine=engine).version
            process = start_import(variant(tmp_path, 2 + 2 * kill), NAME, url)
            kill_at_random(process, rng, whole_run, while_storing=kill % 2 == 1)
            after = store.find_study(NAME, engine=engine).version
            # killed before its commit: nothing of it is visible; after it (the process was printing, exiting):
            # all of it is
            outcomes.append("finished" if process.returncode == 0 else "killed, stored" if after > before
                            else "killed, nothing stored")
            assert after in (before, before + 1), (kill, outcomes[-1], before, after)
            assert problems(engine, expected) == [], f"after kill {kill + 1} ({outcomes[-1]})"
            again = import_path(variant(tmp_path, 3 + 2 * kill), NAME, source="test", engine=engine)
            assert again.stored and again.record.version == after + 1, again.report.to_text()
        print(backend, {outcome: outcomes.count(outcome) for outcome in sorted(set(outcomes))})
        assert outcomes.count("killed, nothing stored") >= KILLS // 4, outcomes  # many were killed mid-import
        assert problems(engine, expected) == []
