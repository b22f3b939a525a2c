"""Turn raw text tables into a typed Study, reporting every problem at once.

Each rule adds an Issue naming file, row, column and a plain reason; nothing raises. Row numbers
are those a spreadsheet program shows (header = row 1). See docs/data-format.md for the rules.
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from data_access.catalogue import BUILTIN, KINDS, Catalogue, specimen_code
from data_access.readers import RESERVED_COLUMNS, RawStudy
from data_access.report import ValidationReport
from data_access.schema import (
    FALSE_WORDS,
    RESPONSES,
    SEXES,
    TABLE_SPECS,
    TERM_ALIASES,
    TIME_TO_EVENT_ENDPOINTS,
    TRUE_WORDS,
    is_computed_column,
)
from data_access.store import text_limits
from data_access.study import COLUMNS, STUDY_TABLES, Study, declared_analytes, empty_table

BLANKS = frozenset({"", "na", "n/a", "nan", "null", "none", "."})
_RESPONSE_BY_LOWER = {r.lower(): r for r in RESPONSES}
_SEX_BY_SPELLING = {s: code for code, spellings in SEXES.items() for s in spellings}
#: Longest follow-up a trial can have, in days (a bound that keeps absurd numbers out of every page).
MAX_DAY = 36_525.0
#: Largest magnitude of any other number (values, LLOQs, ages, covariates): far beyond any assay, finite on every page.
MAX_VALUE = 1e15
#: Characters no cell may hold (C0 and C1 controls, DEL; tab and line breaks only outside ids: `ID_COLUMNS`).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
ID_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
ID_COLUMNS = frozenset({"subject_id"})
#: Invisible characters dropped from every cell (zero-width space, non-joiner, joiner, word joiner, BOM).
ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
#: An analyte code: a letter, then letters, digits, '_', '.' or '-', as long as the store's code column holds.
ANALYTE_CODE_LENGTH = text_limits("analytes")["code"]
ANALYTE_CODE = rf"^[A-Za-z][A-Za-z0-9_.\-]{{0,{ANALYTE_CODE_LENGTH - 1}}}$"
#: Prefix of hidden per-row columns naming the user's column behind a value (data_access/mapping.py, wide exports).
SOURCE_PREFIX = "_source_"


class _Table:
    """A raw table under validation: its frame and a shortcut for reporting against its rows."""

    def __init__(self, name: str, frame: pd.DataFrame, report: ValidationReport, source_columns: dict | None = None,
                 source_columns_by_file: dict[str, dict] | None = None):
        self.name, self.frame, self.report = name, frame, report
        #: CARTscope column -> the variable it came from (CDISC or mapped input), so messages name what the user has.
        self.source_columns = source_columns or {}
        #: The same per file, for a table gathered from several datasets (PC's PCSTRESN, LB's LBSTRESN).
        self.source_columns_by_file = source_columns_by_file or {}
        self._text: dict[str, pd.Series] = {}
        self._blank: dict[str, pd.Series] = {}
        self._control: dict[str, pd.Series] = {}  # the first control character of each cell, where any has one

    def _column(self, column: str | None, file: str | None = None, index=None) -> str | None:
        """The user's name for `column`: per row (`_source_<column>`, a wide export's analyte column), per file, per
        table, else the CARTscope name."""
        if not column:
            return column
        source = f"{SOURCE_PREFIX}{column}"
        if index is not None and source in self.frame.columns and self.frame.at[index, source]:
            return self.frame.at[index, source]
        return self.source_columns_by_file.get(file, {}).get(column) or self.source_columns.get(column, column)

    def error(self, index, column: str | None, message: str) -> None:
        self._issue(self.report.error, index, column, message)

    def warning(self, index, column: str | None, message: str) -> None:
        self._issue(self.report.warning, index, column, message)

    def _issue(self, add, index, column: str | None, message: str) -> None:
        file = self.frame.at[index, "_file"]
        add(file, message, row=int(self.frame.at[index, "_row"]), column=self._column(column, file, index),
            table=self.name)

    def text(self, column: str) -> pd.Series:
        """The column's cells as stripped text (computed once per column, on its distinct values)."""
        if column not in self._text:
            codes, uniques = pd.factorize(self.frame[column], use_na_sentinel=False)
            stripped = pd.Index([v if v.isascii() else clean_text(v) for v in pd.Index(uniques).astype(str)],
                                dtype=object).str.strip()
            self._text[column] = pd.Series(np.asarray(stripped, dtype=object)[codes], index=self.frame.index)
            self._blank[column] = pd.Series(stripped.str.lower().isin(BLANKS)[codes], index=self.frame.index)
            pattern = ID_CONTROL if column in ID_COLUMNS else CONTROL
            if pattern.search("".join(stripped)):  # rare: then find the cells
                found = [match.group() if (match := pattern.search(v)) else "" for v in stripped]
                self._control[column] = pd.Series(np.asarray(found, dtype=object)[codes], index=self.frame.index)
        return self._text[column]

    def forget_text(self) -> None:
        self._text.clear()
        self._blank.clear()
        self._control.clear()

    def blank(self, column: str) -> pd.Series:
        self.text(column)
        return self._blank[column]

    def characters(self, column: str) -> None:
        """An error for each cell of `column` holding a control character (the database and the pages need text)."""
        text = self.text(column)
        if column not in self._control:  # the usual case: no cell of the column has one
            return
        found = self._control[column]
        for index in found[found != ""].index:
            self.error(index, column, f"'{shown(text[index])}' contains a control character "
                       f"(U+{ord(found[index]):04X})")

    def lengths(self, out: pd.DataFrame) -> None:
        """An error for each text longer than the store's column holds (the same limit on every database)."""
        for column, limit in text_limits(self.name).items():
            if column in out and out[column].dtype == object:
                long = [v for v in pd.unique(out[column]) if isinstance(v, str) and len(v) > limit]
                for index in out.index[out[column].isin(long)]:
                    self.error(index, column, f"{column} is {len(out.at[index, column]):,} characters long; at "
                               f"most {limit} are allowed")

    def required_text(self, column: str) -> pd.Series:
        blank = self.blank(column)
        for index in blank[blank].index:
            self.error(index, column, "required value is blank")
        return self.text(column).where(~blank)

    def required_choice(self, column: str, allowed, normalise) -> pd.Series:
        """A required column of a controlled vocabulary: `normalise`d text where it is one of `allowed`, else None
        with an error naming the value and the choices."""
        values = self.required_text(column).map(lambda v: normalise(v) if isinstance(v, str) else v)
        wrong = values.notna() & ~values.isin(allowed)
        for index in wrong[wrong].index:
            self.error(index, column, f"{column} '{values[index]}' is not one of {', '.join(allowed)}")
        return values.where(~wrong)

    def numbers(self, column: str, *, required: bool, minimum: float | None = None, days: bool = False) -> pd.Series:
        text, blank = self.text(column), self.blank(column)
        with np.errstate(invalid="ignore"):
            values = pd.to_numeric(text.where(~blank), errors="coerce").astype(float)
        bad = ~blank & ~np.isfinite(values)
        what = "a number of days since infusion" if days else "a number"
        for index in bad[bad].index:
            self.error(index, column, f"'{text[index]}' is not {what}")
        if days:  # finite but beyond any trial's follow-up: refused, so no page ever shows "Day 1e+308"
            far = ~bad & (values.abs() > MAX_DAY)
            for index in far[far].index:
                self.error(index, column, f"day {text[index]} is outside ±{MAX_DAY:,.0f} days (100 years)")
        else:
            far = self.too_large(column, values.where(~bad))
        bad = bad | far
        if required:
            for index in blank[blank].index:
                self.error(index, column, "required value is blank")
        if minimum is not None:
            low = values < minimum
            for index in low[low].index:
                self.error(index, column, f"negative value {text[index]} is not allowed")
        return values.where(~bad)

    def too_large(self, column: str, values: pd.Series) -> pd.Series:
        """Errors for finite numbers beyond ±MAX_VALUE; the rows that have one."""
        far = values.abs() > MAX_VALUE
        for index in far[far].index:
            self.error(index, column, f"{self.text(column)[index]} is beyond ±{MAX_VALUE:,.0f}, the largest number "
                       "accepted")
        return far

    def flags(self, column: str) -> pd.Series:
        """True/False/None from yes/no-like words; None where blank or the column is absent."""
        if column not in self.frame:
            return pd.Series([None] * len(self.frame), index=self.frame.index, dtype=object)
        text, blank = self.text(column).str.lower(), self.blank(column)
        result = pd.Series([None] * len(text), index=text.index, dtype=object)
        result[text.isin(TRUE_WORDS)] = True
        result[text.isin(FALSE_WORDS)] = False
        bad = ~blank & result.isna()
        for index in bad[bad].index:
            self.error(index, column, f"'{self.frame.at[index, column]}' is not true or false")
        return result


