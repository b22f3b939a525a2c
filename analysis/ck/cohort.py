"""The model fitted to every profile of one analyte and specimen, with the cohort's residual SD pooled over them.

Two passes: every profile with σ = STARTING_RESIDUAL_SD; σ pooled from their residuals (Σ RSS / Σ (n − p) over
the fitted profiles' quantifiable samples, on the log scale); every profile again from its first estimate with
the pooled σ (its BLQ samples weigh by it, and the intervals scale with it). Profiles are independent, so
`workers` > 1 fits them in that many processes (for the command line and benchmarks; the web server fits in its
own process).
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.ck import model
from analysis.ck.fit import STARTING_RESIDUAL_SD, ProfileFit, estimates, fit_profile
from analysis.ck.model import CK_PARAMETERS

#: The parameter table's columns before the parameters (each parameter then has `_lower` and `_upper`).
FIT_COLUMNS = ("subject_id", "status", "reason", "n_quantifiable", "n_blq", "residual_sd", "rmse_log",
               "minus_2_log_likelihood", "aic")


@dataclass
class Profile:
    subject_id: str
    days: np.ndarray
    values: np.ndarray
    blq: np.ndarray
    lloq: np.ndarray


@dataclass
class CohortFit:
    analyte: str
    specimen: str
    lloq: float                         # the profiles' usual LLOQ (for the predicted day below it)
    residual_sd: float
    residual_sd_note: str               # 'pooled over 52 profiles (331 degrees of freedom)' or 'given'
    fits: dict[str, ProfileFit]
    parameters: pd.DataFrame            # FIT_COLUMNS, then every CK parameter with its interval

    def fitted_curve(self, subject_id: str, days: np.ndarray) -> np.ndarray | None:
        fit = self.fits.get(subject_id)
        return None if fit is None or not fit.fitted else model.curve(fit.theta, days)


def profiles(measurements: pd.DataFrame, analyte: str, specimen: str) -> list[Profile]:
    """One Profile per subject with samples of the analyte in the specimen, in subject order."""
    rows = measurements[(measurements["analyte"] == analyte) & (measurements["specimen"] == specimen)]
    lloq = rows["lloq"] if "lloq" in rows else pd.Series(np.nan, index=rows.index)
    frame = pd.DataFrame({"subject_id": rows["subject_id"].astype(str), "day": rows["day"].astype(float),
                          "value": pd.to_numeric(rows["value"], errors="coerce"),
                          "blq": rows["blq"].astype(bool), "lloq": pd.to_numeric(lloq, errors="coerce")})
    return [Profile(str(sid), g["day"].to_numpy(), g["value"].to_numpy(), g["blq"].to_numpy(), g["lloq"].to_numpy())
            for sid, g in frame.groupby("subject_id", sort=True)]


def _fit_one(args) -> ProfileFit:
    profile, residual_sd, start = args
    return fit_profile(profile.days, profile.values, profile.blq, profile.lloq, residual_sd, start)


def _fit_all(items: list, workers: int) -> list[ProfileFit]:
    if workers <= 1 or len(items) < 4 * workers:
        return [_fit_one(item) for item in items]
    # forkserver: never fork a process that holds threads and locks (a web server, a database pool)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(_fit_one, items, chunksize=max(1, len(items) // (8 * workers))))


def pooled_residual_sd(fits: list[ProfileFit]) -> tuple[float, int, int]:
    """σ pooled over the profiles that support the whole model and have more quantifiable samples than it has
    parameters: (σ, profiles, degrees of freedom); nan when none has any to spare. (A profile fitted without its
    persistence phase, or at a bound, may be misfitted, and its residuals would inflate σ.)"""
    rss, dof, used = 0.0, 0, 0
    for fit in fits:
        spare = fit.n_quantifiable - fit.n_estimated
        if fit.supports_model and spare > 0 and np.isfinite(fit.rmse_log):
            rss += fit.rmse_log ** 2 * fit.n_quantifiable
            dof += spare
            used += 1
    return (float(np.sqrt(rss / dof)) if dof else np.nan), used, dof


def fit_cohort(measurements: pd.DataFrame, analyte: str = "car_copies", specimen: str = "PB",
               residual_sd: float | None = None, workers: int = 1) -> CohortFit:
    """Fit every profile of `analyte` in `specimen`; σ pooled over them unless `residual_sd` is given."""
    items = profiles(measurements, analyte, specimen)
    lloqs = np.concatenate([p.lloq for p in items]) if items else np.zeros(0)
    lloqs = lloqs[np.isfinite(lloqs) & (lloqs > 0)]
    lloq = float(np.median(lloqs)) if lloqs.size else np.nan
    if residual_sd is not None:
        fits = _fit_all([(p, residual_sd, None) for p in items], workers)
        sd, note = residual_sd, "given"
    else:
        first = _fit_all([(p, STARTING_RESIDUAL_SD, None) for p in items], workers)
        sd, used, dof = pooled_residual_sd(first)
        if not np.isfinite(sd):
            fits, sd, note = first, STARTING_RESIDUAL_SD, "assumed (no profile has samples to spare)"
        else:
            again = [(p, sd, f.theta if f.fitted else None) for p, f in zip(items, first, strict=True)]
            fits = _fit_all(again, workers)
            note = f"pooled over {used} profiles ({dof} degrees of freedom)"
    by_subject = {p.subject_id: f for p, f in zip(items, fits, strict=True)}
    return CohortFit(analyte, specimen, lloq, sd, note, by_subject, parameter_table(by_subject, lloq))


def parameter_table(fits: dict[str, ProfileFit], lloq: float) -> pd.DataFrame:
    rows = []
    for subject_id, fit in fits.items():
        row = {"subject_id": subject_id, "status": fit.status, "reason": fit.reason,
               "n_quantifiable": fit.n_quantifiable, "n_blq": fit.n_blq, "residual_sd": fit.residual_sd,
               "rmse_log": fit.rmse_log, "minus_2_log_likelihood": fit.minus_2_log_likelihood,
               "aic": fit.aic if fit.fitted else np.nan}
        values = estimates(fit, lloq)
        if fit.fitted and fit.n_estimated < model.N_THETA:  # no slow phase: nothing to say about it
            for name in ("fb", "beta", "persistence_half_life"):
                values[name] = values[f"{name}_lower"] = values[f"{name}_upper"] = np.nan
        row.update(values)
        rows.append(row)
    columns = list(FIT_COLUMNS) + [c for p in CK_PARAMETERS for c in (p.name, f"{p.name}_lower", f"{p.name}_upper")]
    return pd.DataFrame(rows, columns=columns)


def observations(cohort: CohortFit) -> pd.DataFrame:
    """Every sample a fit used, with its prediction: subject_id, day, observed (the LLOQ for BLQ), blq, predicted,
    residual (ln observed − ln predicted, over σ: the standardised residual; BLQ samples have none)."""
    frames = []
    for subject_id, fit in cohort.fits.items():
        if not fit.fitted or not len(fit.days):
            continue
        predicted = model.curve(fit.theta, fit.days)
        residual = np.where(fit.blq, np.nan, np.log(fit.observed / predicted) / cohort.residual_sd)
        frames.append(pd.DataFrame({"subject_id": subject_id, "day": fit.days, "observed": fit.observed,
                                    "blq": fit.blq, "predicted": predicted, "residual": residual}))
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame({"subject_id": pd.Series(dtype=object), "day": pd.Series(dtype=float),
                         "observed": pd.Series(dtype=float), "blq": pd.Series(dtype=bool),
                         "predicted": pd.Series(dtype=float), "residual": pd.Series(dtype=float)})


@dataclass
class PatientModelFit:
    """One profile's fit as a patient page shows it: the cohort's fit of it (the same numbers the command line
    writes), its parameters with intervals, and the fitted curve on a grid of days."""

    analyte: str
    specimen: str
    fit: ProfileFit
    parameters: pd.Series              # the profile's row of CohortFit.parameters
    residual_sd_note: str
    curve_days: np.ndarray
    curve_values: np.ndarray


def patient_model_fit(cohort: CohortFit, subject_id: str, last_day: float | None = None) -> PatientModelFit | None:
    """The cohort fit of one patient (None when the patient has no such profile); the curve from Day 0 to
    `last_day` (default the last sample's day)."""
    fit = cohort.fits.get(subject_id)
    if fit is None:
        return None
    row = cohort.parameters.set_index("subject_id").loc[subject_id]
    end = last_day if last_day is not None else (float(fit.days.max()) if len(fit.days) else 28.0)
    days = np.unique(np.concatenate([np.linspace(0, min(end, 60), 241), np.linspace(0, end, 241)]))
    values = model.curve(fit.theta, days) if fit.fitted else np.zeros(0)
    return PatientModelFit(cohort.analyte, cohort.specimen, fit, row, cohort.residual_sd_note,
                           days if fit.fitted else np.zeros(0), values)
