"""Table downloads (CSV, Excel) that a spreadsheet opens safely: text cells that could run as formulas are
neutralised with a leading apostrophe."""
from __future__ import annotations

import io

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Text starting with = + - @ (or a tab/CR) gets a leading ' so Excel/LibreOffice show it as text."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS)
                                           else v)
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return neutralise(frame).to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


def excel_bytes(frame: pd.DataFrame, sheet: str = "data") -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        neutralise(frame).to_excel(writer, index=False, sheet_name=sheet[:31])
    return buffer.getvalue()


# ---- figures as images (kaleido, driving the system Chromium) ---------------------------------------------

IMAGE_FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
_server_started = False


class ImageExportUnavailable(RuntimeError):
    """No browser for kaleido: the message says what to install."""


def figure_image(figure: dict, fmt: str, width: int = 1280, height: int = 720, scale: float = 1.0) -> bytes:
    """PNG, SVG or PDF of a figure, rendered on the server by kaleido with the system Chromium.

    The first call starts one persistent headless Chromium for this process (about 2 s); later images
    take a fraction of a second."""
    import plotly.io as pio

    global _server_started
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"format '{fmt}' is not one of {', '.join(IMAGE_FORMATS)}")
    try:
        import kaleido

        if not _server_started:
            kaleido.start_sync_server(silence_warnings=True)
            _server_started = True
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return pio.to_image(figure, format=fmt, width=width, height=height, scale=scale)
    except (ImportError, RuntimeError, OSError, ValueError) as error:
        if isinstance(error, ValueError) and "format" in str(error):
            raise
        raise ImageExportUnavailable(
            "Server-side image export needs Chromium: install Debian's 'chromium' package (or set the "
            f"BROWSER_PATH environment variable to a Chrome/Chromium binary). ({type(error).__name__}: {error})"
        ) from error