def validate(raw: RawStudy, name: str) -> tuple[Study | None, ValidationReport]:
    """Validate raw tables; return the Study (None when there are errors) and the full report."""
    report = ValidationReport()
    report.extend(raw.report)
    tables: dict[str, _Table] = {}
    for table, frame in raw.tables.items():
        missing = [c for c in TABLE_SPECS[table].required if c not in frame.columns]
        file = frame.attrs.get("file", table)
        sources = dict(frame.attrs.get("source_columns", {}))
        for column in missing:
            report.error(file, f"missing required column '{sources.get(column, column)}'", row=1,
                         column=sources.get(column, column), table=table)
        if missing:
            continue
        if table in ("subjects", "measurements") and frame.empty:
            report.error(file, "the table has a header but no rows", table=table)
            continue
        plain_index = isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1
        tables[table] = _Table(table, frame if plain_index else frame.reset_index(drop=True), report, sources,
                               frame.attrs.get("source_columns_by_file"))

    parsed: dict[str, pd.DataFrame] = {}
    if "analytes" in tables:
        parsed["analytes"] = _analytes(tables["analytes"])
    catalogue = Catalogue(declared_analytes(parsed["analytes"].dropna(subset=["code", "label", "unit", "kind"]))
                          if "analytes" in parsed else ())
    parsers = {"subjects": _subjects, "measurements": lambda t: _measurements(t, catalogue),
               "adverse_events": _adverse_events, "responses": _responses,
               "concomitant_medications": _concomitant_medications, "time_to_event": _time_to_event}
    for table, parse in parsers.items():
        if table in tables:
            parsed[table] = parse(tables[table])
    for table, t in tables.items():
        for column in t.frame.columns:
            if column not in RESERVED_COLUMNS and not column.startswith(SOURCE_PREFIX):
                t.characters(column)
        t.lengths(parsed[table])
    if "subjects" in parsed:
        _cross_checks(parsed, tables)
    if not report.ok:
        return None, report
    for t in tables.values():  # the text of every column, no longer needed: memory for the finished tables
        t.forget_text()
    study = Study(
        name=name,
        **{t: _finish(parsed[t], tables[t]) if t in parsed else empty_table(t) for t in STUDY_TABLES},
    )
    return study, report


