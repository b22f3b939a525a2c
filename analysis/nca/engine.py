"""`nca()`: non-compartmental analysis of every profile of a long measurements table at once."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.nca import auc as auc_
from analysis.nca import profiles as prof
from analysis.nca import simple
from analysis.nca.blq import clean_blq
from analysis.nca.extras import extras
from analysis.nca.half_life import half_life
from analysis.nca.options import NCAOptions
from analysis.nca.parameters import REASON_COLUMN, columns
from analysis.nca.segments import Groups

PROFILE_REASONS = {
    prof.NO_POST_INFUSION: "no sample after Day 0",
    prof.CONFLICTING_DUPLICATES: "two different values on the same day",
    prof.MISSING_DAYS: "samples without a day were ignored",
    prof.MISSING_VALUES: "samples without a value (and not BLQ) were ignored",
    prof.DUPLICATES_COLLAPSED: "exact duplicate samples counted once",
}
_NO_QUANTIFIABLE = 1 << 10
_ONE_SAMPLE = 1 << 11
_TOO_FEW_HL = 1 << 12
_NO_DECLINE = 1 << 13
_BASELINE_BLQ = 1 << 14
#: Per-interval notes, one small code per interval (kept apart from the profile flags, so any number of
#: intervals fits).
_STARTS_BEFORE, _ENDS_AFTER, _NEEDS_LAMBDA_Z = 1, 2, 4


def nca(measurements: pd.DataFrame, intervals=((0, 28), (0, 90)), auc_method: str = "linuplogdown",
        blq: str = "pknca", extrapolate: bool = False, car_day0_zero: bool = True,
        kinds: dict[str, str] | None = None, exclusions=(), lambda_z_points=()) -> pd.DataFrame:
    """One row per profile (subject x analyte x specimen) with PKNCA-convention parameters (docs/nca.md).

    `measurements` is the import format's long table with canonical units (subject_id, analyte,
    specimen, day, value, blq and optionally lloq). Undefined parameters are blank; `reason` says why.
    `kinds` gives the kind (data_access/catalogue.py) of analytes a study declared; built-ins know theirs.
    `exclusions` and `lambda_z_points` are the analyst's choices (NCAOptions; docs/nca.md 5a).
    """
    options = NCAOptions(intervals=tuple(intervals), auc_method=auc_method, blq=blq, extrapolate=extrapolate,
                         car_day0_zero=car_day0_zero, kinds=tuple((kinds or {}).items()),
                         exclusions=tuple(exclusions), lambda_z_points=tuple(lambda_z_points))
    return run_nca(measurements, options)


def excluded_rows(measurements: pd.DataFrame, options: NCAOptions) -> np.ndarray:
    """Which rows of `measurements` the analyst left out (options.exclusions), as a boolean mask."""
    if not options.exclusions or measurements.empty:
        return np.zeros(len(measurements), dtype=bool)
    wanted = pd.MultiIndex.from_tuples(options.exclusions)
    here = pd.MultiIndex.from_arrays([measurements["subject_id"].astype(str), measurements["analyte"].astype(str),
                                      measurements["specimen"].astype(str), measurements["day"].astype(float)])
    return np.asarray(here.isin(wanted))


def run_nca(measurements: pd.DataFrame, options: NCAOptions) -> pd.DataFrame:
    excluded = excluded_rows(measurements, options)
    if excluded.any():
        left_out = measurements[excluded]
        measurements = measurements[~excluded]
    else:
        left_out = measurements.iloc[:0]
    p = prof.build_profiles(measurements, options)
    n = p.n_profiles
    all_rows = Groups(p.pid, n)
    conc, keep = clean_blq(all_rows, p.value, p.blq, p.lloq, p.structural, options.blq)
    quantifiable = ~p.blq & ~p.structural
    pid, day, conc, quantifiable = p.pid[keep], p.day[keep], conc[keep], quantifiable[keep]
    groups = Groups(pid, n)

    cmax = simple.cmax(groups, conc)
    tmax = simple.tmax(groups, day, conc, cmax)
    last_row = simple.last_quantifiable_row(groups, conc, quantifiable)
    all_zero = (groups.count > 0) & (cmax == 0)
    tlast, clast = simple.tlast(day, last_row), simple.clast(conc, last_row, all_zero)
    curve = auc_.build_curve(groups, day, conc, options.auc_method)
    auclast = auc_.auclast(curve, last_row)
    aucall = auc_.aucall(curve, last_row, auclast)
    hl = half_life(groups, day, conc, tmax, options.min_hl_points, options.adj_r2_factor,
                   options.allow_tmax_in_half_life)
    manual = manual_half_life(hl, p.keys, groups, day, conc, options) if options.lambda_z_points else \
        np.zeros(n, dtype=bool)
    aucinf = auc_.aucinf_obs(auclast, clast, hl.lambda_z, all_zero)

    measured = ~p.structural
    out = pd.DataFrame({
        "subject_id": p.keys["subject_id"], "analyte": p.keys["analyte"], "specimen": p.keys["specimen"],
        "n_samples": all_rows.sum(measured.astype(np.int64)).astype(int),
        "n_blq": all_rows.sum((measured & p.blq).astype(np.int64)).astype(int),
        "cmax": cmax, "tmax": tmax, "clast": clast, "tlast": tlast, "auclast": auclast, "aucall": aucall,
    })
    reasons = p.flags & sum(PROFILE_REASONS)
    reasons |= np.where((groups.count > 0) & np.isnan(tlast), _NO_QUANTIFIABLE, 0)
    reasons |= np.where(groups.count == 1, _ONE_SAMPLE, 0)
    interval_notes = np.zeros((n, len(options.intervals)), dtype=np.int8)
    for i, (start, end) in enumerate(options.intervals):
        part = auc_.partial_auc(curve, start, end, options.extrapolate, tlast, clast, hl.lambda_z)
        out[options.interval_names[i]] = part.value
        interval_notes[:, i] = (np.where(part.starts_before_first, _STARTS_BEFORE, 0)
                                | np.where(part.ends_after_last, _ENDS_AFTER, 0)
                                | np.where(part.needs_lambda_z, _NEEDS_LAMBDA_Z, 0))
    out["lambda_z"] = hl.lambda_z
    out["half_life"] = hl.half_life
    out["r2"] = hl.r2
    out["r2_adj"] = hl.r2_adj
    out["lambda_z_n_points"] = pd.array(np.where(np.isnan(hl.n_points), -1, hl.n_points).astype(int),
                                        dtype="Int64").astype("Int64")
    out.loc[np.isnan(hl.n_points), "lambda_z_n_points"] = pd.NA
    out["lambda_z_start"] = hl.start
    out["lambda_z_end"] = np.where(np.isnan(hl.lambda_z), np.nan, hl.end)
    out["lambda_z_selection"] = np.where(manual, "manual", "automatic")
    out["aucinf_obs"] = aucinf
    out["auc_pct_extrap"] = auc_.auc_pct_extrap(auclast, aucinf)
    reasons |= np.where(hl.too_few_points, _TOO_FEW_HL, 0)
    reasons |= np.where(hl.no_decline, _NO_DECLINE, 0)

    ex = extras(Groups(p.pid, n), options.kind_of(p.keys["analyte"].to_numpy()), p.day, p.value, p.blq, p.structural,
                p.baseline_value, p.baseline_blq, p.baseline_lloq)
    for column in ("baseline", "peak", "peak_day", "peak_fold_change", "nadir", "nadir_day",
                   "nadir_percent_reduction"):
        out[column] = getattr(ex, column)
    reasons |= np.where(ex.baseline_blq, _BASELINE_BLQ, 0)
    out[REASON_COLUMN] = _reason_text(reasons, interval_notes, options)
    if manual.any() or len(left_out):
        out[REASON_COLUMN] = _with_choices(out, manual, hl, left_out)
    return out[columns(options.interval_names)]


def manual_half_life(hl, keys: pd.DataFrame, groups: Groups, day: np.ndarray, conc: np.ndarray,
                     options: NCAOptions) -> np.ndarray:
    """Replace the automatic lambda-z of the profiles whose points the analyst chose by the log-linear fit through
    those points (the positive concentrations on the chosen days, after the BLQ rule); PKNCA's manually selected
    points. Returns which profiles are manual. A fit through fewer than 2 such points, or one that does not
    decline, gives no lambda-z."""
    index = {k: i for i, k in enumerate(zip(keys["subject_id"], keys["analyte"], keys["specimen"], strict=True))}
    manual = np.zeros(len(keys), dtype=bool)
    for subject_id, analyte, specimen, days in options.lambda_z_points:
        i = index.get((subject_id, analyte, specimen))
        if i is None:
            continue
        manual[i] = True
        rows = slice(groups.first_row[i], groups.last_row[i] + 1) if groups.count[i] else slice(0, 0)
        x, y = day[rows], conc[rows]
        chosen = np.isin(x, days) & (y > 0)
        hl.too_few_points[i] = hl.no_decline[i] = False
        for name in ("lambda_z", "half_life", "r2", "r2_adj", "n_points", "start", "end"):
            getattr(hl, name)[i] = np.nan
        if chosen.sum() < 2:
            continue
        xs, ys = x[chosen], np.log(y[chosen])
        dx, dy = xs - xs.mean(), ys - ys.mean()
        slope = (dx * dy).sum() / (dx * dx).sum()
        if not slope < 0:
            continue
        n = int(chosen.sum())
        r2 = 1 - ((dy - slope * dx) ** 2).sum() / (dy * dy).sum() if (dy * dy).sum() > 0 else np.nan
        hl.lambda_z[i], hl.half_life[i], hl.r2[i] = -slope, np.log(2) / -slope, r2
        hl.r2_adj[i] = 1 - (1 - r2) * (n - 1) / (n - 2) if n > 2 else np.nan
        hl.n_points[i], hl.start[i], hl.end[i] = n, xs.min(), xs.max()
    return manual


def _with_choices(out: pd.DataFrame, manual: np.ndarray, hl, left_out: pd.DataFrame) -> np.ndarray:
    """The reason column with the analyst's choices said: the manual lambda-z points, the samples left out."""
    notes = [[] for _ in range(len(out))]
    for i in np.flatnonzero(manual):
        notes[i].append("lambda-z: the analyst's points" if np.isfinite(hl.lambda_z[i]) else
                        "lambda-z: the analyst's points give no declining fit")
    if len(left_out):
        where = {k: i for i, k in enumerate(zip(out["subject_id"], out["analyte"], out["specimen"], strict=True))}
        for key, rows in left_out.groupby(["subject_id", "analyte", "specimen"], sort=False):
            if key in where:
                days = ", ".join(f"{d:g}" for d in sorted(rows["day"]))
                notes[where[key]].append(f"left out by the analyst: day {days}")
    reasons = out[REASON_COLUMN].to_numpy(dtype=object).copy()
    for i, extra in enumerate(notes):
        if extra:
            reasons[i] = "; ".join([r for r in [reasons[i]] if r] + extra)
    return reasons


