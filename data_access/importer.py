"""Import a study: read files, validate everything, store whole or not at all."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

import settings
from data_access import store
from data_access.cdisc import detect_kind, read_cdisc
from data_access.mapping import MAPPING_FILE, apply_mapping, dump_mapping, mapping_checksum
from data_access.readers import RawStudy, SourceFile, files_from_path, human_size, read_files
from data_access.report import ValidationReport
from data_access.validate import clean_text, shown, validate

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.\-]*")


@dataclass
class ImportResult:
    """The full validation report, and the stored version when the import went through; `identical_to` is the
    newest version when the files are the same as the ones it was imported from (nothing new is stored)."""

    report: ValidationReport
    record: store.StudyRecord | None
    identical_to: store.StudyRecord | None = None

    @property
    def stored(self) -> bool:
        return self.record is not None


def read_study_files(files: list[SourceFile], kind: str | None = None) -> RawStudy:
    """CARTscope tables or a CDISC delivery (told apart by the file names: `detect_kind`) as raw text tables."""
    kind = kind or detect_kind(files)
    if kind == "cartscope":
        return read_files(files, settings.max_file_bytes())
    return read_cdisc(files, settings.max_file_bytes(), kind)


def name_problem(name: str, what: str) -> str | None:
    """Why `name` cannot name a study or a saved mapping (`what`), or None: the same rule on every database."""
    if not name:
        return f"give the {what} a name"
    if len(name) > store.NAME_LENGTH:
        return f"{what} name is {len(name):,} characters long; at most {store.NAME_LENGTH} are allowed"
    if not NAME_PATTERN.fullmatch(name):
        return (f"{what} name '{shown(name)}' must start with a letter or digit and use only letters, digits, "
                "spaces, '.', '_' or '-'")
    return None


def import_files(files: list[SourceFile], name: str, *, source: str, user: str | None = None,
                 simulated: bool = False, engine: Engine | None = None,
                 progress: Callable[[str], None] | None = None, mapping: dict | None = None,
                 mapping_name: str | None = None, client: str | None = None) -> ImportResult:
    """Validate `files` as study `name` and store them as its next version if there is no error. `progress` is
    told each stage as it starts (reading, validating, storing), in plain words.

    The files are CARTscope tables (CSV files or one workbook) or a CDISC delivery (SDTM or ADaM datasets as .xpt or
    .sas7bdat, see docs/cdisc.md), told apart by their names; with a `mapping` (docs/mapping.md) they are anything
    the mapping describes. The mapping (and `mapping_name`, when it was saved under one) goes into the import log,
    and its checksum into the files' checksum: the same files read with another mapping are a new version. The
    stored version's audit-trail event names `user` and `client` (where the request came from; default 'command
    line')."""
    say = progress or (lambda _text: None)
    kind = detect_kind(files)
    what = "" if kind == "cartscope" else f" ({kind.upper()} datasets)"
    say(f"reading {len(files)} file(s){what}{' with a mapping' if mapping else ''}, "
        f"{human_size(sum(len(f.data) for f in files))}")
    if mapping is not None:
        raw = apply_mapping(files, mapping, settings.max_file_bytes())
        raw.files.append({"name": MAPPING_FILE if not mapping_name else f"{MAPPING_FILE} {mapping_name}",
                          "bytes": len(dump_mapping(mapping)), "sha256": mapping_checksum(mapping)})
    else:
        raw = read_study_files(files, kind)
    say(f"validating {sum(len(t) for t in raw.tables.values()):,} rows")
    name = clean_text(name).strip()
    study, report = validate(raw, name)
    if problem := name_problem(name, "study"):
        report.error("(study name)", problem)
    if not report.ok or study is None:
        return ImportResult(report, None)
    for other in store.names_differing_in_case(name, engine=engine):
        report.warning("(study name)", f"study name '{name}' differs from the stored '{other}' only in case: it is "
                       "stored as another study")
    newest = store.newest_checksum(study.name, engine=engine)
    if newest is not None and newest[1] == store.checksum(raw.files) and newest[0].simulated == simulated:
        return ImportResult(report, None, identical_to=newest[0])
    study.simulated = simulated
    say(f"storing {sum(len(study.table(t)) for t in store.study_tables):,} rows")
    logged = json.dumps({"name": mapping_name, "mapping": mapping}, ensure_ascii=False) if mapping else None
    try:
        record = store.save_study(study, files=raw.files, source=source, user=user, engine=engine, mapping=logged,
                                  client=client)
    except store.VersionConflict as conflict:
        report.error("(study name)", str(conflict))
        return ImportResult(report, None)
    return ImportResult(report, record)


def import_path(path: str | Path, name: str, **kwargs) -> ImportResult:
    """Import a folder of CSV files, one .xlsx workbook, one CSV file, or CDISC datasets (a folder or one file)."""
    path = Path(path)
    if not path.exists():
        report = ValidationReport()
        report.error(str(path), "no such file or folder")
        return ImportResult(report, None)
    return import_files(files_from_path(path), name, **kwargs)


def ensure_demo_study(engine: Engine | None = None) -> None:
    """Store the bundled simulated study, so a fresh install has something to show and an updated one shows the
    current demo."""
    from data_access.migrations import startup_lock

    engine = engine or store.get_engine()
    # When the bundled files changed (a new CARTscope release) the demo gets a new version; when they did not, the
    # checksum says so before anything is read or validated, so a start costs a file hash. One process at a time:
    # web and job workers start together, and two would both find the demo missing and store it twice.
    files = files_from_path(settings.DEMO_DIR)
    with startup_lock(engine):
        newest = store.newest_checksum(settings.DEMO_STUDY_NAME, engine=engine)
        if newest is not None and newest[0].simulated and \
                newest[1] == store.checksum([{"name": f.name, "sha256": f.sha256} for f in files]):
            return
        result = import_files(files, settings.DEMO_STUDY_NAME, source="demo", user="cartscope", simulated=True,
                              engine=engine, client="app start")
    if not result.stored and result.identical_to is None:
        raise RuntimeError(f"the bundled demo study failed validation:\n{result.report.to_text()}")