def _extras(table: _Table) -> pd.DataFrame:
    """Columns beyond the format's known ones, kept as covariates with an inferred type."""
    known = set(TABLE_SPECS[table.name].known) | set(RESERVED_COLUMNS)
    extras = {}
    for column in [c for c in table.frame.columns if c not in known and not c.startswith(SOURCE_PREFIX)]:
        if table.name == "subjects" and is_computed_column(column):
            table.report.error(table.frame["_file"].iloc[0], f"column '{column}' is computed by CARTscope from the "
                               "study; rename the covariate", row=1, column=table._column(column), table=table.name)
            continue
        if ID_CONTROL.search(column):
            table.report.error(table.frame["_file"].iloc[0], f"column name '{shown(column)}' contains a control "
                               "character", row=1, column=shown(column), table=table.name)
            continue
        text, blank = table.text(column), table.blank(column)
        numbers = pd.to_numeric(text.where(~blank), errors="coerce")
        lower = text.str.lower()
        if (numbers.notna() | blank).all() and (~blank).any():
            infinite = numbers.notna() & ~np.isfinite(numbers)
            for index in infinite[infinite].index:
                table.error(index, column, f"'{text[index]}' is not a finite number")
            table.too_large(column, numbers.where(~infinite))
            extras[column] = numbers.astype(float)
        elif (lower.isin(TRUE_WORDS | FALSE_WORDS) | blank).all() and (~blank).any():
            extras[column] = lower.map(lambda w: True if w in TRUE_WORDS else False if w in FALSE_WORDS else None)
        else:
            extras[column] = text.where(~blank)
    return pd.DataFrame(extras, index=table.frame.index)


