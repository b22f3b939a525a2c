"""Command line: `python -m data_access import PATH --name NAME`, `list`, `log`, `demo [--format csv|sdtm|adam]`."""
from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

import settings
from data_access import store
from data_access.importer import import_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_access", description="CARTscope study data.")
    commands = parser.add_subparsers(dest="command", required=True)
    do_import = commands.add_parser("import", help="validate and store a study (folder of CSVs, .xlsx, or CDISC "
                                    ".xpt/.sas7bdat datasets)")
    do_import.add_argument("path")
    do_import.add_argument("--name", required=True, help="study name; an existing name gets a new version")
    do_import.add_argument("--simulated", action="store_true", help="mark the study as simulated data")
    commands.add_parser("list", help="the stored studies")
    commands.add_parser("log", help="the import log")
    demo = commands.add_parser("demo", help="regenerate the bundled simulated study's CSV files, or write it as "
                               "CDISC SDTM or ADaM .xpt files")
    demo.add_argument("--out", default=None, help=f"folder (default {settings.DEMO_DIR} for csv; required for sdtm "
                      "and adam)")
    demo.add_argument("--format", choices=("csv", "sdtm", "adam"), default="csv",
                      help="csv (default): the bundled CSV files; sdtm or adam: the same study as CDISC datasets")
    args = parser.parse_args(argv)

    if args.command == "import":
        started = time.perf_counter()

        def progress(stage: str) -> None:
            print(f"[{time.perf_counter() - started:6.1f} s] {stage} …", file=sys.stderr, flush=True)

        result = import_path(args.path, args.name, source="cli", simulated=args.simulated, progress=progress)
        if result.identical_to is not None:
            r = result.identical_to
            print(f"Not stored: the files are identical to '{r.name}' version {r.version} "
                  f"(imported {r.imported_at:%Y-%m-%d %H:%M}); nothing changed.")
            return 0
        if not result.stored:
            print(f"NOT STORED: '{args.name}' failed validation.\n{result.report.to_text()}", file=sys.stderr)
            return 1
        r = result.record
        print(f"Stored '{r.name}' version {r.version}: {r.n_subjects} subjects, {r.n_rows} rows.")
        if result.report.warnings:
            print(result.report.to_text())
        return 0
    if args.command == "list":
        frame = store.list_studies()
        if frame.empty:
            print("No studies stored.")
            return 0
        frame["imported_at"] = pd.to_datetime(frame["imported_at"]).dt.strftime("%Y-%m-%d %H:%M")
        columns = ["name", "version", "n_subjects", "n_rows", "simulated", "imported_at", "imported_by"]
        print(frame[columns].rename(columns={"n_subjects": "subjects", "n_rows": "rows"}).to_string(index=False))
        return 0
    if args.command == "log":
        frame = store.import_log()
        print(frame[["imported_at", "imported_by", "source", "name", "version", "row_counts", "checksum"]]
              .to_string(index=False) if not frame.empty else "No imports yet.")
        return 0
    if args.format != "csv":
        if args.out is None:
            parser.error(f"demo --format {args.format} needs --out FOLDER (the bundled CSV folder is not overwritten)")
        from data_access.cdisc_demo import write_cdisc_demo

        for path in write_cdisc_demo(args.out, args.format):
            print(path)
        return 0
    from data_access.demo import write_demo_study

    for path in write_demo_study(args.out or str(settings.DEMO_DIR)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
