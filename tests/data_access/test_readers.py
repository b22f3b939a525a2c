"""File-level problems get a clear error, never a traceback; workbooks and CSV dialects are read."""
import io
import re
import zipfile

import openpyxl
import pytest

from bench.workbooks import rewrite_members
from data_access import readers
from data_access.readers import SourceFile, read_files
from data_access.validate import validate
from tests.conftest import VALID_TABLES, make_files


def errors(raw):
    return [(i.file, i.row, i.column, i.message) for i in raw.report.errors]


def read(overrides=None, max_bytes=10_000_000):
    return read_files(make_files(overrides), max_bytes=max_bytes)


def workbook_bytes(tables: dict[str, str], formula_cell: tuple[str, str, str] | None = None) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, text in tables.items():
        sheet = book.create_sheet(name)
        for line in text.strip().splitlines():
            sheet.append([_typed(v) for v in line.split(",")])
    if formula_cell:
        sheet_name, cell, formula = formula_cell
        book[sheet_name][cell] = formula
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _typed(value: str):
    try:
        return float(value) if "." in value else int(value)
    except ValueError:
        return value or None


def test_not_csv_or_xlsx():
    raw = read({"notes.txt": "hello"})
    assert ("notes.txt", None, None, "not a CSV or XLSX file ('.txt'); give .csv files or one .xlsx workbook") \
        in errors(raw)


def test_empty_file():
    raw = read({"responses.csv": b""})
    assert ("responses.csv", None, None, "the file is empty") in errors(raw)


def test_file_over_the_size_limit():
    raw = read(max_bytes=200)
    assert ("measurements.csv", None, None, "the file is 0.3 kB, over the 0.2 kB limit (CARTSCOPE_MAX_FILE_MB)") \
        in errors(raw)


def test_wrong_encoding():
    latin1 = VALID_TABLES["subjects.csv"].replace("150e6 CAR+ T cells", "150e6 cellules CAR+ à J0").encode("latin-1")
    raw = read({"subjects.csv": latin1})
    assert ("subjects.csv", 2, None, "the file is not UTF-8 text (byte 0xe0 on line 2); save it as 'CSV UTF-8'") \
        in errors(raw)


def test_wrong_encoding_names_the_line_whatever_the_line_ends():
    latin1 = VALID_TABLES["subjects.csv"].replace("150e6 CAR+ T cells", "150e6 cellules CAR+ à J0").encode("latin-1")
    raw = read({"subjects.csv": latin1.replace(b"\n", b"\r")})
    assert ("subjects.csv", 2, None, "the file is not UTF-8 text (byte 0xe0 on line 2); save it as 'CSV UTF-8'") \
        in errors(raw)


def test_utf16_file():
    raw = read({"subjects.csv": VALID_TABLES["subjects.csv"].encode("utf-16")})
    assert ("subjects.csv", None, None, "the file is UTF-16 text; save it as 'CSV UTF-8'") in errors(raw)


def test_formula_in_csv():
    text = VALID_TABLES["responses.csv"].replace("S1,28,PR,", "S1,=A1+1,PR,")
    raw = read({"responses.csv": text})
    assert ("responses.csv", 2, "day", "cell holds a spreadsheet formula ('=A1+1'); give the value itself") \
        in errors(raw)


def test_unknown_table_file():
    raw = read({"labs.csv": "a,b\n1,2\n"})
    assert ("labs.csv", None, None,
            "unknown table 'labs'; expected one of: analytes, subjects, measurements, adverse_events, "
                "responses, concomitant_medications, time_to_event") in errors(raw)


def test_row_with_too_many_fields():
    text = VALID_TABLES["responses.csv"] + "S2,60,SD,,extra\n"
    raw = read({"responses.csv": text})
    assert ("responses.csv", 5, None, "row has 5 fields but the header has 4") in errors(raw)


def test_semicolon_delimited_csv_is_read():
    raw = read({"responses.csv": VALID_TABLES["responses.csv"].replace(",", ";")})
    assert raw.report.ok and list(raw.tables["responses"]["response"]) == ["PR", "cr", "SD"]


def test_byte_order_mark_is_accepted():
    raw = read({"responses.csv": b"\xef\xbb\xbf" + VALID_TABLES["responses.csv"].encode()})
    assert raw.report.ok and "subject_id" in raw.tables["responses"].columns


