"""Command line: `python -m analysis nca STUDY [options]` writes one row of NCA parameters per profile;
`python -m analysis endpoints STUDY --out DIR` writes the response, time-to-event and safety endpoints;
`python -m analysis ck STUDY --out FILE` writes the cellular-kinetic model's parameters, one row per profile."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import pandas as pd

import settings
from analysis.nca import NCAOptionError, NCAOptions
from analysis.nca.engine import run_nca
from analysis.nca.options import AUC_METHODS, BLQ_RULES
from analysis.spreadsheet import write_csv
from data_access import store
from data_access.catalogue import builtin_for_test_code, specimen_code
from data_access.choices import ChoiceError, Choices, choices_from_document, current_choices, settings_document
from data_access.importer import read_study_files
from data_access.readers import SourceFile, files_from_path, read_table_file
from data_access.validate import validate


def load_measurements(study: str) -> tuple[pd.DataFrame, tuple[tuple[str, str], ...]]:
    """STUDY is a study folder (CARTscope or CDISC), a measurements CSV (validated as on import) or a stored study's
    name. Returns the measurements and the kinds of the analytes the study declared (for NCAOptions)."""
    path = Path(study)
    if path.is_dir() or path.suffix.lower() in (".xpt", ".sas7bdat", ".xlsx"):
        raw = read_study_files(files_from_path(path))
    elif path.is_file():
        raw = read_table_file(SourceFile(path.name, path.read_bytes()), "measurements", settings.max_file_bytes())
    else:
        try:
            stored = store.load_study(study)
            return stored.measurements, stored.nca_kinds
        except KeyError:
            raise SystemExit(f"error: '{study}' is neither a folder, a CSV file nor a stored study "
                             f"(stored: {', '.join(sorted(set(store.list_studies()['name']))) or 'none'})") from None
    loaded, report = validate(raw, path.stem)
    if loaded is None:
        raise SystemExit(f"error: {study} failed validation.\n{report.to_text()}")
    return loaded.measurements, loaded.nca_kinds


def load_study(study: str):
    """A whole study: a validated folder, or a stored study by name."""
    path = Path(study)
    if path.is_dir():
        loaded, report = validate(read_study_files(files_from_path(path)), path.name)
        if loaded is None:
            raise SystemExit(f"error: {study} failed validation.\n{report.to_text()}")
        return loaded
    try:
        return store.load_study(study)
    except KeyError:
        raise SystemExit(f"error: '{study}' is neither a study folder nor a stored study") from None


def write_endpoints(study: str, out: Path, raw_text: bool = False) -> int:
    from analysis.endpoints import endpoints

    result = endpoints(load_study(study))
    out.mkdir(parents=True, exist_ok=True)
    for name in ("best_response", "response_rates", "time_to_event", "km_summary", "ae_table", "crs_treatment"):
        if getattr(result, name) is not None:  # crs_treatment: only when the study records medications
            write_csv(getattr(result, name), out / f"{name}.csv", raw_text=raw_text)
        print(out / f"{name}.csv")
    return 0


def write_ck(args) -> int:
    from analysis.ck.cohort import fit_cohort

    measurements, _ = load_measurements(args.study)
    analyte = pick(args.analyte, measurements["analyte"], "analyte")
    specimen = pick(specimen_code(args.specimen) or args.specimen, measurements["specimen"], "specimen")
    cohort = fit_cohort(measurements, analyte, specimen, residual_sd=args.residual_sd, workers=args.workers)
    table = cohort.parameters.copy()
    table.insert(1, "analyte", analyte)
    table.insert(2, "specimen", specimen)
    write_csv(table, args.out, raw_text=args.raw_text)
    counts = table["status"].value_counts()
    print(f"{len(table)} profiles written to {args.out} ({'; '.join(f'{k}: {v}' for k, v in counts.items())}); "
          f"residual SD {cohort.residual_sd:.3g} on the log scale, {cohort.residual_sd_note}", file=sys.stderr)
    return 0


def read_settings(path: str) -> tuple[Choices, dict]:
    """The choices and options of a settings file; exits naming the file and what is wrong with it."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"error: settings file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SystemExit(f"error: settings file {path} is not readable JSON: {error}") from None
    try:
        return choices_from_document(document, path)
    except ChoiceError as error:
        raise SystemExit(f"error: {error}") from None


