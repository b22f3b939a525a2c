"""IMWG response per patient: best response before progression, response groups, progression day."""
from __future__ import annotations

from functools import lru_cache

import pandas as pd

from data_access.schema import RESPONSES

RESPONDERS = ("sCR", "CR", "VGPR", "PR")
#: Best-response groups used across the app, best first.
RESPONSE_GROUPS = ("≥CR", "VGPR/PR", "<PR")


def response_group(best: str) -> str:
    """sCR/CR -> '≥CR'; VGPR/PR -> 'VGPR/PR'; anything else (MR, SD, PD, NE) -> '<PR'."""
    return "≥CR" if best in ("sCR", "CR") else "VGPR/PR" if best in ("VGPR", "PR") else "<PR"


def best_response(responses: pd.DataFrame, subject_ids) -> pd.DataFrame:
    """Per subject: best response from infusion until progression (sCR > CR > ... > PD > NE), the day it was
    first reached, the day of the first PR-or-better, and the day of first progression (PD).

    Assessments after the first PD do not count; a patient with no assessment is NE.
    """
    r = responses[responses["day"] >= 0].sort_values(["subject_id", "day"], kind="stable")
    first_pd = r[r["response"] == "PD"].groupby("subject_id")["day"].min()
    r = r[~(r["day"] > r["subject_id"].map(first_pd))]
    rank = r["response"].map(RESPONSES.index)
    best_rank = rank.groupby(r["subject_id"]).min()
    reached = r[rank == r["subject_id"].map(best_rank)].groupby("subject_id")["day"].min()
    responding = r[r["response"].isin(RESPONDERS)].groupby("subject_id")["day"].min()
    out = pd.DataFrame({"subject_id": list(subject_ids)})
    out["best_response"] = out["subject_id"].map(best_rank).map(lambda k: RESPONSES[int(k)] if pd.notna(k) else "NE")
    out["day_best_response"] = out["subject_id"].map(reached)
    out["day_first_response"] = out["subject_id"].map(responding)
    out["progression_day"] = out["subject_id"].map(first_pd)
    out["response_group"] = out["best_response"].map(response_group)
    return out


PRIMARY_WINDOW_DAYS = 183  # the trial's primary efficacy window: the first 6 months


def response_rates(best: pd.Series, mrd_negative: pd.Series | None = None) -> pd.DataFrame:
    """ORR (PR or better), >=VGPR and >=CR rates with exact Clopper-Pearson 95% CIs; MRD-negativity rate.

    `best` holds one best response per patient (the denominator is every patient in it)."""
    n = int(len(best))
    measures = [("ORR (≥PR)", best.isin(RESPONDERS)), ("≥VGPR", best.isin(("sCR", "CR", "VGPR"))),
                ("≥CR", best.isin(("sCR", "CR")))]
    if mrd_negative is not None:
        measures.append(("MRD-negative", mrd_negative.reindex(best.index).eq(True)))
    rows = []
    for measure, hit in measures:
        k = int(hit.sum())
        low, high = exact_ci(k, n) if n else (float("nan"), float("nan"))
        rows.append({"measure": measure, "n": n, "responders": k, "rate": k / n if n else float("nan"),
                     "ci_lower": low, "ci_upper": high})
    return pd.DataFrame(rows)