def _subjects(t: _Table) -> pd.DataFrame:
    out = pd.DataFrame(index=t.frame.index)
    out["subject_id"] = t.required_text("subject_id")
    out["dose_level"] = t.required_text("dose_level")
    out["age"] = t.numbers("age", required=False, minimum=0)
    sex_text = t.text("sex")
    sex = sex_text.str.lower().map(_SEX_BY_SPELLING)
    unknown = ~t.blank("sex") & sex.isna()
    for index in unknown[unknown].index:
        t.error(index, "sex", f"unknown sex '{sex_text[index]}'; expected M, F or U")
    out["sex"] = sex
    out["last_contact_day"] = t.numbers("last_contact_day", required=True, days=True)
    out["death_day"] = t.numbers("death_day", required=False, days=True)
    for column in ("last_contact_day", "death_day"):
        before = out[column] < 0
        for index in before[before].index:
            t.error(index, column, f"{column} {t.text(column)[index]} is before infusion (day 0); "
                    "only infused subjects belong in the study")
    after = out["last_contact_day"] > out["death_day"]
    for index in after[after].index:
        t.error(index, "last_contact_day", f"last contact on day {_fmt(out.at[index, 'last_contact_day'])} "
                f"is after death on day {_fmt(out.at[index, 'death_day'])}")
    ids = out["subject_id"]
    duplicated = ids.notna() & ids.duplicated(keep="first")
    first_row = {sid: int(t.frame.at[i, "_row"]) for i, sid in ids[~duplicated & ids.notna()].items()}
    for index in duplicated[duplicated].index:
        t.error(index, "subject_id", f"subject_id '{shown(ids[index])}' appears again (first at row "
                f"{first_row[ids[index]]})")
    first_by_case: dict[str, str] = {}
    for index, sid in ids[~duplicated & ids.notna()].items():
        first = first_by_case.setdefault(sid.casefold(), sid)
        if first != sid:
            t.warning(index, "subject_id", f"subject_id '{shown(sid)}' differs from '{shown(first)}' (row "
                      f"{first_row[first]}) only in case: are they the same patient?")
    return out.join(_extras(t))