def write_choices(study: str, version: int | None, out: Path) -> int:
    """The stored choices of a study version as a settings file."""
    studies = store.list_studies()
    versions = studies.loc[studies["name"] == study, "version"]
    if versions.empty:
        stored = ", ".join(sorted(set(studies["name"]))) or "none"
        raise SystemExit(f"error: no stored study '{study}' (stored: {stored})")
    version = int(versions.max()) if version is None else version
    if version not in set(versions.astype(int)):
        has = ", ".join(map(str, sorted(versions)))
        raise SystemExit(f"error: study '{study}' has no version {version} (it has {has})")
    chosen = current_choices(study, version)
    out.write_text(json.dumps(settings_document(chosen, study=study, version=version), indent=1), encoding="utf-8")
    print(f"{len(chosen.exclusions)} samples left out and {len(chosen.lambda_z_points)} lambda-z choices of {study} "
          f"version {version} written to {out}", file=sys.stderr)
    return 0


def pick(asked: str, present: pd.Series, what: str) -> str:
    """The study's own spelling of an analyte or specimen asked for in any case (or by a CDISC test code); exits
    with the choices when the study has no such thing, instead of writing an empty table."""
    choices = sorted(set(present))
    lower = {c.lower(): c for c in choices}
    found = lower.get(asked.lower()) or lower.get((builtin_for_test_code(asked) or "").lower())
    if found is None:
        raise SystemExit(f"error: the study has no {what} '{asked}'; it has {', '.join(choices) or 'none'}")
    return found


