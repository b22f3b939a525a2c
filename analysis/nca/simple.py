"""Cmax, Tmax, Clast, Tlast (PKNCA's pk.calc.cmax / tmax / clast.obs / tlast), per profile."""
from __future__ import annotations

import numpy as np

from analysis.nca.segments import Groups, take


def cmax(groups: Groups, conc: np.ndarray) -> np.ndarray:
    """Highest concentration; 0 when every value is 0 (BLQ); blank for an empty profile."""
    return groups.max(conc)


def tmax(groups: Groups, day: np.ndarray, conc: np.ndarray, cmax_: np.ndarray) -> np.ndarray:
    """First day of the maximum; blank when every value is 0 (as PKNCA)."""
    at_max = (conc == cmax_[groups.pid]) & (conc > 0)
    return take(day, groups.first_where(at_max))


def last_quantifiable_row(groups: Groups, conc: np.ndarray, quantifiable: np.ndarray) -> np.ndarray:
    """Row of the last quantifiable, positive concentration, or -1."""
    return groups.last_where(quantifiable & (conc > 0))


def tlast(day: np.ndarray, last_row: np.ndarray) -> np.ndarray:
    """Day of the last quantifiable concentration: the persistence of CAR-T cells."""
    return take(day, last_row)


def clast(conc: np.ndarray, last_row: np.ndarray, all_zero: np.ndarray) -> np.ndarray:
    """The last quantifiable concentration (Clast,obs); 0 when every concentration is 0 (as PKNCA >= 0.11)."""
    return np.where(all_zero, 0.0, take(conc, last_row))
