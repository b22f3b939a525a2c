"""Benchmark: importing pathological .xlsx workbooks, each refused or read within a minute and well under 1 GB.

    python -m bench.workbooks [--rows 2000000] [--plain-rows 110000]

Builds, in a temporary folder, one `measurements` sheet of identical rows in three ways, then imports each (with the
demo study's subjects.csv beside it) in a fresh process into a fresh SQLite database with
`data_access.importer.import_files` (the CLI's and the Data page's path). Prints, per workbook, its size, what it
unpacks to, the outcome (the first error when refused), seconds reading, seconds in all and the importing process's
peak resident memory (VmHWM: getrusage's figure would include this process's, inherited through fork).

- `packed`: `--rows` rows written by hand without row numbers, so every row is the same XML and the zip packs it
  about 225 times (the adversarial probe's 2.7 MB file of 2,000,000 rows);
- `plain`: `--plain-rows` rows written by openpyxl's write-only mode (row numbers, packed about 16 times: a real
  workbook's ratio), whose sheet states no size;
- `stated size`: the plain workbook with its sheet stating the size A1:XFD1048576 (as the probe's 275 kB file did,
  on which openpyxl padded every row to 16,384 columns);
- `wide`: `--plain-rows` rows of a number in column A and one in column XFD (openpyxl gives each row 16,384 cells).
"""
from __future__ import annotations

import argparse
import io
import json
import platform
import tempfile
import time
import zipfile
from pathlib import Path

from bench import peak_memory_mb, run_in_fresh_process

HEADER = ["subject_id", "analyte", "specimen", "day", "value", "unit", "lloq", "blq"]
ROW = ["DM-001", "car_copies", "PB", 7, 15000, "copies/µg gDNA", 20, "FALSE"]
MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def rewrite_members(data: bytes, members: dict[str, bytes | str]) -> bytes:
    """The .xlsx `data` with some zip members replaced by hand (the way a crafted file is made)."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            member = members.get(info.filename, source.read(info.filename))
            archive.writestr(info.filename, member.encode() if isinstance(member, str) else member)
    return out.getvalue()


def _inline(values: list) -> str:
    return "".join(f"<c><v>{v}</v></c>" if isinstance(v, int) else f'<c t="inlineStr"><is><t>{v}</t></is></c>'
                   for v in values)


def packed_workbook(n_rows: int) -> bytes:
    """A measurements sheet of `n_rows` identical rows without row numbers."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "measurements"
    buffer = io.BytesIO()
    book.save(buffer)
    row = f"<row>{_inline(ROW)}</row>"
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet {MAIN}><dimension ref="A1:H2"/><sheetData>'
             f"<row>{_inline(HEADER)}</row>{row * n_rows}</sheetData></worksheet>")
    return rewrite_members(buffer.getvalue(), {"xl/worksheets/sheet1.xml": sheet})


def wide_workbook(n_rows: int) -> bytes:
    """A measurements sheet of `n_rows` rows with a cell in column A and one in column XFD, the last there is."""
    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c><c r="XFD{i}"><v>1</v></c></row>'
                   for i in range(2, n_rows + 2))
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet {MAIN}><sheetData><row r="1">{_inline(HEADER)}</row>'
             f"{rows}</sheetData></worksheet>")
    return rewrite_members(packed_workbook(0), {"xl/worksheets/sheet1.xml": sheet})


def plain_workbook(n_rows: int, dimension: str | None = None) -> bytes:
    """A measurements sheet of `n_rows` identical rows written by openpyxl's write-only mode, stating the size
    `dimension` if given."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("measurements")
    sheet.append(HEADER)
    for _ in range(n_rows):
        sheet.append(ROW)
    buffer = io.BytesIO()
    book.save(buffer)
    if dimension is None:
        return buffer.getvalue()
    sheet = zipfile.ZipFile(buffer).read("xl/worksheets/sheet1.xml").decode()
    return rewrite_members(buffer.getvalue(), {
        "xl/worksheets/sheet1.xml": sheet.replace("<sheetData>", f'<dimension ref="{dimension}"/><sheetData>', 1)})


def import_once(path: str) -> dict:
    """Import the workbook at `path` with the demo's subjects.csv into a fresh database in this process."""
    import settings
    from data_access import store
    from data_access.importer import import_files
    from data_access.readers import SourceFile

    files = [SourceFile("study.xlsx", Path(path).read_bytes()),
             SourceFile("subjects.csv", (settings.DEMO_DIR / "subjects.csv").read_bytes())]
    stages: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        engine = store.get_engine(f"sqlite:///{tmp}/bench.sqlite")
        start = time.perf_counter()
        result = import_files(files, "bench", source="bench", engine=engine,
                              progress=lambda text: stages.append((time.perf_counter(), text)))
        total = time.perf_counter() - start
    reading = next((t for t, text in stages if text.startswith("validating")), start + total) - start
    outcome = "stored" if result.stored else f"refused: {result.report.errors[0].message[:160]}"
    return {"outcome": outcome, "errors": len(result.report.errors), "reading": reading, "seconds": total,
            "peak_mb": peak_memory_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--plain-rows", type=int, default=110_000)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: import this path in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(import_once(args.one)))
        return
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    builders = {"packed": lambda: packed_workbook(args.rows),
                "plain": lambda: plain_workbook(args.plain_rows),
                "stated size": lambda: plain_workbook(args.plain_rows, "A1:XFD1048576"),
                "wide": lambda: wide_workbook(args.plain_rows)}
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in builders.items():
            data = build()
            path = Path(tmp) / f"{name}.xlsx"
            path.write_bytes(data)
            unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
            r = run_in_fresh_process("bench.workbooks", str(path))
            if isinstance(r, str):
                print(f"{name}: FAILED\n{r}")
                continue
            print(f"{name}: {len(data) / 1e6:.2f} MB unpacking to {unpacked / 1e6:,.0f} MB; {r['outcome']} "
                  f"({r['errors']:,} errors); reading {r['reading']:.1f} s, in all {r['seconds']:.1f} s; peak memory "
                  f"{r['peak_mb']:,.0f} MB (targets: < 60 s, < 1,024 MB)")


if __name__ == "__main__":
    main()