def _analytes(t: _Table) -> pd.DataFrame:
    """A study's analyte declarations: code, label, canonical unit, kind, specimens (space-separated; blank = any)."""
    out = pd.DataFrame(index=t.frame.index)
    code = t.required_text("code")
    bad_code = code.notna() & ~code.fillna("").str.match(ANALYTE_CODE)
    for index in bad_code[bad_code].index:
        t.error(index, "code", f"analyte code '{code[index]}' must start with a letter and use only letters, digits, "
                f"'_', '.' or '-' (at most {ANALYTE_CODE_LENGTH} characters)")
    out["code"] = code.where(~bad_code)
    out["label"] = t.required_text("label")
    out["unit"] = t.required_text("unit")
    out["kind"] = t.required_choice("kind", KINDS, str.lower)
    specimens = []
    for text in (t.text("specimens") if "specimens" in t.frame else pd.Series("", index=out.index)):
        words = [w for w in text.replace(",", " ").replace(";", " ").split() if w.lower() not in BLANKS]
        specimens.append(" ".join(specimen_code(w) or w for w in words) or None)
    out["specimens"] = specimens
    out["method"] = t.text("method").where(~t.blank("method")) if "method" in t.frame else None
    dup = out["code"].notna() & out["code"].duplicated()
    for index in dup[dup].index:
        t.error(index, "code", f"analyte '{out.at[index, 'code']}' is declared twice")
    return out


def _measurements(t: _Table, catalogue: Catalogue) -> pd.DataFrame:
    out = pd.DataFrame(index=t.frame.index)
    out["subject_id"] = t.required_text("subject_id")
    analyte_text = t.text("analyte")
    by_spelling = {code.lower(): code for code in BUILTIN} | {code.lower(): code for code in catalogue.declared} | \
        {code: code for code in catalogue.declared}
    analyte = analyte_text.map({a: by_spelling.get(a, by_spelling.get(a.lower())) for a in analyte_text.unique()})
    unknown_analyte = analyte.isna() & ~t.blank("analyte")
    for index in unknown_analyte[unknown_analyte].index:
        t.error(index, "analyte", f"unknown analyte '{analyte_text[index]}': declare it in the analytes table "
                f"(code, label, unit, kind) or use one of {', '.join(catalogue)}")
    for index in t.blank("analyte")[t.blank("analyte")].index:
        t.error(index, "analyte", "required value is blank")
    out["analyte"] = analyte
    specimen_text = t.text("specimen")
    pairs = pd.DataFrame({"analyte": analyte, "specimen": specimen_text}).drop_duplicates()
    resolved: dict[tuple, str | None] = {}
    for a, text in pairs.itertuples(index=False):
        if not isinstance(a, str):
            continue
        allowed = catalogue[a].specimens
        code = specimen_code(text) or text
        resolved[(a, text)] = code if (not allowed or code in allowed) and text.lower() not in BLANKS else None
    specimen = pd.Series([resolved.get(k) for k in zip(analyte, specimen_text, strict=True)], index=out.index,
                         dtype=object)
    wrong = analyte.notna() & specimen.isna()
    for index in wrong[wrong].index:
        allowed = catalogue[analyte[index]].specimens
        t.error(index, "specimen", f"specimen '{specimen_text[index]}' is not measured for {analyte[index]}; "
                f"expected {' or '.join(allowed) if allowed else 'a specimen'}")
    out["specimen"] = specimen
    out["day"] = t.numbers("day", required=True, days=True)
    value = t.numbers("value", required=False, minimum=0)
    lloq = t.numbers("lloq", required=False, minimum=0) if "lloq" in t.frame else pd.Series(np.nan, index=out.index)
    flagged = t.flags("blq")
    unit_text = t.text("unit")
    pairs = pd.DataFrame({"analyte": analyte, "unit": unit_text}).drop_duplicates()
    factors = {(a, u): catalogue[a].factor(u) for a, u in pairs.itertuples(index=False) if isinstance(a, str)}
    factor = pd.Series([factors.get(k) for k in zip(analyte, unit_text, strict=False)], index=out.index, dtype=float)
    unknown_unit = analyte.notna() & factor.isna()
    for index in unknown_unit[unknown_unit].index:
        t.error(index, "unit", f"unit '{unit_text[index]}' is not a unit of {analyte[index]}; accepted: "
                f"{', '.join(catalogue[analyte[index]].accepted_units())}")
    out["value"] = value * factor
    out["unit"] = analyte.map({a: catalogue[a].unit for a in analyte.dropna().unique()})
    out["lloq"] = lloq * factor
    percent_codes = [code for code in catalogue if catalogue[code].is_percent]
    percent = analyte.isin(percent_codes) & (out["value"] > 100)
    for index in percent[percent].index:
        t.error(index, "value", f"value {t.text('value')[index]} is over 100 %")
    below = out["lloq"].notna() & out["value"].notna() & (out["value"] < out["lloq"])
    out["blq"] = flagged.eq(True) | below
    no_value = t.blank("value") & ~out["blq"]
    for index in no_value[no_value].index:
        t.error(index, "value", "value is blank and the sample is not flagged blq")
    out = out.join(_extras(t))
    return _deduplicate(t, out, ["subject_id", "analyte", "specimen", "day"], "value",
                        lambda r: f"{r.subject_id} {r.analyte} {r.specimen} day {_fmt(r.day)}")