def test_workbook_with_a_sheet_per_table_validates():
    data = workbook_bytes({name.removesuffix(".csv"): text for name, text in VALID_TABLES.items()})
    raw = read_files([SourceFile("study.xlsx", data)], max_bytes=10_000_000)
    study, report = validate(raw, "wb")
    assert report.ok, report.to_text()
    assert len(study.measurements) == 7 and study.subjects["age"].tolist() == [60.0, 55.0]


def test_workbook_formula_is_an_error_naming_the_cell():
    data = workbook_bytes({name.removesuffix(".csv"): text for name, text in VALID_TABLES.items()},
                          formula_cell=("responses", "B2", "=27+1"))
    raw = read_files([SourceFile("study.xlsx", data)], max_bytes=10_000_000)
    assert ("study.xlsx [responses]", 2, "day", "cell B2 holds a formula ('=27+1'); paste values only") \
        in errors(raw)


def test_workbook_extra_sheet_is_a_warning():
    tables = {name.removesuffix(".csv"): text for name, text in VALID_TABLES.items()}
    data = workbook_bytes({**tables, "README": "about,this\nx,y"})
    raw = read_files([SourceFile("study.xlsx", data)], max_bytes=10_000_000)
    assert raw.report.ok
    assert [w.message for w in raw.report.warnings] == ["sheet 'README' is not a study table and was ignored"]


@pytest.mark.parametrize("payload", [b"PK\x03\x04 not really a zip", b"plain text pretending"])
def test_unreadable_workbook(payload):
    raw = read_files([SourceFile("broken.xlsx", payload)], max_bytes=10_000_000)
    assert len(raw.report.errors) == 1
    assert raw.report.errors[0].message.startswith("not a readable .xlsx workbook")


def test_old_mac_line_ends_are_read():
    raw = read({"responses.csv": VALID_TABLES["responses.csv"].replace("\n", "\r")})
    assert raw.report.ok, raw.report.to_text()
    assert list(raw.tables["responses"]["response"]) == ["PR", "cr", "SD"]
    assert list(raw.tables["responses"]["_row"]) == [2, 3, 4]


def test_unclosed_quote_is_one_error_on_the_row_it_opens():
    text = VALID_TABLES["measurements.csv"].replace("S1,car_copies,PB,7,", 'S1,"car_copies,PB,7,')
    raw = read({"measurements.csv": text})
    assert errors(raw) == [("measurements.csv", 3, None, 'a quote (") opened on this row is never closed, so the '
                            "rest of the file reads as one cell; close the quote or remove it")]


def test_closed_quotes_over_several_lines_are_read():
    text = VALID_TABLES["responses.csv"].replace("S2,28,SD,", 'S2,28,"SD\nconfirmed",')
    raw = read({"responses.csv": text})
    assert raw.report.ok and raw.tables["responses"]["response"].tolist()[-1] == "SD\nconfirmed"


@pytest.mark.parametrize("quoted", [False, True], ids=["fast path", "row-by-row"])
def test_cell_over_the_length_limit_names_row_and_column(quoted):
    long = "9" * 131_073
    text = VALID_TABLES["responses.csv"] + (f'S2,"{long}",SD,\n' if quoted else f"S2,{long},SD,\n")
    raw = read({"responses.csv": text})
    assert errors(raw) == [("responses.csv", 5, "day", "cell is 131,073 characters long, over the 131,072 limit")]


@pytest.mark.parametrize("quoted", [False, True], ids=["fast path", "row-by-row"])
def test_rows_over_the_row_limit_are_refused(monkeypatch, quoted):
    monkeypatch.setenv("CARTSCOPE_MAX_ROWS", "2")
    text = VALID_TABLES["responses.csv"].replace("S2", '"S2"' if quoted else "S2")
    raw = read({"responses.csv": text})
    assert ("responses.csv", 4, None, "the file has more than 2 rows, the most CARTscope reads from one table "
            "(CARTSCOPE_MAX_ROWS)") in errors(raw)


