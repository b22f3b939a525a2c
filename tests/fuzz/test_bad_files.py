"""Regression suite of bad input files: each is refused with one clear error naming the file, never a traceback, and
nothing is stored. A new case is one line of CASES: (name, builder of the files, expected message fragment)."""
import io
import zipfile

import openpyxl
import pytest

from bench.workbooks import rewrite_members
from data_access.importer import import_files
from data_access.mapping import needs_mapping, propose_mapping, read_sources
from data_access.readers import SourceFile
from tests.conftest import VALID_TABLES, make_files

SUBJECTS = VALID_TABLES["subjects.csv"]
MEASUREMENTS = VALID_TABLES["measurements.csv"]
SHEET = "xl/worksheets/sheet2.xml"  # the measurements sheet of workbook()
MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def csv_study(name: str, data: bytes):
    """The valid study with one CSV file replaced by `data`."""
    return lambda: make_files({name: data})


def workbook() -> bytes:
    """The valid study as one workbook written by openpyxl, a sheet a table (sheet1.xml is subjects)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, text in VALID_TABLES.items():
        sheet = book.create_sheet(name.removesuffix(".csv"))
        for line in text.strip().splitlines():
            sheet.append(line.split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def rewritten(members: dict[str, bytes | str]):
    """The workbook with zip members replaced by hand (the way a malicious file is made), as a study of one file."""
    return lambda: [SourceFile("study.xlsx", rewrite_members(workbook(), members))]


def measurements_sheet(rows: str):
    """The workbook with its measurements sheet's XML written by hand: the header row, then `rows`."""
    header = f'<row r="1">{cells(*MEASUREMENTS.splitlines()[0].split(","))}</row>'
    return rewritten({SHEET: f'<?xml version="1.0" encoding="UTF-8"?><worksheet {MAIN}><dimension ref="A1:H8"/>'
                             f'<sheetData>{header}{rows}</sheetData></worksheet>'})


def cells(*values: str) -> str:
    return "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in values)


GOOD_ROW = f'<row r="3">{cells(*MEASUREMENTS.splitlines()[2].split(","))}</row>'  # so that the table has a row
LONG_CELL = f'<row r="2">{cells("S1", "il6", "serum", "1" * 140_000)}</row>' + GOOD_ROW
ARRAY_FORMULA = '<row r="2"><c r="A2"><f t="array" ref="A2">SUM(B1:B2)</f><v>3</v></c></row>' + GOOD_ROW
SAME_ROWS = f'<row>{cells("S1", "il6", "serum", "1", "2")}</row>' * 50_000  # no row numbers: the zip packs it tight
LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol">'  # "billion laughs": each entity is ten of the one before
          + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
          + "]>")
XXE = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'  # an external entity: a file of the server


def entities_in_sheet(doctype: str, reference: str):
    return rewritten({SHEET: f'<?xml version="1.0"?>{doctype}<worksheet {MAIN}><sheetData><row r="1">'
                             f'<c t="inlineStr"><is><t>{reference}</t></is></c></row></sheetData></worksheet>'})


def entities_in_workbook_xml(doctype: str, reference: str):
    """The workbook with `doctype` declared in xl/workbook.xml (which openpyxl parses with lxml, not defusedxml, when
    lxml is installed) and the first sheet's name using the entity `reference`."""
    xml = zipfile.ZipFile(io.BytesIO(workbook())).read("xl/workbook.xml").decode()
    xml = doctype + xml[xml.index("<workbook"):].replace('name="subjects"', f'name="subjects{reference}"', 1)
    return rewritten({"xl/workbook.xml": xml})


LONG_CSV_ROW = 'S2,il6,serum,"' + "9" * 140_000 + '",1,pg/mL,,\n'

CASES = [
    ("cell over 131,072 characters", csv_study("measurements.csv", (MEASUREMENTS + LONG_CSV_ROW).encode()),
     "cell is 140,000 characters long, over the 131,072 limit"),
    ("column named _row", csv_study("responses.csv", b"subject_id,_row,day,response\nS1,1,28,PR\n"),
     "column '_row' has a name CARTscope keeps for itself"),
    ("column named _file", csv_study("responses.csv", b"subject_id,_FILE,day,response\nS1,1,28,PR\n"),
     "column '_file' has a name CARTscope keeps for itself"),
    ("UTF-16 without a BOM", csv_study("subjects.csv", SUBJECTS.encode("utf-16-le")),
     "the file is UTF-16 text without a byte-order mark"),
    ("UTF-16 big-endian without a BOM", csv_study("subjects.csv", SUBJECTS.encode("utf-16-be")),
     "the file is UTF-16 text without a byte-order mark"),
    ("UTF-32", csv_study("subjects.csv", SUBJECTS.encode("utf-32")), "the file is UTF-32 text"),
    ("two byte-order marks", csv_study("subjects.csv", b"\xef\xbb\xbf\xef\xbb\xbf" + SUBJECTS.encode()),
     "the file starts with two byte-order marks"),
    ("unclosed quote", csv_study("measurements.csv", MEASUREMENTS.replace(",car_copies,PB,7,", ',"car_copies,PB,7,', 1)
                                 .encode()),
     "a quote (\") opened on this row is never closed"),
    ("workbook XML malformed", rewritten({"xl/workbook.xml": "<workbook><sheets>"}), "its XML is malformed"),
    ("[Content_Types].xml malformed", rewritten({"[Content_Types].xml": "<Types"}), "its XML is malformed"),
    ("sheet XML malformed", measurements_sheet("<row><c>"), "its XML is malformed"),
    ("missing shared string", measurements_sheet('<row r="2"><c t="s"><v>9999</v></c></row>'),
     "a cell refers to a shared string that is not in the workbook"),
    ("billion laughs", entities_in_sheet(LAUGHS, "&lol9;"), "it declares XML entities"),
    ("external entity (XXE)", entities_in_sheet(XXE, "&xxe;"), "it declares XML entities"),
    ("billion laughs in workbook.xml", entities_in_workbook_xml(LAUGHS, "&lol9;"), "it declares XML entities"),
    ("external entity in workbook.xml", entities_in_workbook_xml(XXE, "&xxe;"), "it declares XML entities"),
    ("zip bomb", measurements_sheet(SAME_ROWS),
     "times its size: no spreadsheet program packs data that tightly (a zip bomb does)"),
    ("workbook cell over 131,072 characters", measurements_sheet(LONG_CELL),
     "cell D2 is 140,000 characters long, over the 131,072 limit"),
    ("array formula", measurements_sheet(ARRAY_FORMULA), "cell A2 holds a formula ('=SUM(B1:B2)'); paste values only"),
]


@pytest.mark.parametrize(("name", "build", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_file_is_a_clear_error_and_nothing_is_stored(name, build, expected, engine):
    files = build()
    result = import_files(files, "fuzz", source="test", engine=engine)
    assert not result.stored
    assert len(result.report.errors) == 1, result.report.to_text()
    error = result.report.errors[0]
    assert expected in error.message and any(f.name in error.file for f in files), result.report.to_text()
    read_sources(files, 10_000_000)  # nor do the mapping's reader,
    needs_mapping(files)  # the Data page's first look
    propose_mapping(files)  # and the mapping it then proposes raise
