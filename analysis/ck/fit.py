"""Fitting the multiphasic model to one profile, and to every profile of a cohort.

Maximum likelihood on the natural-log scale with a normal residual: a quantifiable sample contributes its
density, a BLQ sample the probability of a value below its LLOQ (Beal's M3: censored, not dropped, not
imputed). With the residual SD σ fixed, −2 ln L is a sum of squares of standardised residuals (z for a
quantifiable sample, sqrt(−2 ln Φ(z_LLOQ)) for a BLQ one), so scipy's bounded least squares (trust-region
reflective, with the model's analytic Jacobian) finds the estimate; Wald intervals come from (JᵀJ)⁻¹ on θ's scale.
σ is one assay's: a cohort shares one, pooled over its profiles' fits (`fit_profiles`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import least_squares
from scipy.special import log_ndtr

from analysis.ck import model
from analysis.ck.model import CK_PARAMETERS, DERIVED, LOWER, N_THETA, PRIMARY, UPPER

Z95 = 1.959963984540054
#: σ assumed for the first pass, before the cohort's own is known (qPCR replicate SDs are of this order).
STARTING_RESIDUAL_SD = 0.5
MIN_QUANTIFIABLE = N_THETA            # as many quantifiable samples as the model has parameters
MIN_AFTER_PEAK = 3
#: A fit whose parameter's standard error on θ's scale exceeds this (a 95% interval wider than a factor of
#: e^(2·1.96·4) ≈ 7·10⁶) is reported as not supported by the samples.
MAX_THETA_SE = 4.0

CONVERGED = "converged"
NO_PERSISTENCE = "converged without a persistence phase"
AT_BOUND = "converged at a bound"
NOT_CONVERGED = "not converged"
NOT_FITTED = "not fitted"


@dataclass
class ProfileFit:
    status: str                        # CONVERGED, NO_PERSISTENCE, AT_BOUND, NOT_CONVERGED or NOT_FITTED
    reason: str = ""                   # why not fitted, which bound, which parameter is not identified
    theta: np.ndarray | None = None
    covariance: np.ndarray | None = None
    residual_sd: float = np.nan
    n_quantifiable: int = 0
    n_blq: int = 0
    minus_2_log_likelihood: float = np.nan
    rmse_log: float = np.nan           # root mean square of ln(observed / fitted), quantifiable samples
    days: np.ndarray = field(default_factory=lambda: np.zeros(0))
    observed: np.ndarray = field(default_factory=lambda: np.zeros(0))   # value, or the LLOQ of a BLQ sample
    blq: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    n_estimated: int = N_THETA         # 4 when the persistence phase is left out (FB = 0)

    @property
    def fitted(self) -> bool:
        return self.theta is not None

    @property
    def supports_model(self) -> bool:
        """Every parameter estimated, none at a bound, every one identified: the fits the verification counts."""
        return self.status == CONVERGED and not self.reason

    @property
    def aic(self) -> float:
        return self.minus_2_log_likelihood + 2 * self.n_estimated

    def standard_errors(self) -> np.ndarray:
        if self.covariance is None:
            return np.full(N_THETA, np.nan)
        return np.sqrt(np.clip(np.diag(self.covariance), 0, None))


def _prepare(days, values, blq, lloq):
    """Samples after Day 0 (Day 0 samples are drawn before the infusion), with a value or a BLQ flag and LLOQ."""
    days = np.asarray(days, dtype=float)
    values = np.asarray(values, dtype=float)
    blq = np.asarray(blq, dtype=bool)
    lloq = np.broadcast_to(np.asarray(lloq, dtype=float), days.shape).copy()
    known_lloq = lloq[np.isfinite(lloq) & (lloq > 0)]
    lloq = np.where(np.isfinite(lloq) & (lloq > 0), lloq, known_lloq.min() if known_lloq.size else np.nan)
    keep = (days > 0) & np.isfinite(days) & ((~blq & np.isfinite(values) & (values > 0)) | (blq & np.isfinite(lloq)))
    order = np.argsort(days[keep], kind="stable")
    days, values, blq, lloq = days[keep][order], values[keep][order], blq[keep][order], lloq[keep][order]
    return days, np.where(blq, lloq, values), blq


def support_reason(days: np.ndarray, observed: np.ndarray, blq: np.ndarray) -> str:
    """Why these samples cannot support the model ('' when they can)."""
    quantifiable = ~blq
    n = int(quantifiable.sum())
    if n < MIN_QUANTIFIABLE:
        return f"{n} quantifiable samples after Day 0; the model has {N_THETA} parameters"
    q_days, q_values = days[quantifiable], observed[quantifiable]
    peak = int(np.argmax(q_values))
    if peak == 0:
        return "the first quantifiable sample is the highest: nothing shows the expansion"
    after = q_values[peak + 1:]
    if len(after) < MIN_AFTER_PEAK:
        return f"{len(after)} quantifiable samples after the peak; the decline needs {MIN_AFTER_PEAK}"
    if after.min() > 0.5 * q_values[peak] and not blq[days > q_days[peak]].any():
        return "no decline after the peak (no later sample below half of it)"
    return ""


def _starts(days: np.ndarray, observed: np.ndarray, blq: np.ndarray) -> list[np.ndarray]:
    """Starting points from the data, one per candidate peak day: every sample day from the first quantifiable one
    to the one after the observed peak, and the midpoints between them (the peak's day is a break point of the
    curve, so the likelihood has a local optimum in each interval between samples). For each, the expansion rate
    from the samples before it, the contraction rate from the month after it, the persisting fraction from the
    samples after that."""
    q_days, q_log = days[~blq], np.log(observed[~blq])
    peak = int(np.argmax(q_log))
    t_peak, log_peak = q_days[peak], q_log[peak]
    after = days[days > t_peak]
    last = after[0] if after.size else t_peak
    grid = days[(days >= q_days[0]) & (days <= last)]
    candidates = np.unique(np.concatenate([grid, (grid[1:] + grid[:-1]) / 2]))
    beta = 0.01
    starts = []
    for t in candidates:
        before = q_days < t
        if before.sum() >= 2:
            rho = np.polyfit(q_days[before], q_log[before], 1)[0]
        else:
            rho = (log_peak - q_log[0]) / max(t_peak - q_days[0], 0.5)
        rho = float(np.clip(rho, 0.05, 3.0))
        log_cmax = max(log_peak, q_log[before][-1] + rho * (t - q_days[before][-1])) if before.any() else log_peak
        early = (q_days > t) & (q_days <= t + 30)
        alpha = -np.polyfit(q_days[early] - t, q_log[early], 1)[0] if early.sum() >= 2 else 0.15
        alpha = float(np.clip(alpha, model.PHASE_SPLIT_RATE * 1.5, 2.0))
        late = q_days > t + 40
        fb = np.clip(np.median(np.exp(q_log[late] - log_cmax + beta * (q_days[late] - t))) if late.any() else 0.005,
                     1e-5, 0.3)
        theta = model.to_theta(np.exp(log_cmax), max(t, 0.6), rho, alpha, fb, beta)
        starts.append(np.clip(theta, LOWER + 1e-6, UPPER - 1e-6))
    return starts


class _Objective:
    """Standardised residuals whose half sum of squares is −ln L (up to a constant), and their Jacobian."""

    def __init__(self, days, observed, blq, residual_sd, free=None, fixed=None):
        self.days, self.log_obs, self.blq, self.sd = days, np.log(observed), blq, residual_sd
        self.free = np.arange(N_THETA) if free is None else free
        self.fixed = np.zeros(N_THETA) if fixed is None else fixed

    def full(self, x):
        theta = self.fixed.copy()
        theta[self.free] = x
        return theta

    def _z(self, x):
        log_c, jac = model.log_curve(self.full(x), self.days, jacobian=True)
        return (self.log_obs - log_c) / self.sd, -jac[:, self.free] / self.sd

    def residuals_batch(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residuals (S, n) and their Jacobian (S, n, free) for S points at once."""
        thetas = np.broadcast_to(self.fixed, (len(xs), N_THETA)).copy()
        thetas[:, self.free] = xs
        log_c, jac = model.log_curve_batch(thetas, self.days)
        z = (self.log_obs[None, :] - log_c) / self.sd
        dz = -jac[..., self.free] / self.sd
        if not self.blq.any():
            return z, dz
        log_phi = log_ndtr(z)
        r_censored = np.sqrt(np.clip(-2 * log_phi, 1e-300, None))
        mills = np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - log_phi)
        r = np.where(self.blq, r_censored, z)
        scale = np.where(self.blq, -mills / np.maximum(r_censored, 1e-150), 1.0)
        return r, dz * scale[..., None]

    def residuals(self, theta):
        z, _ = self._z(theta)
        return np.where(self.blq, np.sqrt(np.clip(-2 * log_ndtr(z), 0, None)), z)

    def jacobian(self, theta):
        z, dz = self._z(theta)
        if not self.blq.any():
            return dz
        r = np.sqrt(np.clip(-2 * log_ndtr(z), 1e-300, None))
        mills = np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - log_ndtr(z))  # φ(z)/Φ(z)
        censored_scale = np.where(self.blq, -mills / np.maximum(r, 1e-150), 1.0)
        return dz * censored_scale[:, None]

    def minus_2_log_likelihood(self, theta) -> float:
        """−2 ln L with the normal density's constants (on the log scale), comparable across fits."""
        z, _ = self._z(theta)
        quantifiable = ~self.blq
        return float((z[quantifiable] ** 2).sum() + quantifiable.sum() * np.log(2 * np.pi * self.sd ** 2)
                     - 2 * log_ndtr(z[self.blq]).sum())


