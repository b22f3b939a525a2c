"""IMWG response per patient: best response before progression, response groups, progression day."""
from __future__ import annotations

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
    from scipy.stats import binomtest

    n = int(len(best))
    measures = [("ORR (≥PR)", best.isin(RESPONDERS)), ("≥VGPR", best.isin(("sCR", "CR", "VGPR"))),
                ("≥CR", best.isin(("sCR", "CR")))]
    if mrd_negative is not None:
        measures.append(("MRD-negative", mrd_negative.reindex(best.index).eq(True)))
    rows = []
    for measure, hit in measures:
        k = int(hit.sum())
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact") if n else None
        rows.append({"measure": measure, "n": n, "responders": k, "rate": k / n if n else float("nan"),
                     "ci_lower": ci.low if ci else float("nan"), "ci_upper": ci.high if ci else float("nan")})
    return pd.DataFrame(rows)


def best_response_within(responses: pd.DataFrame, subject_ids, days: float) -> pd.DataFrame:
    """Best response counting only assessments up to `days` after infusion (e.g. the 6-month window)."""
    return best_response(responses[responses["day"] <= days], subject_ids)


def mrd_negative_ever(responses: pd.DataFrame) -> pd.Series:
    """Per subject: True if any assessment recorded MRD negativity (subjects never tested are absent)."""
    if "mrd_negative" not in responses:
        return pd.Series(dtype=bool)
    tested = responses[responses["mrd_negative"].notna()]
    return tested.groupby("subject_id")["mrd_negative"].agg(lambda v: bool(any(v)))
