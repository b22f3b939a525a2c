"""Deterministic simulator of the bundled demo study: a BCMA CAR-T trial in relapsed/refractory myeloma.

SIMULATED DATA. The model, its parameter values and their sources are in docs/demo-study.md. In short:
- transgene kinetics follow the multiphasic model of Stein et al. 2019 (exponential expansion to Tmax,
  then bi-exponential contraction/persistence), scaled to the ide-cel label's BCMA summaries;
- flow CAR+ % of T cells is derived from copies/µg through cells per µg DNA and vector copy number;
- tumour burden falls to a response-dependent nadir and regrows after progression; marrow plasma
  cells and IMWG categories are read off it;
- CRS grade and IL-6 peak rise with expansion; cytopenias, infections and other AEs follow published rates.
- companion markers (absolute and CD4/CD8 CAR+ cells, CRP, ferritin, IFN-γ, IL-10, sBCMA, M-protein, iFLC)
  and CRS/ICANS treatment (tocilizumab, dexamethasone, anakinra) follow the same patients, from a second random
  stream so the seed analytes are unchanged.
`write_demo_study()` writes the CSV tables in the import format; the same seed gives identical files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data_access.schema import CRS_TERM, ICANS_TERM

SEED = 20261124
N_SUBJECTS_BY_DOSE = {"150e6 CAR+ T cells": 12, "300e6 CAR+ T cells": 22, "450e6 CAR+ T cells": 28}
DOSE_CELLS = {"150e6 CAR+ T cells": 150e6, "300e6 CAR+ T cells": 300e6, "450e6 CAR+ T cells": 450e6}
ENROLMENT_DAYS = 420          # infusions spread over 14 months
DATA_CUTOFF_DAY = 760         # study day of the data cut-off, counted from the first infusion
MAX_FOLLOW_UP = 730           # the protocol follows each patient for two years

LLOQ = {"car_copies": 20.0, "car_t_pct": 0.1, "il6": 1.5}
PB_DAYS = [-5, 1, 4, 7, 10, 14, 21, 28, 60, 90, 180, 270, 365, 545, 730]
BM_DAYS = [-21, 28, 90, 180, 365]
IL6_DAYS = [-5, 0, 1, 2, 3, 4, 5, 7, 10, 14, 21, 28, 60, 90]
RESPONSE_DAYS = [28, 60, 90, 120, 150, 180, 270, 365, 455, 545, 635, 730]

#: Kinetic parameters: Stein et al. 2019 structure; typical values scaled to the ide-cel (BCMA) label.
TMAX_DAYS = 10.5              # median Tmax (ide-cel label: 11 days)
CMAX_300 = 1.6e4              # typical Cmax, copies/µg, at 300e6 cells before the response effect
CMAX_DOSE_EXPONENT = 0.6      # Cmax ~ dose^0.6
RESPONDER_LOG_CMAX = np.log(3.2)  # with the lower doses' share of non-responders: ~4.5x (ide-cel label)
FOLD_EXPANSION = 3900.0       # Stein 2019 Table 1
ALPHA = 0.16                  # /day, contraction (Stein 2019 Table 1)
FRACTION_PERSISTING = 0.012   # FB, share of the peak entering the slow phase (Stein 2019: 0.0079)
BETA = 0.010                  # /day, persistence-phase decline (Stein 2019: 0.0032, ALL)
CELLS_PER_UG_DNA = 151_500    # 6.6 pg genomic DNA per diploid cell
T_CELL_FRACTION = 0.6         # T cells among blood nucleated cells after lymphodepletion

#: Response depth: proportions among responders and non-responders, and tumour nadir (fraction of baseline).
DEPTHS = {"sCR": (0.001, 0.008), "CR": (0.011, 0.028), "VGPR": (0.04, 0.095), "PR": (0.15, 0.45),
          "MR": (0.55, 0.72), "SD": (0.8, 1.0), "PD": (1.0, 1.0)}
CATEGORY_THRESHOLDS = [("sCR", 0.009), ("CR", 0.03), ("VGPR", 0.1), ("PR", 0.5), ("MR", 0.75)]
MEDIAN_PFS_BY_DEPTH = {"sCR": 950, "CR": 820, "VGPR": 460, "PR": 250, "MR": 120, "SD": 100, "PD": 35}


@dataclass
class _Patient:
    subject_id: str
    dose_level: str
    infusion_day: int
    age: int
    sex: str
    prior_lines: int
    high_risk: bool
    emd: bool
    responder: bool
    eta: float                 # individual expansion effect (log scale)
    depth: str
    nadir: float
    kill_rate: float
    progression_day: float
    death_day: float | None
    last_contact_day: int
    pd_day: int | None
    crs_grade: int = 0
    crs_onset: int = 0
    fatal_infection: bool = False
    kinetics: dict | None = None   # the true kinetic parameters drawn for this patient (blood)


def _clip(x, low, high):
    return float(min(max(x, low), high))


def _sig(x: float, digits: int = 4) -> str:
    """Plain-decimal text with `digits` significant digits (no exponent), stable across platforms."""
    return np.format_float_positional(float(x), precision=digits, unique=False, fractional=False, trim="-")


def _jitter(rng: np.random.Generator, day: int) -> int:
    """Visit windows: 60 % of visits on the planned day, the rest within ±1 day in the first month,
    ±3 days to month 3, ±7 days after."""
    if day <= 1 or rng.random() < 0.6:
        return day
    window = 1 if day <= 28 else 3 if day <= 90 else 7
    return int(day + rng.integers(-window, window + 1))


def _patients(rng: np.random.Generator, n_subjects: int | None = None) -> list[_Patient]:
    total = sum(N_SUBJECTS_BY_DOSE.values())
    scale = (n_subjects or total) / total
    doses = [d for d, n in N_SUBJECTS_BY_DOSE.items() for _ in range(max(int(round(n * scale)), 6))]
    escalation = ["150e6 CAR+ T cells"] * 6 + ["300e6 CAR+ T cells"] * 6 + ["450e6 CAR+ T cells"] * 6
    for dose in escalation:
        doses.remove(dose)
    order = escalation + list(rng.permutation(doses))
    infusion_days = np.sort(rng.uniform(0, ENROLMENT_DAYS, len(order))).round().astype(int)
    patients = []
    p_response = {"150e6 CAR+ T cells": 0.55, "300e6 CAR+ T cells": 0.80, "450e6 CAR+ T cells": 0.88}
    high_risks = rng.random(len(order)) < 0.35
    responders = rng.random(len(order)) < np.array([p_response[d] for d in order]) - 0.08 * high_risks
    etas = rng.normal(0, 0.95, len(order))
    for group in (responders, ~responders):  # centre each group so the sample shows the intended contrast
        etas[group] -= np.median(etas[group])
    width = max(3, len(str(len(order))))
    for i, dose in enumerate(order):
        high_risk, responder, eta = bool(high_risks[i]), bool(responders[i]), float(etas[i])
        if responder:
            depth = str(rng.choice(["PR", "VGPR", "CR", "sCR"], p=[0.25, 0.30, 0.15, 0.30]))
            depth = _deepen_with_expansion(depth, eta)
        else:
            depth = str(rng.choice(["MR", "SD", "PD"], p=[0.2, 0.5, 0.3]))
        low, high = DEPTHS[depth]
        median_pfs = MEDIAN_PFS_BY_DEPTH[depth] * np.exp(0.3 * eta) * (0.8 if high_risk else 1.0)
        progression_day = float(rng.weibull(1.4) * median_pfs / np.log(2) ** (1 / 1.4))
        if depth == "PD":
            progression_day = float(rng.uniform(20, 45))
        patients.append(_Patient(
            subject_id=f"DM-{i + 1:0{width}d}", dose_level=dose, infusion_day=int(infusion_days[i]),
            age=int(round(_clip(rng.normal(62, 8), 38, 78))), sex="M" if rng.random() < 0.6 else "F",
            prior_lines=int(min(3 + rng.poisson(3), 12)), high_risk=high_risk, emd=bool(rng.random() < 0.35),
            responder=responder, eta=eta, depth=depth, nadir=float(rng.uniform(low, high)),
            kill_rate=float(np.exp(rng.normal(np.log(0.08), 0.3))), progression_day=progression_day,
            death_day=None, last_contact_day=0, pd_day=None,
        ))
    return patients


def _deepen_with_expansion(depth: str, eta: float) -> str:
    """Larger expansion shifts a responder one level deeper, smaller one level shallower."""
    ladder = ["PR", "VGPR", "CR", "sCR"]
    step = 1 if eta > 0.8 else -1 if eta < -0.8 else 0
    return ladder[int(np.clip(ladder.index(depth) + step, 0, 3))]


def _follow_up(rng: np.random.Generator, p: _Patient) -> None:
    """Progression detection at scheduled assessments, deaths, withdrawal and administrative censoring."""
    admin = min(MAX_FOLLOW_UP, DATA_CUTOFF_DAY - p.infusion_day)
    withdrawal = float(rng.uniform(60, 700)) if rng.random() < 0.08 else np.inf
    non_relapse_death = float(rng.exponential(9000))
    detected = [d for d in RESPONSE_DAYS if d >= p.progression_day]
    pd_day = float(detected[0]) if detected else np.inf
    post_progression_death = pd_day + float(rng.exponential(520)) if np.isfinite(pd_day) else np.inf
    death = min(non_relapse_death, post_progression_death)
    end = min(admin, withdrawal, death)
    p.pd_day = int(pd_day) if pd_day <= end else None
    if death <= min(admin, withdrawal):
        p.death_day = int(round(death))
        p.last_contact_day = p.death_day
    else:
        p.last_contact_day = int(np.floor(end))


def _transgene(p: _Patient, days: np.ndarray, rng_params: dict) -> np.ndarray:
    """Stein et al. 2019: R0·exp(rho·t) up to Tmax, then Cmax·((1-FB)·exp(-alpha·τ) + FB·exp(-beta·τ))."""
    cmax, tmax, foldx = rng_params["cmax"], rng_params["tmax"], rng_params["foldx"]
    alpha, fb, beta = rng_params["alpha"], rng_params["fb"], rng_params["beta"]
    rho = np.log(foldx) / tmax
    r0 = cmax / foldx
    tau = days - tmax
    rising = r0 * np.exp(rho * np.clip(days, 0, tmax))
    falling = cmax * ((1 - fb) * np.exp(-alpha * tau) + fb * np.exp(-beta * tau))
    level = np.where(days < tmax, rising, falling)
    return np.where(days < 0, 0.0, level)


def _kinetic_parameters(rng: np.random.Generator, p: _Patient) -> dict:
    dose_effect = (DOSE_CELLS[p.dose_level] / 300e6) ** CMAX_DOSE_EXPONENT
    responder_effect = np.exp(RESPONDER_LOG_CMAX * (p.responder - 0.8))
    return {
        "cmax": CMAX_300 * dose_effect * responder_effect * np.exp(p.eta),
        "tmax": TMAX_DAYS * np.exp(rng.normal(0, 0.2)),
        "foldx": FOLD_EXPANSION * np.exp(rng.normal(0, 0.8)),
        "alpha": ALPHA * np.exp(rng.normal(0, 0.35)) * (0.6 if p.responder else 1.0),
        "fb": FRACTION_PERSISTING * np.exp(rng.normal(0, 0.6) + 0.3 * p.eta),
        "beta": BETA * np.exp(rng.normal(0, 0.4)),
        "bm_ratio": 0.35 * np.exp(rng.normal(0, 0.4)),
        "vcn": 2.0 * np.exp(rng.normal(0, 0.3)),
    }


def _tumour_fraction(p: _Patient, day: float) -> float:
    """Tumour burden relative to baseline: falls to the nadir, regrows after progression."""
    if day <= 0:
        return 1.0
    if day < p.progression_day:
        return p.nadir + (1 - p.nadir) * np.exp(-p.kill_rate * day)
    at_progression = p.nadir + (1 - p.nadir) * np.exp(-p.kill_rate * p.progression_day)
    return float(min(max(at_progression, 0.02) * np.exp(0.03 * (day - p.progression_day)), 1.5))


def _category(p: _Patient, fraction: float) -> str:
    for category, threshold in CATEGORY_THRESHOLDS:
        if fraction <= threshold and list(DEPTHS).index(category) >= list(DEPTHS).index(p.depth):
            return category
    return "SD"


def _measurement_rows(rng: np.random.Generator, p: _Patient) -> list[dict]:
    params = p.kinetics = _kinetic_parameters(rng, p)
    sampling_end = min(p.last_contact_day, p.pd_day if p.pd_day is not None else np.inf)
    rows: list[dict] = []

    def add(analyte, specimen, day, value, unit, lloq):
        blq = lloq is not None and value < lloq
        rows.append({"subject_id": p.subject_id, "analyte": analyte, "specimen": specimen, "day": day,
                     "value": "" if blq else _sig(value), "unit": unit,
                     "lloq": "" if lloq is None else _sig(lloq), "blq": "TRUE" if blq else "FALSE"})

    def kinetics(specimen, day, scale):
        copies = _transgene(p, np.array([float(day)]), params)[0] * scale * np.exp(rng.normal(0, RESIDUAL_SD))
        add("car_copies", specimen, day, copies, "copies/µg gDNA", LLOQ["car_copies"])
        if rng.random() < 0.95:
            x = copies / (CELLS_PER_UG_DNA * params["vcn"] * T_CELL_FRACTION)
            pct = 100 * x / (1 + x) * np.exp(rng.normal(0, 0.3))
            add("car_t_pct", specimen, day, min(pct, 99.0), "%", LLOQ["car_t_pct"])

    for nominal in PB_DAYS:
        day = _jitter(rng, nominal)
        if day <= sampling_end and (nominal < 0 or rng.random() > 0.07):
            kinetics("PB", day, 1.0)
    baseline_pc = _clip(np.exp(rng.normal(np.log(35), 0.6)), 6, 92)
    bm_days = [_jitter(rng, d) for d in BM_DAYS] + ([p.pd_day] if p.pd_day is not None else [])
    for day in sorted(set(bm_days)):
        if day > sampling_end or (0 < day and day != p.pd_day and rng.random() < 0.1):
            continue
        kinetics("BM", day, params["bm_ratio"])
        pc = baseline_pc * _tumour_fraction(p, day) * np.exp(rng.normal(0, 0.2))
        add("plasma_cells_pct", "BM", day, _clip(pc, 0.1, 95), "%", None)
    il6 = _il6_course(rng, p)
    for nominal in IL6_DAYS:
        day = nominal if nominal <= 7 else _jitter(rng, nominal)  # daily samples while in hospital
        if day <= min(p.last_contact_day, 90) and (nominal <= 7 or rng.random() > 0.07):
            add("il6", "serum", day, il6(day) * np.exp(rng.normal(0, 0.25)), "pg/mL", LLOQ["il6"])
    return rows


def _il6_course(rng: np.random.Generator, p: _Patient):
    """IL-6 in pg/mL: baseline plus a peak one day after CRS onset whose height rises with the CRS grade."""
    baseline = float(np.exp(rng.normal(np.log(4), 0.5)))
    peak_by_grade = {0: 12, 1: 60, 2: 250, 3: 1500, 4: 4000}
    height = peak_by_grade[p.crs_grade] * float(np.exp(rng.normal(0, 0.6)))
    peak_day = p.crs_onset + 1 if p.crs_grade else 9

    def level(day: float) -> float:
        if day < peak_day:
            return baseline + height * np.exp(-((day - peak_day) ** 2) / 2.0) * (day >= 0)
        return baseline + height * np.exp(-np.log(2) / 1.5 * (day - peak_day))

    return level


def _adverse_events(rng: np.random.Generator, p: _Patient) -> list[dict]:
    events: list[tuple[str, int, int, int | None, bool, bool]] = []  # term, grade, onset, resolution, serious, related

    def add(term, grade, onset, duration, related, serious=None):
        resolution = None if duration is None else onset + max(int(round(duration)), 1)
        events.append((term, grade, int(onset), resolution, bool(grade >= 3 if serious is None else serious),
                       related))

    if p.crs_grade:
        duration = np.exp(rng.normal(np.log(4 + 2 * p.crs_grade), 0.5))
        add(CRS_TERM, p.crs_grade, p.crs_onset, duration, True)
        if rng.random() < 0.10 + 0.15 * (p.crs_grade >= 2) + 0.05 * (p.eta > 0.8):
            grade = int(rng.choice([1, 2, 3, 4], p=[0.55, 0.30, 0.12, 0.03]))
            add(ICANS_TERM, grade, p.crs_onset + int(rng.integers(1, 5)), np.exp(rng.normal(np.log(3), 0.6)), True)
    neutro = int(rng.choice([2, 3, 4], p=[0.1, 0.3, 0.6]))
    long_tail = rng.random() < 0.25
    add("Neutrophil count decreased", neutro, int(rng.integers(-3, 1)),
        rng.uniform(35, 120) if long_tail else rng.uniform(7, 30), True)
    if rng.random() < 0.7:
        add("Anemia", int(rng.choice([2, 3], p=[0.4, 0.6])), int(rng.integers(-2, 5)), rng.uniform(10, 60), True)
    if rng.random() < 0.6:
        add("Platelet count decreased", int(rng.choice([1, 2, 3, 4], p=[0.2, 0.25, 0.3, 0.25])),
            int(rng.integers(-1, 8)), rng.uniform(7, 90), True)
    if rng.random() < 0.15:
        add("Febrile neutropenia", 3, int(rng.integers(2, 11)), rng.uniform(2, 6), True)
    for term, rate, grades, weights, window, related in [
        ("Upper respiratory infection", 0.25, [1, 2], [0.5, 0.5], (30, 400), False),
        ("Pneumonia", 0.10, [2, 3], [0.3, 0.7], (20, 500), False),
        ("Sepsis", 0.04, [3, 4], [0.7, 0.3], (5, 200), True),
        ("Fatigue", 0.40, [1, 2], [0.6, 0.4], (1, 10), True),
        ("Nausea", 0.30, [1, 2], [0.7, 0.3], (0, 7), False),
        ("Diarrhea", 0.25, [1, 2], [0.7, 0.3], (0, 14), False),
        ("Hypokalemia", 0.30, [1, 2, 3], [0.4, 0.4, 0.2], (1, 14), False),
        ("Headache", 0.20, [1, 2], [0.8, 0.2], (0, 10), False),
    ]:
        if rng.random() < rate:
            add(term, int(rng.choice(grades, p=weights)), int(rng.integers(*window)),
                rng.uniform(2, 14), related)
    if p.fatal_infection:
        add("Sepsis", 5, p.death_day, None, False, serious=True)
    rows = []
    for term, grade, onset, resolution, serious, related in events:
        if onset > p.last_contact_day:
            continue
        if resolution is not None and resolution > p.last_contact_day:
            resolution = None  # still ongoing at last contact
        rows.append({"subject_id": p.subject_id, "term": term, "grade": grade, "onset_day": onset,
                     "resolution_day": "" if resolution is None else resolution,
                     "serious": "TRUE" if serious else "FALSE", "related": "TRUE" if related else "FALSE"})
    return rows


def _response_rows(rng: np.random.Generator, p: _Patient) -> list[dict]:
    rows = []
    for nominal in RESPONSE_DAYS:
        day = nominal if nominal <= 28 else _jitter(rng, nominal)
        if day > p.last_contact_day or (p.pd_day is not None and nominal > p.pd_day):
            break
        if p.pd_day is not None and nominal == p.pd_day:
            rows.append({"subject_id": p.subject_id, "day": day, "response": "PD", "mrd_negative": ""})
            break
        if rng.random() < 0.04:
            continue  # missed assessment
        category = _category(p, _tumour_fraction(p, day))
        mrd = ""
        if category in ("sCR", "CR") and nominal in (90, 180, 365):
            mrd = "TRUE" if rng.random() < (0.85 if category == "sCR" else 0.6) else "FALSE"
        rows.append({"subject_id": p.subject_id, "day": day, "response": category, "mrd_negative": mrd})
    return rows


#: Companion markers (second random stream, so the seed analytes stay as they were): LLOQs in canonical units.
COMPANION_LLOQ = {"car_t_abs": 0.5, "cd4_car_pct": 0.1, "cd8_car_pct": 0.1, "crp": 0.5, "ferritin": 5.0,
                  "ifng": 2.0, "il10": 1.0, "sbcma": 1.0, "m_protein": 0.1, "iflc": 1.0}
#: Cytokine and acute-phase peaks by CRS grade (0 = none): typical published magnitudes for BCMA CAR-T.
CRS_PEAKS = {"crp": (15, 60, 140, 230, 300), "ferritin": (600, 1500, 3000, 8000, 15000),
             "ifng": (20, 80, 300, 1200, 3000), "il10": (10, 30, 90, 300, 800)}


def _companion_rows(rng: np.random.Generator, p: _Patient, seed_rows: list[dict]) -> list[dict]:
    """Absolute CAR+ T cells and CD4+/CD8+ CAR+ % read off the simulated CAR+ % (blood); CRP, ferritin, IFN-γ and
    IL-10 that follow the patient's CRS; sBCMA, M-protein and involved FLC that follow the tumour burden."""
    rows: list[dict] = []

    def add(analyte, specimen, day, value, unit):
        lloq = COMPANION_LLOQ[analyte]
        blq = value < lloq
        rows.append({"subject_id": p.subject_id, "analyte": analyte, "specimen": specimen, "day": day,
                     "value": "" if blq else _sig(value), "unit": unit, "lloq": _sig(lloq),
                     "blq": "TRUE" if blq else "FALSE"})

    t_cells = float(np.exp(rng.normal(np.log(450), 0.4)))  # T cells/µL blood after recovery from lymphodepletion
    for r in seed_rows:
        if r["analyte"] != "car_t_pct" or r["specimen"] != "PB":
            continue
        day = int(r["day"])
        pct = 0.0 if r["blq"] == "TRUE" else float(r["value"])
        recovery = 0.25 + 0.75 * (1 - np.exp(-max(day, 0) / 20))  # lymphopenia after lymphodepletion
        add("car_t_abs", "PB", day, pct / 100 * t_cells * recovery * np.exp(rng.normal(0, 0.2)), "cells/µL")
        if day <= 90:
            add("cd4_car_pct", "PB", day, min(pct * float(rng.uniform(0.5, 0.9)), 99.0), "%")
            add("cd8_car_pct", "PB", day, min(pct * float(rng.uniform(1.1, 1.5)), 99.0), "%")
    grade = min(p.crs_grade, 4)
    peak_day = p.crs_onset + 1 if p.crs_grade else 9
    baselines = {"crp": np.exp(rng.normal(np.log(4), 0.6)), "ferritin": np.exp(rng.normal(np.log(350), 0.5)),
                 "ifng": np.exp(rng.normal(np.log(4), 0.5)), "il10": np.exp(rng.normal(np.log(3), 0.5))}
    heights = {a: CRS_PEAKS[a][grade] * float(np.exp(rng.normal(0, 0.5))) for a in CRS_PEAKS}
    half_lives = {"crp": 2.0, "ferritin": 6.0, "ifng": 1.2, "il10": 1.5}
    units = {"crp": "mg/L", "ferritin": "ng/mL", "ifng": "pg/mL", "il10": "pg/mL"}
    for day in IL6_DAYS:
        if day > min(p.last_contact_day, 90):
            continue
        for analyte in CRS_PEAKS:
            rise = np.exp(-((day - peak_day) ** 2) / 2.0) * (day >= 0) if day < peak_day else \
                np.exp(-np.log(2) / half_lives[analyte] * (day - peak_day))
            add(analyte, "serum", day, (baselines[analyte] + heights[analyte] * rise) * np.exp(rng.normal(0, 0.2)),
                units[analyte])
    sbcma, m_protein, iflc = (float(np.exp(rng.normal(np.log(x), s))) for x, s in ((150, 0.6), (2.2, 0.5),
                                                                                    (400, 0.8)))
    for day in [-5, *RESPONSE_DAYS]:
        if day > p.last_contact_day or (p.pd_day is not None and day > p.pd_day + 30):
            break
        burden = _tumour_fraction(p, day)
        add("sbcma", "serum", day, max(sbcma * burden, 2.0) * np.exp(rng.normal(0, 0.15)), "ng/mL")
        add("m_protein", "serum", day, m_protein * burden * np.exp(rng.normal(0, 0.1)), "g/dL")
        add("iflc", "serum", day, (iflc * burden + 12) * np.exp(rng.normal(0, 0.15)), "mg/L")
    return rows


