"""Read a study's files (a folder of CSVs, one .xlsx workbook, or uploaded bytes) into raw text tables.

Everything here is about files: names, sizes, encodings, delimiters, formulas. Cell contents stay
text; data_access.validate turns them into typed columns. Every raw table carries `_file` and
`_row` (the row number a spreadsheet program shows, header = row 1) so errors can point at a cell.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import settings
from data_access.report import ValidationReport
from data_access.schema import TABLES

CSV_SUFFIXES = (".csv",)
XLSX_SUFFIXES = (".xlsx",)
RESERVED_COLUMNS = ("_file", "_row")  # the columns the readers add to every table
MAX_CELL_CHARS = 131_072  # the longest cell read (the csv module's own default limit)
MAX_UNPACKED_BYTES = 150_000_000  # the most a workbook may unpack to: openpyxl reads 2-3 MB of sheet XML a second
# on a busy 2-core machine (python -m bench.workbooks), so this is about a minute; larger tables come as CSV
MAX_SHARED_STRINGS_BYTES = 40_000_000  # openpyxl holds every distinct text of a workbook in memory from the start:
# 40 MB of them are about 1.7 million short texts, some 25 s and 300 MB to load on a busy 2-core machine
MAX_SHEET_CELLS = 50_000_000  # cells read from a sheet, blank ones up to each row's last included: 6 million rows of
# 8 columns, but only 3,000 rows reaching column XFD (each costs openpyxl 16,384 cells)
MAX_PACKING = 100  # workbooks from spreadsheet programs unpack to 5-20 times their size; a zip bomb to far more
BOM = b"\xef\xbb\xbf"

# The csv module's field limit raises in the middle of a file; it is lifted here so that the reader checks
# MAX_CELL_CHARS itself and names the row and the column of the long cell.
csv.field_size_limit(2**31 - 1)


@dataclass(frozen=True)
class SourceFile:
    """One input file as bytes, with the name the user knows it by."""

    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class RawStudy:
    """Text tables as read from the files, plus what was read (for the import log)."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: list[dict] = field(default_factory=list)
    report: ValidationReport = field(default_factory=ValidationReport)


def table_name_for(file_or_sheet_name: str) -> str:
    """'Adverse Events.csv' -> 'adverse_events'."""
    stem = Path(file_or_sheet_name).stem if "." in file_or_sheet_name else file_or_sheet_name
    return "_".join(stem.strip().lower().replace("-", " ").split())


def files_from_path(path: str | Path) -> list[SourceFile]:
    """The files of a study given as a folder, a single .csv/.xlsx file, or anything else (reported later)."""
    path = Path(path)
    if path.is_dir():
        members = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        return [SourceFile(p.name, p.read_bytes()) for p in members]
    return [SourceFile(path.name, path.read_bytes())]


def read_files(files: list[SourceFile], max_bytes: int) -> RawStudy:
    """Read every file into raw tables; file-level problems go into the report, never raise."""
    raw = RawStudy()
    if not files:
        raw.report.error("(no files)", "no files were given; expected subjects.csv, measurements.csv, ... "
                         "or one .xlsx workbook")
        return raw
    for source in files:
        raw.files.append({"name": source.name, "bytes": len(source.data), "sha256": source.sha256})
        if _file_level_problem(source, max_bytes, raw.report):
            continue
        suffix = Path(source.name).suffix.lower()
        if suffix in XLSX_SUFFIXES:
            _read_workbook(source, raw)
        else:
            _add_csv(raw, table_name_for(source.name), source)
    for table in ("subjects", "measurements"):
        if table not in raw.tables and raw.report.ok:
            raw.report.error("(study)", f"required table '{table}' is missing: give {table}.csv "
                             f"or a sheet named '{table}'", table=table)
    for table in ("adverse_events", "responses"):
        if table not in raw.tables and raw.report.ok:
            raw.report.warning("(study)", f"no '{table}' table: the study is stored without it", table=table)
    return raw