def _adverse_events(t: _Table) -> pd.DataFrame:
    out = pd.DataFrame(index=t.frame.index)
    out["subject_id"] = t.required_text("subject_id")
    term = t.required_text("term")
    out["term"] = term.map(lambda s: TERM_ALIASES.get(s.lower(), s) if isinstance(s, str) else None)
    grade_text = t.text("grade")
    grade = pd.to_numeric(grade_text, errors="coerce")
    bad = ~grade.isin([1, 2, 3, 4, 5])
    for index in bad[bad].index:
        t.error(index, "grade", f"grade '{grade_text[index]}' is not a CTCAE grade 1-5")
    out["grade"] = grade.where(~bad).astype("Int64")
    out["onset_day"] = t.numbers("onset_day", required=True, days=True)
    out["resolution_day"] = t.numbers("resolution_day", required=False, days=True)
    early = out["resolution_day"] < out["onset_day"]
    for index in early[early].index:
        t.error(index, "resolution_day", f"resolution day {_fmt(out.at[index, 'resolution_day'])} is before "
                f"onset day {_fmt(out.at[index, 'onset_day'])}")
    out["serious"] = t.flags("serious")
    out["related"] = t.flags("related")
    return out.join(_extras(t))


def _responses(t: _Table) -> pd.DataFrame:
    out = pd.DataFrame(index=t.frame.index)
    out["subject_id"] = t.required_text("subject_id")
    out["day"] = t.numbers("day", required=True, days=True)
    response_text = t.text("response")
    response = response_text.str.lower().map(_RESPONSE_BY_LOWER)
    for index in response[response.isna()].index:
        t.error(index, "response", f"unknown response '{response_text[index]}'; expected one of "
                f"{', '.join(RESPONSES)}")
    out["response"] = response
    out["mrd_negative"] = t.flags("mrd_negative")
    out = out.join(_extras(t))
    return _deduplicate(t, out, ["subject_id", "day"], "response",
                        lambda r: f"{r.subject_id} day {_fmt(r.day)}")


def _concomitant_medications(t: _Table) -> pd.DataFrame:
    out = pd.DataFrame(index=t.frame.index)
    out["subject_id"] = t.required_text("subject_id")
    out["drug"] = t.required_text("drug").str.lower()
    out["start_day"] = t.numbers("start_day", required=True, days=True)
    out["end_day"] = t.numbers("end_day", required=False, days=True) if "end_day" in t.frame else np.nan
    early = out["end_day"] < out["start_day"]
    for index in early[early].index:
        t.error(index, "end_day", f"end day {_fmt(out.at[index, 'end_day'])} is before start day "
                f"{_fmt(out.at[index, 'start_day'])}")
    out["indication"] = t.text("indication").where(~t.blank("indication")) if "indication" in t.frame else None
    return out.join(_extras(t))