def _conmed_rows(rng: np.random.Generator, p: _Patient, ae_rows: list[dict]) -> list[dict]:
    """Tocilizumab for CRS grade ≥2 (and some grade 1), dexamethasone for ICANS ≥2 or CRS ≥3, anakinra for
    refractory grade ≥3 CRS (ASTCT-era practice), and antiviral prophylaxis for everyone."""
    rows = [{"subject_id": p.subject_id, "drug": "acyclovir", "start_day": 0,
             "end_day": min(365, p.last_contact_day), "indication": "Antiviral prophylaxis"}]

    def give(drug, start, days, indication):
        start = int(start)
        if start <= p.last_contact_day:
            rows.append({"subject_id": p.subject_id, "drug": drug, "start_day": start,
                         "end_day": min(start + days - 1, p.last_contact_day), "indication": indication})

    for event in ae_rows:
        grade, onset = int(event["grade"]), int(event["onset_day"])
        if event["term"] == CRS_TERM:
            if grade >= 2 or rng.random() < 0.3:
                give("tocilizumab", onset + int(rng.integers(0, 2)), 1 + int(grade >= 3), "CRS")
            if grade >= 3:
                give("dexamethasone", onset + 1, 3 + int(rng.integers(0, 3)), "CRS")
                if rng.random() < 0.4:
                    give("anakinra", onset + 2, 5, "CRS")
        elif event["term"] == ICANS_TERM and grade >= 2:
            give("dexamethasone", onset, 2 + 2 * (grade - 1), "ICANS")
    return rows


