"""The multiphasic cellular-kinetic model of Stein et al. 2019, its parameters declared once, and its curve.

    0 <= t < Tmax:  C(t) = Cmax · exp(-rho · (Tmax - t))                       (expansion, rate rho)
    t >= Tmax:      C(t) = Cmax · ((1 - FB) · exp(-alpha·τ) + FB · exp(-beta·τ)),  τ = t - Tmax

Fitted on the natural-log scale in the vector θ = (ln Cmax, ln Tmax, ln rho, ln alpha, logit FB, ln beta), so every
parameter stays in its range and Wald intervals on θ give positive, asymmetric intervals for the parameters.
Derived quantities (doubling time, half-lives, fold expansion, AUCs of the fitted curve, the day the curve falls
below the LLOQ) are functions of θ (`derived()`), vectorised over rows of θ. docs/ck-model.md has the model, its
assumptions and limits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.nca.parameters import UNIT_KINDS

LN2 = np.log(2.0)
#: Contraction is the phase with a half-life under 20 days, persistence the one over: the bound between the
#: two rates keeps the phases from swapping (a fit that reaches it is flagged).
PHASE_SPLIT_RATE = LN2 / 20.0


@dataclass(frozen=True)
class CKParameter:
    name: str            # column of the fit's result
    label: str           # what tables and figures call it
    unit_kind: str       # a key of analysis.nca.parameters.UNIT_KINDS ("conc", "time", "rate", "fraction", ...)
    description: str
    transform: str = ""  # how the fit estimates it: "log", "logit" (primary) or "" (derived)
    lower: float = -np.inf   # bounds of the estimate on the transformed scale (primary parameters)
    upper: float = np.inf


#: The model's parameters in θ's order, then the quantities derived from them.
PRIMARY: tuple[CKParameter, ...] = (
    CKParameter("cmax", "Cmax (fitted)", "conc", "peak of the fitted curve", "log", np.log(1e-6), np.log(1e12)),
    CKParameter("tmax", "Tmax (fitted)", "time", "day of the fitted peak", "log", np.log(0.5), np.log(90.0)),
    CKParameter("rho", "ρ, expansion rate", "rate", "exponential expansion rate before the peak", "log",
                np.log(0.02), np.log(10.0)),
    CKParameter("alpha", "α, contraction rate", "rate", "decline rate of the fast (contraction) phase", "log",
                np.log(PHASE_SPLIT_RATE), np.log(10.0)),
    CKParameter("fb", "FB, persisting fraction", "fraction", "share of the peak that enters the slow phase",
                "logit", -16.0, 0.0),
    CKParameter("beta", "β, persistence rate", "rate", "decline rate of the slow (persistence) phase", "log",
                np.log(1e-5), np.log(PHASE_SPLIT_RATE)),
)
DERIVED: tuple[CKParameter, ...] = (
    CKParameter("doubling_time", "Doubling time", "duration", "ln 2 / ρ: days for the cells to double"),
    CKParameter("fold_expansion", "Fold expansion", "ratio", "exp(ρ · Tmax): peak over the level at Day 0"),
    CKParameter("contraction_half_life", "Contraction t½", "duration", "ln 2 / α"),
    CKParameter("persistence_half_life", "Persistence t½", "duration", "ln 2 / β"),
    CKParameter("auc_0_28_fit", "AUC0-28 (fitted)", "auc", "area under the fitted curve from Day 0 to Day 28"),
    CKParameter("auc_inf_fit", "AUC0-∞ (fitted)", "auc", "area under the whole fitted curve"),
    CKParameter("day_below_lloq", "Day below LLOQ (predicted)", "time",
                "first day after the peak when the fitted curve falls below the LLOQ"),
)
CK_PARAMETERS = PRIMARY + DERIVED
CK_BY_NAME = {p.name: p for p in CK_PARAMETERS}
N_THETA = len(PRIMARY)
LOWER = np.array([p.lower for p in PRIMARY])
UPPER = np.array([p.upper for p in PRIMARY])


def natural(theta: np.ndarray) -> dict[str, np.ndarray]:
    """θ (..., 6) -> the parameters on their own scales."""
    theta = np.asarray(theta, dtype=float)
    values = np.exp(theta)
    return {"cmax": values[..., 0], "tmax": values[..., 1], "rho": values[..., 2], "alpha": values[..., 3],
            "fb": 1.0 / (1.0 + np.exp(-theta[..., 4])), "beta": values[..., 5]}


def to_theta(cmax, tmax, rho, alpha, fb, beta) -> np.ndarray:
    return np.array([np.log(cmax), np.log(tmax), np.log(rho), np.log(alpha), np.log(fb / (1 - fb)), np.log(beta)])


def log_curve(theta: np.ndarray, days: np.ndarray, jacobian: bool = False):
    """ln C(t) at `days` (t >= 0) for one θ; with `jacobian`, also d ln C / dθ (len(days) x 6)."""
    p = natural(theta)
    cmax, tmax, rho, alpha, fb, beta = (float(p[k]) for k in ("cmax", "tmax", "rho", "alpha", "fb", "beta"))
    days = np.asarray(days, dtype=float)
    rising = days < tmax
    tau = np.where(rising, 0.0, days - tmax)
    fast = (1 - fb) * np.exp(-alpha * tau)
    slow = fb * np.exp(-beta * tau)
    share = fast + slow
    with np.errstate(divide="ignore"):  # far out in the slow phase the share underflows: C is 0 there
        log_c = np.where(rising, np.log(cmax) - rho * (tmax - days), np.log(cmax) + np.log(share))
    if not jacobian:
        return log_c
    jac = np.zeros((len(days), N_THETA))
    jac[:, 0] = 1.0
    d_share_d_tau = -alpha * fast - beta * slow
    jac[:, 1] = np.where(rising, -rho * tmax, -d_share_d_tau * tmax / share)
    jac[:, 2] = np.where(rising, -rho * (tmax - days), 0.0)
    jac[:, 3] = np.where(rising, 0.0, -alpha * tau * fast / share)
    jac[:, 4] = np.where(rising, 0.0, fb * (1 - fb) * (np.exp(-beta * tau) - np.exp(-alpha * tau)) / share)
    jac[:, 5] = np.where(rising, 0.0, -beta * tau * slow / share)
    return log_c, jac


def log_curve_batch(thetas: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`log_curve` with its Jacobian for several θ at once: thetas (S, 6) -> ln C (S, n) and d ln C / dθ (S, n, 6)
    (the multi-start's screening steps every start together). The same formulas as `log_curve`, kept apart because
    scipy calls the one-θ form thousands of times per cohort and the batched form costs it ~20 % more
    (bench/ck.py); tests/analysis/ck/test_model.py checks the two agree."""
    p = natural(thetas)
    cmax, tmax, rho, alpha, fb, beta = (p[k][:, None] for k in ("cmax", "tmax", "rho", "alpha", "fb", "beta"))
    days = np.asarray(days, dtype=float)[None, :]
    rising = days < tmax
    tau = np.where(rising, 0.0, days - tmax)
    e_fast, e_slow = np.exp(-alpha * tau), np.exp(-beta * tau)
    fast, slow = (1 - fb) * e_fast, fb * e_slow
    share = fast + slow
    with np.errstate(divide="ignore"):
        log_c = np.where(rising, np.log(cmax) - rho * (tmax - days), np.log(cmax) + np.log(share))
    jac = np.zeros((*log_c.shape, N_THETA))
    jac[..., 0] = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        jac[..., 1] = np.where(rising, -rho * tmax, (alpha * fast + beta * slow) * tmax / share)
        jac[..., 2] = np.where(rising, -rho * (tmax - days), 0.0)
        jac[..., 3] = np.where(rising, 0.0, -alpha * tau * fast / share)
        jac[..., 4] = np.where(rising, 0.0, fb * (1 - fb) * (e_slow - e_fast) / share)
        jac[..., 5] = np.where(rising, 0.0, -beta * tau * slow / share)
    return log_c, np.nan_to_num(jac)