def _time_to_event(t: _Table) -> pd.DataFrame:
    out = pd.DataFrame(index=t.frame.index)
    out["subject_id"] = t.required_text("subject_id")
    out["endpoint"] = t.required_choice("endpoint", TIME_TO_EVENT_ENDPOINTS, str.upper)
    out["day"] = t.numbers("day", required=True, minimum=0, days=True)
    event = t.flags("event")
    for index in event[event.isna() & t.blank("event")].index:
        t.error(index, "event", "required value is blank")
    out["event"] = event
    dup = out[["subject_id", "endpoint"]].notna().all(axis=1) & out.duplicated(["subject_id", "endpoint"])
    for index in dup[dup].index:
        t.error(index, "endpoint", f"{out.at[index, 'subject_id']} has {out.at[index, 'endpoint']} twice")
    return out


def _deduplicate(t: _Table, out: pd.DataFrame, key: list[str], value_column: str, describe) -> pd.DataFrame:
    """Collapse exact duplicate rows (warning); report rows that share a key but differ (error)."""
    usable = out[key].notna().all(axis=1)
    keyed = out if usable.all() else out[usable]  # no copy of a table whose keys are all given
    dup = keyed.duplicated(subset=key, keep=False)
    if not dup.any():
        return out
    dups = keyed[dup]
    first = pd.Series(dups.index, index=dups.index).groupby([dups[k] for k in key], sort=False).transform("first")
    later = first[first != first.index]
    signature = dups.astype(str).agg("\x1f".join, axis=1)  # the whole row as text, compared at once
    same = signature.loc[later.index].to_numpy() == signature.loc[later.to_numpy()].to_numpy()
    first_rows = t.frame.loc[later.to_numpy(), "_row"].astype(int).to_numpy()
    drop = []
    for index, is_same, first_row in zip(later.index, same, first_rows, strict=True):
        if is_same:
            t.warning(index, None, f"exact duplicate of row {first_row}; kept once")
            drop.append(index)
        else:
            t.error(index, value_column, f"{describe(dups.loc[index])} is given twice with different "
                    f"values (also row {first_row})")
    return out.drop(index=drop)


def _cross_checks(parsed: dict[str, pd.DataFrame], tables: dict[str, _Table]) -> None:
    subjects = parsed["subjects"].dropna(subset=["subject_id"]).drop_duplicates("subject_id")
    death = subjects.set_index("subject_id")["death_day"]
    known = set(subjects["subject_id"])
    day_column = {"measurements": "day", "adverse_events": "onset_day", "responses": "day",
                  "concomitant_medications": "start_day", "time_to_event": "day"}
    for table, frame in parsed.items():
        if table in ("subjects", "analytes"):
            continue
        t = tables[table]
        unknown = frame["subject_id"].notna() & ~frame["subject_id"].isin(known)
        for index in unknown[unknown].index:
            t.error(index, "subject_id", f"subject '{shown(frame.at[index, 'subject_id'])}' is not in the subjects "
                    "table")
        column = day_column[table]
        died = frame["subject_id"].map(death)
        after = ~unknown & (frame[column] > died)
        for index in after[after].index:
            message = (f"{column.replace('_', ' ')} {_fmt(frame.at[index, column])} is after the subject's death "
                       f"on day {_fmt(died[index])}")
            if table == "measurements":
                t.warning(index, column, f"sample on day {_fmt(frame.at[index, column])} is after the subject's "
                          f"death on day {_fmt(died[index])}")
            elif table in ("concomitant_medications", "time_to_event"):
                t.warning(index, column, message)
            else:
                t.error(index, column, message)
    if "measurements" in parsed:
        m = parsed["measurements"]
        sampled_after = set(m.loc[m["day"] > 0, "subject_id"])
        ts = tables["subjects"]
        for index, sid in parsed["subjects"]["subject_id"].items():
            if isinstance(sid, str) and sid not in sampled_after:
                ts.warning(index, "subject_id", f"subject '{sid}' has no samples after infusion")
    if "adverse_events" in parsed:
        ae = parsed["adverse_events"]
        fatal = ae[(ae["grade"] == 5) & ae["subject_id"].isin(known)]
        for index, sid in fatal["subject_id"].items():
            if pd.isna(death.get(sid)):
                tables["adverse_events"].warning(index, "grade", f"grade 5 (fatal) event but subject '{sid}' "
                                                 "has no death_day")
    if "time_to_event" in parsed:
        _time_to_event_checks(parsed, tables["time_to_event"], subjects.set_index("subject_id"))


