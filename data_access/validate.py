"""Turn raw text tables into a typed Study, reporting every problem at once.

Each rule adds an Issue naming file, row, column and a plain reason; nothing raises. Row numbers
are those a spreadsheet program shows (header = row 1). See docs/data-format.md for the rules.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from data_access.readers import RawStudy
from data_access.report import ValidationReport
from data_access.schema import (
    ANALYTES,
    FALSE_WORDS,
    RESPONSES,
    SEXES,
    SPECIMENS,
    TABLE_SPECS,
    TERM_ALIASES,
    TRUE_WORDS,
)
from data_access.study import COLUMNS, Study, empty_table
from data_access.units import accepted_units, conversion_factor

BLANKS = frozenset({"", "na", "n/a", "nan", "null", "none", "."})
_RESPONSE_BY_LOWER = {r.lower(): r for r in RESPONSES}
_SEX_BY_SPELLING = {s: code for code, spellings in SEXES.items() for s in spellings}
_SPECIMEN_BY_SPELLING = {s: code for code, spellings in SPECIMENS.items() for s in spellings}


class _Table:
    """A raw table under validation: its frame and a shortcut for reporting against its rows."""

    def __init__(self, name: str, frame: pd.DataFrame, report: ValidationReport):
        self.name, self.frame, self.report = name, frame, report
        self.bad = pd.Series(False, index=frame.index)  # rows that cannot be used for cross-checks

    def error(self, index, column: str | None, message: str) -> None:
        row = self.frame.loc[index]
        self.report.error(row["_file"], message, row=int(row["_row"]), column=column, table=self.name)
        self.bad.loc[index] = True

    def warning(self, index, column: str | None, message: str) -> None:
        row = self.frame.loc[index]
        self.report.warning(row["_file"], message, row=int(row["_row"]), column=column, table=self.name)

    def text(self, column: str) -> pd.Series:
        return self.frame[column].astype(str).str.strip()

    def blank(self, column: str) -> pd.Series:
        return self.text(column).str.lower().isin(BLANKS)

    def required_text(self, column: str) -> pd.Series:
        blank = self.blank(column)
        for index in blank[blank].index:
            self.error(index, column, "required value is blank")
        return self.text(column).where(~blank)

    def numbers(self, column: str, *, required: bool, minimum: float | None = None, days: bool = False) -> pd.Series:
        text, blank = self.text(column), self.blank(column)
        with np.errstate(invalid="ignore"):
            values = pd.to_numeric(text.where(~blank), errors="coerce").astype(float)
        bad = ~blank & ~np.isfinite(values)
        what = "a number of days since infusion" if days else "a number"
        for index in bad[bad].index:
            self.error(index, column, f"'{text[index]}' is not {what}")
        if required:
            for index in blank[blank].index:
                self.error(index, column, "required value is blank")
        if minimum is not None:
            low = values < minimum
            for index in low[low].index:
                self.error(index, column, f"negative value {text[index]} is not allowed")
        return values.where(~bad)

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
        for column in missing:
            report.error(file, f"missing required column '{column}'", row=1, column=column, table=table)
        if missing:
            continue
        if table in ("subjects", "measurements") and frame.empty:
            report.error(file, "the table has a header but no rows", table=table)
            continue
        tables[table] = _Table(table, frame.reset_index(drop=True), report)

    parsed: dict[str, pd.DataFrame] = {}
    parsers = {"subjects": _subjects, "measurements": _measurements,
               "adverse_events": _adverse_events, "responses": _responses}
    for table, parse in parsers.items():
        if table in tables:
            parsed[table] = parse(tables[table])
    if "subjects" in parsed:
        _cross_checks(parsed, tables)
    if not report.ok:
        return None, report
    study = Study(
        name=name,
        **{t: _finish(parsed[t], tables[t]) if t in parsed else empty_table(t) for t in parsers},
    )
    return study, report


def _extras(table: _Table) -> pd.DataFrame:
    """Columns beyond the format's known ones, kept as covariates with an inferred type."""
    known = set(TABLE_SPECS[table.name].known) | {"_file", "_row"}
    extras = {}
    for column in [c for c in table.frame.columns if c not in known]:
        text, blank = table.text(column), table.blank(column)
        numbers = pd.to_numeric(text.where(~blank), errors="coerce")
        lower = text.str.lower()
        if (numbers.notna() | blank).all() and (~blank).any():
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
        t.error(index, "subject_id", f"subject_id '{ids[index]}' appears again (first at row {first_row[ids[index]]})")
    return out.join(_extras(t))