def fit_profile(days, values, blq, lloq, residual_sd: float = STARTING_RESIDUAL_SD,
                start: np.ndarray | None = None) -> ProfileFit:
    """Fit the model to one profile. `values` are blank where `blq`; `lloq` per sample or one number.
    `start`, when given (a previous fit's θ), is tried first and alone unless it fails."""
    days, observed, blq = _prepare(days, values, blq, lloq)
    base = ProfileFit(NOT_FITTED, residual_sd=residual_sd, n_quantifiable=int((~blq).sum()),
                      n_blq=int(blq.sum()), days=days, observed=observed, blq=blq)
    reason = support_reason(days, observed, blq)
    if reason:
        base.reason = reason
        return base
    starts = [start] if start is not None else _starts(days, observed, blq)
    full = _finish(replace(base), *_best_fit(_Objective(days, observed, blq, residual_sd), starts))
    if start is not None and full.status == NOT_CONVERGED:
        return fit_profile(days, np.where(blq, np.nan, observed), blq, np.where(blq, observed, np.nan), residual_sd)
    if full.status == NOT_CONVERGED or not _persistence_unsupported(full):
        return full
    # The samples show expansion and contraction but not the slow phase: fit the model without it (FB = 0).
    fixed = np.zeros(N_THETA)
    fixed[PERSISTENCE] = (NO_PERSISTENCE_LOGIT_FB, np.log(0.01))
    reduced = _finish(replace(base, n_estimated=len(CONTRACTION_ONLY)),
                      *_best_fit(_Objective(days, observed, blq, residual_sd, CONTRACTION_ONLY, fixed), starts))
    if reduced.status == CONVERGED:
        reduced.status = NO_PERSISTENCE
        reduced.reason = "; ".join(filter(None, ["FB and β not estimable: the samples show no persistence phase",
                                                 reduced.reason]))
    return reduced


