"""Split the long measurements table into profiles (subject x analyte x specimen), vectorised.

A profile's NCA rows are its samples on or after Day 0, sorted by day. Before that:
- rows without a day, or without a value that are not BLQ, are ignored (noted);
- exact duplicate rows are collapsed; two different values on one day make the profile unusable;
- cellular-kinetic analytes (kind `cell_kinetics`) without a Day-0 sample start at a structural 0 on Day 0
  (`car_day0_zero`); other analytes without a Day-0 sample carry their baseline (last sample before Day 0) to Day 0.
The baseline itself (last sample on or before Day 0) is kept per profile for the IL-6 and
plasma-cell extras.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.nca.options import CELL_KINETICS, NCAOptions
from analysis.nca.segments import Groups, take

# Reasons a profile gets no parameters at all, and notes that qualify some; bit flags.
NO_POST_INFUSION = 1 << 0
CONFLICTING_DUPLICATES = 1 << 1
MISSING_VALUES = 1 << 2
MISSING_DAYS = 1 << 3
DUPLICATES_COLLAPSED = 1 << 4
BASELINE_CARRIED = 1 << 5
DAY0_ZERO = 1 << 6


@dataclass
class Profiles:
    """Profile keys and the post-infusion rows of every profile, sorted by (profile, day)."""

    keys: pd.DataFrame            # one row per profile: subject_id, analyte, specimen
    pid: np.ndarray               # profile of each row
    day: np.ndarray
    value: np.ndarray             # as measured (NaN allowed for BLQ)
    blq: np.ndarray
    lloq: np.ndarray
    structural: np.ndarray        # the Day-0 zero added for CAR analytes: not a measurement
    baseline_value: np.ndarray    # per profile: last sample on or before Day 0 (NaN if none)
    baseline_blq: np.ndarray
    baseline_lloq: np.ndarray
    flags: np.ndarray             # per profile bit flags (see constants above)

    @property
    def n_profiles(self) -> int:
        return len(self.keys)


def _is_sorted(key: np.ndarray, day: np.ndarray) -> bool:
    if len(key) < 2:
        return True
    dk = np.diff(key)
    return bool(np.all((dk > 0) | ((dk == 0) & (np.diff(day) >= 0))))


def _factorize_runs(columns: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """`pd.factorize(column, sort=True)` of each column, hashing only the first row of each run of rows
    with the same keys: the store returns rows grouped by profile, so about 60k runs are hashed instead of
    1.2 million rows. Any row order gives the same codes (ungrouped input is hashed row by row)."""
    n_rows = len(columns[0])
    change = np.ones(n_rows, dtype=bool)
    if n_rows > 1:
        change[1:] = False
        for column in columns:
            change[1:] |= column[1:] != column[:-1]
    heads = np.flatnonzero(change)
    if len(heads) > n_rows // 4:  # ungrouped input: hashing every row once is cheaper than heads + repeat
        return [pd.factorize(column, sort=True) for column in columns]
    run_lengths = np.diff(np.r_[heads, n_rows])
    out = []
    for column in columns:
        codes, names = pd.factorize(column[heads], sort=True)
        out.append((np.repeat(codes, run_lengths), names))
    return out


def build_profiles(measurements: pd.DataFrame, options: NCAOptions) -> Profiles:
    """Group, sort and clean the long table into profiles (see the module docstring for the rules)."""
    (subject, subject_names), (analyte, analyte_names), (specimen, specimen_names) = _factorize_runs(
        [measurements[column].to_numpy() for column in ("subject_id", "analyte", "specimen")])
    n_a, n_s = max(len(analyte_names), 1), max(len(specimen_names), 1)
    key = (subject.astype(np.int64) * n_a + analyte) * n_s + specimen
    day = measurements["day"].to_numpy(dtype=float)
    value = measurements["value"].to_numpy(dtype=float)
    blq = measurements["blq"].to_numpy(dtype=bool)
    lloq = (measurements["lloq"].to_numpy(dtype=float) if "lloq" in measurements
            else np.full(len(day), np.nan))

    if not _is_sorted(key, day):
        order = np.lexsort((day, key))
        key, day, value, blq, lloq = key[order], day[order], value[order], blq[order], lloq[order]

    starts = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, dtype=bool)
    profile_keys = key[starts]
    pid = np.cumsum(starts) - 1
    n_profiles = len(profile_keys)
    subject_code, rest = np.divmod(profile_keys, n_a * n_s)
    analyte_code, specimen_code = np.divmod(rest, n_s)
    keys = pd.DataFrame({
        "subject_id": np.asarray(subject_names, dtype=object)[subject_code],
        "analyte": np.asarray(analyte_names, dtype=object)[analyte_code],
        "specimen": np.asarray(specimen_names, dtype=object)[specimen_code],
    })
    flags = np.zeros(n_profiles, dtype=np.int64)

    # Rows that cannot be used: no day, or no value without being BLQ.
    no_day = np.isnan(day)
    no_value = np.isnan(value) & ~blq & ~no_day
    flags[np.unique(pid[no_day])] |= MISSING_DAYS
    flags[np.unique(pid[no_value])] |= MISSING_VALUES
    keep = ~(no_day | no_value)

    # Duplicate days: exact copies collapse, different values make the profile unusable.
    same_day = keep[1:] & keep[:-1] & (pid[1:] == pid[:-1]) & (day[1:] == day[:-1])
    if same_day.any():
        same_value = (value[1:] == value[:-1]) | (np.isnan(value[1:]) & np.isnan(value[:-1]))
        same_lloq = (lloq[1:] == lloq[:-1]) | (np.isnan(lloq[1:]) & np.isnan(lloq[:-1]))
        identical = same_day & same_value & same_lloq & (blq[1:] == blq[:-1])
        conflicting = same_day & ~identical
        flags[np.unique(pid[1:][conflicting])] |= CONFLICTING_DUPLICATES
        flags[np.unique(pid[1:][identical])] |= DUPLICATES_COLLAPSED
        keep[1:] &= ~identical

    pid, day, value, blq, lloq = pid[keep], day[keep], value[keep], blq[keep], lloq[keep]
    groups = Groups(pid, n_profiles)

    # Baseline: the last sample on or before Day 0.
    baseline_row = groups.last_where(day <= 0)
    baseline_value = take(value, baseline_row)
    baseline_blq = take(blq, baseline_row, fill=False).astype(bool)
    baseline_lloq = take(lloq, baseline_row)
    baseline_day = take(day, baseline_row)

    has_post = groups.any(day > 0)
    unusable = ~has_post | ((flags & CONFLICTING_DUPLICATES) > 0)
    flags[~has_post] |= NO_POST_INFUSION
    post = (day >= 0) & ~unusable[pid] if len(pid) else np.zeros(0, dtype=bool)
    pid, day, value, blq, lloq = pid[post], day[post], value[post], blq[post], lloq[post]
    structural = np.zeros(len(pid), dtype=bool)

    # Day 0: a structural zero for cellular-kinetic analytes, the carried baseline for the others.
    post_groups = Groups(pid, n_profiles)
    has_day0 = post_groups.any(day == 0)
    needs_day0 = (post_groups.count > 0) & ~has_day0
    is_car = options.kind_of(keys["analyte"].to_numpy()) == CELL_KINETICS
    add_zero = needs_day0 & is_car & options.car_day0_zero
    add_baseline = needs_day0 & ~is_car & ~np.isnan(baseline_day) & (~np.isnan(baseline_value) | baseline_blq)
    flags[add_zero] |= DAY0_ZERO
    flags[add_baseline] |= BASELINE_CARRIED
    added = np.flatnonzero(add_zero | add_baseline)
    if len(added):
        at = post_groups.first_row[added]
        carried = add_baseline[added]
        pid = np.insert(pid, at, added)
        day = np.insert(day, at, 0.0)
        value = np.insert(value, at, np.where(carried, baseline_value[added], 0.0))
        blq = np.insert(blq, at, np.where(carried, baseline_blq[added], False))
        lloq = np.insert(lloq, at, np.where(carried, baseline_lloq[added], np.nan))
        structural = np.insert(structural, at, ~carried)

    return Profiles(keys=keys, pid=pid, day=day, value=value, blq=blq, lloq=lloq, structural=structural,
                    baseline_value=baseline_value, baseline_blq=baseline_blq, baseline_lloq=baseline_lloq,
                    flags=flags)
