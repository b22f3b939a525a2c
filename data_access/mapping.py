"""Mappings: how a delivery that is not in CARTscope format becomes CARTscope's raw tables.

A lab export has its own column names, long (one row per result) or wide (one column per analyte), dates instead of
days, its own test codes and category words; a CDISC delivery may use test codes or response values the CDISC reader
does not know. A mapping says, once, what each of those means:

- per file (or workbook sheet): the CARTscope table, the layout, and for each of the user's columns the CARTscope
  field (`date` fields are turned into days since the subject's Day 0, taken from `day_zero`);
- per test code (long layouts, CDISC --TESTCD/PARAMCD) and per wide analyte column: the analyte, the unit the values
  are in, the specimen, and for an analyte the catalogue does not know its label, unit and kind (declared into the
  study's `analytes` table);
- per category field (response, sex, grade, flag): the user's words -> CARTscope's categories.

`propose_mapping` guesses all it can and lists what it could not decide; `apply_mapping` gives the same `RawStudy`
the CSV reader gives, so data_access.validate and the store do the rest. Every value keeps its file and row, and the
validator's messages name the user's own column (`attrs["source_columns_by_file"]`, and per row `_source_<field>`
for a wide export). A mapping that names a file, column or analyte that is not there, or a kind, unit or category
that does not exist, is refused before anything is read further. docs/mapping.md states the format; keep the two in
step. Nothing here imports Dash.
"""
from __future__ import annotations

import copy
import csv
import datetime
import fnmatch
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from data_access.catalogue import BUILTIN, KINDS, builtin_for_test_code, specimen_code
from data_access.cdisc import _RESPONSE_WORDS, CDISC_SUFFIXES, SDTM_FINDINGS, dataset_name, detect_kind
from data_access.readers import (
    RawStudy,
    SourceFile,
    UnreadableFile,
    _cell_text,
    _file_level_problem,
    has_reserved_column,
    open_workbook,
    read_csv,
    sheet_rows,
    table_name_for,
)
from data_access.report import ValidationReport
from data_access.schema import FALSE_WORDS, RESPONSES, TABLE_SPECS, TABLES, TRUE_WORDS
from data_access.validate import ANALYTE_CODE, ANALYTE_CODE_LENGTH, SOURCE_PREFIX

FORMAT = "cartscope-mapping"
VERSION = 1
LAYOUTS = ("long", "wide")
#: Where a refused mapping's problems are reported (the "file" column of the report).
MAPPING_FILE = "(mapping)"
#: Day fields of each table, and the date field that may be given instead (turned into days since Day 0).
DATE_FIELDS: dict[str, dict[str, str]] = {
    "subjects": {"last_contact_date": "last_contact_day", "death_date": "death_day"},
    "measurements": {"date": "day"},
    "adverse_events": {"onset_date": "onset_day", "resolution_date": "resolution_day"},
    "responses": {"date": "day"},
    "concomitant_medications": {"start_date": "start_day", "end_date": "end_day"},
    "time_to_event": {},
}
#: A column mapped to KEEP is stored as a covariate under its own (lower-case) name; None leaves it out.
KEEP = "keep"
#: The field a subjects file's Day-0 date column is given (it becomes `day_zero`).
DAY_ZERO_FIELD = "day_zero_date"
#: Category fields whose words a mapping translates, and the CARTscope fields each applies to.
CATEGORY_FIELDS: dict[str, tuple[str, ...]] = {
    "response": ("response",), "sex": ("sex",), "grade": ("grade",),
    "flag": ("blq", "serious", "related", "mrd_negative", "event"),
}
CATEGORIES: dict[str, tuple[str, ...]] = {
    "response": RESPONSES, "sex": ("M", "F", "U"), "grade": ("1", "2", "3", "4", "5"), "flag": ("true", "false"),
}

#: Column-name synonyms per field (compared after lower-casing and turning anything but letters and digits into '_').
SYNONYMS: dict[str, tuple[str, ...]] = {
    "subject_id": ("subject_id", "usubjid", "subjid", "subject", "patient", "patient_id", "patientid", "pt_id", "ptid",
                   "pt", "id", "participant", "participant_id", "subject_no", "patient_no"),
    "day": ("day", "visit_day", "study_day", "days", "dy", "ady", "nominal_day", "day_post_infusion", "time_day",
            "days_since_infusion", "day_since_infusion", "rel_day"),
    "date": ("date", "collection_date", "sample_date", "coll_date", "collection_dt", "visit_date", "dtc", "lbdtc",
             "pcdtc", "sampling_date", "draw_date", "assessment_date", "result_date"),
    "value": ("value", "result", "aval", "lbstresn", "pcstresn", "res", "conc", "concentration", "result_value",
              "numeric_result", "measurement"),
    "unit": ("unit", "units", "lbstresu", "pcstresu", "avalu", "uom", "result_unit", "unit_of_measure"),
    "analyte": ("analyte", "test", "lbtestcd", "pctestcd", "paramcd", "testcd", "test_code", "test_name", "parameter",
                "param", "marker", "assay", "analyte_code"),
    "specimen": ("specimen", "matrix", "sample_type", "spec", "lbspec", "pcspec", "tissue", "specimen_type",
                 "sample_matrix"),
    "lloq": ("lloq", "loq", "lower_limit", "lower_limit_of_quantification", "lbstnrlo_loq"),
    "blq": ("blq", "blq_flag", "blqfl", "below_loq", "below_lloq", "bloq"),
    "dose_level": ("dose_level", "dose", "arm", "actarm", "cohort", "dose_cohort", "dose_group", "treatment"),
    "age": ("age", "age_years", "age_at_infusion"),
    "sex": ("sex", "gender"),
    "last_contact_day": ("last_contact_day", "last_followup_day", "last_visit_day", "follow_up_days"),
    "last_contact_date": ("last_contact_date", "last_contact", "last_known_alive", "last_known_alive_date",
                          "lstalvdt", "last_followup_date", "last_visit_date", "date_last_contact", "last_visit",
                          "last_follow_up", "last_followup"),
    "death_day": ("death_day", "day_of_death"),
    "death_date": ("death_date", "date_of_death", "dthdt", "dthdtc", "dod"),
    DAY_ZERO_FIELD: ("infusion_date", "infusion", "car_t_date", "cart_date", "car_t_infusion_date", "dose_date",
                     "first_dose_date", "trtsdt", "day0_date", "day_0_date", "infusion_dt", "treatment_date"),
    "term": ("term", "ae_term", "aedecod", "aeterm", "event", "adverse_event", "event_term", "preferred_term"),
    "grade": ("grade", "ctcae_grade", "toxgr", "aetoxgr", "atoxgr", "ae_grade", "severity_grade"),
    "onset_day": ("onset_day", "start_day", "aestdy", "astdy", "onset_study_day"),
    "onset_date": ("onset_date", "start_date", "aestdtc", "astdt", "onset"),
    "resolution_day": ("resolution_day", "end_day", "stop_day", "aeendy", "aendy"),
    "resolution_date": ("resolution_date", "end_date", "stop_date", "aeendtc", "aendt", "resolved_date"),
    "serious": ("serious", "aeser", "sae", "serious_flag"),
    "related": ("related", "aerel", "relatedness", "causality", "related_to_car_t"),
    "response": ("response", "overall_response", "ovrlresp", "rsstresc", "avalc", "best_response", "assessment",
                 "disease_response", "response_category"),
    "mrd_negative": ("mrd_negative", "mrd_neg", "mrdneg", "mrd", "mrd_status"),
    "drug": ("drug", "medication", "cmtrt", "cmdecod", "medication_name", "drug_name"),
    "indication": ("indication", "cmindc", "reason"),
}
_FIELD_BY_SYNONYM = {s: f for f, words in SYNONYMS.items() for s in words}
#: Words in a file's name that say which table it holds.
_TABLE_HINTS: dict[str, tuple[str, ...]] = {
    "subjects": ("subject", "patient", "demog", "dm", "adsl", "baseline", "participants", "enrol"),
    "measurements": ("lab", "measure", "kinetic", "pk", "qpcr", "flow", "cytokine", "biomarker", "result", "sample"),
    "adverse_events": ("ae", "adverse", "tox", "safety", "event"),
    "responses": ("response", "rs", "efficacy", "assessment"),
}
_RESPONSE_BY_LOWER = {r.lower(): r for r in RESPONSES}
_SEX_SPELLINGS = {"m": "M", "male": "M", "f": "F", "female": "F", "u": "U", "unknown": "U", "other": "U"}
_TIME = r"\d{1,2}:\d{2}"
_BLQ_VALUE = re.compile(r"^\s*<\s*=?\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")


