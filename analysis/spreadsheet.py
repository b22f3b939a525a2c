"""Tables written for people, who open them in Excel or LibreOffice: a text cell that starts like a formula
(= + - @, or a tab or carriage return) gets a leading apostrophe, so the program shows it as text instead of
running it (CSV/formula injection: a subject id or AE term such as `+cmd|' /C calc'!A0` in a delivery).

The app's CSV and Excel downloads (components/exports.py) and the command lines (`python -m analysis`) use this
one rule; the command lines can skip it (`--raw-text`) for a program that reads the file."""
from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Text starting with = + - @ (or a tab/CR) gets a leading ' so Excel/LibreOffice show it as text; numbers
    stay numbers."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS)
                                           else v)
    return out


def write_csv(frame: pd.DataFrame, target, *, raw_text: bool = False) -> None:
    """`frame` as CSV to a path or an open text file, neutralised unless `raw_text`."""
    (frame if raw_text else neutralise(frame)).to_csv(target, index=False, lineterminator="\n")