def study_workbook(**sheets: str) -> list[SourceFile]:
    """The valid study as one workbook, with some sheets' text replaced."""
    tables = {name.removesuffix(".csv"): text for name, text in VALID_TABLES.items()}
    return [SourceFile("study.xlsx", workbook_bytes({**tables, **sheets}))]


def with_sheet_dimension(data: bytes, member: str, dimension: str) -> bytes:
    """The workbook with one sheet's stated size (its <dimension> element) replaced, as a buggy exporter writes it."""
    sheet = zipfile.ZipFile(io.BytesIO(data)).read(member).decode()
    return rewrite_members(data, {member: re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="{dimension}"', sheet)})


def test_workbook_sheet_is_read_whole_whatever_size_it_states():
    data = with_sheet_dimension(study_workbook()[0].data, "xl/worksheets/sheet2.xml", "A1:B2")
    raw = read_files([SourceFile("study.xlsx", data)], max_bytes=10_000_000)
    assert raw.report.ok, raw.report.to_text()
    assert len(raw.tables["measurements"]) == 7 and len(raw.tables["measurements"].columns) == 10


def test_workbook_sheet_over_the_row_limit_is_refused(monkeypatch):
    monkeypatch.setenv("CARTSCOPE_MAX_ROWS", "3")
    raw = read_files(study_workbook(), max_bytes=10_000_000)
    assert ("study.xlsx [measurements]", None, None, "the sheet has more than 3 rows, the most CARTscope reads from "
            "one table (CARTSCOPE_MAX_ROWS)") in errors(raw)
    assert raw.tables == {}  # nothing of a workbook that cannot be read whole


def test_workbook_unpacking_over_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(readers, "MAX_UNPACKED_BYTES", 1_000)
    raw = read_files(study_workbook(), max_bytes=10_000_000)
    assert errors(raw)[0][:2] == ("study.xlsx", None)
    assert re.fullmatch(r"the workbook unpacks to \d+\.\d kB, over the 1\.0 kB limit for a workbook; give its tables "
                        "as CSV files", errors(raw)[0][3])


def test_workbook_reserved_column_is_an_error():
    raw = read_files(study_workbook(adverse_events="subject_id,_Row,term\nS1,1,CRS"), max_bytes=10_000_000)
    assert errors(raw) == [("study.xlsx [adverse_events]", 1, "_row", "column '_row' has a name CARTscope keeps for "
                            "itself (the file and row of each value); rename the column")]


def test_workbook_value_right_of_the_header_is_an_error():
    raw = read_files(study_workbook(responses="subject_id,day,response,mrd_negative\nS1,28,PR,,,stray\nS2,28,SD"),
                     max_bytes=10_000_000)
    assert errors(raw) == [("study.xlsx [responses]", 2, None, "row has values right of the header row's last column "
                            "(D)")]


def test_workbook_sheet_spanning_too_many_cells_is_refused(monkeypatch):
    monkeypatch.setattr(readers, "MAX_SHEET_CELLS", 30)
    book = openpyxl.Workbook()
    book.active.title = "responses"
    book.active.append(["subject_id", "day", "response"])
    book.active["XFD2"] = "far right"
    buffer = io.BytesIO()
    book.save(buffer)
    raw = read_files([SourceFile("wide.xlsx", buffer.getvalue())], max_bytes=10_000_000)
    assert errors(raw) == [("wide.xlsx [responses]", None, None, "the sheet spans more than 30 cells (row 2 reaches "
                            "column XFD); delete its unused columns or give the table as a CSV file")]


def test_workbook_with_too_many_shared_strings_is_refused_before_it_is_opened(monkeypatch):
    monkeypatch.setattr(readers, "MAX_SHARED_STRINGS_BYTES", 1_000)
    buffer = io.BytesIO(study_workbook()[0].data)
    with zipfile.ZipFile(buffer, "a") as archive:  # never opened by openpyxl: no need to declare it in the workbook
        archive.writestr("xl/sharedStrings.xml", "<sst>" + "<si><t>text</t></si>" * 100 + "</sst>")
    raw = read_files([SourceFile("study.xlsx", buffer.getvalue())], max_bytes=10_000_000)
    assert errors(raw) == [("study.xlsx", None, None, "the workbook's texts (its shared strings) unpack to 2.0 kB, "
                            "over the 1.0 kB limit; give its tables as CSV files")]
