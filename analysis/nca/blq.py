"""BLQ rules (PKNCA's clean.conc.blq): which BLQ samples count, and as what concentration."""
from __future__ import annotations

import numpy as np

from analysis.nca.segments import Groups


def clean_blq(groups: Groups, value: np.ndarray, blq: np.ndarray, lloq: np.ndarray, structural: np.ndarray,
              rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Concentrations after the BLQ rule, and the mask of rows kept.

    pknca: BLQ before the first quantifiable value -> 0, between quantifiable values -> dropped,
           after the last quantifiable value -> 0 (PKNCA's default first="keep", middle="drop", last="keep").
    zero: every BLQ -> 0.  drop: every BLQ dropped.  lloq_half: every BLQ -> LLOQ/2 (0 if LLOQ unknown).
    The structural Day-0 zero of CAR analytes is not a measurement: it is always kept as 0.
    """
    measured_blq = blq & ~structural
    conc = np.where(blq | structural, 0.0, value)
    keep = np.ones(len(conc), dtype=bool)
    if rule == "pknca":
        quantifiable = ~blq & ~structural
        rows = np.arange(len(conc))
        first = groups.first_where(quantifiable)[groups.pid]
        last = groups.last_where(quantifiable)[groups.pid]
        middle = (first >= 0) & (rows > first) & (rows < last)
        keep = ~(measured_blq & middle)
    elif rule == "drop":
        keep = ~measured_blq
    elif rule == "lloq_half":
        conc = np.where(measured_blq, np.where(np.isnan(lloq), 0.0, lloq / 2), conc)
    return conc, keep
