"""Read a CDISC delivery (SDTM or ADaM datasets, SAS transport .xpt or .sas7bdat) into CARTscope's raw text tables.

The result is the same `RawStudy` the CSV reader gives (text cells, `_file` = the dataset file, `_row` = the 1-based
record number), so data_access.validate, the store and every page work unchanged. Here live only the CDISC rules:
which variable feeds which column, Day 0 (the first dose), dates to study days, partial dates, BLQ codes, derived
ADaM rows, test codes to analytes. Each frame carries `attrs["source_columns_by_file"]` so the validator's messages
name the CDISC variable (PCSTRESN, AVAL, ...). docs/cdisc.md states every rule; keep the two in step.

Everything is vectorised (dates are parsed once per distinct text), so a PC dataset of a million records imports in
seconds rather than minutes.
"""
from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import settings
from data_access.catalogue import BUILTIN, builtin_for_test_code, normalise_unit_spelling, specimen_code
from data_access.readers import RawStudy, SourceFile, human_size
from data_access.report import ValidationReport
from data_access.schema import TABLES

CDISC_SUFFIXES = (".xpt", ".sas7bdat")
SDTM_DATASETS = ("dm", "ex", "pc", "lb", "cp", "is", "gf", "ae", "rs", "cm")
ADAM_DATASETS = ("adsl", "adpc", "adlb", "adae", "adrs", "adtte", "adcm")
#: SDTM findings domains that hold measurements; PC is the cellular-kinetics one (qPCR transgene).
SDTM_FINDINGS = ("pc", "cp", "lb", "is", "gf")
#: EX treatments that are lymphodepletion, not the CAR-T infusion: they never set Day 0 (lower-case fragments).
LYMPHODEPLETION = ("fludarabine", "cyclophosphamide", "bendamustine")
#: QNAM (SUPPRS) or variable (ADRS) holding the MRD status of a response assessment: Y = MRD-negative.
MRD_QUALIFIER = "MRDNEG"
SAS_EPOCH = pd.Timestamp("1960-01-01")
#: How many identifiers or rows a message lists before it says "and N more".
LISTED = 20

_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_MONTH = r"^\d{4}-\d{2}$"
_ISO_YEAR = r"^\d{4}$"
_BLQ_TEXT = r"^<|\bBLO?Q\b|\bBELOW (?:THE )?(?:LLOQ|LOQ|LOWER LIMIT)"
_DAYS_PER_UNIT = {"HOURS": 1 / 24, "HOUR": 1 / 24, "HRS": 1 / 24, "HR": 1 / 24, "H": 1 / 24, "DAYS": 1.0, "DAY": 1.0,
                  "D": 1.0, "MINUTES": 1 / 1440, "MINUTE": 1 / 1440, "MIN": 1 / 1440, "WEEKS": 7.0, "WEEK": 7.0,
                  "MONTHS": 365.25 / 12, "MONTH": 365.25 / 12, "YEARS": 365.25, "YEAR": 365.25}
_SEVERITY_GRADE = {"MILD": "1", "MODERATE": "2", "SEVERE": "3"}
_RELATED = {"Y": "true", "YES": "true", "RELATED": "true", "POSSIBLY RELATED": "true", "PROBABLY RELATED": "true",
            "DEFINITELY RELATED": "true", "POSSIBLE": "true", "PROBABLE": "true", "DEFINITE": "true",
            "N": "false", "NO": "false", "NOT RELATED": "false", "UNRELATED": "false", "UNLIKELY RELATED": "false",
            "UNLIKELY": "false", "NOT SUSPECTED": "false"}
_RESPONSE_WORDS = {"STRINGENT COMPLETE RESPONSE": "sCR", "SCR": "sCR", "COMPLETE RESPONSE": "CR",
                   "VERY GOOD PARTIAL RESPONSE": "VGPR", "PARTIAL RESPONSE": "PR", "MINIMAL RESPONSE": "MR",
                   "MINOR RESPONSE": "MR", "STABLE DISEASE": "SD", "PROGRESSIVE DISEASE": "PD",
                   "NOT EVALUABLE": "NE", "NON-EVALUABLE": "NE"}
#: Variables a dataset cannot be used without (each tuple: any one of them); `--` is the SDTM domain prefix.
REQUIRED_VARIABLES: dict[str, tuple[tuple[str, ...], ...]] = {
    "dm": (("USUBJID",),), "ex": (("USUBJID",), ("EXSTDTC",)), "ae": (("USUBJID",), ("AEDECOD", "AETERM")),
    "rs": (("USUBJID",), ("RSTESTCD",), ("RSSTRESC", "RSORRES")), "cm": (("USUBJID",), ("CMDECOD", "CMTRT")),
    **{name: (("USUBJID",), ("--TESTCD",)) for name in SDTM_FINDINGS},
    "adsl": (("USUBJID",), ("TRTSDTM", "TRTSDT")), "adpc": (("USUBJID",), ("PARAMCD",), ("AVAL",)),
    "adlb": (("USUBJID",), ("PARAMCD",), ("AVAL",)), "adae": (("USUBJID",), ("AEDECOD", "AETERM")),
    "adrs": (("USUBJID",), ("PARAMCD",), ("AVALC",)), "adtte": (("USUBJID",), ("PARAMCD",), ("AVAL",), ("CNSR",)),
    "adcm": (("USUBJID",), ("CMDECOD", "CMTRT")),
}
#: ADaM imputation flags (--DTF) -> the `date_imputed` column.
_ADAM_IMPUTED = {"D": "day", "M": "month", "Y": "month"}
#: ADSL variables that are identifiers, treatment, timing or population flags, never covariates.
_ADSL_NOT_COVARIATES = frozenset({"STUDYID", "USUBJID", "SUBJID", "SITEID", "INVID", "INVNAM", "ARM", "ARMCD",
                                  "ACTARM", "ACTARMCD", "AGE", "AGEU", "SEX", "DTHFL", "DTHCAUS", "TRT01P",
                                  "TRT01A", "TRT01PN", "TRT01AN", "TRTSEQP", "TRTSEQA", "TRTDURD", "_ROW"})


def dataset_name(file_name: str) -> str:
    """'PC.XPT' -> 'pc'."""
    return Path(file_name).stem.strip().lower()


def detect_kind(files) -> str:
    """The kind of delivery: 'adam' when an ADaM dataset (adsl, adpc, ...) is among the SAS files, 'sdtm' for any
    other SAS transport or sas7bdat files (dm, ex, pc, ...), else 'cartscope' (CSV files or a workbook).

    `files` are SourceFiles, paths or names."""
    names = [Path(str(getattr(f, "name", f))).name for f in files]
    sas = [dataset_name(n) for n in names if Path(n).suffix.lower() in CDISC_SUFFIXES]
    if any(n in ADAM_DATASETS for n in sas):
        return "adam"
    return "sdtm" if sas else "cartscope"


