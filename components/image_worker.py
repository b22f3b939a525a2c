"""Render plotly figures to PNG/SVG/PDF in a separate process (kaleido driving the system Chromium).

Run by components/exports.py as `python image_worker.py`; the app imports only its protocol constants.
Keeping Chromium and kaleido's machinery out of the web server process means a server (or a test run) never
waits on them at exit, and a crashed browser costs one export, not the server.

Protocol: one JSON request per line on stdin ({"figure", "format", "width", "height", "scale"}); each reply
on stdout is a 9-byte header (status byte, big-endian 8-byte length) then the payload: the image bytes
(status 0), an error message when rendering failed (status 1) or when no browser could be started
(status 2). End of stdin closes the browser and ends the process.

The page the figures are drawn in reaches nothing outside itself: its Content-Security-Policy allows images only
from `data:` and `blob:` addresses (the ones plotly makes while drawing), no connections and no frames, so a
figure naming an `http://` or `file://` image draws without it; and Chromium is given a proxy that answers
nothing, so no request leaves the worker even where the policy would not apply. components/exports.py also
refuses such figures before they get here (docs/security.md).
"""
from __future__ import annotations

import asyncio
import json
import os
import struct
import sys

OK, RENDER_FAILED, NO_BROWSER = 0, 1, 2
#: Reply header: status byte, then the payload's length.
HEADER = struct.Struct(">BQ")
MAX_REQUEST_BYTES = 512 * 1024 * 1024
#: Scripts only from the local files kaleido's page is built of; images only from data/blob addresses.
PAGE_POLICY = ("default-src 'none'; script-src file: 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
               "img-src data: blob:; font-src data:; connect-src 'none'; frame-src 'none'; form-action 'none'")
#: A proxy that answers nothing (the discard port on loopback): Chromium's own requests go nowhere.
NO_NETWORK_PROXY = "http://127.0.0.1:9"


def closed_page():
    """kaleido's page (the plotly.js bundled with plotly.py, no MathJax) with the policy above in its head."""
    from kaleido import PageGenerator

    class ClosedPage(PageGenerator):
        header = PageGenerator.header.replace(
            "<head>", f'<head>\n        <meta http-equiv="Content-Security-Policy" content="{PAGE_POLICY}">', 1)

    return ClosedPage(mathjax=False)


async def serve(replies) -> None:
    """Answer requests until stdin closes; one browser, opened on the first request."""
    import plotly.io as pio
    from kaleido import Kaleido

    loop = asyncio.get_running_loop()
    requests = asyncio.StreamReader(limit=MAX_REQUEST_BYTES)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(requests), sys.stdin)
    browser = None
    try:
        while line := await requests.readline():
            if not line.strip():
                continue
            status = OK
            try:
                request = json.loads(line)
                if browser is None:
                    status = NO_BROWSER
                    # no MathJax (no LaTeX in CARTscope figures, and no fetch for it), no network
                    candidate = Kaleido(page_generator=closed_page(), headers=pio.defaults.headers,
                                        proxy_server=NO_NETWORK_PROXY)
                    await candidate.open()
                    browser, status = candidate, OK
                options = {key: request[key] for key in ("format", "width", "height", "scale")}
                payload = await browser.calc_fig(request["figure"], opts=options)
            except Exception as error:  # noqa: BLE001 - every failure is a reply; the worker keeps serving
                status = status or RENDER_FAILED
                payload = f"{type(error).__name__}: {error}".encode()
            replies.write(HEADER.pack(status, len(payload)) + payload)
            replies.flush()
    finally:
        if browser is not None:
            await browser.close()


def main() -> None:
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the reply stream
    import warnings

    warnings.simplefilter("ignore")
    try:
        asyncio.run(serve(replies))
    finally:
        # choreographer's helpers may still wait on Chromium's pipes; this process has nothing left to flush.
        os._exit(0)


if __name__ == "__main__":
    main()