def read_table_file(source: SourceFile, table: str, max_bytes: int) -> RawStudy:
    """Read one CSV as the given table whatever its file name (e.g. a measurements export for the NCA CLI)."""
    raw = RawStudy()
    raw.files.append({"name": source.name, "bytes": len(source.data), "sha256": source.sha256})
    if Path(source.name).suffix.lower() != ".csv":
        raw.report.error(source.name, "give a .csv file of the measurements table, a study folder or a study name")
    elif not _file_level_problem(source, max_bytes, raw.report):
        _add_csv(raw, table, source)
    return raw


def _file_level_problem(source: SourceFile, max_bytes: int, report: ValidationReport) -> bool:
    suffix = Path(source.name).suffix.lower()
    if suffix not in CSV_SUFFIXES + XLSX_SUFFIXES:
        report.error(source.name, f"not a CSV or XLSX file ('{suffix or 'no extension'}'); "
                     "give .csv files or one .xlsx workbook")
        return True
    if not source.data:
        report.error(source.name, "the file is empty")
        return True
    if len(source.data) > max_bytes:
        report.error(source.name, f"the file is {human_size(len(source.data))}, over the "
                     f"{human_size(max_bytes)} limit (CARTSCOPE_MAX_FILE_MB)")
        return True
    return False


def human_size(n_bytes: int) -> str:
    """1234567 -> '1.2 MB'; 2300 -> '2.3 kB'."""
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:.1f} kB"


def _add_table(raw: RawStudy, table: str, file: str, header: list[str] | None, rows: list[tuple[int, list]] | None,
               cells: pd.DataFrame | None = None, lines: list[int] | None = None) -> None:
    """Add one table from its header and either `rows` ((line, fields) pairs) or `cells` (a text frame whose
    positional columns follow the header) with their `lines`."""
    if header is None:
        return
    if table not in TABLES:
        raw.report.error(file, f"unknown table '{table}'; expected one of: {', '.join(TABLES)}")
        return
    if table in raw.tables:
        other = raw.tables[table].attrs["file"]
        raw.report.error(file, f"table '{table}' is given twice (also in {other})", table=table)
        return
    columns = [str(c).strip().lower() if c is not None else "" for c in header]
    if has_reserved_column(file, columns, raw.report, table):
        return
    seen: set[str] = set()
    for position, name in enumerate(columns, start=1):
        if not name:
            if (cells is not None and position <= cells.shape[1] and (cells.iloc[:, position - 1] != "").any()) or \
                    any(len(r) >= position and r[position - 1] not in ("", None) for _, r in rows or ()):
                raw.report.error(file, f"column {position} has values but no name in the header row",
                                 row=1, table=table)
            continue
        if name in seen:
            raw.report.error(file, f"column '{name}' appears twice (names are case-insensitive)",
                             row=1, column=name, table=table)
        seen.add(name)
    keep = [i for i, name in enumerate(columns) if name]
    if cells is not None:
        frame = pd.DataFrame({columns[i]: cells.iloc[:, i] if i < cells.shape[1] else "" for i in keep},
                             index=range(len(cells)), dtype=object)
        frame.columns = [columns[i] for i in keep]
        numbers = lines
    else:
        frame = pd.DataFrame(
            [[("" if i >= len(r) or r[i] is None else str(r[i]).strip()) for i in keep] for _, r in rows],
            columns=[columns[i] for i in keep], dtype=object,
        )
        numbers = [n for n, _ in rows]
    frame = frame.loc[:, ~frame.columns.duplicated()]
    frame.insert(0, "_row", numbers)
    frame.insert(0, "_file", file)
    frame.attrs["file"] = file
    raw.tables[table] = frame


def has_reserved_column(file: str, columns: list[str], report: ValidationReport, table: str | None = None) -> bool:
    """True, with an error for each, when a header names a column `_file` or `_row` (any case): the readers add
    those to every table to say where each value came from."""
    reserved = [name for name in columns if str(name).strip().lower() in RESERVED_COLUMNS]
    for name in reserved:
        report.error(file, f"column '{str(name).strip().lower()}' has a name CARTscope keeps for itself (the file "
                     "and row of each value); rename the column", row=1, column=str(name).strip().lower(), table=table)
    return bool(reserved)


