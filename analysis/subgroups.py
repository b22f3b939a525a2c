"""Subgroups: for each covariate stored with the study and each of its levels, the number of patients, the overall
response rate (PR or better) and the CRS grade >= 2 rate with exact Clopper-Pearson 95% CIs, and the hazard ratio of
progression-free survival against the covariate's reference level (Cox proportional hazards, lifelines: Efron ties,
Wald 95% CI), for the forest plots of the Exposure-response page. Rules and cut points: docs/exposure-response.md.

Covariates, in this order, when the study has the column:
- dose level (reference: the lowest dose);
- age group: < 65 and >= 65 years (reference < 65);
- sex (reference F);
- prior lines of therapy: <= 5 and > 5 (reference <= 5): near the median of heavily pretreated myeloma
  populations (6 in KarMMa), a fixed cut so that studies compare;
- high-risk cytogenetics, extramedullary disease: yes/no (reference no);
- then any other categorical column of the subjects table (text or true/false, 2 to MAX_LEVELS values; reference:
  the first level in sorted order, 'No' for true/false). A numeric column with no cut point defined here, one with
  a single value or with more levels is skipped, with a note saying so, and so is a known covariate the study does
  not record.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.groups import ordered_dose_levels
from analysis.responses import RESPONDERS, exact_ci
from data_access.schema import is_computed_column
from data_access.study import COLUMNS

#: A categorical covariate with more levels than this is skipped (a forest plot of it would not be read).
MAX_LEVELS = 8
AGE_CUT = 65
PRIOR_LINES_CUT = 5
ALL_PATIENTS = "All patients"


@dataclass(frozen=True)
class Covariate:
    """How a subjects column becomes subgroups: `levels` maps the column to level labels (NaN: no value), `order`
    the levels present to display order (the first is the reference)."""

    column: str
    label: str
    levels: Callable[[pd.Series], pd.Series]
    order: Callable[[list[str]], list[str]]
    definition: str = ""


def yes_no(values: pd.Series) -> pd.Series:
    """True/False (or their spellings) -> 'Yes'/'No'."""
    def one(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return np.nan
        if isinstance(v, (bool, np.bool_)):
            return "Yes" if v else "No"
        text = str(v).strip().lower()
        return "Yes" if text in ("true", "t", "yes", "y", "1", "1.0") else "No" if text in (
            "false", "f", "no", "n", "0", "0.0") else str(v)
    return values.map(one)


def _split(values: pd.Series, is_low: Callable[[pd.Series], pd.Series], low: str, high: str) -> pd.Series:
    """Numbers -> `low` where `is_low`, else `high`; NaN where there is no number."""
    numbers = pd.to_numeric(values, errors="coerce")
    labels = pd.Series(np.where(is_low(numbers), low, high), index=values.index, dtype=object)
    return labels.where(numbers.notna())


def _ordered(first: list[str]) -> Callable[[list[str]], list[str]]:
    return lambda present: [v for v in first if v in present] + sorted(v for v in present if v not in first)


SEX_LABELS = {"F": "Female", "M": "Male", "U": "Unknown"}

KNOWN: dict[str, Covariate] = {c.column: c for c in (
    Covariate("dose_level", "Dose level", lambda v: v.astype(object).where(v.notna()),
              lambda present: ordered_dose_levels(present), "reference: the lowest dose"),
    Covariate("age", "Age group", lambda v: _split(v, lambda x: x < AGE_CUT, f"<{AGE_CUT} years", f"≥{AGE_CUT} years"),
              _ordered([f"<{AGE_CUT} years", f"≥{AGE_CUT} years"]), f"< {AGE_CUT} vs ≥ {AGE_CUT} years"),
    Covariate("sex", "Sex", lambda v: v.map(lambda s: SEX_LABELS.get(s, s) if isinstance(s, str) else np.nan),
              _ordered(list(SEX_LABELS.values())), "reference: female"),
    Covariate("prior_lines", "Prior lines of therapy",
              lambda v: _split(v, lambda x: x <= PRIOR_LINES_CUT, f"≤{PRIOR_LINES_CUT} lines",
                               f">{PRIOR_LINES_CUT} lines"),
              _ordered([f"≤{PRIOR_LINES_CUT} lines", f">{PRIOR_LINES_CUT} lines"]),
              f"≤ {PRIOR_LINES_CUT} vs > {PRIOR_LINES_CUT} prior lines"),
    Covariate("high_risk_cytogenetics", "High-risk cytogenetics", yes_no, _ordered(["No", "Yes"])),
    Covariate("extramedullary_disease", "Extramedullary disease", yes_no, _ordered(["No", "Yes"])),
)}


def covariate_label(column: str) -> str:
    """'prior_lines' -> 'Prior lines'; a known covariate's own label."""
    return KNOWN[column].label if column in KNOWN else column.replace("_", " ").strip().capitalize()