class MappingError(ValueError):
    """A mapping file that is not a CARTscope mapping at all (not JSON, wrong format or version)."""


def normalise_name(name: object) -> str:
    """'Visit Day (d)' -> 'visit_day_d', 'InfusionDate' -> 'infusion_date': how names are compared with synonyms."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    return "_".join(re.sub(r"[^0-9a-z]+", " ", words.lower()).split())


def new_mapping(kind: str = "tables") -> dict:
    """An empty mapping of the given kind ('tables' for CSV/XLSX exports, 'sdtm' or 'adam')."""
    return {"format": FORMAT, "version": VERSION, "kind": kind, "files": {}, "day_zero": None, "dayfirst": False,
            "tests": {}, "values": {c: {} for c in CATEGORY_FIELDS}, "undecided": []}


def load_mapping(text: str | bytes) -> dict:
    """A mapping from its JSON text; MappingError when it is not one (what it names is checked on use)."""
    try:
        mapping = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MappingError(f"the mapping is not JSON ({exc})") from exc
    if not isinstance(mapping, dict) or mapping.get("format") != FORMAT:
        raise MappingError(f"not a CARTscope mapping: expected \"format\": \"{FORMAT}\"")
    if mapping.get("version") != VERSION:
        raise MappingError(f"mapping version {mapping.get('version')!r} is not supported (this CARTscope reads "
                           f"version {VERSION})")
    full = new_mapping(mapping.get("kind", "tables"))
    full.update(mapping)
    full["values"] = {c: dict((mapping.get("values") or {}).get(c) or {}) for c in CATEGORY_FIELDS}
    return full


def dump_mapping(mapping: dict) -> str:
    """The mapping as indented JSON (what `--out` writes and the store keeps)."""
    return json.dumps(mapping, indent=2, ensure_ascii=False)


def mapping_checksum(mapping: dict) -> str:
    """SHA-256 of the mapping's meaning (the `undecided` notes left out), for the import log."""
    meaning = {k: v for k, v in mapping.items() if k != "undecided"}
    return hashlib.sha256(json.dumps(meaning, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# -- reading any table -------------------------------------------------------------------------------------------------

def read_sources(files: list[SourceFile], max_bytes: int) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
    """Every CSV file and workbook sheet as a text frame with the user's header (spaces stripped, case kept), plus
    `_file` and `_row`; keyed by the name messages use ('labs.csv', 'book.xlsx [Sheet1]')."""
    report = ValidationReport()
    frames: dict[str, pd.DataFrame] = {}
    for source in files:
        if _file_level_problem(source, max_bytes, report):
            continue
        if Path(source.name).suffix.lower() == ".xlsx":
            frames.update(_workbook_sheets(source, report))
            continue
        parts = read_csv(source, report)
        if parts is None:
            continue
        header, rows, cells, lines = parts
        if header is None or has_reserved_column(source.name, header, report):
            continue
        if cells is not None:
            rows = [(line, list(values)) for line, values in zip(lines, cells.itertuples(index=False), strict=True)]
        frames[source.name] = _frame(source.name, header, rows)
    return frames, report


def _workbook_sheets(source: SourceFile, report: ValidationReport) -> dict[str, pd.DataFrame]:
    frames = {}
    label = source.name
    try:
        workbook = open_workbook(source, data_only=True)
        try:
            for sheet in workbook.worksheets:
                label = f"{source.name} [{sheet.title}]"
                header, rows = None, []
                for number, values in sheet_rows(sheet):
                    if header is None:
                        header = values
                    else:
                        rows.append((number, [_sheet_cell_text(v) for v in values]))
                if header is not None and not has_reserved_column(label, header, report):
                    frames[label] = _frame(label, header, rows)
        finally:
            workbook.close()
    except UnreadableFile as exc:
        report.error(label, str(exc))
        return {}
    return frames


def _sheet_cell_text(value: object) -> str:
    """A workbook cell as text; a date cell as an ISO date (with the time only when it has one, so a date without
    time counts whole days, as the same date typed as text would)."""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(timespec="minutes")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return _cell_text(value)


def _frame(label: str, header: list | None, rows: list[tuple[int, list]]) -> pd.DataFrame:
    names = [str(h).strip() if h is not None else "" for h in header or []]
    keep = [i for i, n in enumerate(names) if n]
    data = [[("" if i >= len(r) or r[i] is None else str(r[i]).strip()) for i in keep] for _, r in rows]
    frame = pd.DataFrame(data, columns=[names[i] for i in keep], dtype=object)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    frame.insert(0, "_row", [n for n, _ in rows])
    frame.insert(0, "_file", label)
    return frame


def _user_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("_file", "_row")]


def _find_column(frame: pd.DataFrame, name: str) -> str | None:
    """The frame's column the mapping means by `name` (spaces and case ignored)."""
    wanted = str(name).strip().lower()
    return next((c for c in _user_columns(frame) if c.lower() == wanted), None)


# -- proposing ---------------------------------------------------------------------------------------------------------

def needs_mapping(files: list[SourceFile]) -> bool:
    """True when the files cannot be imported as they are: CSV/XLSX tables named otherwise or lacking required
    columns (only the header rows are read), or a CDISC delivery with response, sex or grade words the reader does
    not accept. (A CDISC delivery with test codes outside the catalogue imports as it is: they are declared from
    the data.)"""
    kind = detect_kind(files)
    if kind != "cartscope":
        return any(words for words in propose_mapping(files)["values"].values())
    headers = _headers(files)
    for label, columns in headers.items():
        table = table_name_for(label.split(" [")[-1].rstrip("]") if " [" in label else label)
        if table not in TABLES:
            return True
        if any(c not in {str(h).strip().lower() for h in columns} for c in TABLE_SPECS[table].required):
            return True
    return not headers


def _headers(files: list[SourceFile]) -> dict[str, list[str]]:
    """The header row of each CSV file and workbook sheet (files that cannot be read are left to the import)."""
    headers: dict[str, list[str]] = {}
    for source in files:
        suffix = Path(source.name).suffix.lower()
        if suffix == ".xlsx":
            try:
                book = open_workbook(source)
                try:
                    for sheet in book.worksheets:
                        first = next(sheet_rows(sheet), (None, ()))[1]
                        headers[f"{source.name} [{sheet.title}]"] = [str(v) for v in first if v is not None]
                finally:
                    book.close()
            except UnreadableFile:
                continue
        elif suffix == ".csv":
            text = source.data[:65536].decode("utf-8-sig", errors="replace")
            line = next((ln for ln in text.splitlines() if ln.strip()), "")
            headers[source.name] = next(csv.reader([line], delimiter=max(",;\t", key=line.count)), [])
    return headers


def propose_mapping(files: list[SourceFile], max_bytes: int = 10**12) -> dict:
    """Everything that can be guessed from the files; what could not be decided is listed in `undecided` (and left
    blank, so applying the mapping unchanged says what is missing)."""
    kind = detect_kind(files)
    if kind != "cartscope":
        return _propose_cdisc(files, kind)
    mapping = new_mapping("tables")
    frames, _report = read_sources(files, max_bytes)
    undecided: list[str] = mapping["undecided"]
    for label, frame in frames.items():
        entry = _propose_file(label, frame, undecided)
        mapping["files"][label] = entry
        if entry["table"] == "subjects":
            zero = next((c for c, f in entry["columns"].items() if f == DAY_ZERO_FIELD), None)
            if zero and mapping["day_zero"] is None:
                mapping["day_zero"] = {"file": label, "column": zero}
    uses_dates = any(f in DATE_FIELDS.get(e["table"], {}) for e in mapping["files"].values()
                     for f in e["columns"].values())
    if uses_dates and mapping["day_zero"] is None:
        undecided.append("dates are given but no subjects file has a Day-0 (infusion) date column: set day_zero")
    for label, entry in mapping["files"].items():
        frame = frames[label]
        if entry["table"] == "measurements" and entry["layout"] == "long":
            _propose_tests(frame, entry, mapping)
        for category, fields in CATEGORY_FIELDS.items():
            for column, field in entry["columns"].items():
                if field in fields:
                    _propose_values(frame[column], category, mapping)
    for category, words in mapping["values"].items():
        for word, target in words.items():
            if target is None:
                undecided.append(f"{category} value '{word}': choose one of {', '.join(CATEGORIES[category])}")
    return mapping


def _guess_table(label: str, columns: list[str]) -> str | None:
    """A file named after a CARTscope table is that table; else its columns, else words in its name, decide."""
    named = table_name_for(label.split(" [")[-1].rstrip("]") if " [" in label else label)
    if named in TABLES and named != "analytes":
        return named
    fields = {_FIELD_BY_SYNONYM.get(normalise_name(c)) for c in columns}
    wide = sum(_analyte_for_column(c)[0] is not None for c in columns)
    if {"analyte", "value"} <= fields or wide >= 1 and "response" not in fields and "term" not in fields:
        return "measurements"
    if "term" in fields and "grade" in fields:
        return "adverse_events"
    if "response" in fields:
        return "responses"
    if fields & {"sex", "age", "dose_level", DAY_ZERO_FIELD}:
        return "subjects"
    name = normalise_name(Path(label.split(" [")[-1]).stem)
    for table, hints in _TABLE_HINTS.items():
        if any(h in name.split("_") or (len(h) > 3 and h in name) for h in hints):
            return table
    return None


def _propose_file(label: str, frame: pd.DataFrame, undecided: list[str]) -> dict:
    columns = _user_columns(frame)
    table = _guess_table(label, columns)
    if table is None:
        undecided.append(f"{label}: which table it holds (subjects, measurements, adverse_events, responses, ...)")
        return {"table": None, "layout": "long", "columns": {c: None for c in columns}}
    allowed = set(TABLE_SPECS[table].known) | set(DATE_FIELDS[table]) | ({DAY_ZERO_FIELD} if table == "subjects"
                                                                         else set())
    entry: dict = {"table": table, "layout": "long", "columns": {}}
    analyte_columns: dict[str, dict] = {}
    taken: set[str] = set()
    for column in columns:
        field = normalise_name(column) if normalise_name(column) in allowed else \
            _FIELD_BY_SYNONYM.get(normalise_name(column))
        if field in allowed and field not in taken:
            entry["columns"][column] = field
            taken.add(field)
            continue
        if table == "measurements" and field is None:
            analyte, unit = _analyte_for_column(column)
            if analyte is not None:
                a = BUILTIN[analyte]
                analyte_columns[column] = {"analyte": analyte, "unit": unit or a.unit,
                                           "specimen": a.specimens[0] if len(a.specimens) == 1 else None}
                if len(a.specimens) != 1:
                    undecided.append(f"{label}: column '{column}' ({analyte}): which specimen "
                                     f"({' or '.join(a.specimens)})")
                if unit is None:
                    undecided.append(f"{label}: column '{column}' ({analyte}): unit not in the header, "
                                     f"{a.unit} assumed")
                continue
        entry["columns"][column] = KEEP if table == "subjects" else None
        if table != "subjects":
            undecided.append(f"{label}: column '{column}' is not used (map it to a field to use it)")
    if analyte_columns and "analyte" not in taken:
        entry["layout"] = "wide"
        entry["analyte_columns"] = analyte_columns
    for field in TABLE_SPECS[table].required:
        dates = [d for d, day in DATE_FIELDS[table].items() if day == field]
        if field in taken or any(d in taken for d in dates):
            continue
        if table == "measurements" and (field in ("unit", "specimen", "analyte", "value") and entry["layout"] == "wide"
                                        or field in ("unit", "specimen")):
            continue  # from the wide columns, or per test code
        if table == "subjects" and field in ("last_contact_day", "death_day", "age", "sex"):
            continue  # worked out from the other tables, or left blank
        undecided.append(f"{label}: no column for {table} field '{field}'")
    return entry


def _analyte_for_column(column: str) -> tuple[str | None, str | None]:
    """A wide export's column header -> (built-in analyte, unit in brackets): 'IL-6 (pg/mL)' -> ('il6', 'pg/mL').
    The analyte is matched on its code, label or CDISC codes, ignoring case and punctuation; a unit that does not
    convert is returned as it is (checking the mapping says so)."""
    text = str(column).strip()
    unit = None
    bracket = re.match(r"^(.*?)[\s_]*[(\[]\s*([^)\]]+?)\s*[)\]]\s*$", text)
    if bracket:
        text, unit = bracket.group(1), bracket.group(2)
    key = re.sub(r"[^0-9a-z]", "", text.lower())
    if not key:
        return None, None
    for code, a in BUILTIN.items():
        spellings = {code, a.label, *a.cdisc_codes}
        if key in {re.sub(r"[^0-9a-z]", "", s.lower()) for s in spellings}:
            return code, unit
    return None, None


def _propose_tests(frame: pd.DataFrame, entry: dict, mapping: dict) -> None:
    """Each distinct test code of a long export: the built-in analyte it means, or a declaration to complete."""
    column = next((c for c, f in entry["columns"].items() if f == "analyte"), None)
    if column is None:
        return
    unit_column = next((c for c, f in entry["columns"].items() if f == "unit"), None)
    specimen_column = next((c for c, f in entry["columns"].items() if f == "specimen"), None)
    for code in pd.unique(frame[column]):
        if not code or code in mapping["tests"]:
            continue
        rows = frame[column] == code
        unit = frame.loc[rows, unit_column].mode().iloc[0] if unit_column else None
        analyte = builtin_for_test_code(code) or _analyte_for_column(code)[0]
        if analyte is not None:
            specimens = BUILTIN[analyte].specimens
            test = {"analyte": analyte, "unit": None if unit_column else BUILTIN[analyte].unit,
                    "specimen": None if specimen_column or len(specimens) != 1 else specimens[0]}
            if not specimen_column and len(specimens) != 1:
                mapping["undecided"].append(f"test code '{code}' ({analyte}): which specimen "
                                            f"({' or '.join(specimens)})")
        else:
            test = {"analyte": re.sub(r"[^A-Za-z0-9_.\-]", "_", code)[:40], "label": code, "unit": unit or None,
                    "specimen": frame.loc[rows, specimen_column].mode().iloc[0] if specimen_column else None,
                    "kind": None}
            mapping["undecided"].append(f"test code '{code}' is not in the analyte catalogue: give its analyte "
                                        f"code, label, unit and kind ({', '.join(KINDS)})")
        mapping["tests"][code] = test


def _known_word(category: str, word: str) -> str | None:
    lower = word.strip().lower()
    if category == "response":
        return _RESPONSE_BY_LOWER.get(lower) or _RESPONSE_WORDS.get(word.strip().upper())
    if category == "sex":
        return _SEX_SPELLINGS.get(lower)
    if category == "grade":
        found = re.fullmatch(r"(?:grade|gr|g|ctcae)?\s*([1-5])(?:\.0)?", lower)
        return found.group(1) if found else None
    return "true" if lower in TRUE_WORDS else "false" if lower in FALSE_WORDS else None


def _propose_values(values: pd.Series, category: str, mapping: dict) -> None:
    """Words of a category column that CARTscope does not read as they are: proposed categories, or None."""
    words = mapping["values"][category]
    for word in pd.unique(values):
        text = str(word).strip()
        if not text or text.lower() in {"na", "n/a", "nan", "null", "none", "."} or text in words:
            continue
        known = _known_word(category, text)
        accepted = (category == "response" and text.lower() in _RESPONSE_BY_LOWER
                    or category == "sex" and text.lower() in _SEX_SPELLINGS
                    or category == "grade" and text in CATEGORIES["grade"]
                    or category == "flag" and text.lower() in TRUE_WORDS | FALSE_WORDS)
        if not accepted:
            words[text] = known


def _propose_cdisc(files: list[SourceFile], kind: str) -> dict:
    """A CDISC delivery: datasets with their SAS labels, test codes outside the catalogue, unknown response words.
    Only the variables that tell those are loaded (a million-record PC stays cheap)."""
    mapping = new_mapping(kind)
    for source in files:
        if Path(source.name).suffix.lower() not in CDISC_SUFFIXES:
            continue
        name = dataset_name(source.name)
        prefix = name.upper() if name in SDTM_FINDINGS else ""
        testcd, label_var, unit_var = ((f"{prefix}TESTCD", f"{prefix}TEST", f"{prefix}STRESU") if prefix else
                                       ("PARAMCD", "PARAM", "AVALU"))
        wanted = {testcd, label_var, unit_var} if prefix or name in ("adpc", "adlb") else set()
        wanted |= {"RSSTRESC", "RSORRES", "RSCAT", "RSTESTCD"} if name == "rs" else set()
        wanted |= {"PARAMCD", "AVALC"} if name == "adrs" else set()
        wanted |= {"SEX"} if name in ("dm", "adsl") else set()
        wanted |= {"AETOXGR", "ATOXGR"} if name in ("ae", "adae") else set()
        read = _read_sas_variables(source, wanted)
        if read is None:
            continue
        frame, label, records = read
        mapping["files"][source.name] = {"dataset": name.upper(), "label": label, "records": records}
        if testcd in frame and (prefix or name in ("adpc", "adlb")):
            codes = frame[testcd].astype(str).str.strip()
            for code in pd.unique(codes):
                if not code or code in mapping["tests"] or builtin_for_test_code(code):
                    continue
                rows = codes == code
                test = str(frame.loc[rows, label_var].iloc[0]).strip() if label_var in frame else code
                units = frame.loc[rows, unit_var].astype(str).str.strip() if unit_var in frame else pd.Series([""])
                unit = units[units != ""].mode().iloc[0] if (units != "").any() else None
                mapping["tests"][code] = {"analyte": code, "label": test or code, "unit": unit, "specimen": None,
                                          "kind": "cell_kinetics" if name in ("pc", "adpc") else "biomarker"}
                mapping["undecided"].append(f"{source.name}: test code {code} ({test}) is not in the analyte "
                                            "catalogue: it is declared as shown unless mapped to an analyte")
        response_var = next((v for v in ("RSSTRESC", "RSORRES", "AVALC") if v in frame), None)
        if response_var and name in ("rs", "adrs"):  # the assessments the reader uses, words it does not know
            text = frame[response_var].astype(str).str.strip()
            if name == "rs":
                category = frame["RSCAT"].astype(str).str.upper() if "RSCAT" in frame else pd.Series("", frame.index)
                used = frame["RSTESTCD"].astype(str).str.upper().eq("OVRLRESP") & (
                    category.str.contains("IMWG") | category.str.strip().eq(""))
            else:
                used = frame["PARAMCD"].astype(str).str.upper().isin(["OVR", "OVRLRESP"])
            for word in pd.unique(text[used]):
                if word and _known_word("response", word) is None:
                    mapping["values"]["response"].setdefault(word, None)
        for variable, category in (("SEX", "sex"), ("AETOXGR", "grade"), ("ATOXGR", "grade")):
            if variable in frame:
                words = [w for w in pd.unique(frame[variable].astype(str).str.strip()) if w]
                unknown = [w for w in words if not (category == "grade" and w in CATEGORIES["grade"]
                                                    or category == "sex" and w.lower() in _SEX_SPELLINGS)]
                if unknown:
                    _propose_values(pd.Series(unknown, dtype=object), category, mapping)
    for category, words in mapping["values"].items():
        for word, target in words.items():
            if target is None:
                mapping["undecided"].append(f"{category} value '{word}': choose one of "
                                            f"{', '.join(CATEGORIES[category])}")
    return mapping


def _read_sas_variables(source: SourceFile, wanted: set[str]) -> tuple[pd.DataFrame, str, int] | None:
    """The `wanted` variables of one SAS dataset (upper-case names), its label and record count; None when it cannot
    be read (the import says why)."""
    from data_access.cdisc import sas_file

    try:
        with sas_file(source) as (read, path):
            _empty, meta = read(path, metadataonly=True)
            columns = [c for c in meta.column_names if str(c).strip().upper() in wanted] or \
                list(meta.column_names[:1])
            frame = read(path, usecols=columns, disable_datetime_conversion=True)[0]
    except Exception:  # noqa: BLE001 - pyreadstat raises its own errors; the import reports unreadable files
        return None
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    return frame, meta.file_label or "", len(frame)


# -- checking ----------------------------------------------------------------------------------------------------------

def check_mapping(mapping: dict, frames: dict[str, pd.DataFrame] | None = None,
                  file_names: list[str] | None = None) -> list[str]:
    """Every reason to refuse the mapping, each naming what it is about; empty when it can be applied. `frames` are
    the files' tables (CSV/XLSX), `file_names` the delivered files (CDISC)."""
    problems: list[str] = []
    if mapping.get("format") != FORMAT or mapping.get("version") != VERSION:
        return [f"not a CARTscope mapping version {VERSION} (\"format\": \"{FORMAT}\")"]
    files = mapping.get("files") or {}
    given = sorted(set(frames or {}) | set(file_names or []))
    for key, entry in files.items():
        matched = matching_files(key, given)
        if not matched:
            problems.append(f"the mapping names file '{key}', which was not given (given: "
                            f"{', '.join(given) or 'none'})")
        for label in matched:
            if frames is not None and label in frames:
                problems += _check_file(label, entry or {}, frames[label], mapping)
    zero = mapping.get("day_zero")
    if zero:
        key = next((k for k in files if k.lower() == str(zero.get("file", "")).lower()), None)
        if key is None or (files[key] or {}).get("table") != "subjects":
            problems.append(f"day_zero names file '{zero.get('file')}', which is not a subjects file of the mapping")
        else:
            for label in matching_files(key, list(frames or {})):
                if _find_column(frames[label], zero.get("column", "")) is None:
                    problems.append(f"day_zero names column '{zero.get('column')}', which {label} does not have "
                                    f"(it has: {', '.join(_user_columns(frames[label]))})")
    for code, test in (mapping.get("tests") or {}).items():
        problems += _check_analyte(f"test code '{code}'", test or {})
    for category, words in (mapping.get("values") or {}).items():
        if category not in CATEGORIES:
            problems.append(f"values: '{category}' is not a category field (expected {', '.join(CATEGORIES)})")
            continue
        allowed = {c.lower(): c for c in CATEGORIES[category]}
        for word, target in (words or {}).items():
            if target is None or str(target).strip() == "":
                problems.append(f"{category} value '{word}' has no category: choose one of "
                                f"{', '.join(CATEGORIES[category])}")
            elif str(target).strip().lower() not in allowed:
                problems.append(f"{category} value '{word}' -> '{target}' is not one of "
                                f"{', '.join(CATEGORIES[category])}")
    return problems


def matching_files(key: str, labels: list[str]) -> list[str]:
    """The delivered files (or sheets) a mapping's file key means: the same name (case ignored), or every name the
    key matches as a pattern ('labs_*.csv' for monthly exports of one shape)."""
    exact = [label for label in labels if label.lower() == key.lower()]
    if exact or not any(c in key for c in "*?["):
        return exact
    return [label for label in labels if fnmatch.fnmatch(label.lower(), key.lower())]


def _check_file(label: str, entry: dict, frame: pd.DataFrame, mapping: dict) -> list[str]:
    problems = []
    table = entry.get("table")
    if table not in TABLES:
        return [f"{label}: table '{table}' is not one of {', '.join(TABLES)}"]
    layout = entry.get("layout", "long")
    if layout not in LAYOUTS or layout == "wide" and table != "measurements":
        problems.append(f"{label}: layout '{layout}' is not possible for {table} (long, or wide for measurements)")
    elif layout == "wide" and not entry.get("analyte_columns"):
        problems.append(f"{label}: a wide layout needs analyte columns (a column per analyte with its analyte, unit "
                        "and specimen)")
    elif layout == "long" and entry.get("analyte_columns"):
        problems.append(f"{label}: columns {', '.join(repr(c) for c in entry['analyte_columns'])} are analyte "
                        "columns, which only a wide layout has: make the layout wide or map them to fields")
    allowed = set(TABLE_SPECS[table].known) | set(DATE_FIELDS.get(table, {})) | {KEEP}
    allowed |= {DAY_ZERO_FIELD} if table == "subjects" else set()
    have = ", ".join(_user_columns(frame))
    seen: dict[str, str] = {}
    for column, field in (entry.get("columns") or {}).items():
        if _find_column(frame, column) is None:
            problems.append(f"{label}: the mapping names column '{column}', which the file does not have "
                            f"(it has: {have})")
            continue
        if field in (None, ""):
            continue
        if field not in allowed:
            problems.append(f"{label}: column '{column}' -> '{field}' is not a field of {table} (fields: "
                            f"{', '.join(sorted(allowed - {KEEP}))}, or '{KEEP}')")
        elif field != KEEP and field in seen:
            problems.append(f"{label}: columns '{seen[field]}' and '{column}' are both mapped to '{field}'")
        elif field in DATE_FIELDS.get(table, {}) and not mapping.get("day_zero"):
            problems.append(f"{label}: column '{column}' holds dates ({field}) but the mapping has no day_zero "
                            "(the subjects file's Day-0 date column)")
        seen.setdefault(field, column)
    for column, target in (entry.get("analyte_columns") or {}).items():
        if _find_column(frame, column) is None:
            problems.append(f"{label}: the mapping names column '{column}', which the file does not have "
                            f"(it has: {have})")
        problems += _check_analyte(f"{label}: column '{column}'", target or {})
    return problems


def _check_analyte(what: str, target: dict) -> list[str]:
    """An analyte a test code or wide column means: a built-in one with a unit it converts, or a full declaration."""
    code = str(target.get("analyte") or "").strip()
    if not code:
        return [f"{what} has no analyte"]
    if not re.match(ANALYTE_CODE, code):
        return [f"{what}: analyte code '{code}' must start with a letter and use only letters, digits, '_', '.' or "
                f"'-' (at most {ANALYTE_CODE_LENGTH} characters)"]
    unit, kind, specimen = target.get("unit"), target.get("kind"), target.get("specimen")
    problems = []
    builtin = BUILTIN.get(code) or BUILTIN.get(code.lower())
    if builtin is not None:
        if unit and builtin.factor(unit) is None:
            problems.append(f"{what}: unit '{unit}' is not a unit of {builtin.code}; accepted: "
                            f"{', '.join(builtin.accepted_units())}")
        if kind and kind != builtin.kind:
            problems.append(f"{what}: {builtin.code} is a built-in {builtin.kind} analyte; a mapping cannot make it "
                            f"'{kind}'")
        if specimen and (specimen_code(specimen) or specimen) not in builtin.specimens:
            problems.append(f"{what}: specimen '{specimen}' is not measured for {builtin.code}; expected "
                            f"{' or '.join(builtin.specimens)}")
        return problems
    if kind not in KINDS:
        problems.append(f"{what}: analyte '{code}' is not in the catalogue, so it needs a kind: "
                        f"'{kind or ''}' is not one of {', '.join(KINDS)}")
    if not unit:
        problems.append(f"{what}: analyte '{code}' is not in the catalogue, so it needs a unit")
    return problems


# -- applying ----------------------------------------------------------------------------------------------------------

def translate(frame: pd.DataFrame, values: dict[str, dict[str, str]]) -> None:
    """The mapping's category words (lower-case keys) -> CARTscope categories, in place; other words unchanged."""
    for category, fields in CATEGORY_FIELDS.items():
        words = values.get(category) or {}
        for field in fields if words else ():
            if field in frame:
                lower = frame[field].astype(str).str.strip().str.lower()
                frame[field] = lower.map(words).where(lower.isin(words.keys()), frame[field])


def _lower_values(mapping: dict) -> dict[str, dict[str, str]]:
    return {c: {str(k).strip().lower(): str(v).strip() for k, v in (words or {}).items()}
            for c, words in (mapping.get("values") or {}).items()}


def apply_mapping(files: list[SourceFile], mapping: dict, max_bytes: int) -> RawStudy:
    """The files as CARTscope raw tables by the mapping; every problem goes into the report, nothing raises. A
    mapping that cannot be applied (check_mapping) gives no tables, only its problems."""
    kind = detect_kind(files)
    if kind != "cartscope":
        from data_access.cdisc import read_cdisc

        raw = RawStudy()
        problems = check_mapping(mapping, None, [f.name for f in files])
        if problems:
            raw.files = [{"name": f.name, "bytes": len(f.data), "sha256": f.sha256} for f in files]
            for problem in problems:
                raw.report.error(MAPPING_FILE, problem)
            return raw
        raw = read_cdisc(files, max_bytes, kind, mapping=mapping)
        for frame in raw.tables.values():  # sex, grades and flags (responses were read with the mapping's words)
            translate(frame, _lower_values(mapping))
        return raw
    raw = RawStudy()
    raw.files = [{"name": f.name, "bytes": len(f.data), "sha256": f.sha256} for f in files]
    frames, report = read_sources(files, max_bytes)
    raw.report.extend(report)
    problems = check_mapping(mapping, frames, [f.name for f in files])
    for problem in problems:
        raw.report.error(MAPPING_FILE, problem)
    if problems or not raw.report.ok:
        return raw
    _Applier(frames, mapping, raw).run()
    return raw


class _Applier:
    """Builds the raw tables of one mapped delivery: Day 0 first, then each file, then the declared analytes."""

    def __init__(self, frames: dict[str, pd.DataFrame], mapping: dict, raw: RawStudy):
        self.frames, self.mapping, self.raw = frames, mapping, raw
        self.parts: dict[str, list[tuple[pd.DataFrame, dict[str, str]]]] = {}
        self.tests = {str(k).strip().lower(): v for k, v in (mapping.get("tests") or {}).items()}
        self.values = _lower_values(mapping)
        self.day_zero = pd.Series(dtype="datetime64[ns]")
        self.day_zero_time = pd.Series(dtype=bool)  # whether a subject's Day-0 date has a time of day
        self.declared: dict[str, dict] = {}

    def run(self) -> None:
        files = self.mapping.get("files") or {}
        entry_of: dict[str, dict] = {}
        for key, entry in files.items():
            for label in matching_files(key, list(self.frames)):
                entry_of.setdefault(label, entry)
        for label in self.frames:
            if label not in entry_of:
                self.raw.report.warning(label, "not in the mapping: ignored")
        if self.mapping.get("day_zero"):
            self._read_day_zero(entry_of)
        for label, entry in entry_of.items():
            if entry.get("layout") == "wide":
                self._wide(self.frames[label], entry)
            else:
                self._long(self.frames[label], entry)
        self._declare()
        self._finish()

    def _column(self, frame: pd.DataFrame, name: str) -> pd.Series:
        return frame[_find_column(frame, name)]

    def _read_day_zero(self, entry_of: dict[str, dict]) -> None:
        zero = self.mapping["day_zero"]
        key = next(k for k in self.mapping["files"] if k.lower() == zero["file"].lower())
        for label in matching_files(key, list(self.frames)):
            self._read_day_zero_of(label, entry_of[label], zero["column"])

    def _read_day_zero_of(self, label: str, entry: dict, zero_column: str) -> None:
        frame = self.frames[label]
        subject_column = next((c for c, f in entry["columns"].items() if f == "subject_id"), None)
        if subject_column is None:
            self.raw.report.error(MAPPING_FILE, f"day_zero: {label} has no column mapped to subject_id")
            return
        column = _find_column(frame, zero_column)
        dates = self._dates(frame, column)
        with_time = frame[column].str.contains(_TIME, regex=True)
        subjects = self._column(frame, subject_column)
        for index in dates.index[dates.isna() & subjects.ne("")]:
            text = frame.at[index, column]
            self.raw.report.error(label, f"subject '{subjects[index]}' has no Day-0 date" if not text else
                                  f"'{text}' is not a date", row=int(frame.at[index, "_row"]), column=column,
                                  table="subjects")
        keep = (dates.notna() & ~subjects.duplicated() & ~subjects.isin(self.day_zero.index)).to_numpy()
        self.day_zero = pd.concat([self.day_zero, pd.Series(dates.to_numpy(), index=subjects.to_numpy())[keep]])
        self.day_zero_time = pd.concat([self.day_zero_time,
                                        pd.Series(with_time.to_numpy(), index=subjects.to_numpy())[keep]])

    def _dates(self, frame: pd.DataFrame, column: str) -> pd.Series:
        """Text dates (ISO, or the export's own order with `dayfirst`) as timestamps, parsed once per distinct text."""
        text = frame[column]
        uniques = pd.Series(pd.unique(text))
        parsed = pd.to_datetime(uniques.where(uniques != ""), errors="coerce", format="mixed",
                                dayfirst=bool(self.mapping.get("dayfirst")))
        return text.map(dict(zip(uniques, parsed, strict=True))).astype("datetime64[ns]")

    def _days(self, frame: pd.DataFrame, column: str, subjects: pd.Series, table: str) -> tuple[pd.Series, pd.Series]:
        """Days since the subject's Day 0 from a date column; bad dates are reported (and their rows left out: the
        import fails anyway, and the row gets one message, not two)."""
        dates = self._dates(frame, column)
        text = frame[column]
        bad = dates.isna() & text.ne("") & ~text.str.lower().isin({"na", "n/a", "nan", "null", "none", "."})
        for index in bad[bad].index:
            self.raw.report.error(frame.at[index, "_file"], f"'{text[index]}' is not a date",
                                  row=int(frame.at[index, "_row"]), column=column, table=table)
        zero = pd.Series(subjects.map(self.day_zero).to_numpy(dtype="datetime64[ns]"), index=frame.index)
        # as for CDISC dates: fractional days only when both the date and Day 0 have a time, else whole days
        both_timed = text.str.contains(_TIME, regex=True) & subjects.map(self.day_zero_time).eq(True)
        dates = dates.where(both_timed, dates.dt.normalize())
        zero = zero.where(both_timed, zero.dt.normalize())
        lost = dates.notna() & zero.isna() & subjects.ne("") & ~subjects.isin(self.day_zero.index)
        for index in lost[lost].index:
            self.raw.report.error(frame.at[index, "_file"], f"subject '{subjects[index]}' has no Day-0 date "
                                  f"({self.mapping['day_zero']['file']}, column "
                                  f"'{self.mapping['day_zero']['column']}'), so this date cannot be made a day",
                                  row=int(frame.at[index, "_row"]), column=column, table=table)
        days = (dates - zero) / pd.Timedelta(days=1)
        return _number_text(days), bad | lost

    def _long(self, frame: pd.DataFrame, entry: dict) -> None:
        table = entry["table"]
        out = pd.DataFrame({"_file": frame["_file"], "_row": frame["_row"]}, index=frame.index)
        sources: dict[str, str] = {}
        drop = pd.Series(False, index=frame.index)
        columns = {f: c for c, f in entry["columns"].items() if f not in (None, "", KEEP, DAY_ZERO_FIELD)}
        subjects = self._column(frame, columns["subject_id"]) if "subject_id" in columns else \
            pd.Series("", index=frame.index)
        for field, column in columns.items():
            name = _find_column(frame, column)
            if field in DATE_FIELDS.get(table, {}):
                day_field = DATE_FIELDS[table][field]
                if day_field in columns:
                    continue  # the day column wins where both are given
                out[day_field], bad = self._days(frame, name, subjects, table)
                drop |= bad
                sources[day_field] = name
            else:
                out[field] = frame[name]
                sources[field] = name
        for column, field in entry["columns"].items():
            if field == KEEP:
                out[normalise_name(column)] = self._column(frame, column)
        for field, value in (entry.get("constants") or {}).items():
            if field not in out:
                out[field] = str(value)
                sources[field] = f"{MAPPING_FILE} constant {field}"
        if table == "measurements":
            self._measurement_defaults(out, sources)
        self._translate(out)
        self._add(table, out[~drop], sources)

    def _measurement_defaults(self, out: pd.DataFrame, sources: dict[str, str]) -> None:
        """Test codes -> analytes; the unit and specimen of a test code where the row has none; '<5' as BLQ."""
        if "analyte" in out:
            codes = out["analyte"]
            entries = codes.str.lower().map(self.tests)
            mapped = entries.map(lambda e: e.get("analyte") if isinstance(e, dict) else None)
            fallback = codes.map(lambda c: builtin_for_test_code(c) or c if c else c)
            analyte = mapped.where(mapped.notna(), fallback)
            for field in ("unit", "specimen"):
                given = entries.map(lambda e, f=field: (e.get(f) or "") if isinstance(e, dict) else "")
                if field not in out:
                    out[field] = ""
                out[field] = out[field].where(out[field] != "", given)
            single = analyte.map(lambda a: BUILTIN[a].specimens[0] if a in BUILTIN and len(BUILTIN[a].specimens) == 1
                                 else "")
            out["specimen"] = out["specimen"].where(out["specimen"] != "", single)
            out["analyte"] = analyte
            present = set(codes.str.lower().unique())
            for key, target in self.tests.items():
                if key in present:
                    self._note_declaration(target)
        if "value" in out:
            self._blq_text(out, sources)

    def _blq_text(self, out: pd.DataFrame, sources: dict[str, str]) -> None:
        """A value written '<5' is below the limit of quantification 5: blank value, blq true, lloq 5."""
        found = out["value"].str.extract(_BLQ_VALUE, expand=False)
        below = found.notna()
        if not below.any():
            return
        if "lloq" not in out:
            out["lloq"] = ""
            sources.setdefault("lloq", sources.get("value", "value"))
        if "blq" not in out:
            out["blq"] = ""
            sources.setdefault("blq", sources.get("value", "value"))
        out.loc[below, "lloq"] = out.loc[below, "lloq"].where(out.loc[below, "lloq"] != "", found[below])
        out.loc[below, "blq"] = "true"
        out.loc[below, "value"] = ""

    def _note_declaration(self, target: dict) -> None:
        code = str(target.get("analyte") or "").strip()
        if code and code not in BUILTIN and code.lower() not in BUILTIN and code not in self.declared:
            self.declared[code] = target

    def _wide(self, frame: pd.DataFrame, entry: dict) -> None:
        """One measurement per non-blank analyte cell; each row names its own column (`_source_value`, ...)."""
        ids = {c: f for c, f in entry["columns"].items() if f not in (None, "", KEEP)}
        base = pd.DataFrame({"_file": frame["_file"], "_row": frame["_row"]}, index=frame.index)
        sources: dict[str, str] = {}
        drop = pd.Series(False, index=frame.index)
        subject_column = next((c for c, f in ids.items() if f == "subject_id"), None)
        subjects = self._column(frame, subject_column) if subject_column else pd.Series("", index=frame.index)
        for column, field in ids.items():
            name = _find_column(frame, column)
            if field in DATE_FIELDS["measurements"]:
                if "day" in ids.values():
                    continue
                base["day"], bad = self._days(frame, name, subjects, "measurements")
                drop |= bad
                sources["day"] = name
            else:
                base[field] = frame[name]
                sources[field] = name
        for field, value in (entry.get("constants") or {}).items():
            if field not in base:
                base[field] = str(value)
        pieces = []
        for column, target in (entry.get("analyte_columns") or {}).items():
            name = _find_column(frame, column)
            cells = frame[name]
            present = (cells != "") & ~drop
            piece = base[present].copy()
            piece["analyte"] = target["analyte"]
            piece["value"] = cells[present]
            builtin = BUILTIN.get(target["analyte"])
            piece["unit"] = target.get("unit") or (builtin.unit if builtin else "")
            single = builtin.specimens[0] if builtin is not None and len(builtin.specimens) == 1 else ""
            specimen = target.get("specimen") or piece.get("specimen", pd.Series(single, index=piece.index))
            piece["specimen"] = specimen if isinstance(specimen, str) else specimen.replace("", single).to_numpy()
            for field in ("analyte", "value", "unit", "specimen"):
                piece[f"{SOURCE_PREFIX}{field}"] = name
            pieces.append(piece)
            self._note_declaration(target)
        if not pieces:
            return
        out = pd.concat(pieces).sort_index(kind="stable")
        sources.setdefault("unit", "unit")
        self._blq_text(out, sources)
        for field in ("lloq", "blq"):
            if field in out:
                out[f"{SOURCE_PREFIX}{field}"] = out[f"{SOURCE_PREFIX}value"]
        self._translate(out)
        self._add("measurements", out, sources)

    def _translate(self, out: pd.DataFrame) -> None:
        translate(out, self.values)

    def _add(self, table: str, frame: pd.DataFrame, sources: dict[str, str]) -> None:
        self.parts.setdefault(table, []).append((frame, sources))

    def _declare(self) -> None:
        """Analytes outside the catalogue that the mapping names: one `analytes` row each, located at the mapping."""
        if not self.declared:
            return
        rows = []
        for position, (code, target) in enumerate(self.declared.items(), start=1):
            specimen = target.get("specimen") or ""
            rows.append({"_file": MAPPING_FILE, "_row": position, "code": code, "label": target.get("label") or code,
                         "unit": target.get("unit") or "", "kind": target.get("kind") or "",
                         "specimens": specimen_code(specimen) or specimen, "method": "declared by the mapping"})
        self._add("analytes", pd.DataFrame(rows), {})

    def _finish(self) -> None:
        """Parts joined per table in the format's order; subjects get last contact and death columns if missing."""
        tables: dict[str, pd.DataFrame] = {}
        for table in TABLES:
            parts = self.parts.get(table)
            if not parts:
                continue
            frame = pd.concat([p for p, _ in parts], ignore_index=True).fillna("")
            frame.attrs["file"] = ", ".join(dict.fromkeys(str(f) for f in frame["_file"].unique())) or table
            frame.attrs["source_columns"] = dict(parts[0][1])
            frame.attrs["source_columns_by_file"] = {}
            for part, sources in parts:
                for file in part["_file"].unique():
                    frame.attrs["source_columns_by_file"].setdefault(file, {}).update(sources)
            tables[table] = frame
        if "subjects" in tables:
            self._subject_defaults(tables)
        for table in ("subjects", "measurements"):
            if table not in tables and self.raw.report.ok:
                self.raw.report.error(MAPPING_FILE, f"no file is mapped to the required table '{table}'", table=table)
        for table in ("adverse_events", "responses"):
            if table not in tables and self.raw.report.ok:
                self.raw.report.warning("(study)", f"no '{table}' table: the study is stored without it", table=table)
        self.raw.tables = tables

    def _subject_defaults(self, tables: dict[str, pd.DataFrame]) -> None:
        """Last contact, when no column gives it: the latest day any record of the subject has (Day 0 at least),
        with a warning; death day blank when no column gives it; age and sex blank when not given."""
        subjects = tables["subjects"]
        for field in ("age", "sex", "death_day"):
            if field not in subjects:
                subjects[field] = ""
        if "last_contact_day" not in subjects:
            latest = []
            for table, frame in tables.items():
                for column in ("day", "onset_day", "resolution_day", "start_day", "end_day"):
                    if table != "subjects" and column in frame and "subject_id" in frame:
                        latest.append(pd.DataFrame({"subject_id": frame["subject_id"],
                                                    "day": pd.to_numeric(frame[column], errors="coerce")}))
            by_subject = pd.concat(latest).groupby("subject_id")["day"].max() if latest else pd.Series(dtype=float)
            death = pd.to_numeric(subjects["death_day"], errors="coerce")
            last = subjects["subject_id"].map(by_subject).astype(float).clip(lower=0).fillna(0.0)
            subjects["last_contact_day"] = _number_text(death.where(death.notna(), last))
            self.raw.report.warning(subjects.attrs["file"], "no last-contact column is mapped: each subject's last "
                                    "contact is the latest day of their records (or their death day)",
                                    table="subjects")


def _number_text(numbers: pd.Series) -> pd.Series:
    """Days as text the validator reads ('7', '7.5'); blank where unknown."""
    numbers = numbers.astype(float)
    text = numbers.map(lambda n: "" if not np.isfinite(n) else f"{n:.10g}")
    return text.astype(object)


# -- the Data page's editable tables -----------------------------------------------------------------------------------

def column_rows(mapping: dict, frames: dict[str, pd.DataFrame] | None = None) -> list[dict]:
    """The mapping's files and columns as grid rows: file, table, layout, column, field, analyte, unit, specimen and
    a few example values."""
    rows = []
    for label, entry in (mapping.get("files") or {}).items():
        matched = matching_files(label, list(frames or {}))
        frame = frames[matched[0]] if matched else None
        for column, field in (entry.get("columns") or {}).items():
            rows.append({"file": label, "table": entry.get("table") or "", "layout": entry.get("layout", "long"),
                         "column": column, "field": field or "", "analyte": "", "unit": "", "specimen": "",
                         "examples": _examples(frame, column)})
        for column, target in (entry.get("analyte_columns") or {}).items():
            rows.append({"file": label, "table": entry.get("table") or "", "layout": entry.get("layout", "wide"),
                         "column": column, "field": "analyte value", "analyte": target.get("analyte") or "",
                         "unit": target.get("unit") or "", "specimen": target.get("specimen") or "",
                         "examples": _examples(frame, column)})
    return rows


def _examples(frame: pd.DataFrame | None, column: str) -> str:
    if frame is None or _find_column(frame, column) is None:
        return ""
    values = [v for v in pd.unique(frame[_find_column(frame, column)]) if v][:3]
    return ", ".join(values)


def code_rows(mapping: dict) -> list[dict]:
    return [{"code": code, "analyte": t.get("analyte") or "", "label": t.get("label") or "",
             "unit": t.get("unit") or "", "specimen": t.get("specimen") or "", "kind": t.get("kind") or ""}
            for code, t in (mapping.get("tests") or {}).items()]


def value_rows(mapping: dict) -> list[dict]:
    return [{"category": category, "value": word, "becomes": target or ""}
            for category, words in (mapping.get("values") or {}).items() for word, target in (words or {}).items()]


def from_rows(mapping: dict, columns: list[dict] | None = None, tests: list[dict] | None = None,
              values: list[dict] | None = None) -> dict:
    """The mapping with what the grids hold now (blank cells as None); anything not in a grid is kept."""
    result = copy.deepcopy(mapping)

    def blank(value):
        return None if value is None or str(value).strip() == "" else str(value).strip()

    if columns is not None:
        for entry in result.get("files", {}).values():
            if "columns" in entry:
                entry["columns"] = {}
            entry.pop("analyte_columns", None)
        for row in columns:
            entry = result["files"].setdefault(row["file"], {"columns": {}})
            entry["table"] = blank(row.get("table")) or entry.get("table")
            entry["layout"] = blank(row.get("layout")) or entry.get("layout", "long")
            if row.get("field") == "analyte value":
                entry.setdefault("analyte_columns", {})[row["column"]] = {
                    "analyte": blank(row.get("analyte")), "unit": blank(row.get("unit")),
                    "specimen": blank(row.get("specimen"))}
            else:
                entry.setdefault("columns", {})[row["column"]] = blank(row.get("field"))
    if tests is not None:
        result["tests"] = {row["code"]: {k: blank(row.get(k)) for k in ("analyte", "label", "unit", "specimen",
                                                                        "kind")} for row in tests}
    if values is not None:
        result["values"] = {c: {} for c in CATEGORY_FIELDS}
        for row in values:
            result["values"].setdefault(row["category"], {})[row["value"]] = blank(row.get("becomes"))
    return result


def preview(files: list[SourceFile], mapping: dict, max_bytes: int, rows: int = 8) -> tuple[dict[str, pd.DataFrame],
                                                                                             ValidationReport]:
    """The first rows of each table as they would be stored, and the full validation report (nothing is stored)."""
    from data_access.validate import validate

    raw = apply_mapping(files, mapping, max_bytes)
    study, report = validate(raw, "preview")
    if study is None:
        return {}, report
    return {t: study.table(t).head(rows) for t in TABLES if len(study.table(t))}, report
