"""The Procfile's command itself (gunicorn --preload, 2 workers x 4 threads) on PostgreSQL under parallel load:
every answer is the one asked for. Workers forked after the app was built once shared its database
connections (one query's rows read as another's, requests hanging), and a fresh worker's threads raced Dash's
first-request set-up ("Callback function not found")."""
import concurrent.futures
import json
import urllib.error
import urllib.request

from data_access import store
from data_access.importer import import_files
from tests.conftest import fresh_database, make_files
from tests.servers import Client, add_users, procfile_server

PARALLEL = 80


def selector_request(dependencies: list[dict], study: str) -> dict:
    """The payload the browser sends when the address bar says ?study=NAME (the study selector's callback)."""
    callback = next(d for d in dependencies if "study-select.options" in d["output"])
    values = {("url", "search"): f"?study={study}", ("study-select", "value"): study}
    return {"output": callback["output"],
            "outputs": [dict(zip(("id", "property"), o.split("."), strict=True))
                        for o in callback["output"].strip(".").split("...")],
            "inputs": [{**i, "value": values.get((i["id"], i["property"]))} for i in callback["inputs"]],
            "changedPropIds": ["url.search"], "state": []}


def ask(base: str, payload: dict, cookie: str) -> tuple[object, str | None]:
    """(HTTP status or error name, the study the answer selected)."""
    request = urllib.request.Request(f"{base}/_dash-update-component", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json", "Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)["response"]["study-select"]["value"]
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError as error:
        return type(error).__name__, None


def test_procfile_command_on_postgresql_answers_parallel_requests_correctly(tmp_path):
    with fresh_database("postgresql", tmp_path) as url:
        result = import_files(make_files(), "second", source="test", engine=store.get_engine(url))
        assert result.stored
        add_users(url, {"admin": ("admin", [])})
        with procfile_server(url, tmp_path) as base:
            browser = Client(base)
            assert browser.sign_in("admin").status_code == 302
            cookie = "; ".join(f"{c.name}={c.value}" for c in browser.http.cookies)
            dependencies = browser.dependencies
            asked = ["demo" if i % 2 else "second" for i in range(PARALLEL)]
            with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
                answers = list(pool.map(lambda study: ask(base, selector_request(dependencies, study), cookie),
                                        asked))
        wrong = [(study, answer) for study, answer in zip(asked, answers, strict=True) if answer != (200, study)]
        assert not wrong, f"{len(wrong)} of {PARALLEL} wrong: {wrong[:5]}"