def _encoding_problem(data: bytes) -> str | None:
    """What keeps `data` from being read as UTF-8 text, told by its first bytes, or None."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "the file is UTF-32 text; save it as 'CSV UTF-8'"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "the file is UTF-16 text; save it as 'CSV UTF-8'"
    if data.startswith(BOM + BOM):
        return "the file starts with two byte-order marks; save it as 'CSV UTF-8' once"
    head = data[:4096]
    if b"\x00" not in head:
        return None
    even, odd = head[0::2], head[1::2]  # UTF-16 text of Latin letters has a NUL in every other byte
    if (odd.count(0) > len(odd) // 2 and not even.count(0)) or (even.count(0) > len(even) // 2 and not odd.count(0)):
        return "the file is UTF-16 text without a byte-order mark; save it as 'CSV UTF-8'"
    return "the file is binary, not CSV text"


def _decode(source: SourceFile, report: ValidationReport) -> str | None:
    data = source.data
    problem = _encoding_problem(data)
    if problem:
        report.error(source.name, problem)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
        report.error(source.name, f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
                     "save it as 'CSV UTF-8'", row=line)
        return None


def _add_csv(raw: RawStudy, table: str, source: SourceFile) -> None:
    """Read one CSV file as `table`."""
    parts = read_csv(source, raw.report)
    if parts is not None:
        _add_table(raw, table, source.name, *parts)


def read_csv(source: SourceFile, report: ValidationReport) -> tuple | None:
    """A CSV file as (header, rows, cells, lines): large plain files through pandas' C parser (`cells`, a text frame,
    and their `lines`), anything else row by row (`rows`, (line, fields) pairs, with what is wrong reported); None
    when the file is not readable text or is empty."""
    text = _decode(source, report)
    if text is None:
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # Windows and old Mac line ends
    if not text.strip():
        report.error(source.name, "the file is empty")
        return None
    first_line = text.lstrip().splitlines()[0]
    delimiter = max(",;\t", key=first_line.count)
    if _is_plain(source.data):  # most files: read from the bytes, with no copy of the text held meanwhile
        del text
        rows = source.data.count(b"\n") + (not source.data.endswith(b"\n")) - 1  # no blank lines: exact
        if rows > (limit := settings.max_rows()):
            _too_many_rows(source.name, report, limit, limit + 2)
            return None
        fast = _read_csv_plain(source.data, delimiter)
        if fast is not None:
            header, cells, lines = fast
            return header, None, cells, lines
        text = source.data.decode("utf-8-sig").replace("\r\n", "\n")
    fast = _read_csv_fast(text, delimiter)
    if fast is not None:
        header, cells, lines = fast
        return header, None, cells, lines
    return *_read_csv(source.name, text, delimiter, report), None, None


#: What keeps a file from the plain path: a quote, an old Mac line end, a blank line (its rows' line numbers would
#: no longer be their positions). Separate searches: each is a fast scan of the bytes.
_NOT_PLAIN = (re.compile(rb'"'), re.compile(rb"\r(?!\n)"), re.compile(rb"\n[ \t,;]*\r?\n"),
              re.compile(rb"\A[ \t,;]*\r?\n"), re.compile(rb"\n[ \t,;]+\Z"))


def _is_plain(data: bytes) -> bool:
    return not any(pattern.search(data) for pattern in _NOT_PLAIN)


def _read_csv_plain(data: bytes, delimiter: str) -> tuple[list[str], pd.DataFrame, list[int]] | None:
    """Header, cells and line numbers of a plain CSV (see _NOT_PLAIN) read by pandas' C parser straight from its
    bytes; None when it needs a closer look (a formula, a long cell, a row longer than the header)."""
    try:
        cells = pd.read_csv(io.BytesIO(data), sep=delimiter, header=None, dtype=str, keep_default_na=False,
                            na_filter=False, skip_blank_lines=False, engine="c", quoting=csv.QUOTE_NONE,
                            encoding="utf-8-sig")
    except (pd.errors.ParserError, ValueError):
        return None
    if _needs_a_closer_look(cells, b"=" in data):
        return None
    return cells.iloc[0].tolist(), cells.iloc[1:].reset_index(drop=True), list(range(2, len(cells) + 1))


def _needs_a_closer_look(cells: pd.DataFrame, may_hold_formulas: bool) -> bool:
    """True when a cell is longer than a cell may be or may be a formula: the row-by-row reader names them."""
    for column in cells.columns:
        text = cells[column]
        if text.str.len().max() > MAX_CELL_CHARS or may_hold_formulas and text.str.lstrip().str.match(r"=.").any():
            return True
    return False


def _too_many_rows(name: str, report: ValidationReport, limit: int, line: int) -> None:
    report.error(name, f"the file has more than {limit:,} rows, the most CARTscope reads from one table "
                 "(CARTSCOPE_MAX_ROWS)", row=line)


def _read_csv_fast(text: str, delimiter: str) -> tuple[list[str], pd.DataFrame, list[int]] | None:
    """Header, cells and line numbers of a CSV with no quoting, no formula, no line longer than a cell may be, no row
    longer than the header and not too many rows, read by pandas' C parser; None when the file needs the row-by-row
    reader (which also says what is wrong)."""
    if '"' in text:
        return None
    all_lines = text.split("\n")
    if max(map(len, all_lines)) > MAX_CELL_CHARS:
        return None
    kept = [i for i, line in enumerate(all_lines, start=1) if line.strip().strip(delimiter).strip()]
    if len(kept) - 1 > settings.max_rows():  # the header is not a row
        return None
    body = "\n".join(all_lines[i - 1] for i in kept)
    try:
        cells = pd.read_csv(io.StringIO(body), sep=delimiter, header=None, dtype=str, keep_default_na=False,
                            na_filter=False, skip_blank_lines=False, engine="c", quoting=csv.QUOTE_NONE)
    except (pd.errors.ParserError, ValueError):
        return None
    if len(cells) != len(kept):
        return None
    if _needs_a_closer_look(cells, "=" in body):
        return None
    header = cells.iloc[0].tolist()
    return header, cells.iloc[1:].reset_index(drop=True), kept[1:]


def _read_csv(name: str, text: str, delimiter: str,
              report: ValidationReport) -> tuple[list[str] | None, list[tuple[int, list]]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[tuple[int, list]] = []
    opened = line = 0
    limit = settings.max_rows()
    for fields in reader:
        opened, line = line + 1, reader.line_num  # a quoted cell may span lines: the row opens on the first
        if not any(f.strip() for f in fields):
            continue
        if header is None:
            header = fields
            continue
        if len(rows) == limit:
            _too_many_rows(name, report, limit, line)
            return None, []
        if len(fields) > len(header) and any(f.strip() for f in fields[len(header):]):
            report.error(name, f"row has {len(fields)} fields but the header has {len(header)}", row=line)
            continue
        joined = "".join(fields)  # one look at the whole row first: most rows have no formula and no long cell
        problems = [_cell_problem(value) for value in fields] if "=" in joined or len(joined) > MAX_CELL_CHARS else []
        for position, problem in enumerate(problems):
            if problem:
                column = header[position].strip().lower() if position < len(header) else None
                report.error(name, problem, row=line, column=column)
        if not any(problems):  # a row with a wrong cell is left out: its other cells would only add errors
            rows.append((line, fields))
    if opened < line and _ends_in_open_quote("\n".join(text.split("\n")[opened - 1:]), delimiter):
        report.error(name, 'a quote (") opened on this row is never closed, so the rest of the file reads as one '
                     "cell; close the quote or remove it", row=opened)
        return None, []
    return header, rows


def _cell_problem(value: str) -> str | None:
    """What is wrong with one CSV cell: too long, or a spreadsheet formula."""
    if len(value) > MAX_CELL_CHARS:
        return f"cell is {len(value):,} characters long, over the {MAX_CELL_CHARS:,} limit"
    if value.strip().startswith("=") and len(value.strip()) > 1:
        return f"cell holds a spreadsheet formula ('{value.strip()[:40]}'); give the value itself"
    return None


def _ends_in_open_quote(last_row: str, delimiter: str) -> bool:
    """True when the file's last row (as text) ends inside a quoted cell, which the lenient reader reads to the end."""
    try:
        for _ in csv.reader(io.StringIO(last_row), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


class UnreadableFile(Exception):
    """A workbook (or one of its sheets) that cannot be read; the message says why in plain words."""


def open_workbook(source: SourceFile, data_only: bool = False):
    """`source` as an openpyxl read-only workbook, to be closed after use; with `data_only` a formula cell gives the
    value it had when last saved, without it the formula. Raises UnreadableFile when the file is not a workbook, or
    would unpack to more than MAX_UNPACKED_BYTES or MAX_PACKING times its size (a zip bomb), or its shared strings to
    more than MAX_SHARED_STRINGS_BYTES, before reading it."""
    import openpyxl  # imported here: only needed for workbooks

    try:
        with zipfile.ZipFile(io.BytesIO(source.data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            texts = sum(i.file_size for i in archive.infolist() if i.filename.lower().endswith("sharedstrings.xml"))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _unreadable(exc) from exc
    if texts > MAX_SHARED_STRINGS_BYTES:
        raise UnreadableFile(f"the workbook's texts (its shared strings) unpack to {human_size(texts)}, over the "
                             f"{human_size(MAX_SHARED_STRINGS_BYTES)} limit; give its tables as CSV files")
    if unpacked > MAX_UNPACKED_BYTES:
        raise UnreadableFile(f"the workbook unpacks to {human_size(unpacked)}, over the "
                             f"{human_size(MAX_UNPACKED_BYTES)} limit for a workbook; give its tables as CSV files")
    if unpacked > MAX_PACKING * len(source.data):
        raise UnreadableFile(f"the workbook unpacks to {human_size(unpacked)}, {unpacked / len(source.data):.0f} "
                             f"times its size: no spreadsheet program packs data that tightly (a zip bomb does)")
    try:
        return openpyxl.load_workbook(io.BytesIO(source.data), read_only=True, data_only=data_only)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds of errors for a broken file: all mean that
        raise _unreadable(exc) from exc


def sheet_rows(sheet):
    """A worksheet's rows as (row number, values), blank rows left out (the first one given is the header). The
    sheet's stated size is ignored (it can be wrong); UnreadableFile when the sheet cannot be read or has more than
    settings.max_rows() rows or MAX_SHEET_CELLS cells."""
    from openpyxl.utils import get_column_letter

    sheet.reset_dimensions()
    limit, cells = settings.max_rows(), 0
    try:
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells += len(values)
            if number > limit:
                raise UnreadableFile(f"the sheet has more than {limit:,} rows, the most CARTscope reads from one "
                                     "table (CARTSCOPE_MAX_ROWS)")
            if cells > MAX_SHEET_CELLS:
                raise UnreadableFile(f"the sheet spans more than {MAX_SHEET_CELLS:,} cells (row {number} reaches "
                                     f"column {get_column_letter(len(values))}); delete its unused columns or give "
                                     "the table as a CSV file")
            if values.count(None) + values.count("") < len(values):
                yield number, values
    except UnreadableFile:
        raise
    except Exception as exc:  # noqa: BLE001 - as in open_workbook
        raise _unreadable(exc) from exc


def _unreadable(exc: Exception) -> UnreadableFile:
    """The error a workbook that openpyxl, zipfile or the XML parser could not read gets, in plain words."""
    from xml.parsers.expat import ExpatError

    from defusedxml import DefusedXmlException

    while exc.__cause__ is not None:  # openpyxl wraps the parser's error in its own
        exc = exc.__cause__
    xml_error = isinstance(exc, SyntaxError | ExpatError)  # the XML parsers' errors (lxml's too) are SyntaxErrors
    if isinstance(exc, DefusedXmlException) or (xml_error and "entity" in str(exc).lower()):  # lxml's own refusal
        why = "it declares XML entities, which spreadsheet programs never write and attacks use"
    elif xml_error:
        why = f"its XML is malformed: {str(exc)[:80]}"
    elif isinstance(exc, zipfile.BadZipFile | EOFError):
        why = "it is not a whole zip archive, as an .xlsx file is"
    elif isinstance(exc, IndexError):
        why = "a cell refers to a shared string that is not in the workbook"
    else:
        why = f"{type(exc).__name__}: {str(exc)[:80]}"
    return UnreadableFile(f"not a readable .xlsx workbook ({why}); save it from Excel as 'Excel Workbook (.xlsx)'")


def _read_workbook(source: SourceFile, raw: RawStudy) -> None:
    """Every sheet named for a study table, as that table; when any of the workbook cannot be read, only that."""
    label, found = source.name, ValidationReport()  # what the sheets say counts once the workbook is read whole
    try:
        workbook = open_workbook(source)
        try:
            sheets = []
            for sheet in workbook.worksheets:
                label = f"{source.name} [{sheet.title}]"
                table = table_name_for(sheet.title)
                if table not in TABLES:
                    found.warning(source.name, f"sheet '{sheet.title}' is not a study table and was ignored")
                    continue
                sheets.append((table, label, *_sheet_table(sheet, label, table, found)))
        finally:
            workbook.close()
    except UnreadableFile as exc:
        raw.report.error(label, str(exc))
        return
    raw.report.extend(found)
    for table, label, header, rows in sheets:
        if header is None:
            raw.report.error(label, "the sheet is empty", table=table)
        else:
            _add_table(raw, table, label, header, rows)


def _sheet_table(sheet, label: str, table: str, report: ValidationReport) -> tuple[list | None, list[tuple[int, list]]]:
    """The sheet's header and (row number, cell texts) rows; formulas, over-long cells and values right of the header
    are reported, and their rows left out (as in a CSV file: the row's other cells would only add errors)."""
    from openpyxl.utils import get_column_letter

    header: list | None = None
    rows: list[tuple[int, list]] = []
    for number, values in sheet_rows(sheet):
        if header is None:
            header = list(values)
            continue
        beyond = values[len(header):]
        if beyond.count(None) + beyond.count("") < len(beyond):
            report.error(label, f"row has values right of the header row's last column "
                         f"({get_column_letter(len(header))})", row=number, table=table)
            continue
        ok = True
        for position, value in enumerate(values[:len(header)]):
            problem = _sheet_cell_problem(value) if not isinstance(value, int | float | type(None)) else None
            if problem:
                report.error(label, f"cell {get_column_letter(position + 1)}{number} {problem}", row=number,
                             column=str(header[position]).strip().lower(), table=table)
                ok = False
        if ok:
            rows.append((number, [_cell_text(v) for v in values[:len(header)]]))
    return header, rows


def _sheet_cell_problem(value: object) -> str | None:
    """What is wrong with one workbook cell read without `data_only` (text, a date or a formula): a formula, or text
    too long."""
    from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

    if isinstance(value, ArrayFormula | DataTableFormula):  # an array or what-if table formula: an object, not text
        return f"holds a formula ('{(getattr(value, 'text', None) or 'TABLE()')[:40]}'); paste values only"
    if isinstance(value, str) and value.startswith("=") and len(value) > 1:
        return f"holds a formula ('{value[:40]}'); paste values only"
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return f"is {len(value):,} characters long, over the {MAX_CELL_CHARS:,} limit"
    return None


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
