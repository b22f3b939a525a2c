"""Downloads: tables as CSV and Excel that a spreadsheet opens safely (text cells that could run as formulas are
neutralised with a leading apostrophe), and figures as PNG, SVG or PDF rendered on the server."""
from __future__ import annotations

import atexit
import io
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
from plotly.utils import PlotlyJSONEncoder

import settings
from analysis.spreadsheet import neutralise
from components.image_worker import HEADER, NO_BROWSER, OK


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return neutralise(frame).to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


def excel_bytes(frame: pd.DataFrame, sheet: str = "data", about: dict[str, str] | None = None) -> bytes:
    """A workbook with the table, and an 'About' sheet (what, from which study, computed how) when given."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        neutralise(frame).to_excel(writer, index=False, sheet_name=sheet[:31])
        if about:
            neutralise(pd.DataFrame({"": list(about), "value": list(about.values())})).to_excel(
                writer, index=False, sheet_name="About")
    return buffer.getvalue()


# ---- figures as images (kaleido in a worker process, driving the system Chromium) ------------------------

IMAGE_FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
NO_CHROMIUM = ("Server-side image export needs Chromium: install Debian's 'chromium' package (or set the "
               "BROWSER_PATH environment variable to a Chrome/Chromium binary).")


class ImageExportError(RuntimeError):
    """A figure could not be rendered; the message says why."""


class ImageExportUnavailable(ImageExportError):
    """No browser for kaleido: the message says what to install."""


#: Trace types that fetch map tiles or outlines from the network; CARTscope draws no maps.
MAP_TRACES = frozenset({"scattergeo", "choropleth", "scattermapbox", "choroplethmapbox", "densitymapbox",
                        "scattermap", "choroplethmap", "densitymap"})


def external_references(figure: dict) -> list[str]:
    """What in a figure would make the renderer fetch something: an image `source` that is not a `data:`
    address, or a map trace. Empty for every figure CARTscope builds."""
    found = []

    def visit(node, key=""):
        if isinstance(node, dict):
            if node.get("type") in MAP_TRACES:
                found.append(f"a {node['type']} trace")
            for name, value in node.items():
                visit(value, name)
        elif isinstance(node, list | tuple):
            for value in node:
                visit(value, key)
        elif key == "source" and isinstance(node, str) and not node.strip().lower().startswith("data:"):
            found.append(f"image source {node[:80]!r}")  # a path, too, would be read relative to the page

    visit(figure)
    return found


class ImageWorker:
    """One long-lived `image_worker.py` process per server process, started on first use (about 2 s, then a
    fraction of a second per image). Requests are serialised by a lock; other requests are not blocked."""

    def __init__(self, env: dict[str, str] | None = None):
        self._env = env
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def render(self, figure: dict, fmt: str, width: int, height: int, scale: float) -> bytes:
        request = json.dumps({"figure": figure, "format": fmt, "width": width, "height": height, "scale": scale},
                             cls=PlotlyJSONEncoder).encode() + b"\n"
        with self._lock:
            for attempt in range(2):  # a worker that died since the last export is restarted once
                try:
                    status, payload = self._exchange(request)
                    break
                except (OSError, EOFError, TimeoutError) as error:
                    self.close()
                    if attempt or isinstance(error, TimeoutError):  # a hung worker is not waited for twice
                        raise ImageExportError(f"the image worker failed: {type(error).__name__}: {error}") \
                            from error
        if status == OK:
            return payload
        message = payload.decode("utf-8", "replace")
        if status == NO_BROWSER:
            raise ImageExportUnavailable(f"{NO_CHROMIUM} ({message.split('. ')[0].rstrip('.')}.)")
        raise ImageExportError(f"the figure could not be rendered as {fmt.upper()}: {message}")

    def _exchange(self, request: bytes) -> tuple[int, bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("image_worker.py"))], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0, env=self._env)
        view = memoryview(request)
        while view:  # an unbuffered pipe may take a large figure in several writes
            view = view[self._process.stdin.write(view):]
        timeout = settings.image_timeout_seconds()
        deadline = time.monotonic() + timeout
        status, size = HEADER.unpack(self._read(HEADER.size, deadline, timeout))
        return status, self._read(size, deadline, timeout)

    def _read(self, size: int, deadline: float, timeout: float) -> bytes:
        fd, chunks, remaining = self._process.stdout.fileno(), [], size
        while remaining:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"no answer within {timeout:g} s")
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                raise EOFError("the image worker exited")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        """Stop the worker (closing its stdin ends it; it stops Chromium on the way out)."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.close()
            process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()


_worker = ImageWorker()
atexit.register(_worker.close)


def figure_image(figure: dict, fmt: str, width: int = 1280, height: int = 720, scale: float = 1.0) -> bytes:
    """PNG, SVG or PDF of a figure, rendered by kaleido with the system Chromium in a worker process."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"format '{fmt}' is not one of {', '.join(IMAGE_FORMATS)}")
    if refused := external_references(figure):
        raise ImageExportError("the figure refers to something outside it, which the server does not fetch: "
                               + "; ".join(refused[:3]))
    return _worker.render(figure, fmt, width, height, scale)
