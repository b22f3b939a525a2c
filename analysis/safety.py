"""Adverse-event summaries per patient (CTCAE v5 grades; CRS and ICANS by ASTCT)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from data_access.schema import CRS_TERM, ICANS_TERM, STEROIDS, TOCILIZUMAB

#: Drugs given for CRS or ICANS (ASTCT-era practice), by the class the Safety page counts; lower-case names.
CRS_TREATMENTS: dict[str, tuple[str, ...]] = {
    "Tocilizumab": (TOCILIZUMAB,),
    "Corticosteroids": STEROIDS,
    "Anakinra": ("anakinra",),
    "Siltuximab": ("siltuximab",),
}
#: An indication that says CRS or ICANS (when the indication is given, one of these words must be in it).
CRS_ICANS_INDICATION = r"\bcrs\b|cytokine|icans|neurotox|immune effector|\biec\b|\bhlh\b|macrophage activation"


def treatment_class(drug: str) -> str | None:
    """'dexamethasone sodium phosphate' -> 'Corticosteroids' (a known drug's name as a word of the text, so salts
    and forms count); None for a drug that is not a CRS/ICANS treatment."""
    words = set(re.findall(r"[a-z]+", str(drug).lower()))
    return next((name for name, drugs in CRS_TREATMENTS.items() if words & set(drugs)), None)


def crs_icans_treatments(conmeds: pd.DataFrame) -> pd.DataFrame:
    """The concomitant medications that treat CRS or ICANS: a known drug (CRS_TREATMENTS) given on or after Day 0
    whose indication names CRS or ICANS (CRS_ICANS_INDICATION), or is blank. Bridging therapy, premedication and
    prophylaxis (indications that name something else) are left out. Adds `treatment` (the class)."""
    treatment = conmeds["drug"].map(treatment_class)
    indication = conmeds["indication"].fillna("").astype(str).str.lower()
    for_crs = indication.str.contains(CRS_ICANS_INDICATION, regex=True) | (indication.str.strip() == "")
    keep = treatment.notna() & for_crs & (conmeds["start_day"] >= 0)
    return conmeds[keep].assign(treatment=treatment[keep])


def treatment_by_crs_grade(conmeds: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Patients given each CRS/ICANS treatment class, by worst CRS grade group, with an 'All patients' row: columns
    group, n (patients in the group), then per class `<class>` (patients given it at least once) and `<class> %`.
    `patients` has subject_id and crs_group (analysis.kinetics.crs_group)."""
    given = crs_icans_treatments(conmeds)
    rows = []
    groups = [(g, patients[patients["crs_group"] == g]) for g in patients["crs_group"].drop_duplicates()]
    for group, members in [*groups, ("All patients", patients)]:
        ids = set(members["subject_id"])
        row = {"group": group, "n": len(ids)}
        for name in CRS_TREATMENTS:
            count = given.loc[(given["treatment"] == name) & given["subject_id"].isin(ids), "subject_id"].nunique()
            row[name] = int(count)
            row[f"{name} %"] = 100 * count / len(ids) if ids else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def worst_grades(adverse_events: pd.DataFrame, subject_ids) -> pd.DataFrame:
    """Per subject the worst CRS and ICANS grade (0 = none)."""
    out = pd.DataFrame({"subject_id": list(subject_ids)})
    for term, column in ((CRS_TERM, "worst_crs_grade"), (ICANS_TERM, "worst_icans_grade")):
        worst = adverse_events[adverse_events["term"] == term].groupby("subject_id")["grade"].max()
        out[column] = out["subject_id"].map(worst).fillna(0).astype(int)
    return out


def has_relatedness(adverse_events: pd.DataFrame) -> bool:
    return "related" in adverse_events and adverse_events["related"].notna().any()


def ae_table(adverse_events: pd.DataFrame, n_patients: int, related_only: bool) -> pd.DataFrame:
    """Patients with each term: n (%) at any grade and at grade >= 3, each patient counted once per term at
    their worst grade; CRS and ICANS first, then by frequency (then term)."""
    ae = adverse_events
    if related_only:
        ae = ae[ae["related"].eq(True)]
    worst = ae.groupby(["term", "subject_id"])["grade"].max().reset_index()
    table = worst.groupby("term").agg(any_grade=("subject_id", "size"),
                                      grade_3_plus=("grade", lambda g: int((g >= 3).sum()))).reset_index()
    for grade in range(1, 6):
        table[f"worst_grade_{grade}"] = table["term"].map(worst[worst["grade"] == grade].groupby("term").size()) \
            .fillna(0).astype(int)
    table["any_grade_pct"] = 100 * table["any_grade"] / n_patients
    table["grade_3_plus_pct"] = 100 * table["grade_3_plus"] / n_patients
    first = {CRS_TERM: 0, ICANS_TERM: 1}
    table["_order"] = table["term"].map(first).fillna(2)
    table = table.sort_values(["_order", "any_grade", "grade_3_plus", "term"], ascending=[True, False, False, True])
    return table.drop(columns="_order").reset_index(drop=True)


def onset_and_duration(adverse_events: pd.DataFrame, term: str) -> dict:
    """First episode per patient of a term: onset day and duration (resolution − onset) median and range."""
    events = adverse_events[adverse_events["term"] == term].sort_values("onset_day")
    first = events.groupby("subject_id").first()
    duration = (first["resolution_day"] - first["onset_day"]).dropna()

    def describe(v: pd.Series) -> tuple[float, float, float]:
        return (float(v.median()), float(v.min()), float(v.max())) if len(v) else (np.nan, np.nan, np.nan)

    return {"term": term, "patients": int(len(first)), "onset": describe(first["onset_day"]),
            "duration": describe(duration), "ongoing": int(first["resolution_day"].isna().sum())}


def grade3_onsets(adverse_events: pd.DataFrame) -> pd.DataFrame:
    """Every grade >= 3 event: subject, term, grade, days from infusion to onset."""
    rows = adverse_events[adverse_events["grade"] >= 3]
    return rows[["subject_id", "term", "grade", "onset_day"]].sort_values(["onset_day", "subject_id"]) \
        .reset_index(drop=True)


def term_patients(adverse_events: pd.DataFrame, term: str, related_only: bool) -> pd.DataFrame:
    """The patients with one term at their worst grade (worst first, then by id): the drill-down of one row of
    `ae_table`, so its length is that row's `any_grade`."""
    ae = adverse_events[adverse_events["term"] == term]
    if related_only:
        ae = ae[ae["related"].eq(True)]
    worst = ae.groupby("subject_id")["grade"].max().reset_index()
    return worst.sort_values(["grade", "subject_id"], ascending=[False, True]).reset_index(drop=True)


def crs_treatment_table(conmeds: pd.DataFrame, worst: pd.DataFrame) -> pd.DataFrame | None:
    """`treatment_by_crs_grade` with the groups in their display order (No CRS, grade 1, 2, >=3), from each
    subject's worst CRS grade (`worst`: subject_id, worst_crs_grade); None when no medications are recorded. The
    Safety page and the endpoints CLI both show this table."""
    if conmeds.empty:
        return None
    from analysis.kinetics import crs_group, group_order

    groups = crs_group(worst["worst_crs_grade"])
    order = group_order("crs_group", groups)
    ordered = worst.assign(crs_group=groups, _order=groups.map(order.index)).sort_values("_order", kind="stable")
    return treatment_by_crs_grade(conmeds, ordered[["subject_id", "crs_group"]])
