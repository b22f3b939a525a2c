"""Command line: `python -m data_access import PATH --name NAME [--mapping FILE | --mapping-name NAME]
[--save-mapping NAME]`, `mapping PATH --out FILE`, `mappings`, `list`, `log`, `demo [--format csv|sdtm|adam]`,
`migrate [--status]`."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

import settings
from data_access import store
from data_access.importer import import_path, name_problem
from data_access.mapping import MappingError, dump_mapping, load_mapping, needs_mapping, propose_mapping
from data_access.readers import files_from_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_access", description="CARTscope study data.")
    commands = parser.add_subparsers(dest="command", required=True)
    do_import = commands.add_parser("import", help="validate and store a study (folder of CSVs, .xlsx, or CDISC "
                                    ".xpt/.sas7bdat datasets)")
    do_import.add_argument("path")
    do_import.add_argument("--name", required=True, help="study name; an existing name gets a new version")
    do_import.add_argument("--simulated", action="store_true", help="mark the study as simulated data")
    given = do_import.add_mutually_exclusive_group()
    given.add_argument("--mapping", metavar="FILE", help="read the files with this mapping (JSON, see docs/mapping.md)")
    given.add_argument("--mapping-name", metavar="NAME", help="read the files with the mapping saved as NAME")
    do_import.add_argument("--save-mapping", metavar="NAME", help="when the import is stored, save its mapping as NAME "
                           "for the next delivery")
    propose = commands.add_parser("mapping", help="propose a mapping for files not in CARTscope format (a lab "
                                  "export, or CDISC datasets with codes the reader does not know)")
    propose.add_argument("path")
    propose.add_argument("--out", required=True, help="where to write the mapping (JSON); edit it, then import "
                         "with --mapping")
    commands.add_parser("mappings", help="the saved mappings")
    commands.add_parser("list", help="the stored studies")
    commands.add_parser("log", help="the import log")
    demo = commands.add_parser("demo", help="regenerate the bundled simulated study's CSV files, or write it as "
                               "CDISC SDTM or ADaM .xpt files")
    demo.add_argument("--out", default=None, help=f"folder (default {settings.DEMO_DIR} for csv; required for sdtm "
                      "and adam)")
    demo.add_argument("--format", choices=("csv", "sdtm", "adam"), default="csv",
                      help="csv (default): the bundled CSV files; sdtm or adam: the same study as CDISC datasets")
    migrate = commands.add_parser("migrate", help="upgrade the database's schema to this code's newest revision "
                                  "(see docs/migrations.md)")
    migrate.add_argument("--status", action="store_true", help="print the database's revision and the newest, "
                         "changing nothing")
    args = parser.parse_args(argv)

    if args.command == "migrate":
        from data_access import migrations

        engine = store.new_engine()  # not get_engine: it would upgrade, or refuse, before the command could report
        if args.status:
            found = migrations.status(engine)
            advice = "up to date" if found.at_head else f"`{migrations.MIGRATE_COMMAND}` upgrades it"
            print(f"database {found.database}\ncurrent: {found.current_text()}\nhead:    {found.head} ({advice})")
            return 0
        print(migrations.upgrade(engine).describe())
        return 0
    if args.command == "import":
        started = time.perf_counter()

        def progress(stage: str) -> None:
            print(f"[{time.perf_counter() - started:6.1f} s] {stage} …", file=sys.stderr, flush=True)

        mapping, mapping_name = None, args.mapping_name
        try:
            if args.mapping:
                mapping = load_mapping(Path(args.mapping).read_bytes())
            elif args.mapping_name:
                text = store.load_mapping_json(args.mapping_name)
                if text is None:
                    print(f"NOT STORED: no mapping is saved as '{args.mapping_name}' (see `python -m data_access "
                          "mappings`)", file=sys.stderr)
                    return 1
                mapping = load_mapping(text)
        except (OSError, MappingError) as exc:
            print(f"NOT STORED: the mapping {args.mapping or args.mapping_name} cannot be used: {exc}", file=sys.stderr)
            return 1
        if args.save_mapping and mapping is None:
            parser.error("--save-mapping needs --mapping FILE or --mapping-name NAME")
        if args.save_mapping and (problem := name_problem(args.save_mapping.strip(), "mapping")):
            parser.error(f"--save-mapping: {problem}")
        result = import_path(args.path, args.name, source="cli", simulated=args.simulated, progress=progress,
                             mapping=mapping, mapping_name=args.save_mapping or mapping_name)
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
        if args.save_mapping:
            store.save_mapping(args.save_mapping, dump_mapping(mapping))
            print(f"Mapping saved as '{args.save_mapping}'.")
        if result.report.warnings:
            print(result.report.to_text())
        return 0
    if args.command == "mapping":
        path = Path(args.path)
        if not path.exists():
            print(f"{path}: no such file or folder", file=sys.stderr)
            return 1
        files = files_from_path(path)
        if not needs_mapping(files):
            print("These files can be imported as they are (CARTscope tables, or CDISC the reader knows); the "
                  "proposal below is only needed to change how they are read.")
        mapping = propose_mapping(files)
        Path(args.out).write_text(dump_mapping(mapping) + "\n", encoding="utf-8")
        for label, entry in mapping["files"].items():
            what = entry.get("table") or entry.get("label") or "?"
            print(f"{label}: {what}{' (wide)' if entry.get('layout') == 'wide' else ''}")
        print(f"Mapping written to {args.out}: {len(mapping['files'])} file(s), {len(mapping['tests'])} test code(s), "
              f"{sum(len(w) for w in mapping['values'].values())} category value(s).")
        if mapping["undecided"]:
            print(f"Undecided ({len(mapping['undecided'])}), edit the file before importing:")
            for line in mapping["undecided"]:
                print(f"  - {line}")
        return 0
    if args.command == "mappings":
        frame = store.list_mappings()
        if frame.empty:
            print("No mappings saved.")
            return 0
        frame["created_at"] = pd.to_datetime(frame["created_at"]).dt.strftime("%Y-%m-%d %H:%M")
        print(frame.to_string(index=False))
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
        frame["mapping"] = frame["mapping"].map(
            lambda m: "" if not isinstance(m, str) else json.loads(m).get("name") or "(given)")
        print(frame[["imported_at", "imported_by", "source", "name", "version", "row_counts", "mapping", "checksum"]]
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
