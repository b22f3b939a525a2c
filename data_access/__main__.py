"""Command line: `python -m data_access import PATH --name NAME [--mapping FILE | --mapping-name NAME]
[--save-mapping NAME]`, `mapping PATH --out FILE`, `mappings`, `list`, `log`, `demo [--format csv|sdtm|adam]`,
`migrate [--status]`; user accounts: `users add|list|set|grant|revoke ...` and `audit [--user U] [--action A]
[--study S] [--since DATE] [--csv FILE]` (see add_account_commands)."""
from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from datetime import UTC, date, datetime
from datetime import time as day_start
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
    add_account_commands(commands)
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
    if args.command in ACCOUNT_COMMANDS:
        return run_account_command(args, parser)

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

    truth_dir = settings.DEMO_TRUTH_DIR if args.out is None else Path(args.out).parent / "demo-truth"
    for path in write_demo_study(args.out or str(settings.DEMO_DIR), truth_dir=truth_dir):
        print(path)
    return 0


# ---- user accounts and the audit trail -------------------------------------------------------------------------

ACCOUNT_COMMANDS = ("users", "audit")
#: The client the audit trail names for what the command line does.
COMMAND_LINE = "command line"


def add_account_commands(commands) -> None:
    """`users add|list|set|grant|revoke` and `audit` (data_access/accounts.py)."""
    from data_access.accounts import AUDIT_ACTIONS, ROLES

    users = commands.add_parser("users", help="user accounts: add, list, set (role, active, password), grant and "
                                "revoke studies")
    actions = users.add_subparsers(dest="users_command", required=True)
    add = actions.add_parser("add", help="add an account; its password is read from the first line of standard "
                             "input when that is not a terminal, else asked for twice")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--email")
    add.add_argument("--no-password", action="store_true", help="no password: the account signs in only by single "
                     "sign-on or through a trusted proxy")
    actions.add_parser("list", help="every account with its role and studies")
    change = actions.add_parser("set", help="change an account's role, whether it may sign in, or its password")
    change.add_argument("name")
    change.add_argument("--role", choices=ROLES)
    change.add_argument("--active", choices=("yes", "no"))
    change.add_argument("--password", action="store_true", help="set a new password (read like `users add`'s)")
    for verb, what in (("grant", "let the user see every version of a stored study"),
                       ("revoke", "take a study grant away")):
        grant = actions.add_parser(verb, help=what)
        grant.add_argument("name")
        grant.add_argument("study")
    audit = commands.add_parser("audit", help="the audit trail, newest first (filtered), or as CSV")
    audit.add_argument("--user")
    audit.add_argument("--action", choices=AUDIT_ACTIONS)
    audit.add_argument("--study")
    audit.add_argument("--since", metavar="DATE", type=_iso_date, help="from this day on (YYYY-MM-DD, UTC)")
    audit.add_argument("--csv", metavar="FILE", help="write every matching event to FILE as CSV (text that could run "
                       "as a spreadsheet formula is neutralised)")
    audit.add_argument("--limit", type=int, default=200, help="events shown on screen (default 200; the CSV has all)")


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def read_password(stdin=None) -> str:
    """The first line of standard input when it is not a terminal (a script, a pipe), else asked for twice."""
    from data_access.accounts import AccountError

    stdin = stdin or sys.stdin
    if not stdin.isatty():
        password = stdin.readline().rstrip("\r\n")
        if not password:
            raise AccountError("standard input gave no password (its first line is read; `users add --no-password` "
                               "adds an account without one)")
        return password
    first = getpass.getpass("Password: ")
    if getpass.getpass("The same password again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def run_account_command(args, parser: argparse.ArgumentParser) -> int:
    from data_access import accounts

    operator = store._current_user()
    try:
        if args.command == "audit":
            return _audit(args, operator)
        command = args.users_command
        if command == "list":
            frame = accounts.list_users()
            if frame.empty:
                print("No user accounts.")
                return 0
            frame["email"] = frame["email"].fillna("")
            frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M")
            for column in ("active", "password"):
                frame[column] = frame[column].map({True: "yes", False: "no"})
            print(frame.to_string(index=False))
            return 0
        if command == "add":
            password = None if args.no_password else read_password()
            user = accounts.add_user(args.name, args.role, email=args.email, password=password, by=operator)
            accounts.record("user added", operator, COMMAND_LINE, detail={
                "user": user.name, "role": user.role, "email": user.email,
                "password": "set" if user.has_password else "none"})
            print(f"Added {user.name} ({user.role}){' with a password' if user.has_password else ', no password'}.")
            return 0
        if command == "set":
            changes = {}
            if args.role:
                changes["role"] = args.role
            if args.active:
                changes["active"] = args.active == "yes"
            if not changes and not args.password:
                parser.error("users set needs --role, --active or --password")
            if accounts.find_user(args.name) is None:
                raise accounts.AccountError(f"there is no user '{args.name}'")
            if args.password:
                changes["password"] = read_password()
            user = accounts.change_user_keeping_an_admin(args.name, by=operator, **changes)
            said = {**changes, **({"password": "changed"} if "password" in changes else {})}
            accounts.record("user changed", operator, COMMAND_LINE, detail={"user": user.name, **said})
            print(f"Changed {user.name}: role {user.role}, {'may sign in' if user.active else 'deactivated'}"
                  f"{', new password set' if args.password else ''}.")
            return 0
        user = accounts.find_user(args.name)
        if user is None:
            raise accounts.AccountError(f"there is no user '{args.name}'")
        if command == "grant":
            stored = set(store.list_studies()["name"])
            if args.study not in stored:
                raise accounts.AccountError(f"there is no stored study '{args.study}' (stored: "
                                            f"{', '.join(sorted(stored)) or 'none'})")
            if not accounts.grant(user.name, args.study, by=operator):
                print(f"{user.name} already has {args.study}; nothing changed.")
                return 0
            accounts.record("grant", operator, COMMAND_LINE, study=args.study, detail={"user": user.name})
            print(f"Granted {args.study} to {user.name}.")
            return 0
        if not accounts.revoke(user.name, args.study):
            print(f"{user.name} had no grant for {args.study}; nothing changed.")
            return 0
        accounts.record("revoke", operator, COMMAND_LINE, study=args.study, detail={"user": user.name})
        print(f"Revoked {args.study} from {user.name}.")
        return 0
    except accounts.AccountError as error:
        print(f"Not done: {error}.", file=sys.stderr)
        return 1


def _audit(args, operator: str) -> int:
    from analysis.spreadsheet import write_csv
    from analysis.views.admin import audit_csv_frame
    from data_access import accounts

    since = datetime.combine(args.since, day_start(), UTC) if args.since else None
    events = accounts.audit_events(user_name=args.user, action=args.action, study=args.study, since=since,
                                   limit=None if args.csv else max(args.limit, 1))
    if args.csv:
        write_csv(audit_csv_frame(events), args.csv)
        accounts.record("export", operator, COMMAND_LINE, detail={
            "what": "audit trail", "format": "csv", "events": len(events),
            "filter": {k: str(v) for k, v in (("user", args.user), ("action", args.action), ("study", args.study),
                                              ("since", args.since)) if v}})
        print(f"Wrote {len(events):,} event(s) to {args.csv}.")
        return 0
    if events.empty:
        print("No events match.")
        return 0
    frame = audit_csv_frame(events).fillna("")
    print(frame.rename(columns={"user_name": "user", "subject_id": "patient"}).to_string(index=False))
    return 0


if __name__ == "__main__":
    from data_access.migrations import SchemaNotCurrent

    try:
        sys.exit(main())
    except SchemaNotCurrent as error:  # said plainly, without a traceback
        sys.exit(f"Not done: {error}")