def _time_to_event_checks(parsed: dict[str, pd.DataFrame], t: _Table, subjects: pd.DataFrame) -> None:
    """Given endpoints replace the derived ones, so say where they disagree with the rest of the study: an endpoint
    given for only some subjects (the others drop out of its curve), a time after the subject's last contact, and a
    duration of response for a subject with no response of PR or better."""
    tte = parsed["time_to_event"].dropna(subset=["subject_id", "endpoint", "day"])
    tte = tte[tte["subject_id"].isin(subjects.index)]
    n_subjects = len(subjects)
    for endpoint, rows in tte.groupby("endpoint", sort=True):
        covered = rows["subject_id"].nunique()
        if endpoint != "DOR" and covered < n_subjects:
            missing = sorted(set(subjects.index) - set(rows["subject_id"]))
            t.report.warning(t.frame.at[rows.index[0], "_file"],
                             f"{endpoint} is given for {covered} of {n_subjects} subjects: the others ("
                             f"{', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}) are not in its "
                             "Kaplan-Meier, and it is not derived for them", column=t._column("endpoint"),
                             table="time_to_event")
        if endpoint in ("OS", "PFS"):
            late = rows["day"] > rows["subject_id"].map(subjects["last_contact_day"])
            for index in late[late].index:
                t.warning(index, "day", f"{endpoint} day {_fmt(rows.at[index, 'day'])} is after the subject's last "
                          f"contact on day {_fmt(subjects.at[rows.at[index, 'subject_id'], 'last_contact_day'])}")
    if "responses" in parsed:
        responded = set(parsed["responses"].loc[parsed["responses"]["response"].isin(RESPONSES[:4]), "subject_id"])
        dor = tte[(tte["endpoint"] == "DOR") & ~tte["subject_id"].isin(responded)]
        for index, sid in dor["subject_id"].items():
            t.warning(index, "endpoint", f"DOR is given for '{sid}', who has no response of PR or better")


def _finish(frame: pd.DataFrame, table: _Table) -> pd.DataFrame:
    """Canonical column order, fresh index, stable sort by subject and day."""
    columns = COLUMNS[table.name] + [c for c in frame.columns if c not in COLUMNS[table.name]]
    frame = frame[columns]  # a new frame: the parsed one is not changed
    for column in frame.select_dtypes(include="object").columns:  # one blank in text: None, as the store gives
        frame[column] = frame[column].where(frame[column].notna(), None)
    sort = {"subjects": ["subject_id"], "measurements": ["subject_id", "analyte", "specimen", "day"],
            "adverse_events": ["subject_id", "onset_day"], "responses": ["subject_id", "day"], "analytes": ["code"],
            "concomitant_medications": ["subject_id", "start_day"],
            "time_to_event": ["subject_id", "endpoint"]}[table.name]
    return frame.sort_values(sort, kind="stable", ignore_index=True)


def clean_text(text: str) -> str:
    """Text as it is compared and stored: NFC-normalised, without zero-width characters."""
    return unicodedata.normalize("NFC", ZERO_WIDTH.sub("", text))


def shown(text: str, limit: int = 60) -> str:
    """Text for a message: control characters escaped (\\x00, \\t), cut at `limit` characters."""
    text = ID_CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return text if len(text) <= limit else text[:limit] + "…"


def _fmt(number: float) -> str:
    """Print 7.0 as '7' and 7.5 as '7.5' in messages."""
    return f"{number:g}"