@lru_cache(maxsize=4096)
def exact_ci(k: int, n: int) -> tuple[float, float]:
    """The exact (Clopper-Pearson) 95% CI of k responders of n, remembered: scipy finds it by root-finding, ~5 ms
    each, and every Efficacy page asks for the same few."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return float(ci.low), float(ci.high)


def best_response_within(responses: pd.DataFrame, subject_ids, days: float) -> pd.DataFrame:
    """Best response counting only assessments up to `days` after infusion (e.g. the 6-month window)."""
    return best_response(responses[responses["day"] <= days], subject_ids)


def mrd_negative_ever(responses: pd.DataFrame) -> pd.Series:
    """Per subject: True if any assessment recorded MRD negativity (subjects never tested are absent)."""
    if "mrd_negative" not in responses:
        return pd.Series(dtype=bool)
    tested = responses[responses["mrd_negative"].notna()]
    return tested.groupby("subject_id")["mrd_negative"].agg(lambda v: bool(any(v)))


#: The two assessment windows rates are given for, in display order.
WINDOWS = ("to progression or data cut-off", "first 6 months")


def rates_by_window(responses: pd.DataFrame, subject_ids) -> pd.DataFrame:
    """ORR, >=VGPR, >=CR (and MRD-negative, overall) with exact 95% CIs for both windows: the Efficacy page's
    rates and response_rates.csv. Columns: window, measure, n, responders, rate, ci_lower, ci_upper."""
    ids = list(subject_ids)
    overall = best_response(responses, ids).set_index("subject_id")["best_response"]
    within = best_response_within(responses, ids, PRIMARY_WINDOW_DAYS).set_index("subject_id")["best_response"]
    tables = [response_rates(overall, mrd_negative_ever(responses)), response_rates(within)]
    for window, table in zip(WINDOWS, tables, strict=True):
        table.insert(0, "window", window)
    return pd.concat(tables, ignore_index=True)


def best_response_by_dose(patients: pd.DataFrame) -> pd.DataFrame:
    """Patients by best response per dose level and overall: column, response, patients, percent, group_n.
    `column` is the dose level (low to high) or 'All patients'; responses in IMWG order; zero counts kept."""
    from analysis.groups import ordered_dose_levels

    rows = []
    for column in [*ordered_dose_levels(patients["dose_level"]), "All patients"]:
        group = patients if column == "All patients" else patients[patients["dose_level"] == column]
        for response in RESPONSES:
            k = int((group["best_response"] == response).sum())
            rows.append({"column": column, "response": response, "patients": k,
                         "percent": 100 * k / len(group) if len(group) else 0.0, "group_n": len(group)})
    return pd.DataFrame(rows)


def mrd_results(responses: pd.DataFrame) -> pd.DataFrame:
    """Every MRD result recorded with a response assessment: subject_id, day, mrd_negative (True/False)."""
    if "mrd_negative" not in responses:
        return pd.DataFrame(columns=["subject_id", "day", "mrd_negative"])
    tested = responses[responses["mrd_negative"].notna()]
    return tested[["subject_id", "day", "mrd_negative"]].assign(mrd_negative=tested["mrd_negative"].astype(bool)) \
        .sort_values(["subject_id", "day"]).reset_index(drop=True)


SWIMMER_STATES = (*RESPONSES, "not yet assessed", "after progression")
SWIMMER_MARKS = ("First response", "First CR", "MRD negative", "Progression", "Death", "Follow-up continues")


def swimmer_lanes(patients: pd.DataFrame, responses: pd.DataFrame, sort: str = "duration") -> tuple[list[str],
                                                                                                   pd.DataFrame,
                                                                                                   pd.DataFrame]:
    """The swimmer plot's data: lane order (longest follow-up first, or by dose level then follow-up), the
    segments of each lane (subject_id, start, stop, state: the response recorded at each assessment until the
    next, 'not yet assessed' before the first, 'after progression' from PD) and the marks (subject_id, day,
    mark: one of SWIMMER_MARKS)."""
    from analysis.groups import ordered_dose_levels

    p = patients.copy()
    if sort == "dose":
        rank = {d: i for i, d in enumerate(ordered_dose_levels(p["dose_level"]))}
        p = p.assign(_dose=p["dose_level"].map(rank)).sort_values(["_dose", "last_contact_day", "subject_id"],
                                                                   ascending=[True, False, True])
    else:
        p = p.sort_values(["last_contact_day", "subject_id"], ascending=[False, True])
    order = p["subject_id"].tolist()
    last_contact = dict(zip(patients["subject_id"], patients["last_contact_day"], strict=True))
    death = dict(zip(patients["subject_id"], patients["death_day"], strict=True))
    # Each patient's assessments in day order as plain tuples (day, response, marks), the marks worked out for the
    # whole table at once: a per-patient loop over DataFrame filters cost ~2 ms a patient.
    ordered = responses.sort_values("day", kind="stable")
    response = ordered["response"]
    mark_columns = (response.isin(RESPONDERS), response.isin(("sCR", "CR")),
                    ordered["mrd_negative"].eq(True) if "mrd_negative" in ordered else pd.Series(False, ordered.index),
                    response == "PD")
    by_subject: dict[str, list[tuple]] = {}
    for sid, day, state, *flags in zip(ordered["subject_id"], ordered["day"], response, *mark_columns, strict=True):
        by_subject.setdefault(sid, []).append((day, state, *flags))
    segments, marks = [], []
    for sid in order:
        end = float(last_contact[sid])
        r = [row for row in by_subject.get(sid, ()) if row[0] <= end]
        points = [(0.0, "not yet assessed")] + [(float(day), state) for day, state, *_ in r]
        for (start, state), (stop, _) in zip(points, [*points[1:], (end, None)], strict=True):
            if stop > start:
                segments.append((sid, start, stop, "after progression" if state == "PD" else state))
        for position, mark in enumerate(("First response", "First CR", "MRD negative", "Progression")):
            first_day = next((row[0] for row in r if row[2 + position]), None)
            if first_day is not None:
                marks.append((sid, float(first_day), mark))
        if pd.notna(death[sid]):
            marks.append((sid, float(death[sid]), "Death"))
        else:
            marks.append((sid, end, "Follow-up continues"))
    return (order, pd.DataFrame(segments, columns=["subject_id", "start", "stop", "state"]),
            pd.DataFrame(marks, columns=["subject_id", "day", "mark"]))