def curve(theta: np.ndarray, days: np.ndarray) -> np.ndarray:
    """C(t) for one θ (0 before Day 0: the cells are not yet infused)."""
    days = np.asarray(days, dtype=float)
    return np.where(days < 0, 0.0, np.exp(log_curve(theta, np.clip(days, 0, None))))


def _fitted_auc(p: dict[str, np.ndarray], end: float | np.ndarray) -> np.ndarray:
    """Area under the fitted curve from Day 0 to `end` (np.inf for the whole curve), vectorised."""
    cmax, tmax, rho, alpha, fb, beta = (p[k] for k in ("cmax", "tmax", "rho", "alpha", "fb", "beta"))
    end = np.broadcast_to(np.asarray(end, dtype=float), np.shape(cmax))
    upto = np.minimum(end, tmax)
    rising = cmax * (np.exp(-rho * (tmax - upto)) - np.exp(-rho * tmax)) / rho
    tau = np.clip(end - tmax, 0, None)
    with np.errstate(invalid="ignore"):
        fast = np.where(np.isinf(tau), 1.0, -np.expm1(-alpha * np.where(np.isinf(tau), 0, tau)))
        slow = np.where(np.isinf(tau), 1.0, -np.expm1(-beta * np.where(np.isinf(tau), 0, tau)))
    return rising + cmax * ((1 - fb) * fast / alpha + fb * slow / beta)