def read_cdisc(files: list[SourceFile], max_bytes: int, kind: str | None = None,
               mapping: dict | None = None) -> RawStudy:
    """Read SDTM or ADaM datasets into raw text tables; every problem goes into the report, never raises.

    A `mapping` (data_access/mapping.py, already checked) overrides the reader's own choices: its `tests` say which
    analyte, unit, specimen and kind a test code means, its `values` which response category a word means."""
    kind = kind or detect_kind(files)
    raw = RawStudy()
    wanted = ADAM_DATASETS if kind == "adam" else SDTM_DATASETS
    datasets: dict[str, _Dataset] = {}
    unusable: set[str] = set()  # given but unreadable or lacking a variable (already reported)
    for source in files:
        raw.files.append({"name": source.name, "bytes": len(source.data), "sha256": source.sha256})
        name, suffix = dataset_name(source.name), Path(source.name).suffix.lower()
        if suffix not in CDISC_SUFFIXES:
            raw.report.warning(source.name, f"not a SAS dataset (.xpt or .sas7bdat): ignored in an {kind.upper()} "
                               "import")
            continue
        inner = _internal_name(source) if name not in wanted else name
        if inner != name and (inner in wanted or (kind == "sdtm" and inner.startswith("supp"))):
            raw.report.warning(source.name, f"read as {inner.upper()}, the dataset name inside the file")
            name = inner
        if name not in wanted and not (kind == "sdtm" and name.startswith("supp")):
            raw.report.warning(source.name, f"dataset {name.upper()} is not used by the {kind.upper()} import "
                               f"(it reads {', '.join(n.upper() for n in wanted)}"
                               f"{' and SUPP--' if kind == 'sdtm' else ''}): ignored")
            continue
        if not source.data:
            raw.report.error(source.name, "the file is empty")
            unusable.add(name)
            continue
        if len(source.data) > max_bytes:
            raw.report.error(source.name, f"the file is {human_size(len(source.data))}, over the "
                             f"{human_size(max_bytes)} limit (CARTSCOPE_MAX_FILE_MB)")
            unusable.add(name)
            continue
        if name in datasets:
            raw.report.error(source.name, f"dataset {name.upper()} is given twice (also {datasets[name].file})")
            continue
        frame = _read_sas(source, raw.report, name)
        if frame is not None and _has_required_variables(name, source.name, frame, raw.report):
            datasets[name] = _Dataset(name, source.name, frame)
        else:
            unusable.add(name)
    builder = _Builder(datasets, raw.report, unusable, mapping)
    raw.tables = builder.adam() if kind == "adam" else builder.sdtm()
    return raw


#: The variables the import reads from findings and BDS datasets (SDTM without its two-letter prefix); the others
#: (STUDYID, --SEQ, VISIT, --ORRES, ...) are not loaded, which keeps a million-record PC within memory.
FINDINGS_VARIABLES = frozenset({"TESTCD", "TEST", "STRESN", "STRESC", "STRESU", "LLOQ", "SPEC", "STAT", "DTC",
                                "DY"})
BDS_VARIABLES = frozenset({"USUBJID", "PARAMCD", "PARAM", "AVAL", "AVALC", "AVALU", "ALLOQ", "ADT", "ADTM", "ADTF",
                           "ADY", "AFRLT", "FRLTU", "AFRLTU", "RRLTU", "DTYPE", "BLQFL"})


def _used_variables(name: str, columns: list[str]) -> list[str] | None:
    """The variables of a findings (SDTM) or BDS (ADaM) measurement dataset the import uses; None: read all."""
    upper = [str(c).strip().upper() for c in columns]
    if name in SDTM_FINDINGS:
        keep = [i for i, c in enumerate(upper) if c == "USUBJID" or c.endswith("SPEC")
                or (c.startswith(name.upper()) and c[len(name):] in FINDINGS_VARIABLES)]
    elif name in ("adpc", "adlb"):
        keep = [i for i, c in enumerate(upper) if c in BDS_VARIABLES or c.endswith("SPEC")
                or re.fullmatch(r"ANL\d\dFL", c)]
    else:
        return None
    return [columns[i] for i in keep]


