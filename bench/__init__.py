"""Benchmarks, each run as `python -m bench.NAME` and printing its own figures (docs/performance.md)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path


def run_in_fresh_process(module: str, path: str) -> dict | str:
    """`python -m MODULE --one PATH` in a new process, so that its time and memory are its own: the JSON it printed
    last, or (as text) what it printed when it failed."""
    done = subprocess.run([sys.executable, "-m", module, "--one", path], capture_output=True, text=True, check=False)
    if done.returncode:
        return f"{done.stderr[-3000:]}{done.stdout[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_memory_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB. Not getrusage's ru_maxrss: in a process started by a
    large one it includes the parent's size at the fork."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) / 1024