def _day_below(p: dict[str, np.ndarray], level: np.ndarray) -> np.ndarray:
    """First day after the peak when the fitted curve falls below `level` (Tmax when the peak is already below);
    the decline is monotone, so 60 bisection steps between Tmax and the slow phase's own crossing suffice."""
    cmax, tmax, alpha, fb, beta = (np.atleast_1d(p[k]).astype(float) for k in ("cmax", "tmax", "alpha", "fb", "beta"))
    target = np.atleast_1d(np.asarray(level, dtype=float)) / cmax
    below_at_peak = target >= 1
    # ((1-FB)e^{-ατ} + FB e^{-βτ}) <= e^{-βτ}: the curve is below `target` once e^{-βτ} is
    high = np.where(below_at_peak, 0.0, np.log(1 / np.clip(target, 1e-300, 1)) / beta)
    low = np.zeros_like(high)
    for _ in range(60):
        mid = (low + high) / 2
        above = (1 - fb) * np.exp(-alpha * mid) + fb * np.exp(-beta * mid) > target
        low = np.where(above, mid, low)
        high = np.where(above, high, mid)
    return tmax + high


def derived(theta: np.ndarray, lloq: float | np.ndarray) -> dict[str, np.ndarray]:
    """The derived quantities of DERIVED for rows of θ (n x 6)."""
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    p = natural(theta)
    return {
        "doubling_time": LN2 / p["rho"],
        "fold_expansion": np.exp(p["rho"] * p["tmax"]),
        "contraction_half_life": LN2 / p["alpha"],
        "persistence_half_life": LN2 / p["beta"],
        "auc_0_28_fit": _fitted_auc(p, 28.0),
        "auc_inf_fit": _fitted_auc(p, np.inf),
        "day_below_lloq": _day_below(p, lloq),
    }


def markdown_table() -> str:
    """The parameter table of docs/ck-model.md."""
    rows = ["| column | label | unit | estimated as | meaning |", "|---|---|---|---|---|"]
    for p in CK_PARAMETERS:
        unit = UNIT_KINDS[p.unit_kind].format(conc="conc") or "–"
        how = {"log": "ln, bounded", "logit": "logit, bounded", "": "derived"}[p.transform]
        rows.append(f"| `{p.name}` | {p.label} | {unit} | {how} | {p.description} |")
    return "\n".join(rows)
