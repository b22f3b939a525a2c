"""Benchmarks, each run as `python -m bench.NAME` and printing its own figures (docs/performance.md)."""
from __future__ import annotations

import json
import subprocess
import sys


def run_in_fresh_process(module: str, path: str) -> dict | str:
    """`python -m MODULE --one PATH` in a new process, so that its time and memory are its own: the JSON it printed
    last, or (as text) what it printed when it failed."""
    done = subprocess.run([sys.executable, "-m", module, "--one", path], capture_output=True, text=True, check=False)
    if done.returncode:
        return f"{done.stderr[-3000:]}{done.stdout[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])