def _reason_text(reasons: np.ndarray, interval_notes: np.ndarray, options: NCAOptions) -> np.ndarray:
    """Profile flags and per-interval notes -> '; '-joined sentences, computed once per distinct combination."""
    texts = {
        **PROFILE_REASONS,
        _NO_QUANTIFIABLE: "no quantifiable value",
        _ONE_SAMPLE: "only one sample: no AUC",
        _TOO_FEW_HL: f"lambda-z: fewer than {options.min_hl_points} positive samples after Tmax",
        _NO_DECLINE: "lambda-z: no terminal fit with lambda-z > 0",
        _BASELINE_BLQ: "baseline BLQ: taken at its LLOQ",
    }
    notes = {_STARTS_BEFORE: "{}: starts before the first sample",
             _ENDS_AFTER: "{}: ends after the last quantifiable sample; area after it counted as 0",
             _NEEDS_LAMBDA_Z: "{}: no lambda-z to extrapolate past Tlast"}
    n_intervals = interval_notes.shape[1]
    if 15 + 3 * n_intervals <= 62:  # one int64 key per profile: flags, then 3 bits per interval (fast)
        key = reasons.astype(np.int64)
        for i in range(n_intervals):
            key = (key << 3) | interval_notes[:, i].astype(np.int64)
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        unique = np.column_stack([reasons, interval_notes.astype(np.int64)])[first]
    else:  # any number of intervals: unique rows
        unique, inverse = np.unique(np.column_stack([reasons, interval_notes.astype(np.int64)]), axis=0,
                                    return_inverse=True)
    sentences = []
    for code in unique:
        parts = [text for bit, text in texts.items() if code[0] & bit]
        parts += [text.format(name) for name, note in zip(options.interval_names, code[1:], strict=True)
                  for bit, text in notes.items() if note & bit]
        sentences.append("; ".join(parts))
    return np.array(sentences, dtype=object)[inverse.reshape(-1)]


