"""Subgroups checked independently: rates and exact CIs against scipy's binomtest, the PFS hazard ratio against the
Cox partial likelihood maximised here (no ties) and against lifelines asked directly (ties, three levels), the cut
points, and every covariate skipped or hazard ratio not estimable saying so."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from analysis.subgroups import ALL_PATIENTS, study_covariates, subgroup_analysis


def cohort(n: int = 60, seed: int = 1, ties: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Patients with covariates, best response and worst CRS grade, and their PFS (progression more likely with
    high-risk cytogenetics)."""
    rng = np.random.default_rng(seed)
    hrc = rng.uniform(size=n) < 0.4
    patients = pd.DataFrame({
        "subject_id": [f"P{i:03d}" for i in range(n)],
        "dose_level": rng.choice(["150e6 CAR+ T cells", "450e6 CAR+ T cells", "50e6 CAR+ T cells"], n),
        "age": rng.integers(45, 80, n).astype(float), "sex": rng.choice(["F", "M"], n),
        "last_contact_day": 700.0, "death_day": np.nan,
        "prior_lines": rng.integers(3, 10, n).astype(float), "high_risk_cytogenetics": hrc,
        "best_response": rng.choice(["sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "NE"], n),
        "worst_crs_grade": rng.integers(0, 4, n)})
    time = rng.exponential(300 / np.where(hrc, 2.0, 1.0))
    time = np.ceil(time / 30) * 30 if ties else np.round(time, 3) + np.arange(n) * 1e-6
    event = (rng.uniform(size=n) < 0.75).astype(int)
    tte = pd.DataFrame({"subject_id": patients["subject_id"], "endpoint": "PFS", "time_days": time, "event": event})
    other = tte.assign(endpoint="OS", time_days=999.0, event=0)  # other endpoints are ignored
    return patients, pd.concat([tte, other], ignore_index=True)


def cox_newton(time: np.ndarray, event: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """The Cox partial likelihood of one 0/1 covariate without tied times, maximised by Newton-Raphson: the
    coefficient and its standard error (the inverse of the observed information)."""
    order = np.argsort(time)
    time, event, x = time[order], event[order], x[order]
    beta = 0.0
    for _ in range(50):
        score, information = 0.0, 0.0
        for i in np.flatnonzero(event):
            at_risk = time >= time[i]
            w = np.exp(beta * x[at_risk])
            mean = (w * x[at_risk]).sum() / w.sum()
            score += x[i] - mean
            information += (w * x[at_risk] ** 2).sum() / w.sum() - mean ** 2
        beta += score / information
        if abs(score / information) < 1e-12:
            break
    return beta, 1 / math.sqrt(information)


def test_rates_and_exact_cis_are_binomtests_for_every_level():
    patients, tte = cohort()
    result = subgroup_analysis(patients, tte)
    responders = patients["best_response"].isin(["sCR", "CR", "VGPR", "PR"])
    crs2 = patients["worst_crs_grade"] >= 2
    overall = result.overall
    assert (overall["label"], overall["n"], overall["responders"]) == (ALL_PATIENTS, 60, responders.sum())
    for row in result.table.iloc[1:].itertuples():
        if row.covariate == "high_risk_cytogenetics":
            members = patients["high_risk_cytogenetics"] == (row.level == "Yes")
        elif row.covariate == "dose_level":
            members = patients["dose_level"] == row.level
        else:
            continue
        assert row.n == members.sum()
        for k, low, high, hit in ((row.responders, row.orr_lower, row.orr_upper, responders),
                                  (row.crs2, row.crs2_lower, row.crs2_upper, crs2)):
            assert k == (hit & members).sum()
            ci = binomtest(int(k), int(row.n)).proportion_ci(0.95, method="exact")
            assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    doses = result.table.loc[result.table["covariate"] == "dose_level", "level"].tolist()
    assert doses == ["50e6 CAR+ T cells", "150e6 CAR+ T cells", "450e6 CAR+ T cells"]  # low to high, 50 first


def test_hazard_ratio_maximises_the_cox_partial_likelihood():
    patients, tte = cohort(seed=4)
    result = subgroup_analysis(patients, tte)
    row = result.table[(result.table["covariate"] == "high_risk_cytogenetics") & (result.table["level"] == "Yes")]
    pfs = tte[tte["endpoint"] == "PFS"].set_index("subject_id").loc[patients["subject_id"]]
    beta, se = cox_newton(pfs["time_days"].to_numpy(), pfs["event"].to_numpy(),
                          patients["high_risk_cytogenetics"].to_numpy(float))
    # lifelines stops when the log-likelihood changes by under 1e-7: the coefficient is within ~1e-5 of the maximum
    assert row["hr"].iloc[0] == pytest.approx(math.exp(beta), rel=1e-5)
    assert row["hr_lower"].iloc[0] == pytest.approx(math.exp(beta - 1.959964 * se), rel=1e-5)
    assert row["hr_upper"].iloc[0] == pytest.approx(math.exp(beta + 1.959964 * se), rel=1e-5)
    reference = result.table[(result.table["covariate"] == "high_risk_cytogenetics") & result.table["reference"]]
    assert reference["level"].tolist() == ["No"] and reference["hr"].tolist() == [1.0]
    assert reference["hr_note"].tolist() == ["reference"]


def test_hazard_ratios_of_three_levels_with_ties_are_one_efron_cox_model_as_lifelines_fits_it():
    from lifelines import CoxPHFitter

    patients, tte = cohort(n=80, seed=9, ties=True)
    pfs = tte[tte["endpoint"] == "PFS"].set_index("subject_id").loc[patients["subject_id"]]
    assert pfs["time_days"].duplicated().any()  # tied times: Efron's method matters
    frame = pd.DataFrame({"T": pfs["time_days"].to_numpy(), "E": pfs["event"].to_numpy(),
                          "d150": (patients["dose_level"] == "150e6 CAR+ T cells").to_numpy(float),
                          "d450": (patients["dose_level"] == "450e6 CAR+ T cells").to_numpy(float)})
    direct = CoxPHFitter().fit(frame, "T", "E").summary
    rows = subgroup_analysis(patients, tte).table.set_index("level")
    for column, level in (("d150", "150e6 CAR+ T cells"), ("d450", "450e6 CAR+ T cells")):
        for ours, theirs in (("hr", "exp(coef)"), ("hr_lower", "exp(coef) lower 95%"),
                             ("hr_upper", "exp(coef) upper 95%")):
            assert rows.loc[level, ours] == pytest.approx(direct.loc[column, theirs], rel=1e-6)
    assert rows.loc["50e6 CAR+ T cells", "hr_note"] == "reference"
    assert rows.loc["50e6 CAR+ T cells", "pfs_events"] == frame.loc[
        (frame["d150"] == 0) & (frame["d450"] == 0), "E"].sum()


def test_cut_points_for_age_and_prior_lines():
    patients, tte = cohort(n=6)
    patients["age"] = [64.0, 64.9, 65.0, 80.0, np.nan, 40.0]
    patients["prior_lines"] = [5.0, 6.0, 3.0, 12.0, 5.0, np.nan]
    result = subgroup_analysis(patients, tte)
    levels = result.table.set_index(["covariate", "level"])["n"]
    assert levels[("age", "<65 years")] == 3 and levels[("age", "≥65 years")] == 2
    assert levels[("prior_lines", "≤5 lines")] == 3 and levels[("prior_lines", ">5 lines")] == 2
    assert "Age group: 1 patient with no value left out." in result.notes
    assert "Prior lines of therapy: 1 patient with no value left out." in result.notes


def test_covariates_absent_numeric_or_with_too_many_levels_are_skipped_with_a_note():
    patients, tte = cohort()
    patients = patients.drop(columns=["high_risk_cytogenetics"]).assign(
        ecog=np.arange(60) % 3, site=[f"site {i % 12}" for i in range(60)], single="x",
        bridging=np.where(np.arange(60) % 2, "yes", "no"), region=np.where(np.arange(60) % 3, "EU", "US"))
    covariates, notes = study_covariates(patients)
    labels = [c.label for c in covariates]
    assert labels == ["Dose level", "Age group", "Sex", "Prior lines of therapy", "Bridging", "Region"]
    assert "High-risk cytogenetics: not recorded in this study." in notes
    assert "Extramedullary disease: not recorded in this study." in notes
    assert "Ecog: numeric, no cut point defined; not shown." in notes
    assert "Site: 12 values, more than 8; not shown." in notes and "Single: one value only; not shown." in notes
    assert not any("best" in n.lower() or "crs" in n.lower() for n in notes)  # outcomes are not covariates
    table = subgroup_analysis(patients, tte).table
    assert table.loc[table["covariate"] == "bridging", "level"].tolist() == ["No", "Yes"]  # yes/no as a flag
    assert table.loc[table["covariate"] == "region", "level"].tolist() == ["EU", "US"]


def test_a_level_without_a_pfs_event_has_no_hazard_ratio_and_says_why():
    patients, tte = cohort(n=40, seed=2)
    hrc = patients.set_index("subject_id")["high_risk_cytogenetics"]
    quiet = tte["subject_id"].map(hrc) & (tte["endpoint"] == "PFS")
    tte.loc[quiet, "event"] = 0
    table = subgroup_analysis(patients, tte).table.set_index(["covariate", "level"])
    row = table.loc[("high_risk_cytogenetics", "Yes")]
    assert math.isnan(row["hr"]) and row["hr_note"] == "not estimable: no PFS event in this group"
    assert row["pfs_events"] == 0
    flipped = subgroup_analysis(patients, tte.assign(event=np.where(quiet, 1, 0))).table.set_index(
        ["covariate", "level"])  # only high-risk patients progress: the reference has no event
    assert flipped.loc[("high_risk_cytogenetics", "Yes"), "hr_note"] == \
        "not estimable: no PFS event in the reference group"
