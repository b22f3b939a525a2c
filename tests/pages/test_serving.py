"""`python app.py` (HOST/PORT) and the Procfile's gunicorn command both serve the app."""
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout} s")


def serve(command: list[str], port: int, tmp_path, timeout: float = 60) -> tuple[str, str]:
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1",
           "CARTSCOPE_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
           "CARTSCOPE_CACHE_DIR": str(tmp_path / "cache")}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        page = wait_for(f"http://127.0.0.1:{port}/", process, timeout)
        layout = wait_for(f"http://127.0.0.1:{port}/_dash-layout", process)
        return page, layout
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_python_app_py_serves_on_host_and_port(tmp_path):
    page, layout = serve([sys.executable, "app.py"], free_port(), tmp_path)
    assert "<title>" in page and "CARTscope" in layout and "study-select" in layout


def test_readme_first_command_installs_and_serves(tmp_path):
    page, layout = serve(["bash", "start.sh"], free_port(), tmp_path, timeout=240)
    assert "<title>" in page and "CARTscope" in layout


def test_procfile_gunicorn_serves_app_server(tmp_path):
    line = (REPO / "Procfile").read_text().strip()
    assert line.startswith("web: gunicorn app:server")
    port = free_port()
    command = shlex.split(line.removeprefix("web: ").replace("${PORT:-8050}", str(port)))
    command = [sys.executable, "-m", *command]
    page, layout = serve(command, port, tmp_path)
    assert "CARTscope" in layout


def test_readme_quotes_the_procfile_as_it_is_and_starts_with_the_two_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    procfile = (REPO / "Procfile").read_text(encoding="utf-8").strip()
    assert f"```\n{procfile}\n```" in readme
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in first_block.splitlines() if line and not line.startswith("#")]
    assert commands == ["bash start.sh", "bash tests/run.sh"]
    assert (REPO / "start.sh").exists() and "Python >= 3.11" in readme