def curves(measurements: pd.DataFrame, options: NCAOptions | None = None) -> pd.DataFrame:
    """The concentration-time curve each profile is integrated on (after the Day-0 and BLQ rules):
    one row per point with `log_to_next` saying whether the segment to the next point is logarithmic."""
    options = options or NCAOptions()
    p = prof.build_profiles(measurements, options)
    all_rows = Groups(p.pid, p.n_profiles)
    conc, keep = clean_blq(all_rows, p.value, p.blq, p.lloq, p.structural, options.blq)
    pid, day, conc = p.pid[keep], p.day[keep], conc[keep]
    curve = auc_.build_curve(Groups(pid, p.n_profiles), day, conc, options.auc_method)
    keys = p.keys.iloc[pid].reset_index(drop=True)
    return keys.assign(day=day, conc=conc, log_to_next=curve.is_log)


def sample_curve(day: np.ndarray, conc: np.ndarray, log_to_next: np.ndarray, start: float, end: float,
                 points_per_segment: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Points along one profile's curve from `start` to `end` (log segments drawn as curves), for shading AUCs."""
    from analysis.nca.interpolate import interpolate

    xs, ys = [], []
    for i in range(len(day) - 1):
        t1, t2 = day[i], day[i + 1]
        lo, hi = max(t1, start), min(t2, end)
        if hi <= lo:
            continue
        n = points_per_segment if log_to_next[i] else 2
        t = np.linspace(lo, hi, n)
        c = interpolate(np.full(n, conc[i]), np.full(n, conc[i + 1]), np.full(n, t1), np.full(n, t2), t,
                        np.full(n, bool(log_to_next[i])))
        xs.append(t)
        ys.append(c)
    if not xs:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(xs), np.concatenate(ys)
