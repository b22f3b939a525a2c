"""Every NCA option in one place, validated once (as PKNCA.options does)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.nca.parameters import interval_name
from data_access.catalogue import DEFAULT, KINDS

AUC_METHODS = ("linuplogdown", "linear")
#: What the choices are called on screen and in footnotes and exports (plain words, not codes).
AUC_METHOD_LABELS = {"linuplogdown": "Linear up, log down", "linear": "Linear trapezoids"}
BLQ_RULES = {
    "pknca": "BLQ before the first quantifiable value = 0, between quantifiable values dropped, after the last = 0",
    "zero": "every BLQ sample = 0",
    "drop": "every BLQ sample dropped",
    "lloq_half": "every BLQ sample = LLOQ/2 (0 where the LLOQ is unknown)",
}
BLQ_RULE_LABELS = {
    "pknca": "PKNCA default (0 at the ends, skipped between)",
    "zero": "Every BLQ counts as 0",
    "drop": "Leave out every BLQ",
    "lloq_half": "Every BLQ counts as LLOQ/2",
}
#: The kind whose profiles (absent before infusion) start at 0 on Day 0 when not sampled, with `car_day0_zero`.
CELL_KINETICS = "cell_kinetics"


class NCAOptionError(ValueError):
    """An NCA option has a value the engine does not accept; the message says which and why."""


@dataclass(frozen=True)
class NCAOptions:
    """How the NCA is computed. Defaults follow PKNCA (see docs/nca.md)."""

    intervals: tuple[tuple[float, float], ...] = ((0.0, 28.0), (0.0, 90.0))
    auc_method: str = "linuplogdown"
    blq: str = "pknca"
    extrapolate: bool = False          # partial AUCs past tlast use lambda-z only when asked
    car_day0_zero: bool = True         # CAR transgene / CAR+ % are 0 on Day 0 when not sampled
    min_hl_points: int = 3
    adj_r2_factor: float = 1e-4
    allow_tmax_in_half_life: bool = False
    #: (analyte, kind) for analytes a study declared; the others take their kind from the built-in catalogue.
    kinds: tuple[tuple[str, str], ...] = ()
    #: The analyst's choices (docs/nca.md, "The analyst's choices"): samples left out, as (subject_id, analyte,
    #: specimen, day), and the lambda-z points of a profile chosen by hand, as (subject_id, analyte, specimen,
    #: (day, day, ...)).
    exclusions: tuple[tuple[str, str, str, float], ...] = ()
    lambda_z_points: tuple[tuple[str, str, str, tuple[float, ...]], ...] = ()
    interval_names: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        if self.auc_method not in AUC_METHODS:
            raise NCAOptionError(f"auc_method '{self.auc_method}' is not one of {', '.join(AUC_METHODS)}")
        if self.blq not in BLQ_RULES:
            raise NCAOptionError(f"blq rule '{self.blq}' is not one of {', '.join(BLQ_RULES)}")
        intervals = []
        for interval in self.intervals:
            try:
                start, end = (float(x) for x in interval)
            except (TypeError, ValueError):
                raise NCAOptionError(f"interval {interval!r} is not a pair of numbers (start, end)") from None
            if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
                raise NCAOptionError(f"interval ({interval[0]}, {interval[1]}) must have finite start < end")
            intervals.append((start, end))
        names = tuple(interval_name(s, e) for s, e in intervals)
        if len(set(names)) != len(names):
            raise NCAOptionError("intervals must be distinct")
        if not isinstance(self.min_hl_points, int) or self.min_hl_points < 3:
            raise NCAOptionError("min_hl_points must be a whole number of at least 3")
        if not 0 <= self.adj_r2_factor < 1:
            raise NCAOptionError("adj_r2_factor must be in [0, 1)")
        bad_kind = [f"{a}: {k}" for a, k in self.kinds if k not in KINDS]
        if bad_kind:
            raise NCAOptionError(f"analyte kinds must be one of {', '.join(KINDS)} ({'; '.join(bad_kind)})")
        object.__setattr__(self, "kinds", tuple(sorted((str(a), str(k)) for a, k in self.kinds)))
        try:
            exclusions = tuple(sorted({(str(s), str(a), str(p), float(d)) for s, a, p, d in self.exclusions}))
            manual = {}
            for s_, a, p, days in self.lambda_z_points:
                manual[(str(s_), str(a), str(p))] = tuple(sorted({float(d) for d in days}))
        except (TypeError, ValueError):
            raise NCAOptionError("exclusions are (subject_id, analyte, specimen, day) and lambda-z points "
                                 "(subject_id, analyte, specimen, days)") from None
        if any(not math.isfinite(e[3]) for e in exclusions) or any(
                not math.isfinite(d) for days in manual.values() for d in days):
            raise NCAOptionError("excluded and lambda-z days must be finite numbers")
        short = [f"{k[0]} {k[1]} {k[2]}" for k, days in manual.items() if len(days) < 2]
        if short:
            raise NCAOptionError(f"lambda-z needs at least 2 chosen points ({'; '.join(short)})")
        object.__setattr__(self, "exclusions", exclusions)
        object.__setattr__(self, "lambda_z_points", tuple(sorted((*k, v) for k, v in manual.items())))
        object.__setattr__(self, "intervals", tuple(intervals))
        object.__setattr__(self, "interval_names", names)

    def kind_of(self, analytes) -> np.ndarray:
        """The kind of each analyte code: declared here, else built in, else 'biomarker'."""
        declared = dict(self.kinds)
        codes = pd.unique(np.asarray(analytes, dtype=object))
        lookup = {c: declared.get(c) or DEFAULT.kind(c) for c in codes}
        return np.asarray([lookup[a] for a in analytes], dtype=object)