#: The true multiphasic-model parameters of each simulated patient's blood transgene profile (Stein et al. 2019
#: names and units; rho = ln(foldx) / tmax): what a cellular-kinetic model fit should recover.
TRUTH_COLUMNS = ("subject_id", "dose_level", "responder", "cmax", "tmax", "rho", "foldx", "alpha", "fb", "beta",
                 "residual_sd", "lloq")
RESIDUAL_SD = 0.35            # log-normal residual of every transgene measurement


def simulate(seed: int = SEED, n_subjects: int | None = None) -> dict[str, pd.DataFrame]:
    """The tables of the demo study, in the import format, as text columns (about `n_subjects` patients;
    default the demo's 62)."""
    return simulate_with_truth(seed, n_subjects)[0]


def simulate_with_truth(seed: int = SEED, n_subjects: int | None = None) -> tuple[dict[str, pd.DataFrame],
                                                                                   pd.DataFrame]:
    """`simulate()`'s tables and, beside them, each patient's true blood kinetic parameters (TRUTH_COLUMNS)."""
    rng = np.random.default_rng(seed)
    companions = np.random.default_rng([seed, 2])  # its own stream: the seed analytes do not change with it
    patients = _patients(rng, n_subjects)
    subjects, measurements, adverse_events, responses, conmeds = [], [], [], [], []
    for p in patients:
        _follow_up(rng, p)
        severity = 0.9 * p.eta + rng.normal(0, 0.8) + 0.3 * np.log(DOSE_CELLS[p.dose_level] / 300e6)
        p.crs_grade = 0 if severity < -1.1 else 1 if severity < 0.3 else 2 if severity < 1.6 else \
            3 if severity < 2.6 else 4
        p.crs_onset = int(_clip(round(1 + np.exp(rng.normal(np.log(1.2), 0.7))), 1, 10))
        p.fatal_infection = p.death_day is not None and p.pd_day is None and p.death_day < 400
        subjects.append({
            "subject_id": p.subject_id, "dose_level": p.dose_level, "age": p.age, "sex": p.sex,
            "last_contact_day": p.last_contact_day, "death_day": "" if p.death_day is None else p.death_day,
            "prior_lines": p.prior_lines, "high_risk_cytogenetics": "TRUE" if p.high_risk else "FALSE",
            "extramedullary_disease": "TRUE" if p.emd else "FALSE",
        })
        seed_rows = _measurement_rows(rng, p)
        ae_rows = _adverse_events(rng, p)
        measurements += seed_rows + _companion_rows(companions, p, seed_rows)
        adverse_events += ae_rows
        responses += _response_rows(rng, p)
        conmeds += _conmed_rows(companions, p, ae_rows)
    truth = pd.DataFrame([{
        "subject_id": p.subject_id, "dose_level": p.dose_level, "responder": p.responder,
        **{k: p.kinetics[k] for k in ("cmax", "tmax")}, "rho": np.log(p.kinetics["foldx"]) / p.kinetics["tmax"],
        **{k: p.kinetics[k] for k in ("foldx", "alpha", "fb", "beta")},
        "residual_sd": RESIDUAL_SD, "lloq": LLOQ["car_copies"]} for p in patients], columns=list(TRUTH_COLUMNS))
    return {
        "subjects": pd.DataFrame(subjects),
        "measurements": pd.DataFrame(measurements),
        "adverse_events": pd.DataFrame(adverse_events),
        "responses": pd.DataFrame(responses),
        "concomitant_medications": pd.DataFrame(conmeds),
    }, truth


def write_demo_study(out_dir: str | Path, seed: int = SEED, n_subjects: int | None = None,
                     truth_dir: str | Path | None = None) -> list[Path]:
    """Write subjects.csv, measurements.csv, adverse_events.csv, responses.csv and concomitant_medications.csv;
    with `truth_dir`, also the true kinetic parameters there (ck_parameters.csv), apart from the study's data."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables, truth = simulate_with_truth(seed, n_subjects)
    paths = []
    for table, frame in tables.items():
        path = out_dir / f"{table}.csv"
        frame.to_csv(path, index=False, lineterminator="\n")
        paths.append(path)
    if truth_dir is not None:
        Path(truth_dir).mkdir(parents=True, exist_ok=True)
        path = Path(truth_dir) / "ck_parameters.csv"
        truth.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")
        paths.append(path)
    return paths
