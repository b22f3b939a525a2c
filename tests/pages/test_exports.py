"""Downloads neutralise spreadsheet formulas and open in the programs people use."""
import io

import openpyxl
import pandas as pd

from components.exports import csv_bytes, excel_bytes, neutralise


def test_text_that_would_run_as_a_formula_is_neutralised():
    frame = pd.DataFrame({"note": ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "plain"],
                          "value": [-1.5, 2, 3, 4, 5]})
    out = neutralise(frame)
    assert out["note"].tolist() == ["'=HYPERLINK(\"x\")", "'+1", "'-2+3", "'@SUM(A1)", "plain"]
    assert out["value"].tolist() == [-1.5, 2, 3, 4, 5]  # numbers stay numbers
    assert csv_bytes(frame).decode("utf-8-sig").splitlines()[1] == "\"'=HYPERLINK(\"\"x\"\")\",-1.5"


def test_excel_export_opens_with_openpyxl():
    frame = pd.DataFrame({"subject_id": ["A", "B"], "cmax": [1.5, None], "reason": ["=cmd", ""]})
    book = openpyxl.load_workbook(io.BytesIO(excel_bytes(frame, "NCA")))
    sheet = book["NCA"]
    assert [c.value for c in sheet[1]] == ["subject_id", "cmax", "reason"]
    assert sheet["C2"].value == "'=cmd" and sheet["C2"].data_type == "s"