def _measurements(t: _Table) -> pd.DataFrame:
    out = pd.DataFrame(index=t.frame.index)
    out["subject_id"] = t.required_text("subject_id")
    analyte_text = t.text("analyte")
    analyte = analyte_text.str.lower().where(analyte_text.str.lower().isin(ANALYTES))
    for index in analyte[analyte.isna()].index:
        t.error(index, "analyte", f"unknown analyte '{analyte_text[index]}'; expected one of "
                f"{', '.join(ANALYTES)}")
    out["analyte"] = analyte
    specimen_text = t.text("specimen")
    specimen = specimen_text.str.lower().map(_SPECIMEN_BY_SPELLING)
    allowed_pairs = {(a, s) for a, spec in ANALYTES.items() for s in spec.specimens}
    pairs = pd.Series(list(zip(analyte, specimen, strict=True)), index=out.index)
    wrong = analyte.notna() & ~pairs.isin(allowed_pairs)
    for index in wrong[wrong].index:
        allowed = ANALYTES[analyte[index]].specimens
        t.error(index, "specimen", f"specimen '{specimen_text[index]}' is not measured for {analyte[index]}; "
                f"expected {' or '.join(allowed)}")
    specimen = specimen.where(~wrong)
    out["specimen"] = specimen
    out["day"] = t.numbers("day", required=True, days=True)
    value = t.numbers("value", required=False, minimum=0)
    lloq = t.numbers("lloq", required=False, minimum=0) if "lloq" in t.frame else pd.Series(np.nan, index=out.index)
    flagged = t.flags("blq")
    unit_text = t.text("unit")
    pairs = pd.DataFrame({"analyte": analyte, "unit": unit_text}).drop_duplicates()
    factors = {(a, u): conversion_factor(a, u) for a, u in pairs.itertuples(index=False) if isinstance(a, str)}
    factor = pd.Series([factors.get(k) for k in zip(analyte, unit_text, strict=False)], index=out.index, dtype=float)
    unknown_unit = analyte.notna() & factor.isna()
    for index in unknown_unit[unknown_unit].index:
        t.error(index, "unit", f"unit '{unit_text[index]}' is not a unit of {analyte[index]}; accepted: "
                f"{', '.join(accepted_units(analyte[index]))}")
    out["value"] = value * factor
    out["unit"] = analyte.map(lambda a: ANALYTES[a].unit if isinstance(a, str) else None)
    out["lloq"] = lloq * factor
    percent = analyte.isin(["car_t_pct", "plasma_cells_pct"]) & (out["value"] > 100)
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


def _deduplicate(t: _Table, out: pd.DataFrame, key: list[str], value_column: str, describe) -> pd.DataFrame:
    """Collapse exact duplicate rows (warning); report rows that share a key but differ (error)."""
    usable = out[key].notna().all(axis=1)
    keyed = out[usable]
    dup = keyed.duplicated(subset=key, keep=False)
    if not dup.any():
        return out
    drop = []
    for _, group in keyed[dup].groupby(key, sort=False):
        first = group.index[0]
        rows = t.frame.loc[group.index, "_row"].astype(int).tolist()
        for index, _row in zip(group.index[1:], rows[1:], strict=False):
            if group.loc[[first, index]].astype(str).nunique().max() == 1:
                t.warning(index, None, f"exact duplicate of row {rows[0]}; kept once")
                drop.append(index)
            else:
                t.error(index, value_column, f"{describe(group.loc[index])} is given twice with different "
                        f"values (also row {rows[0]})")
    return out.drop(index=drop)


def _cross_checks(parsed: dict[str, pd.DataFrame], tables: dict[str, _Table]) -> None:
    subjects = parsed["subjects"].dropna(subset=["subject_id"]).drop_duplicates("subject_id")
    death = subjects.set_index("subject_id")["death_day"]
    known = set(subjects["subject_id"])
    day_column = {"measurements": "day", "adverse_events": "onset_day", "responses": "day"}
    for table, frame in parsed.items():
        if table == "subjects":
            continue
        t = tables[table]
        unknown = frame["subject_id"].notna() & ~frame["subject_id"].isin(known)
        for index in unknown[unknown].index:
            t.error(index, "subject_id", f"subject '{frame.at[index, 'subject_id']}' is not in the subjects table")
        column = day_column[table]
        died = frame["subject_id"].map(death)
        after = ~unknown & (frame[column] > died)
        for index in after[after].index:
            message = (f"{column.replace('_', ' ')} {_fmt(frame.at[index, column])} is after the subject's death "
                       f"on day {_fmt(died[index])}")
            if table == "measurements":
                t.warning(index, column, f"sample on day {_fmt(frame.at[index, column])} is after the subject's "
                          f"death on day {_fmt(died[index])}")
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


def _finish(frame: pd.DataFrame, table: _Table) -> pd.DataFrame:
    """Canonical column order, fresh index, stable sort by subject and day."""
    columns = COLUMNS[table.name] + [c for c in frame.columns if c not in COLUMNS[table.name]]
    frame = frame[columns]
    sort = {"subjects": ["subject_id"], "measurements": ["subject_id", "analyte", "specimen", "day"],
            "adverse_events": ["subject_id", "onset_day"], "responses": ["subject_id", "day"]}[table.name]
    return frame.sort_values(sort, kind="stable").reset_index(drop=True)


def _fmt(number: float) -> str:
    """Print 7.0 as '7' and 7.5 as '7.5' in messages."""
    return f"{number:g}"