PERSISTENCE = [4, 5]                 # FB and β in θ
CONTRACTION_ONLY = np.array([0, 1, 2, 3])
NO_PERSISTENCE_LOGIT_FB = -30.0      # FB ≈ 10⁻¹³: no slow phase


def _persistence_unsupported(fit: ProfileFit) -> bool:
    return any(name in fit.reason for name in ("fb", "beta"))


#: Multi-start: SCREEN_STEPS damped Gauss-Newton steps from every start at once, then scipy's least squares to
#: convergence from the REFINED most likely.
SCREEN_STEPS = 10
REFINED = 2


def _screen(objective: _Objective, points: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Levenberg-Marquardt steps for every start together (vectorised), kept inside the bounds; the points reached,
    most likely first."""
    x = points.copy()
    r, jac = objective.residuals_batch(x)
    cost = 0.5 * np.sum(r * r, axis=1)
    damping = np.full(len(x), 1e-2)
    eye = np.eye(x.shape[1])
    for _ in range(SCREEN_STEPS):
        jtj = np.einsum("snp,snq->spq", jac, jac)
        jtr = np.einsum("snp,sn->sp", jac, r)
        scale = np.clip(np.diagonal(jtj, axis1=1, axis2=2), 1e-9, None)
        system = jtj + damping[:, None, None] * (eye * scale[:, None, :])
        try:
            step = np.linalg.solve(system, -jtr[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break
        trial = np.clip(x + step, lower + 1e-9, upper - 1e-9)
        r_trial, jac_trial = objective.residuals_batch(trial)
        trial_cost = 0.5 * np.sum(r_trial * r_trial, axis=1)
        better = np.isfinite(trial_cost) & (trial_cost < cost)
        x = np.where(better[:, None], trial, x)
        r = np.where(better[:, None], r_trial, r)
        jac = np.where(better[:, None, None], jac_trial, jac)
        cost = np.where(better, trial_cost, cost)
        damping = np.where(better, damping / 3, damping * 4)
    return x[np.argsort(cost)]


def _best_fit(objective: _Objective, starts: list[np.ndarray]):
    lower, upper = LOWER[objective.free], UPPER[objective.free]

    def solve(x0, steps):
        return least_squares(objective.residuals, x0, jac=objective.jacobian, bounds=(lower, upper), method="trf",
                             x_scale="jac", ftol=1e-10, xtol=1e-10, gtol=1e-10, max_nfev=steps)

    points = [np.clip(np.asarray(t, dtype=float)[objective.free], lower + 1e-9, upper - 1e-9) for t in starts]
    if len(points) > REFINED:
        points = list(_screen(objective, np.array(points), lower, upper)[:REFINED])
    best = None
    for x0 in points:
        result = solve(np.clip(x0, lower + 1e-9, upper - 1e-9), 400)
        if best is None or result.cost < best.cost:
            best = result
    return objective, best


def _finish(base: ProfileFit, objective: _Objective, result) -> ProfileFit:
    theta = objective.full(result.x)
    base.theta = theta
    base.minus_2_log_likelihood = objective.minus_2_log_likelihood(result.x)
    quantifiable = ~base.blq
    log_c = model.log_curve(theta, base.days)
    base.rmse_log = float(np.sqrt(np.mean((np.log(base.observed[quantifiable]) - log_c[quantifiable]) ** 2)))
    if not result.success:
        base.status, base.reason = NOT_CONVERGED, result.message
        return base
    jac = np.zeros((len(base.days), N_THETA))
    jac[:, objective.free] = result.jac
    information = jac.T @ jac
    bounded = objective.free[np.flatnonzero(result.active_mask)]
    free = np.setdiff1d(objective.free, bounded)
    covariance = np.full((N_THETA, N_THETA), np.nan)
    sub = information[np.ix_(free, free)]
    if np.linalg.cond(sub) < 1e12:
        covariance[np.ix_(free, free)] = np.linalg.inv(sub)
    base.covariance = covariance
    se = base.standard_errors()
    poorly = [PRIMARY[i].name for i in free if not se[i] < MAX_THETA_SE]
    if poorly:  # its variance is meaningless, and so are the others' covariances with it
        covariance[np.ix_(free, free)] = np.nan
        base.covariance = covariance
    notes = []
    if bounded.size:
        base.status = AT_BOUND
        notes.append("at its bound: " + ", ".join(PRIMARY[i].name for i in bounded))
    else:
        base.status = CONVERGED
    if poorly:
        notes.append("not identified by these samples: " + ", ".join(poorly))
    base.reason = "; ".join(notes)
    return base


# ---- derived quantities and intervals ---------------------------------------------------------------------------

def estimates(fit: ProfileFit, lloq: float) -> dict[str, float]:
    """Every parameter of CK_PARAMETERS with its 95% Wald interval: `name`, `name_lower`, `name_upper`; derived
    quantities by the delta method on their log (numerical gradient in θ). Blank where the fit has none."""
    out = {}
    if not fit.fitted:
        for p in CK_PARAMETERS:
            out[p.name] = out[f"{p.name}_lower"] = out[f"{p.name}_upper"] = np.nan
        return out
    theta, se = fit.theta, fit.standard_errors()
    lower, upper = theta - Z95 * se, theta + Z95 * se
    point, low, high = model.natural(theta), model.natural(lower), model.natural(upper)
    for p in PRIMARY:
        out[p.name] = float(point[p.name])
        out[f"{p.name}_lower"] = float(low[p.name])
        out[f"{p.name}_upper"] = float(high[p.name])
    steps = 1e-5 * np.eye(N_THETA)
    values = model.derived(np.vstack([theta, theta + steps]), lloq)
    covariance = fit.covariance if fit.covariance is not None else np.full((N_THETA, N_THETA), np.nan)
    for p in DERIVED:
        v = values[p.name]
        gradient = (np.log(v[1:]) - np.log(v[0])) / 1e-5
        used = np.abs(gradient) > 1e-9     # the θ components this quantity depends on
        block = covariance[np.ix_(used, used)]
        spread = Z95 * np.sqrt(gradient[used] @ block @ gradient[used]) if np.all(np.isfinite(block)) else np.nan
        out[p.name] = float(v[0])
        with np.errstate(over="ignore"):
            out[f"{p.name}_lower"] = float(v[0] * np.exp(-spread))
            out[f"{p.name}_upper"] = float(v[0] * np.exp(spread))
    return out
