"""A large simulated cohort for benchmarks: the demo study's kinetic model, vectorised, with dense sampling.

10,000 patients give about 1.2 million measurement rows over every analyte and specimen (CAR
transgene and CAR+ % in blood and marrow, marrow plasma cells, serum IL-6), with BLQ values at the
assay LLOQ and 5 % missed samples. SIMULATED DATA.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from data_access import demo

PB_DAYS = [-5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 17, 21, 24, 28, 35, 42, 49, 60, 75, 90, 105, 120,
           150, 180, 270, 365, 455, 545, 730]
BM_DAYS = [-21, 14, 28, 60, 90, 180, 270, 365, 545]
IL6_DAYS = [-5, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 17, 21, 24, 28, 35, 42, 49, 60, 75, 90, 120, 150, 180]


def kinetics_cohort(n_subjects: int = 10_000, seed: int = 7) -> pd.DataFrame:
    """Long measurements table in the import format's canonical units (value NaN where BLQ)."""
    rng = np.random.default_rng(seed)
    n = n_subjects
    responder = rng.random(n) < 0.8
    eta = rng.normal(0, 0.95, n)
    params = {
        "cmax": demo.CMAX_300 * np.exp(demo.RESPONDER_LOG_CMAX * (responder - 0.8)) * np.exp(eta),
        "tmax": demo.TMAX_DAYS * np.exp(rng.normal(0, 0.2, n)),
        "foldx": demo.FOLD_EXPANSION * np.exp(rng.normal(0, 0.8, n)),
        "alpha": demo.ALPHA * np.exp(rng.normal(0, 0.35, n)) * np.where(responder, 0.7, 1.0),
        "fb": demo.FRACTION_PERSISTING * np.exp(rng.normal(0, 0.6, n) + 0.3 * eta),
        "beta": demo.BETA * np.exp(rng.normal(0, 0.4, n)),
    }
    bm_ratio = 0.35 * np.exp(rng.normal(0, 0.4, n))
    vcn = 2.0 * np.exp(rng.normal(0, 0.3, n))
    frames = []

    def add(analyte, specimen, days, level, unit, lloq, noise):
        days = np.asarray(days, dtype=float)
        values = level * np.exp(rng.normal(0, noise, level.shape))
        subject = np.repeat(np.arange(n), len(days))
        frame = pd.DataFrame({"subject_index": subject, "analyte": analyte, "specimen": specimen,
                              "day": np.tile(days, n), "value": values.ravel(), "unit": unit, "lloq": lloq})
        frames.append(frame)

    def transgene(days):
        t = np.asarray(days, dtype=float)[None, :]
        p = {k: v[:, None] for k, v in params.items()}
        rho = np.log(p["foldx"]) / p["tmax"]
        rising = p["cmax"] / p["foldx"] * np.exp(rho * np.clip(t, 0, p["tmax"]))
        tau = t - p["tmax"]
        falling = p["cmax"] * ((1 - p["fb"]) * np.exp(-p["alpha"] * tau) + p["fb"] * np.exp(-p["beta"] * tau))
        return np.where(t < 0, 0.0, np.where(t < p["tmax"], rising, falling))

    def flow(copies):
        x = copies / (demo.CELLS_PER_UG_DNA * vcn[:, None] * demo.T_CELL_FRACTION)
        return np.minimum(100 * x / (1 + x), 99.0)

    pb, bm = transgene(PB_DAYS), transgene(BM_DAYS) * bm_ratio[:, None]
    add("car_copies", "PB", PB_DAYS, pb, "copies/µg gDNA", demo.LLOQ["car_copies"], 0.35)
    add("car_t_pct", "PB", PB_DAYS, flow(pb), "%", demo.LLOQ["car_t_pct"], 0.3)
    add("car_copies", "BM", BM_DAYS, bm, "copies/µg gDNA", demo.LLOQ["car_copies"], 0.35)
    add("car_t_pct", "BM", BM_DAYS, flow(bm), "%", demo.LLOQ["car_t_pct"], 0.3)
    baseline_pc = np.clip(np.exp(rng.normal(np.log(35), 0.6, n)), 6, 92)
    nadir = np.where(responder, rng.uniform(0.001, 0.4, n), rng.uniform(0.6, 1.0, n))
    t = np.asarray(BM_DAYS, dtype=float)[None, :]
    burden = np.where(t <= 0, 1.0, nadir[:, None] + (1 - nadir[:, None]) * np.exp(-0.08 * np.clip(t, 0, None)))
    add("plasma_cells_pct", "BM", BM_DAYS, np.clip(baseline_pc[:, None] * burden, 0.1, 95), "%", np.nan, 0.2)
    il6_base = np.exp(rng.normal(np.log(4), 0.5, n))[:, None]
    peak = np.exp(rng.normal(np.log(150), 1.2, n))[:, None]
    peak_day = rng.integers(2, 8, n)[:, None]
    t = np.asarray(IL6_DAYS, dtype=float)[None, :]
    il6 = il6_base + peak * np.where(t < peak_day, np.exp(-((t - peak_day) ** 2) / 2.0) * (t >= 0),
                                     np.exp(-np.log(2) / 1.5 * (t - peak_day)))
    add("il6", "serum", IL6_DAYS, il6, "pg/mL", demo.LLOQ["il6"], 0.25)

    m = pd.concat(frames, ignore_index=True)
    m = m[rng.random(len(m)) > 0.05]
    m["blq"] = m["value"] < m["lloq"]
    m.loc[m["blq"], "value"] = np.nan
    m["subject_id"] = pd.Series([f"P{i:05d}" for i in range(n)], dtype=object).to_numpy()[m["subject_index"]]
    m = m.sort_values(["subject_id", "analyte", "specimen", "day"], kind="stable").reset_index(drop=True)
    return m[["subject_id", "analyte", "specimen", "day", "value", "unit", "lloq", "blq"]]
