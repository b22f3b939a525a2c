"""Real servers for tests: the Procfile's gunicorn command on a database of the test's own, with sign-in, and a
signed-in HTTP client that speaks Dash's callback protocol as the browser does."""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import requests

from bench.services import procfile_command  # noqa: F401 - the Procfile's web line on loopback; tests import it here

REPO = Path(__file__).resolve().parent.parent
SECRET_KEY = "test-secret-key-of-at-least-thirty-two-characters"
PASSWORD = "a long enough password"
CALLBACK = "/_dash-update-component"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> str:
    """The body of `url` once it answers 200 (any answer of the server's, when it is up but refuses)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except urllib.error.HTTPError as error:
            return error.read().decode()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout} s")


def add_users(database_url: str, users: dict[str, tuple[str, list[str]]]) -> None:
    """Accounts by name: (role, granted study names), each with PASSWORD."""
    from data_access import accounts, store

    engine = store.get_engine(database_url)
    for name, (role, studies) in users.items():
        accounts.add_user(name, role, password=PASSWORD, by="test", engine=engine)
        for study in studies:
            accounts.grant(name, study, by="test", engine=engine)


@contextlib.contextmanager
def procfile_server(database_url: str, tmp_path: Path, *, sign_in: bool = True, env: dict | None = None,
                    timeout: float = 120, port: int | None = None):
    """The Procfile's command serving `database_url` on a loopback port (`port`, or a free one; with sign-in:
    CARTSCOPE_SECRET_KEY, cookies over plain HTTP); yields the base URL."""
    port = port or free_port()
    environment = {**os.environ, "CARTSCOPE_DATABASE_URL": database_url, "CARTSCOPE_CACHE_DIR": str(tmp_path / "cache"),
                   **({"CARTSCOPE_SECRET_KEY": SECRET_KEY, "CARTSCOPE_SECURE_COOKIES": "0"} if sign_in else {}),
                   **(env or {})}
    server = subprocess.Popen(procfile_command(port), cwd=REPO, env=environment, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/login" if sign_in else f"{base}/_dash-layout", server, timeout)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def pattern_id(**parts) -> str:
    """A pattern-matching component id as Dash's dependencies list writes it."""
    return json.dumps(parts, sort_keys=True, separators=(",", ":"))


class Client:
    """A browser's session with the app: signs in through the form, then asks for callbacks."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()
        self._dependencies = None

    def sign_in(self, name: str, password: str = PASSWORD, next_path: str = "/") -> requests.Response:
        form = self.http.get(f"{self.base}/login", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        return self.http.post(f"{self.base}/login", data={"name": name, "password": password, "csrf_token": token,
                                                          "next": next_path}, allow_redirects=False, timeout=30)

    @property
    def dependencies(self) -> list[dict]:
        if self._dependencies is None:
            self._dependencies = self.http.get(f"{self.base}/_dash-dependencies", timeout=30).json()
        return self._dependencies

    def body(self, output_part: str, values: dict | None = None, changed: str | None = None) -> dict:
        """The body the Dash renderer posts for the callback whose output names `output_part`, with `values` by
        'id.property' (a pattern id as `pattern_id` writes it) and None for the rest."""
        values = values or {}
        dep = next((d for d in self.dependencies if d["output"] == output_part), None) or next(
            d for d in self.dependencies if output_part in d["output"])

        def prop(spec: str) -> dict:
            component, name = spec.rsplit(".", 1)
            return {"id": json.loads(component) if component.startswith("{") else component, "property": name}

        def key(item: dict) -> str:
            return f"{item['id']}.{item['property']}"

        def sent(item: dict) -> dict:
            component = item["id"]
            return {**item, "id": json.loads(component) if component.startswith("{") else component,
                    "value": values.get(key(item))}

        outputs = [prop(o) for o in dep["output"].strip(".").split("...")]
        return {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": [sent(i) for i in dep["inputs"]], "state": [sent(s) for s in dep["state"]],
                "changedPropIds": [changed or key(dep["inputs"][0])]}

    def callback(self, output_part: str, values: dict | None = None, changed: str | None = None) -> requests.Response:
        return self.http.post(f"{self.base}{CALLBACK}", json=self.body(output_part, values, changed), timeout=60)

    def job(self, output_part: str, values: dict | None = None, changed: str | None = None,
            timeout: float = 120) -> dict:
        """A background callback's final answer (pages/_jobs.py): asked once, then polled as the renderer does
        (the same request with ?cacheKey=&job=) until it gives its response."""
        body, query = self.body(output_part, values, changed), ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.http.post(f"{self.base}{CALLBACK}{query}", json=body, timeout=60)
            answer.raise_for_status()
            data = answer.json() if answer.content else {}
            if "response" in data:
                return data["response"]
            if "cacheKey" in data:
                query = f"?cacheKey={data['cacheKey']}&job={data['job']}"
            time.sleep(0.3)
        raise AssertionError(f"the job for {output_part} gave no answer in {timeout} s")

    def page(self, path: str, search: str = "") -> requests.Response:
        """The pages router's answer for an address (what the browser draws)."""
        return self.callback("_pages_content", {"_pages_location.pathname": path, "_pages_location.search": search},
                             "_pages_location.pathname")