@contextmanager
def sas_file(source: SourceFile):
    """(reader, path) of an uploaded SAS dataset written to a temporary file, since pyreadstat reads paths:
    `read(path, metadataonly=True)` for the variables, then `read(path, usecols=...)`; the file is removed after."""
    import pyreadstat  # imported here: only CDISC imports need it

    suffix = Path(source.name).suffix.lower()
    read = pyreadstat.read_xport if suffix == ".xpt" else pyreadstat.read_sas7bdat
    handle, path = tempfile.mkstemp(suffix=suffix, prefix="cartscope-cdisc-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(source.data)
        yield read, path
    finally:
        os.unlink(path)


def _internal_name(source: SourceFile) -> str:
    """The dataset name stored inside a SAS file (lower case; '' when unreadable), for files renamed on delivery
    (lb_2024-06.xpt holding LB)."""
    try:
        with sas_file(source) as (read, path):
            return str(read(path, metadataonly=True)[1].table_name or "").strip().lower()
    except Exception:  # noqa: BLE001 - unreadable files are reported when read for real
        return ""


def _read_sas(source: SourceFile, report: ValidationReport, name: str = "") -> pd.DataFrame | None:
    """One dataset through pyreadstat (never pandas.read_sas); dates stay SAS numbers, converted by the rules.
    Measurement datasets load only the variables the import uses (`_used_variables`)."""
    import pyreadstat

    try:
        with sas_file(source) as (read, path):
            _empty, meta = read(path, metadataonly=True)
            chunks = pyreadstat.read_file_in_chunks(read, path, chunksize=SAS_CHUNK_ROWS,
                                                    disable_datetime_conversion=True,
                                                    usecols=_used_variables(name, list(meta.column_names)))
            shared: dict[str, dict] = {}
            parts, records, limit = [], 0, settings.max_rows()
            for chunk, _meta in chunks if meta.number_rows != 0 else ():
                parts.append(_share_text(chunk, shared))
                records += len(chunk)
                if records > limit:
                    report.error(source.name, f"the dataset has more than {limit:,} records, the most CARTscope "
                                 "reads from one dataset (CARTSCOPE_MAX_ROWS)")
                    return None
            frame = pd.concat(parts, ignore_index=True) if parts else _empty[list(_empty.columns)]
    except Exception as exc:  # pyreadstat raises its own ReadstatError and plain ones for bad files
        kind = "transport" if Path(source.name).suffix.lower() == ".xpt" else "dataset"
        report.error(source.name, f"not a readable SAS {kind} file ({type(exc).__name__}: {str(exc)[:120]})")
        return None
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    return frame.reset_index(drop=True)


#: Records read from a SAS dataset at a time: a chunk's text is shared (see _share_text) before the next is read.
SAS_CHUNK_ROWS = 250_000


def _share_text(chunk: pd.DataFrame, shared: dict[str, dict]) -> pd.DataFrame:
    """The chunk with each text variable's repeated values one object each, across chunks (`shared`, by variable):
    pyreadstat makes a new string per record, so a million records of a few test codes, units and subject ids would
    otherwise hold a million copies of each."""
    for column in chunk.select_dtypes(include="object").columns:
        codes, uniques = pd.factorize(chunk[column], use_na_sentinel=False)
        known = shared.setdefault(column, {})
        one_each = np.array([known.setdefault(value, value) for value in uniques], dtype=object)
        chunk[column] = one_each[codes]
    return chunk


def per_value(values: pd.Series, function) -> pd.Series:
    """`function` (Series -> Series) applied once per distinct value, spread back over the records: a million records
    of a few thousand dates, units or test codes cost a few thousand string operations."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    done = function(pd.Series(uniques, dtype=values.dtype if values.dtype != object else object)).to_numpy()
    return pd.Series(done[codes], index=values.index)


def _has_required_variables(name: str, file: str, frame: pd.DataFrame, report: ValidationReport) -> bool:
    """Report each missing required variable (REQUIRED_VARIABLES); True when the dataset has them all."""
    ok = True
    for alternatives in REQUIRED_VARIABLES.get(name, ()):
        names = [a.replace("--", name.upper()) for a in alternatives]
        if not any(n in frame.columns for n in names):
            report.error(file, f"dataset {name.upper()} has no variable {' or '.join(names)}", row=None,
                         column=names[0])
            ok = False
    return ok


def _number_text(values: pd.Series) -> pd.Series:
    """Numbers as the text a person would type: 7.0 -> '7', 0.25 -> '0.25', missing -> ''."""
    return per_value(pd.to_numeric(values, errors="coerce").astype(float), _numbers_as_text)


def _numbers_as_text(numbers: pd.Series) -> pd.Series:
    text = numbers.astype(str)
    whole = numbers.notna() & np.isfinite(numbers) & (numbers % 1 == 0) & (numbers.abs() < 1e15)
    text[whole] = numbers[whole].astype("int64").astype(str)
    return text.where(numbers.notna(), "")


@dataclass
class _Dataset:
    """One dataset: upper-case variable names, records in file order (`_row` = 1-based record number)."""

    name: str
    file: str
    frame: pd.DataFrame
    _texts: dict[str, pd.Series] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.frame["_ROW"] = np.arange(1, len(self.frame) + 1)

    def has(self, variable: str) -> bool:
        return variable in self.frame.columns

    def first(self, *variables: str) -> str | None:
        """The first of `variables` the dataset has."""
        return next((v for v in variables if self.has(v)), None)

    def text(self, variable: str | None) -> pd.Series:
        """The variable as stripped text ('' when missing or absent); numbers as typed (1.0 -> '1')."""
        if variable is None or not self.has(variable):
            return pd.Series("", index=self.frame.index, dtype=object)
        if variable not in self._texts:
            column = self.frame[variable]
            if pd.api.types.is_numeric_dtype(column):
                self._texts[variable] = _number_text(column)
            else:
                self._texts[variable] = per_value(column.fillna(""), lambda u: u.astype(str).str.strip())
        return self._texts[variable]

    def upper(self, variable: str | None) -> pd.Series:
        return per_value(self.text(variable), lambda u: u.str.upper())

    def coalesce(self, *variables: str) -> tuple[pd.Series, str | None]:
        """Per record the first non-blank of `variables` (AEDECOD else AETERM), and the variable named in messages."""
        present = [v for v in variables if self.has(v)]
        out = pd.Series("", index=self.frame.index, dtype=object)
        for variable in reversed(present):
            text = self.text(variable)
            out = text.where(text != "", out)
        return out, (present[0] if present else variables[0])

    def keep(self, mask: pd.Series) -> None:
        """Leave records out (derived ADaM rows, other parameters); `_ROW` keeps their original numbers."""
        self.frame = self.frame[mask.to_numpy()].reset_index(drop=True)
        self._texts.clear()


def parse_iso8601(text: pd.Series, *, end: bool = False) -> pd.DataFrame:
    """ISO 8601 dates as CDISC --DTC gives them, parsed once per distinct value.

    Returns `ts` (datetime), `has_time`, `imputed` ('' / 'day' / 'month') and `bad` (not blank, not a date).
    Partial dates are imputed the ADaM way: a start to the first day of its month or year, an end (`end=True`) to
    the last."""
    text = per_value(text, lambda u: u.astype(str).str.strip())
    values = pd.Series(pd.unique(text), dtype=object)
    ts = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    has_time = values.str.match(_ISO_DATETIME)
    date, month, year = values.str.match(_ISO_DATE), values.str.match(_ISO_MONTH), values.str.match(_ISO_YEAR)
    imputed = pd.Series("", index=values.index, dtype=object)
    if has_time.any():
        ts[has_time] = pd.to_datetime(values[has_time], format="ISO8601", errors="coerce")
    if date.any():
        ts[date] = pd.to_datetime(values[date], format="%Y-%m-%d", errors="coerce")
    if month.any():
        first = pd.to_datetime(values[month] + "-01", format="%Y-%m-%d", errors="coerce")
        ts[month] = first + pd.offsets.MonthEnd(0) if end else first
        imputed[month] = "day"
    if year.any():
        first = pd.to_datetime(values[year] + "-01-01", format="%Y-%m-%d", errors="coerce")
        ts[year] = first + pd.offsets.YearEnd(0) if end else first
        imputed[year] = "month"
    table = pd.DataFrame({"ts": ts, "has_time": has_time & ts.notna(), "imputed": imputed.where(ts.notna(), ""),
                          "bad": (values != "") & ts.isna()})
    table.index = values.to_numpy()
    out = table.reindex(text.to_numpy())
    out.index = text.index
    return out


def _no_reference() -> pd.DataFrame:
    return pd.DataFrame({"ts": pd.Series(dtype="datetime64[ns]"), "has_time": pd.Series(dtype=bool)})


def study_day_to_day(study_day: pd.Series) -> pd.Series:
    """CDISC --DY has no day 0 (DY 1 = the dosing date): DY 1 -> day 0, DY -1 -> day -1."""
    return study_day.where(study_day < 0, study_day - 1)


@dataclass
class _Part:
    """A piece of one CARTscope table from one dataset: text columns and the variable behind each."""

    table: str
    frame: pd.DataFrame
    sources: dict[str, str]


class _Builder:
    """Turns the datasets of one delivery into raw tables: Day 0 per subject first, then every table."""

    def __init__(self, datasets: dict[str, _Dataset], report: ValidationReport, unusable: set[str] = frozenset(),
                 mapping: dict | None = None):
        self.datasets, self.report, self.unusable = datasets, report, unusable
        mapping = mapping or {}
        #: test code (upper case) -> the mapping's analyte, unit, specimen, label, kind for it
        self.tests = {str(code).strip().upper(): t for code, t in (mapping.get("tests") or {}).items() if t}
        #: response word (upper case) -> category, the mapping's words before the reader's own
        self.response_words = {**_RESPONSE_WORDS, **{str(w).strip().upper(): c for w, c in
                                                      ((mapping.get("values") or {}).get("response") or {}).items()}}
        self.parts: list[_Part] = []
        self.declared: dict[str, dict] = {}  # test code not in the catalogue -> its declaration
        self.reference = _no_reference()  # subject -> Day 0: its timestamp, and whether that has a time
        self.known: set[str] = set()  # subjects in DM / ADSL
        self.n_imputed = 0

    # -- shared steps -----------------------------------------------------------------------------------------------

    def _subjects_only(self, ds: _Dataset, table: str, listed_in: str, *, drop_undosed: bool = True) -> None:
        """Refuse records of subjects not in DM/ADSL; leave out those of subjects never dosed (the warning about
        them names the subjects)."""
        subject = ds.text("USUBJID")
        unknown = ~subject.isin(self.known)
        for index in unknown[unknown].index[:LISTED * 5]:
            self.report.error(ds.file, f"USUBJID '{subject[index]}' is not in {listed_in}", row=int(ds.frame.at[
                index, "_ROW"]), column="USUBJID", table=table)
        if unknown.sum() > LISTED * 5:
            self.report.error(ds.file, f"{unknown.sum() - LISTED * 5} more records of subjects not in {listed_in}",
                              column="USUBJID", table=table)
        ds.keep(subject.isin(self.reference.index) if drop_undosed else ~unknown)

    def _days_from_dates(self, ds: _Dataset, variable: str, table: str, *, end: bool) -> tuple[pd.Series, pd.Series]:
        """Days since the subject's first dose from an ISO 8601 --DTC or a SAS date/datetime (ADaM *DT, *DTM).

        Fractional when the record has a time: against the dose time, or midnight of the dosing date when the dose
        has no time. A date without time counts whole days between the two dates."""
        column = ds.frame[variable]
        index = ds.frame.index
        if pd.api.types.is_numeric_dtype(column):
            numbers = column.astype(float)
            with_time = variable.endswith("DTM")
            ts = SAS_EPOCH + pd.to_timedelta(numbers, unit="s" if with_time else "D")
            has_time = pd.Series(with_time, index=index) & numbers.notna()
            imputed = pd.Series("", index=index, dtype=object)
        else:
            parsed = parse_iso8601(ds.text(variable), end=end)
            for i in parsed.index[parsed["bad"].to_numpy()][:LISTED * 5]:
                self.report.error(ds.file, f"'{ds.text(variable)[i]}' is not an ISO 8601 date (YYYY-MM-DD, "
                                  "YYYY-MM-DDThh:mm, YYYY-MM or YYYY)", row=int(ds.frame.at[i, "_ROW"]),
                                  column=variable, table=table)
            ts, has_time, imputed = parsed["ts"], parsed["has_time"].astype(bool), parsed["imputed"]
        subject = ds.text("USUBJID")
        reference = self.reference.reindex(subject.to_numpy())
        ref_ts = pd.Series(reference["ts"].to_numpy(dtype="datetime64[ns]"), index=index)
        ref_has_time = pd.Series(reference["has_time"].eq(True).to_numpy(), index=index)
        base = ref_ts.where(has_time & ref_has_time, ref_ts.dt.normalize())
        sample = ts.where(has_time, ts.dt.normalize())
        days = (sample - base) / pd.Timedelta(days=1)
        return days.astype(float), imputed.where(days.notna(), "")

    def _timing(self, ds: _Dataset, variables: tuple[str, ...], table: str, *, end: bool = False,
                imputation_flags: dict[str, str] | None = None,
                given: dict[str, pd.Series] | None = None) -> tuple[pd.Series, pd.Series, str]:
        """Days (and the `date_imputed` flag) from the first usable of `variables` per record: days already worked
        out (`given`, e.g. from AFRLT), dates (--DTC, *DT, *DTM), or a study day (--DY, ADY) used only where no date
        is given. Returns the variable named in messages."""
        given = given or {}
        index = ds.frame.index
        days = pd.Series(np.nan, index=index)
        imputed = pd.Series("", index=index, dtype=object)
        present = [v for v in variables if ds.has(v) or v in given]
        for variable in present:
            missing = days.isna()
            if variable in given:
                found, found_imputed = given[variable], pd.Series("", index=index, dtype=object)
            elif variable.endswith("DY"):
                found = study_day_to_day(pd.to_numeric(ds.frame[variable], errors="coerce").astype(float))
                found_imputed = pd.Series("", index=index, dtype=object)
            else:
                found, found_imputed = self._days_from_dates(ds, variable, table, end=end)
                flag = (imputation_flags or {}).get(variable)
                if flag and ds.has(flag):
                    found_imputed = ds.upper(flag).map(_ADAM_IMPUTED).fillna("")
            take = missing & found.notna()
            days[take], imputed[take] = found[take], found_imputed[take]
        self.n_imputed += int((imputed != "").sum())
        return days, imputed, present[0] if present else variables[0]

    def _add(self, table: str, ds: _Dataset, columns: dict[str, pd.Series], sources: dict[str, str],
             keep: pd.Series | None = None) -> None:
        frame = pd.DataFrame({"_file": ds.file, "_row": ds.frame["_ROW"].to_numpy()}, index=ds.frame.index)
        for name, values in columns.items():
            frame[name] = values.to_numpy() if isinstance(values, pd.Series) else values
        if keep is not None:
            frame = frame[keep.to_numpy()]
        self.parts.append(_Part(table, frame.reset_index(drop=True), sources))

    def _qualifiers(self, domain: str, ds: _Dataset) -> pd.DataFrame:
        """SUPP-- qualifiers of `domain` as columns (QNAM) on the parent records, joined on USUBJID and IDVAR."""
        supp = self.datasets.get(f"supp{domain}")
        out = pd.DataFrame(index=ds.frame.index)
        if supp is None or supp.frame.empty:
            return out
        subject, idvar, idvarval = supp.text("USUBJID"), supp.upper("IDVAR"), supp.text("IDVARVAL")
        qnam, qval = supp.upper("QNAM"), supp.text("QVAL")
        for variable in idvar.unique():
            rows = idvar == variable
            key = subject[rows] + "\x1f" + (idvarval[rows] if variable else "")
            wide = (pd.DataFrame({"key": key, "qnam": qnam[rows], "qval": qval[rows]})
                    .drop_duplicates(["key", "qnam"]).pivot(index="key", columns="qnam", values="qval"))
            parent = ds.text("USUBJID") + "\x1f" + (ds.text(variable) if variable else "")
            joined = wide.reindex(parent.to_numpy())
            joined.index = ds.frame.index
            for name in joined.columns:
                values = joined[name].fillna("")
                out[name] = values if name not in out else out[name].where(out[name] != "", values)
        return out

    def _measurements(self, ds: _Dataset, *, prefix: str | None, kind: str, timing: tuple[str, ...],
                      imputation_flags: dict[str, str] | None = None,
                      given: dict[str, pd.Series] | None = None) -> None:
        """SDTM findings (prefix 'PC', 'LB', ...) or ADaM BDS (prefix None) records -> measurements."""
        v = (lambda s: f"{prefix}{s}") if prefix else None
        testcd_var = v("TESTCD") if v else "PARAMCD"
        label_var = v("TEST") if v else "PARAM"
        value_var = v("STRESN") if v else "AVAL"
        text_var = v("STRESC") if v else "AVALC"
        unit_var = v("STRESU") if v else "AVALU"
        lloq_var = v("LLOQ") if v else "ALLOQ"
        specimen_var = (v("SPEC") if v else ds.first("SPEC", "PCSPEC", "LBSPEC", "CPSPEC", "ISSPEC", "GFSPEC")
                        or next((c for c in ds.frame.columns if c.endswith("SPEC")), "SPEC"))
        if v and ds.has(v("STAT")):
            ds.keep(~ds.upper(v("STAT")).eq("NOT DONE"))
        table = "measurements"
        testcd = ds.text(testcd_var)
        codes = pd.Series(testcd.unique())
        mapped = {c: self.tests[c.upper()] for c in codes if c.upper() in self.tests}
        analyte_of = {c: (mapped[c].get("analyte") if c in mapped else None) or builtin_for_test_code(c) for c in codes}
        analyte = testcd.map(analyte_of)
        in_catalogue = analyte.isin(BUILTIN)
        analyte = analyte.where(analyte.notna(), testcd)
        unit = ds.text(unit_var)
        mapped_unit = {c: t["unit"] for c, t in mapped.items() if t.get("unit")}
        unit = unit.where(unit != "", testcd.map(mapped_unit).fillna(""))  # the mapping's unit where a record has none
        value = ds.text(value_var)
        stresc = ds.upper(text_var)
        blq = per_value(stresc, lambda u: u.str.contains(_BLQ_TEXT, regex=True)).astype(bool)
        if not v and ds.has("BLQFL"):
            blq = blq | ds.upper("BLQFL").eq("Y")
        lloq = ds.text(lloq_var)
        from_text = per_value(stresc, lambda u: u.str.extract(r"^<\s*=?\s*([0-9]*\.?[0-9]+(?:E[-+]?[0-9]+)?)\s*$",
                                                               expand=False).fillna(""))
        lloq = lloq.where(lloq != "", from_text)
        # a record without a number (BLQ, missing) often has no unit: it takes the test code's unit in the dataset
        units_given = pd.DataFrame({"code": testcd, "unit": unit})[unit != ""]
        usual = units_given.groupby("code")["unit"].agg(lambda u: u.mode().iloc[0]) if len(units_given) else {}
        no_number = (value == "") & (unit == "")
        unit = unit.where(~no_number, testcd.map(usual).fillna(""))
        specimen = ds.text(specimen_var)
        mapped_specimen = {c: t["specimen"] for c, t in mapped.items() if t.get("specimen")}
        specimen = specimen.where(specimen != "", testcd.map(mapped_specimen).fillna(""))
        single = {code: a.specimens[0] for code, a in BUILTIN.items() if len(a.specimens) == 1}
        specimen = specimen.where(specimen != "", analyte.map(single).fillna(""))
        drop = self._declare(ds, analyte, ~in_catalogue & (testcd != ""), unit, specimen, kind, label_var, unit_var)
        days, imputed, day_var = self._timing(ds, timing, table, imputation_flags=imputation_flags, given=given)
        self._add(table, ds, {
            "subject_id": ds.text("USUBJID"), "analyte": analyte, "specimen": specimen, "day": _number_text(days),
            "value": value, "unit": unit, "lloq": lloq, "blq": blq.map({True: "true", False: "false"}),
            "date_imputed": imputed},
            {"subject_id": "USUBJID", "analyte": testcd_var, "specimen": specimen_var, "day": day_var,
             "value": value_var, "unit": unit_var, "lloq": lloq_var, "blq": text_var}, keep=~drop)

    def _declare(self, ds: _Dataset, testcd: pd.Series, unknown: pd.Series, unit: pd.Series, specimen: pd.Series,
                 kind: str, label_var: str, unit_var: str) -> pd.Series:
        """Declare test codes the catalogue does not know (code as given, label, unit, kind); a code given in two
        units is an error naming the records, which are then left out (True in the returned mask)."""
        drop = pd.Series(False, index=ds.frame.index)
        if not unknown.any():
            return drop
        label = ds.text(label_var)
        spelling = unit.map({u: normalise_unit_spelling(u) for u in unit.unique()})
        for code, rows in testcd[unknown].groupby(testcd[unknown]).groups.items():
            given = spelling[rows][spelling[rows] != ""]
            declared = self.declared.get(code)
            # the declared unit is the one most records use (the first given on a tie)
            canonical = normalise_unit_spelling(declared["unit"]) if declared else (
                given.value_counts(sort=False).idxmax() if len(given) else "")
            usual = given.index[given == canonical]
            first = usual[0] if len(usual) else rows[0]
            other = given[given != canonical]
            for odd in other.unique():
                where = other.index[other == odd]
                numbers = ", ".join(str(int(ds.frame.at[i, "_ROW"])) for i in where[:LISTED])
                more = f" and {len(where) - LISTED} more" if len(where) > LISTED else ""
                self.report.error(ds.file, f"test code {code} is given in '{unit[where[0]]}' (records {numbers}"
                                  f"{more}) and in '{declared['unit'] if declared else unit[first]}', which do not "
                                  "convert: give one unit per test code", row=int(ds.frame.at[where[0], "_ROW"]),
                                  column=unit_var, table="measurements")
                drop[where] = True
            codes = {specimen_code(s) or s for s in specimen[rows].unique() if s}
            chosen = next((t for t in self.tests.values() if t.get("analyte") == code), {})
            if declared is None and not len(given) and not chosen.get("unit"):
                self.report.error(ds.file, f"test code {code} is not in the analyte catalogue and none of its "
                                  f"{len(rows):,} records gives a unit in {unit_var}: give the unit, or map the test "
                                  "code to an analyte and unit (docs/mapping.md)",
                                  row=int(ds.frame.at[rows[0], "_ROW"]), column=unit_var, table="measurements")
                drop[rows] = True
                continue
            if declared is None:
                self.declared[code] = {
                    "_file": ds.file, "_row": int(ds.frame.at[first, "_ROW"]), "code": code,
                    "label": chosen.get("label") or label[first] or code, "unit": chosen.get("unit") or unit[first],
                    "kind": chosen.get("kind") or kind,
                    "specimens": codes, "method": f"declared from {ds.name.upper()} {ds.file}",
                    "sources": {"code": "PARAMCD" if label_var == "PARAM" else f"{ds.name.upper()}TESTCD",
                                "label": label_var, "unit": unit_var}}
            else:
                declared["specimens"] |= codes
        return drop

    def _analytes_part(self) -> None:
        if not self.declared:
            return
        by_file: dict[str, list[dict]] = {}
        for code, d in self.declared.items():
            specimens = d["specimens"]
            by_file.setdefault(d["_file"], []).append({
                "_file": d["_file"], "_row": d["_row"], "code": code, "label": d["label"], "unit": d["unit"],
                "kind": d["kind"], "method": d["method"],
                # a specimen without a code word (two words, say) cannot be listed: blank = any specimen
                "specimens": " ".join(sorted(specimens)) if all(" " not in s for s in specimens) else ""})
        for rows in by_file.values():  # one part per dataset: its own variable names (LBTESTCD, PCTESTCD, PARAMCD)
            self.parts.append(_Part("analytes", pd.DataFrame(rows), self.declared[rows[0]["code"]]["sources"]))
        listed = ", ".join(sorted(self.declared))
        self.report.warning("(study)", f"{len(self.declared)} test code(s) not in the analyte catalogue were "
                            f"declared from the data (label, unit, kind): {listed}", table="analytes")

    def _adverse_events(self, ds: _Dataset, *, grade_vars: tuple[str, ...], severity_vars: tuple[str, ...],
                        start: tuple[str, ...], end: tuple[str, ...], related_vars: tuple[str, ...],
                        flags: dict[str, str] | None = None) -> None:
        table = "adverse_events"
        term, term_var = ds.coalesce("AEDECOD", "AETERM")
        grade, grade_var = ds.coalesce(*grade_vars)
        severity, severity_var = ds.coalesce(*severity_vars)
        from_severity = (grade == "") & (severity != "")
        if from_severity.any():
            grade = grade.where(~from_severity, severity.str.upper().map(_SEVERITY_GRADE).fillna(severity))
            self.report.warning(ds.file, f"{int(from_severity.sum())} event(s) have no toxicity grade "
                                f"({'/'.join(grade_vars)}): {severity_var} MILD/MODERATE/SEVERE was taken as grade "
                                "1/2/3", column=severity_var, table=table)
            if not (grade_var in ds.frame.columns and (ds.text(grade_var) != "").any()):
                grade_var = severity_var
        onset, onset_imputed, onset_var = self._timing(ds, start, table, imputation_flags=flags)
        resolution, resolution_imputed, resolution_var = self._timing(ds, end, table, end=True,
                                                                      imputation_flags=flags)
        related, related_var = ds.coalesce(*related_vars)
        related = related.str.upper().map(_RELATED).fillna(related)
        imputed = onset_imputed.where(onset_imputed != "", resolution_imputed)
        self._add(table, ds, {
            "subject_id": ds.text("USUBJID"), "term": term, "grade": grade, "onset_day": _number_text(onset),
            "resolution_day": _number_text(resolution), "serious": ds.text("AESER"), "related": related,
            "date_imputed": imputed},
            {"subject_id": "USUBJID", "term": term_var, "grade": grade_var, "onset_day": onset_var,
             "resolution_day": resolution_var, "serious": "AESER", "related": related_var})

    def _responses(self, ds: _Dataset, response: pd.Series, response_var: str, mrd: pd.Series, mrd_var: str,
                   timing: tuple[str, ...], flags: dict[str, str] | None = None,
                   qualifiers: pd.DataFrame | None = None) -> None:
        """Assessments; `qualifiers` (SUPPRS other than the MRD status) become extra columns named by QNAM."""
        table = "responses"
        mapped = response.str.upper().str.strip().map(self.response_words).fillna(response)
        days, imputed, day_var = self._timing(ds, timing, table, imputation_flags=flags)
        columns = {"subject_id": ds.text("USUBJID"), "day": _number_text(days), "response": mapped,
                   "mrd_negative": mrd, "date_imputed": imputed}
        for name in (qualifiers.columns if qualifiers is not None else ()):
            columns.setdefault(name.lower(), qualifiers[name])
        self._add(table, ds, columns,
                  {"subject_id": "USUBJID", "day": day_var, "response": response_var, "mrd_negative": mrd_var})

    def _medications(self, ds: _Dataset, start: tuple[str, ...], end: tuple[str, ...],
                     flags: dict[str, str] | None = None) -> None:
        table = "concomitant_medications"
        drug, drug_var = ds.coalesce("CMDECOD", "CMTRT")
        start_day, start_imputed, start_var = self._timing(ds, start, table, imputation_flags=flags)
        end_day, end_imputed, end_var = self._timing(ds, end, table, end=True, imputation_flags=flags)
        self._add(table, ds, {"subject_id": ds.text("USUBJID"), "drug": drug, "start_day": _number_text(start_day),
                              "end_day": _number_text(end_day), "indication": ds.text("CMINDC"),
                              "date_imputed": start_imputed.where(start_imputed != "", end_imputed)},
                  {"subject_id": "USUBJID", "drug": drug_var, "start_day": start_var, "end_day": end_var,
                   "indication": "CMINDC"})

    def _leave_out_undosed(self, ds: _Dataset, dosed: pd.Series, why: str, listed_in: str) -> pd.Series:
        """Warn about subjects in DM/ADSL never dosed (screen failures); returns the dosed ones' mask."""
        subject = ds.text("USUBJID")
        left_out = sorted(set(subject[~dosed & (subject != "")]))
        if left_out:
            names = ", ".join(left_out[:LISTED]) + (f" and {len(left_out) - LISTED} more" if len(left_out) > LISTED
                                                     else "")
            self.report.warning(ds.file, f"{len(left_out)} subject(s) in {listed_in} {why} and are left out, with "
                                f"their records in other datasets: {names}", column="USUBJID", table="subjects")
        return dosed

    def _latest_days(self) -> pd.Series:
        """Per subject the latest day any record gives (last contact when nothing better is known)."""
        days = []
        for part in self.parts:
            for column in ("day", "onset_day", "resolution_day", "start_day", "end_day"):
                if column in part.frame and "subject_id" in part.frame:
                    days.append(pd.DataFrame({"subject_id": part.frame["subject_id"],
                                              "day": pd.to_numeric(part.frame[column], errors="coerce")}))
        if not days:
            return pd.Series(dtype=float)
        return pd.concat(days).groupby("subject_id")["day"].max()

    def _tables(self) -> dict[str, pd.DataFrame]:
        """Parts joined per table, in the format's table order, with the variables behind each column."""
        tables = {}
        for table in TABLES:
            parts = [p for p in self.parts if p.table == table]
            if not parts:
                continue
            frame = pd.concat([p.frame for p in parts], ignore_index=True)
            frame.fillna("", inplace=True)
            frame.attrs["file"] = ", ".join(dict.fromkeys(p.frame["_file"].iloc[0] for p in parts if len(p.frame)))\
                or table
            frame.attrs["source_columns"] = dict(parts[0].sources)
            frame.attrs["source_columns_by_file"] = {}
            for p in parts:
                for file in p.frame["_file"].unique():
                    frame.attrs["source_columns_by_file"].setdefault(file, {}).update(p.sources)
            tables[table] = frame
        if "measurements" not in tables and self.report.ok:
            self.report.error("(study)", "no measurements: give PC, CP, LB, IS or GF (SDTM) or ADPC or ADLB (ADaM) "
                              "with records of dosed subjects", table="measurements")
        for table in ("adverse_events", "responses"):
            if table not in tables and self.report.ok:
                self.report.warning("(study)", f"no '{table}' data: the study is stored without it", table=table)
        if self.n_imputed:
            self.report.warning("(study)", f"{self.n_imputed} partial date(s) were imputed (start dates to the first "
                                "day of the month or year, end dates to the last); those rows have date_imputed "
                                "'day' or 'month'")
        return tables

    def _missing(self, dataset: str, why: str, table: str) -> bool:
        """True (and an error, unless the dataset was given and its problem already reported) when it is absent."""
        if dataset in self.datasets:
            return False
        if dataset not in self.unusable:
            self.report.error("(study)", f"no {dataset.upper()} dataset: {why}", table=table)
        return True

    # -- SDTM -------------------------------------------------------------------------------------------------------

    def sdtm(self) -> dict[str, pd.DataFrame]:
        missing_dm = self._missing("dm", "subjects come from DM (USUBJID, ARM, AGE, SEX, ...)", "subjects")
        missing_ex = self._missing("ex", "Day 0 is the first dose (EXSTDTC of the first EX record)", "subjects")
        if missing_dm or missing_ex:
            return {}
        dm, ex = self.datasets["dm"], self.datasets["ex"]
        self.known = set(dm.text("USUBJID")) - {""}
        self._subjects_only(ex, "subjects", "DM", drop_undosed=False)
        car_t = ~ex.text("EXTRT").str.lower().str.contains("|".join(LYMPHODEPLETION), regex=True)
        ex.keep(car_t)
        parsed = parse_iso8601(ex.text("EXSTDTC"))
        for i in parsed.index[parsed["bad"].to_numpy()]:
            self.report.error(ex.file, f"'{ex.text('EXSTDTC')[i]}' is not an ISO 8601 date", row=int(ex.frame.at[
                i, "_ROW"]), column="EXSTDTC", table="subjects")
        doses = pd.DataFrame({"subject": ex.text("USUBJID"), "ts": parsed["ts"], "has_time": parsed["has_time"]})
        first = doses.dropna(subset=["ts"]).sort_values("ts", kind="stable").drop_duplicates("subject")
        self.reference = first.set_index("subject")[["ts", "has_time"]]
        self.n_imputed += int((parsed["imputed"] != "").sum())
        subject = dm.text("USUBJID")
        dosed = self._leave_out_undosed(dm, subject.isin(self.reference.index), "have no EX record with an "
                                        "EXSTDTC (screen failures or not treated)", "DM")
        for name in SDTM_FINDINGS:
            if name in self.datasets:
                ds = self.datasets[name]
                self._subjects_only(ds, "measurements", "DM")
                self._measurements(ds, prefix=name.upper(), kind="cell_kinetics" if name == "pc" else "biomarker",
                                   timing=(f"{name.upper()}DTC", f"{name.upper()}DY"))
        if "ae" in self.datasets:
            ae = self.datasets["ae"]
            self._subjects_only(ae, "adverse_events", "DM")
            self._adverse_events(ae, grade_vars=("AETOXGR",), severity_vars=("AESEV",), start=("AESTDTC", "AESTDY"),
                                 end=("AEENDTC", "AEENDY"), related_vars=("AEREL",))
        if "rs" in self.datasets:
            rs = self.datasets["rs"]
            self._subjects_only(rs, "responses", "DM")
            category = rs.upper("RSCAT")  # blank when RSCAT is absent
            category_ok = category.str.contains("IMWG") | category.eq("")
            rs.keep(rs.upper("RSTESTCD").eq("OVRLRESP") & category_ok)
            response, response_var = rs.coalesce("RSSTRESC", "RSORRES")
            qualifiers = self._qualifiers("rs", rs)
            mrd = qualifiers.pop(MRD_QUALIFIER) if MRD_QUALIFIER in qualifiers else pd.Series("", index=rs.frame.index)
            self._responses(rs, response, response_var, mrd, f"SUPPRS.QNAM={MRD_QUALIFIER}", ("RSDTC", "RSDY"),
                            qualifiers=qualifiers)
        if "cm" in self.datasets:
            cm = self.datasets["cm"]
            self._subjects_only(cm, "concomitant_medications", "DM")
            self._medications(cm, ("CMSTDTC", "CMSTDY"), ("CMENDTC", "CMENDY"))
        for name, ds in self.datasets.items():
            if name.startswith("supp"):
                self._subjects_only(ds, "subjects", "DM")
        self._analytes_part()
        dm.keep(dosed)
        death_day, _, _ = self._timing(dm, ("DTHDTC",), "subjects")
        end_day, _, _ = self._timing(dm, ("RFPENDTC",), "subjects")
        last_var = "RFPENDTC"
        self._dead_without_date(dm, death_day, "DTHFL", "DTHDTC")
        dose_level, dose_var = dm.coalesce("ACTARM", "ARM")
        self._subjects(dm, dose_level, dose_var, death_day, "DTHDTC", end_day, last_var, self._qualifiers("dm", dm))
        return self._tables()

    def _dead_without_date(self, ds: _Dataset, death_day: pd.Series, flag: str, date_var: str) -> None:
        unknown = ds.upper(flag).eq("Y") & death_day.isna()
        if unknown.any():
            names = ", ".join(ds.text("USUBJID")[unknown].tolist()[:LISTED])
            self.report.warning(ds.file, f"{int(unknown.sum())} subject(s) have {flag} = Y but no {date_var}: stored "
                                f"without a death day: {names}", column=date_var, table="subjects")

    def _subjects(self, ds: _Dataset, dose_level: pd.Series, dose_var: str, death_day: pd.Series, death_var: str,
                  last_day: pd.Series, last_var: str, covariates: pd.DataFrame) -> None:
        """Last contact: the given date, else the death day, else the latest day any record of the subject has (Day 0,
        the dose, at the least)."""
        subject = ds.text("USUBJID")
        latest = subject.map(self._latest_days()).fillna(0.0).clip(lower=0.0)
        last = last_day.where(last_day.notna(), death_day.where(death_day.notna(), latest))
        columns = {"subject_id": subject, "dose_level": dose_level, "age": ds.text("AGE"), "sex": ds.text("SEX"),
                   "last_contact_day": _number_text(last), "death_day": _number_text(death_day)}
        for name in covariates.columns:
            if name.lower() not in columns and name.lower() not in ("_file", "_row"):
                columns[name.lower()] = covariates[name]
        self._add("subjects", ds, columns, {"subject_id": "USUBJID", "dose_level": dose_var, "age": "AGE",
                                            "sex": "SEX", "last_contact_day": last_var, "death_day": death_var})

    # -- ADaM -------------------------------------------------------------------------------------------------------

    def adam(self) -> dict[str, pd.DataFrame]:
        if self._missing("adsl", "subjects and Day 0 (TRTSDTM/TRTSDT) come from ADSL", "subjects"):
            return {}
        adsl = self.datasets["adsl"]
        subject = adsl.text("USUBJID")
        self.known = set(subject) - {""}
        start = pd.Series(pd.NaT, index=adsl.frame.index, dtype="datetime64[ns]")
        has_time = pd.Series(False, index=adsl.frame.index)
        for variable in ("TRTSDTM", "TRTSDT"):
            if adsl.has(variable):
                ts, with_time = self._adam_datetime(adsl, variable, "subjects")
                take = start.isna() & ts.notna()
                start, has_time = start.where(~take, ts), has_time.where(~take, with_time).eq(True)
        self.reference = pd.DataFrame({"ts": start, "has_time": has_time}).set_index(subject)
        self.reference = self.reference[self.reference["ts"].notna() & (self.reference.index != "")]
        self.reference = self.reference[~self.reference.index.duplicated()]
        dosed = self._leave_out_undosed(adsl, subject.isin(self.reference.index), "have no TRTSDT (never dosed: "
                                        "screen failures or not treated)", "ADSL")
        for name in ("adpc", "adlb", "adae", "adrs", "adcm", "adtte"):
            if name in self.datasets:
                ds = self.datasets[name]
                if ds.has("DTYPE"):  # derived records (COPY, HALFLLOQ, LOCF, ...) are not observations
                    ds.keep(ds.text("DTYPE").eq(""))
                if ds.has("ANL01FL"):
                    ds.keep(ds.upper("ANL01FL").eq("Y"))
        bds_flags = {"ADT": "ADTF", "ADTM": "ADTF", "ASTDT": "ASTDTF", "ASTDTM": "ASTDTF", "AENDT": "AENDTF",
                     "AENDTM": "AENDTF"}
        for name in ("adpc", "adlb"):
            if name in self.datasets:
                ds = self.datasets[name]
                self._subjects_only(ds, "measurements", "ADSL")
                self._adam_measurements(ds, "cell_kinetics" if name == "adpc" else "biomarker", bds_flags)
        if "adae" in self.datasets:
            adae = self.datasets["adae"]
            self._subjects_only(adae, "adverse_events", "ADSL")
            self._adverse_events(adae, grade_vars=("ATOXGR", "AETOXGR"), severity_vars=("ASEV", "AESEV"),
                                 start=("ASTDTM", "ASTDT", "AESTDTC", "ASTDY"), end=("AENDTM", "AENDT", "AEENDTC",
                                                                                     "AENDY"),
                                 related_vars=("AREL", "AEREL"), flags=bds_flags)
        if "adrs" in self.datasets:
            adrs = self.datasets["adrs"]
            self._subjects_only(adrs, "responses", "ADSL")
            adrs.keep(adrs.upper("PARAMCD").isin(["OVR", "OVRLRESP"]))  # BOR and others summarise, not assess
            response, response_var = adrs.coalesce("AVALC")
            self._responses(adrs, response, response_var, adrs.text(MRD_QUALIFIER), MRD_QUALIFIER,
                            ("ADTM", "ADT", "ADY"), bds_flags)
        if "adcm" in self.datasets:
            adcm = self.datasets["adcm"]
            self._subjects_only(adcm, "concomitant_medications", "ADSL")
            self._medications(adcm, ("ASTDTM", "ASTDT", "CMSTDTC", "ASTDY"), ("AENDTM", "AENDT", "CMENDTC", "AENDY"),
                              bds_flags)
        if "adtte" in self.datasets:
            self._subjects_only(self.datasets["adtte"], "time_to_event", "ADSL")
            self._time_to_event(self.datasets["adtte"])
        self._analytes_part()
        adsl.keep(dosed)
        death_day, _, _ = self._timing(adsl, ("DTHDT", "DTHDTC"), "subjects")
        alive_day, _, last_var = self._timing(adsl, ("LSTALVDT",), "subjects")
        self._dead_without_date(adsl, death_day, "DTHFL", "DTHDT")
        dose_level, dose_var = adsl.coalesce("TRT01A", "TRT01P", "ACTARM", "ARM")
        self._subjects(adsl, dose_level, dose_var, death_day, "DTHDT", alive_day, last_var,
                       self._adsl_covariates(adsl))
        return self._tables()

    def _adam_datetime(self, ds: _Dataset, variable: str, table: str) -> tuple[pd.Series, pd.Series]:
        """A SAS date (*DT, days since 1960) or datetime (*DTM, seconds), or ISO text, as a timestamp."""
        column = ds.frame[variable]
        if pd.api.types.is_numeric_dtype(column):
            with_time = variable.endswith("DTM")
            ts = SAS_EPOCH + pd.to_timedelta(column.astype(float), unit="s" if with_time else "D")
            return ts, pd.Series(with_time, index=ds.frame.index) & ts.notna()
        parsed = parse_iso8601(ds.text(variable))
        for i in parsed.index[parsed["bad"].to_numpy()]:
            self.report.error(ds.file, f"'{ds.text(variable)[i]}' is not a date", row=int(ds.frame.at[i, "_ROW"]),
                              column=variable, table=table)
        return parsed["ts"], parsed["has_time"].astype(bool)

    def _adam_measurements(self, ds: _Dataset, kind: str, flags: dict[str, str]) -> None:
        """AFRLT (with its unit FRLTU/RRLTU) is the time since first dose; else ADTM/ADT, else ADY."""
        timing, given = ("ADTM", "ADT", "ADY"), {}
        if ds.has("AFRLT"):
            unit_var = ds.first("FRLTU", "RRLTU", "AFRLTU")
            hours = pd.to_numeric(ds.frame["AFRLT"], errors="coerce").astype(float)
            unit = ds.upper(unit_var) if unit_var else pd.Series("", index=ds.frame.index)
            factor = unit.map(_DAYS_PER_UNIT)
            bad = hours.notna() & factor.isna()
            for odd in unit[bad].unique():
                rows = bad & unit.eq(odd)
                self.report.error(ds.file, f"AFRLT has unit '{odd}' ({int(rows.sum())} records); expected MINUTES, "
                                  "HOURS, DAYS or WEEKS" if odd else
                                  f"AFRLT is given without its unit (FRLTU or RRLTU) in {int(rows.sum())} records",
                                  row=int(ds.frame.loc[rows, "_ROW"].iloc[0]),
                                  column=unit_var or "FRLTU", table="measurements")
            given = {"AFRLT": hours * factor}
            timing = ("AFRLT", *timing)
        self._measurements(ds, prefix=None, kind=kind, timing=timing, imputation_flags=flags, given=given)

    def _time_to_event(self, ds: _Dataset) -> None:
        """ADTTE PFS/OS/DOR: AVAL in AVALU (days when not given), CNSR 0 = event."""
        endpoint = ds.upper("PARAMCD")
        others = sorted(set(endpoint) - {"PFS", "OS", "DOR", ""})
        if others:
            self.report.warning(ds.file, "ADTTE parameters other than PFS, OS and DOR are not used: "
                                f"{', '.join(others)}",
                                column="PARAMCD", table="time_to_event")
        ds.keep(endpoint.isin(["PFS", "OS", "DOR"]))
        aval = pd.to_numeric(ds.frame["AVAL"], errors="coerce").astype(float) if ds.has("AVAL") else \
            pd.Series(np.nan, index=ds.frame.index)
        unit = ds.upper("AVALU").where(ds.upper("AVALU") != "", "DAYS")
        factor = unit.map(_DAYS_PER_UNIT)
        for odd in unit[factor.isna()].unique():
            rows = factor.isna() & unit.eq(odd)
            self.report.error(ds.file, f"AVALU '{odd}' is not a time unit ({int(rows.sum())} records); expected DAYS, "
                              "WEEKS, MONTHS, YEARS or HOURS", row=int(ds.frame.loc[rows, "_ROW"].iloc[0]),
                              column="AVALU", table="time_to_event")
        cnsr = ds.text("CNSR")
        event = cnsr.map({"0": "true", "1": "false"}).fillna(cnsr)
        self._add("time_to_event", ds, {"subject_id": ds.text("USUBJID"), "endpoint": ds.upper("PARAMCD"),
                                        "day": _number_text(aval * factor), "event": event},
                  {"subject_id": "USUBJID", "endpoint": "PARAMCD", "day": "AVAL", "event": "CNSR"})

    def _adsl_covariates(self, adsl: _Dataset) -> pd.DataFrame:
        """ADSL variables beyond identifiers, treatment, dates and population flags (*FL), as covariates."""
        names = [c for c in adsl.frame.columns if c not in _ADSL_NOT_COVARIATES and not c.startswith("_")
                 and not c.endswith(("DT", "DTM", "DTC", "TM", "DTF", "TMF", "DY", "FL"))
                 and not c.startswith(("TRT", "RF"))]
        return pd.DataFrame({name: adsl.text(name) for name in names}, index=adsl.frame.index)