def is_categorical(values: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values)


def study_covariates(subjects: pd.DataFrame) -> tuple[list[Covariate], list[str]]:
    """The covariates of a subjects table (or of the patient table built on it: its computed columns are left out)
    in display order, and a note for each one skipped (why)."""
    notes, found = [], []
    for column, covariate in KNOWN.items():
        if column not in subjects or subjects[column].isna().all():
            notes.append(f"{covariate.label}: not recorded in this study.")
        else:
            found.append(covariate)
    # the patient table's best response, CRS grade ... are outcomes, not covariates
    extra = [c for c in subjects.columns if c not in KNOWN and c not in COLUMNS["subjects"]
             and not is_computed_column(c)]
    for column in sorted(extra):
        values = subjects[column].dropna()
        label = covariate_label(column)
        if not is_categorical(subjects[column]):
            notes.append(f"{label}: numeric, no cut point defined; not shown.")
            continue
        boolean = pd.api.types.is_bool_dtype(subjects[column]) or set(yes_no(values)) <= {"Yes", "No"}
        levels = (yes_no(values) if boolean else values.astype(str)).nunique()
        if levels < 2:
            notes.append(f"{label}: one value only; not shown.")
        elif levels > MAX_LEVELS:
            notes.append(f"{label}: {levels} values, more than {MAX_LEVELS}; not shown.")
        elif boolean:
            found.append(Covariate(column, label, yes_no, _ordered(["No", "Yes"])))
        else:
            found.append(Covariate(column, label, lambda v: v.astype(str).where(v.notna()), _ordered([])))
    return found, notes


# ---- the table ------------------------------------------------------------------------------------------------

SUBGROUP_COLUMNS = ["covariate", "label", "level", "reference", "n", "responders", "orr", "orr_lower", "orr_upper",
                    "crs2", "crs2_rate", "crs2_lower", "crs2_upper", "pfs_events", "hr", "hr_lower", "hr_upper",
                    "hr_note"]


@dataclass
class Subgroups:
    table: pd.DataFrame              # SUBGROUP_COLUMNS; the first row is all patients
    notes: list[str]                 # covariates skipped, patients without a value, HRs not estimable
    n_patients: int
    covariates: list[str]            # labels of the covariates shown, in order

    @property
    def overall(self) -> pd.Series:
        return self.table.iloc[0]


def _rate(hit: pd.Series) -> tuple[int, float, float, float]:
    n, k = len(hit), int(hit.sum())
    if not n:
        return 0, math.nan, math.nan, math.nan
    low, high = exact_ci(k, n)
    return k, k / n, low, high


def subgroup_analysis(patients: pd.DataFrame, tte: pd.DataFrame,
                      covariates: list[Covariate] | None = None) -> Subgroups:
    """Subgroup rows (SUBGROUP_COLUMNS) for `patients` (analysis.patients.patient_table: the subjects' columns with
    best_response and worst_crs_grade) and `tte` (analysis.survival.study_time_to_event: its PFS rows). First a row
    for all patients, then per covariate (study_covariates(patients) when not given) one row per level: n, ORR
    (PR or better) and CRS >= 2 with exact 95% CIs, PFS events, and the PFS hazard ratio against the reference level
    (the reference row: 1, 'reference')."""
    notes: list[str] = []
    if covariates is None:
        covariates, notes = study_covariates(patients)
    pfs = tte[tte["endpoint"] == "PFS"].drop_duplicates("subject_id").set_index("subject_id")
    base = pd.DataFrame({"subject_id": patients["subject_id"].to_numpy(),
                         "responder": patients["best_response"].isin(RESPONDERS).to_numpy(),
                         "crs2": (patients["worst_crs_grade"].fillna(0) >= 2).to_numpy()})
    base["time"] = base["subject_id"].map(pfs["time_days"]).astype(float)
    base["event"] = base["subject_id"].map(pfs["event"]).astype(float)
    rows = [_row("", ALL_PATIENTS, ALL_PATIENTS, False, base)]
    shown = []
    for covariate in covariates:
        levels = covariate.levels(patients[covariate.column]).reset_index(drop=True)
        missing = int(levels.isna().sum())
        if missing:
            notes.append(f"{covariate.label}: {missing} {'patient' if missing == 1 else 'patients'} with no value "
                         "left out.")
        order = covariate.order(sorted(set(levels.dropna())))
        if not order:
            notes.append(f"{covariate.label}: no patient has a value; not shown.")
            continue
        hazard, hr_notes = _hazard_ratios(base, levels, order)
        notes += [f"{covariate.label}, {note}" for note in hr_notes]
        for level in order:
            row = _row(covariate.column, covariate.label, level, level == order[0], base[levels == level])
            row.update(hazard.get(level, {}))
            rows.append(row)
        shown.append(covariate.label)
    return Subgroups(pd.DataFrame(rows, columns=SUBGROUP_COLUMNS), notes, len(base), shown)


