"""`python app.py` (HOST/PORT) and the Procfile's gunicorn command both serve the app."""
import os
import subprocess
import sys

from tests.conftest import REPO
from tests.servers import Client, add_users, free_port, procfile_server, wait_for  # noqa: F401 - other tests import


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


def test_procfile_gunicorn_serves_app_server_to_a_signed_in_user(tmp_path):
    url = f"sqlite:///{tmp_path / 'served.db'}"
    add_users(url, {"admin": ("admin", [])})
    with procfile_server(url, tmp_path) as base:
        browser = Client(base)
        assert browser.http.get(f"{base}/_dash-layout", timeout=30).status_code == 401
        assert browser.sign_in("admin").status_code == 302
        layout = browser.http.get(f"{base}/_dash-layout", timeout=30)
        assert layout.status_code == 200 and "study-select" in layout.text


def test_readme_quotes_the_procfile_as_it_is_and_starts_with_the_two_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    procfile = (REPO / "Procfile").read_text(encoding="utf-8").strip()
    assert f"```\n{procfile}\n```" in readme
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in first_block.splitlines() if line and not line.startswith("#")]
    assert commands == ["bash start.sh", "bash tests/run.sh"]
    assert (REPO / "start.sh").exists() and "Python >= 3.11" in readme


def test_the_deployment_guide_runs_the_procfile_commands_bound_to_loopback():
    """docs/deploy.md's systemd units run the Procfile's two lines as they are, but for the web line's bind (a
    command taken out of the Procfile by a shell substitution would get '${PORT:-8050}' unexpanded)."""
    guide = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    started = [line.split("/.venv/bin/", 1)[1] for line in guide.splitlines() if line.strip().startswith("ExecStart=")]
    procfile = dict(line.split(": ", 1) for line in (REPO / "Procfile").read_text().splitlines() if line)
    assert started == [procfile["web"].replace("0.0.0.0:${PORT:-8050}", "127.0.0.1:8050"), procfile["worker"]]