def parse_interval(text: str) -> tuple[float, float]:
    try:
        start, end = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not START,END (days), e.g. 0,28") from None
    return start, end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description="CARTscope analyses.")
    commands = parser.add_subparsers(dest="command", required=True)
    nca = commands.add_parser("nca", help="non-compartmental analysis of every profile (docs/nca.md)")
    nca.add_argument("study", help="study folder, measurements CSV, or stored study name")
    nca.add_argument("--analyte", help="only this analyte (a catalogue code, e.g. car_copies, il6, crp; "
                     "docs/data-format.md)")
    nca.add_argument("--specimen", help="only this specimen (PB, BM, serum, plasma, or one the study declared)")
    nca.add_argument("--subject", help="only this patient (a subject_id of the study)")
    nca.add_argument("--interval", action="append", type=parse_interval, metavar="START,END",
                     help="partial AUC interval in days (repeatable; default 0,28 and 0,90)")
    nca.add_argument("--auc-method", default="linuplogdown", choices=AUC_METHODS)
    nca.add_argument("--blq", default="pknca", choices=list(BLQ_RULES))
    nca.add_argument("--extrapolate", action="store_true", help="extrapolate partial AUCs past Tlast with lambda-z")
    nca.add_argument("--no-day0-zero", action="store_true",
                     help="do not start CAR profiles without a Day-0 sample at 0 on Day 0")
    nca.add_argument("--out", help="CSV file to write (default: standard output)")
    nca.add_argument("--settings", metavar="FILE", help="a settings file (JSON, docs/nca.md 5a): the analyst's "
                     "choices (samples left out, lambda-z points) and NCA options; the command's own options win")
    nca.add_argument("--cdisc-out", metavar="DIR", help="also write DIR/pp.xpt (SDTM PP) and DIR/adpp.xpt (ADaM ADPP) "
                     "and print their paths; the CSV is then written only with --out (docs/cdisc.md)")
    nca.add_argument("--study-id", help="STUDYID of the PP and ADPP files (default: the study's folder, file or name)")
    ends = commands.add_parser("endpoints", help="response, time-to-event and safety endpoints (docs/endpoints.md)")
    ends.add_argument("study", help="study folder or stored study name")
    ends.add_argument("--out", required=True, help="folder to write the CSV files to")
    choices = commands.add_parser("choices", help="the analyst's stored NCA choices of a study as a settings file")
    choices.add_argument("study", help="stored study name")
    choices.add_argument("--version", type=int, help="the study version (default: the newest)")
    choices.add_argument("--out", required=True, help="JSON file to write")
    ck = commands.add_parser("ck", help="cellular-kinetic model fits of every profile (docs/ck-model.md)")
    ck.add_argument("study", help="study folder, measurements CSV, or stored study name")
    ck.add_argument("--out", required=True, help="CSV file to write")
    ck.add_argument("--analyte", default="car_copies", help="the analyte to fit (default car_copies)")
    ck.add_argument("--specimen", default="PB", help="the specimen (default PB, blood)")
    ck.add_argument("--residual-sd", type=float, help="the residual SD on the natural-log scale (default: pooled "
                    "over the profiles that support the model)")
    ck.add_argument("--workers", type=int, default=1, help="processes to fit in (default 1)")
    for command in (nca, ends, ck):
        command.add_argument("--raw-text", action="store_true",
                             help="write text cells as they are, for a program to read (by default a cell starting "
                                  "with = + - @ gets a leading ' so a spreadsheet shows it as text)")
    args = parser.parse_args(argv)
    if args.command == "endpoints":
        return write_endpoints(args.study, Path(args.out), args.raw_text)
    if args.command == "choices":
        return write_choices(args.study, args.version, Path(args.out))
    if args.command == "ck":
        if args.residual_sd is not None and not args.residual_sd > 0:
            parser.error(f"--residual-sd {args.residual_sd} is not a positive number")
        return write_ck(args)

    chosen, from_file = read_settings(args.settings) if args.settings else (Choices(), {})
    given = set(arg.split("=")[0] for arg in (argv if argv is not None else sys.argv[1:]) if arg.startswith("--"))
    try:
        options = NCAOptions(
            intervals=tuple(args.interval or from_file.get("intervals") or ((0, 28), (0, 90))),
            auc_method=args.auc_method if "--auc-method" in given else from_file.get("auc_method", args.auc_method),
            blq=args.blq if "--blq" in given else from_file.get("blq", args.blq),
            extrapolate=args.extrapolate or bool(from_file.get("extrapolate", False)),
            car_day0_zero=not args.no_day0_zero, exclusions=chosen.exclusions,
            lambda_z_points=chosen.lambda_z_points)
    except NCAOptionError as error:
        parser.error(f"{args.settings}: {error}" if args.settings else str(error))
    study = load_study(args.study) if args.cdisc_out and not Path(args.study).is_file() else None  # TRT01A, PPCAT
    measurements, kinds = (study.measurements, study.nca_kinds) if study else load_measurements(args.study)
    options = dataclasses.replace(options, kinds=kinds)
    if args.analyte:
        measurements = measurements[measurements["analyte"] == pick(args.analyte, measurements["analyte"], "analyte")]
    if args.specimen:
        specimen = specimen_code(args.specimen) or args.specimen
        measurements = measurements[measurements["specimen"] == pick(specimen, measurements["specimen"], "specimen")]
    if args.subject is not None:
        if args.subject not in set(measurements["subject_id"].astype(str)):
            raise SystemExit(f"error: the study has no patient '{args.subject}' with these measurements")
        measurements = measurements[measurements["subject_id"].astype(str) == args.subject]
    result = run_nca(measurements, options)
    if args.cdisc_out:
        from analysis.nca.cdisc_export import analyte_units, write_pp_adpp

        names = {code: study.catalogue.label(code) for code in measurements["analyte"].unique()} if study else None
        for path in write_pp_adpp(result, args.cdisc_out, args.study_id or Path(args.study).stem,
                                  analyte_units(measurements), study.subjects if study else None, options=options,
                                  analyte_names=names):
            print(path)
        if not args.out:
            return 0
    try:
        write_csv(result, args.out or sys.stdout, raw_text=args.raw_text)
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
        return 0
    if args.out:
        print(f"{len(result)} profiles written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