def _row(column: str, label: str, level: str, reference: bool, members: pd.DataFrame) -> dict:
    k, orr, orr_lo, orr_hi = _rate(members["responder"])
    c, crs, crs_lo, crs_hi = _rate(members["crs2"])
    return {"covariate": column, "label": label, "level": level, "reference": reference, "n": len(members),
            "responders": k, "orr": orr, "orr_lower": orr_lo, "orr_upper": orr_hi, "crs2": c, "crs2_rate": crs,
            "crs2_lower": crs_lo, "crs2_upper": crs_hi, "pfs_events": int(members["event"].fillna(0).sum()),
            "hr": math.nan, "hr_lower": math.nan, "hr_upper": math.nan, "hr_note": ""}


def _hazard_ratios(base: pd.DataFrame, levels: pd.Series, order: list[str]) -> tuple[dict[str, dict], list[str]]:
    """PFS hazard ratio of every level against the first (one Cox model per covariate, a 0/1 column per other
    level), or why it is not estimable: {level: {hr, hr_lower, hr_upper, hr_note}} and notes."""
    reference = order[0]
    out: dict[str, dict] = {reference: {"hr": 1.0, "hr_lower": math.nan, "hr_upper": math.nan,
                                        "hr_note": "reference"}}
    data = base.assign(level=levels).dropna(subset=["level", "time", "event"])
    events = data.groupby("level")["event"].sum()
    if len(order) < 2:
        return out, []
    if events.get(reference, 0) == 0:
        for level in order[1:]:
            out[level] = _not_estimable("no PFS event in the reference group")
        return out, [f"no PFS event in the reference group ({reference}): hazard ratios not estimable."]
    estimable = [level for level in order[1:] if events.get(level, 0) > 0]
    notes = []
    for level in order[1:]:
        if level not in estimable:
            out[level] = _not_estimable("no PFS event in this group")
            notes.append(f"{level}: no PFS event, hazard ratio not estimable.")
    if not estimable:
        return out, notes
    # Patients of levels without an event stay out of the model: their own coefficient has no finite estimate.
    data = data[data["level"].isin([reference, *estimable])]
    hr = cox_hazard_ratios(data["time"], data["event"], data["level"], reference, estimable)
    if isinstance(hr, str):
        for level in estimable:
            out[level] = _not_estimable(hr)
        return out, [*notes, f"the Cox model {hr}."]
    out.update(hr)
    return out, notes


def _not_estimable(why: str) -> dict:
    return {"hr": math.nan, "hr_lower": math.nan, "hr_upper": math.nan, "hr_note": f"not estimable: {why}"}


def cox_hazard_ratios(time: pd.Series, event: pd.Series, level: pd.Series, reference: str,
                      others: list[str]) -> dict[str, dict] | str:
    """Hazard ratios of `others` against `reference` from one Cox proportional hazards model (lifelines
    CoxPHFitter: partial likelihood with Efron's method for ties, Wald 95% CIs), or why there are none."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    frame = pd.DataFrame({"time": time.to_numpy(float), "event": event.to_numpy(float).astype(int)})
    names = [f"level_{i}" for i in range(len(others))]
    for name, value in zip(names, others, strict=True):
        frame[name] = (level.to_numpy() == value).astype(float)
    fitter = CoxPHFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            fitter.fit(frame, duration_col="time", event_col="event")
        except (ConvergenceError, ConvergenceWarning, np.linalg.LinAlgError, ValueError) as error:
            return f"did not converge ({type(error).__name__})"
    summary = fitter.summary
    out = {}
    for name, value in zip(names, others, strict=True):
        hr, low, high = (float(summary.loc[name, c]) for c in ("exp(coef)", "exp(coef) lower 95%",
                                                               "exp(coef) upper 95%"))
        if not all(np.isfinite([hr, low, high])):
            out[value] = _not_estimable("the Cox model gave no finite estimate")
        else:
            out[value] = {"hr": hr, "hr_lower": low, "hr_upper": high, "hr_note": ""}
    return out
