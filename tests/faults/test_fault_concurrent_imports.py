"""Two `python -m data_access import` processes of the same name at the same moment, repeated on each database:
both store, with distinct versions, each whole. (The same race between threads of one process, twelve at once, is
tests/fuzz/test_bad_values.py::test_concurrent_imports_of_one_name_all_store_with_distinct_versions.)"""
import json
import re

import pytest

from data_access import store
from data_access.importer import import_path
from tests.conftest import fresh_database
from tests.faults.integrity import problems, start_import, variant

ROUNDS = 5
NAME = "twins"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_imports_of_one_name_at_once_store_distinct_whole_versions(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        engine = store.get_engine(url)
        assert import_path(variant(tmp_path, 0), NAME, source="test", engine=engine).stored
        expected = json.loads(store.import_log(engine)["row_counts"].iloc[0])
        for round_ in range(ROUNDS):
            pair = [start_import(variant(tmp_path, 1 + 2 * round_ + i), NAME, url) for i in range(2)]
            outputs = [process.communicate(timeout=180) for process in pair]
            assert [p.returncode for p in pair] == [0, 0], outputs
            versions = sorted(int(re.search(r"Stored 'twins' version (\d+)", out).group(1)) for out, _ in outputs)
            assert versions == [2 + 2 * round_, 3 + 2 * round_], outputs
            assert problems(engine, expected) == [], f"round {round_ + 1}"
        assert sorted(store.list_studies(engine)["version"]) == list(range(1, 2 + 2 * ROUNDS))
