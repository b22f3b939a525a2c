"""The same NCA written the plain way: pandas groupby-apply, one profile at a time, numpy/scipy per profile.

This is what a user would write without the vectorised engine. It follows the same rules
(docs/nca.md) independently of engine.py, so tests compare the two on random profiles, and
bench/nca.py times it as the baseline.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from analysis.nca.options import CELL_KINETICS, NCAOptions

NAN = float("nan")


def nca_reference(measurements: pd.DataFrame, options: NCAOptions | None = None) -> pd.DataFrame:
    options = options or NCAOptions()
    keys = ["subject_id", "analyte", "specimen"]
    result = measurements.groupby(keys, sort=True).apply(
        lambda g: pd.Series(profile_nca(g, g.name[1], options)), include_groups=False)
    return result.reset_index()


def profile_nca(g: pd.DataFrame, analyte: str, options: NCAOptions) -> dict:
    kind = options.kind_of([analyte])[0]
    out = {name: NAN for name in ("cmax", "tmax", "clast", "tlast", "auclast", "aucall", *options.interval_names,
                                  "lambda_z", "half_life", "r2", "r2_adj", "lambda_z_start", "lambda_z_end",
                                  "aucinf_obs", "auc_pct_extrap", "baseline", "peak", "peak_day",
                                  "peak_fold_change", "nadir", "nadir_day", "nadir_percent_reduction")}
    out["lambda_z_n_points"] = None
    lloq = g["lloq"] if "lloq" in g else pd.Series(NAN, index=g.index)
    data = pd.DataFrame({"day": g["day"].astype(float), "value": g["value"].astype(float),
                         "blq": g["blq"].astype(bool), "lloq": lloq.astype(float)})
    data = data[data["day"].notna() & (data["value"].notna() | data["blq"])]
    data = data.sort_values("day", kind="stable")
    if data.duplicated("day").any():
        if len(data.drop_duplicates()) != len(data.drop_duplicates("day")):
            return out
        data = data.drop_duplicates()
    pre = data[data["day"] <= 0]
    base = pre.iloc[-1] if len(pre) else None
    if base is not None and kind != CELL_KINETICS:
        out["baseline"] = base["lloq"] if base["blq"] else base["value"]
    if not (data["day"] > 0).any():
        return out
    post = data[data["day"] >= 0].assign(structural=False)
    if not (post["day"] == 0).any():
        if kind == CELL_KINETICS and options.car_day0_zero:
            first = pd.DataFrame({"day": [0.0], "value": [0.0], "blq": [False], "lloq": [NAN], "structural": [True]})
            post = pd.concat([first, post], ignore_index=True)
        elif kind != CELL_KINETICS and base is not None:
            first = pd.DataFrame({"day": [0.0], "value": [base["value"]], "blq": [bool(base["blq"])],
                                  "lloq": [base["lloq"]], "structural": [False]})
            post = pd.concat([first, post], ignore_index=True)
    _extras(out, kind, post, base)

    days, conc, quant = _clean_blq(post, options.blq)
    if len(days) == 0:
        return out
    out["cmax"] = max(conc)
    if out["cmax"] > 0:
        out["tmax"] = days[conc.index(out["cmax"])]
    last = max((i for i in range(len(conc)) if quant[i] and conc[i] > 0), default=None)
    all_zero = out["cmax"] == 0
    if last is not None:
        out["tlast"], out["clast"] = days[last], conc[last]
    elif all_zero:
        out["clast"] = 0.0  # PKNCA >= 0.11: clast.obs is 0 when every concentration is 0
    if len(days) < 2:
        return out
    log_down = [options.auc_method == "linuplogdown" and conc[i + 1] < conc[i] and conc[i + 1] > 0
                for i in range(len(days) - 1)]
    areas = [_area(conc[i], conc[i + 1], days[i], days[i + 1], log_down[i]) for i in range(len(days) - 1)]
    out["auclast"] = sum(areas[:last]) if last is not None else 0.0
    out["aucall"] = out["auclast"] + (
        (days[last + 1] - days[last]) * (conc[last] + conc[last + 1]) / 2
        if last is not None and last + 1 < len(days) else 0.0)
    _half_life(out, days, conc, options)
    for (start, end), name in zip(options.intervals, options.interval_names, strict=True):
        out[name] = _interval_auc(days, conc, log_down, areas, start, end, out, last, options.extrapolate)
    if all_zero:
        out["aucinf_obs"] = 0.0  # PKNCA's pk.calc.auxc: all concentrations 0 -> 0; aucpext.obs stays blank
    elif out["lambda_z"] > 0:
        out["aucinf_obs"] = out["auclast"] + out["clast"] / out["lambda_z"]
        out["auc_pct_extrap"] = 100 * (1 - out["auclast"] / out["aucinf_obs"])
    return out


def _clean_blq(post: pd.DataFrame, rule: str):
    rows = list(post.itertuples(index=False))
    quantifiable = [not r.blq and not r.structural for r in rows]
    q_index = [i for i, q in enumerate(quantifiable) if q]
    days, conc, quant = [], [], []
    for i, r in enumerate(rows):
        level = 0.0 if (r.blq or r.structural) else r.value
        if r.blq and not r.structural:
            if rule == "drop" or (rule == "pknca" and q_index and q_index[0] < i < q_index[-1]):
                continue
            if rule == "lloq_half":
                level = 0.0 if math.isnan(r.lloq) else r.lloq / 2
        days.append(float(r.day))
        conc.append(float(level))
        quant.append(quantifiable[i])
    return days, conc, quant


def _area(c1, c2, t1, t2, log_down):
    if t2 <= t1:
        return 0.0
    if log_down:
        return (t2 - t1) * (c1 - c2) / math.log(c1 / c2)
    return (t2 - t1) * (c1 + c2) / 2


def _area_to(days, conc, log_down, areas, x, out, last, extrapolate):
    if x < days[0]:
        return None
    k = max(i for i in range(len(days)) if days[i] <= x)
    area = sum(areas[:k])
    if k < len(days) - 1:
        t1, t2, c1, c2 = days[k], days[k + 1], conc[k], conc[k + 1]
        f = (x - t1) / (t2 - t1)
        cx = c1 * (c2 / c1) ** f if log_down[k] else c1 + f * (c2 - c1)
        area += _area(c1, cx, t1, x, log_down[k])
    elif extrapolate and last == len(days) - 1 and x > days[-1]:
        if not out["lambda_z"] > 0:
            return NAN
        area += out["clast"] / out["lambda_z"] * (1 - math.exp(-out["lambda_z"] * (x - out["tlast"])))
    return area


def _interval_auc(days, conc, log_down, areas, start, end, out, last, extrapolate):
    a_start = _area_to(days, conc, log_down, areas, start, out, last, extrapolate)
    if a_start is None:
        return NAN
    return _area_to(days, conc, log_down, areas, end, out, last, extrapolate) - a_start


def _half_life(out, days, conc, options):
    if math.isnan(out["tmax"]):
        return
    points = [(t, c) for t, c in zip(days, conc, strict=True)
              if c > 0 and (t >= out["tmax"] if options.allow_tmax_in_half_life else t > out["tmax"])]
    if len(points) < options.min_hl_points:
        return
    fits = []
    for n in range(options.min_hl_points, len(points) + 1):
        t = np.array([p[0] for p in points[-n:]])
        y = np.log([p[1] for p in points[-n:]])
        if np.ptp(y) == 0:
            fits.append((n, 0.0, NAN, NAN, t[0]))
            continue
        fit = stats.linregress(t, y)
        r2 = fit.rvalue ** 2
        fits.append((n, -fit.slope, r2, 1 - (1 - r2) * (n - 1) / (n - 2), t[0]))
    best = max((f[3] for f in fits if not math.isnan(f[3])), default=-math.inf)
    good = [f for f in fits if f[1] > 0 and f[3] > best - options.adj_r2_factor]
    if not good:
        return
    n, lambda_z, r2, r2_adj, start = max(good, key=lambda f: f[0])
    out.update(lambda_z=lambda_z, half_life=math.log(2) / lambda_z, r2=r2, r2_adj=r2_adj, lambda_z_n_points=n,
               lambda_z_start=start, lambda_z_end=points[-1][0])


def _extras(out, kind, post, base):
    if kind == CELL_KINETICS:
        return
    after = post[(post["day"] > 0) & ~post["structural"]]
    if kind == "biomarker":
        measured = after[~after["blq"]]
        if len(measured):
            top = measured.loc[measured["value"].idxmax()]
            out["peak"], out["peak_day"] = top["value"], top["day"]
            if out["baseline"] > 0:
                out["peak_fold_change"] = out["peak"] / out["baseline"]
    elif len(after):
        level = after["value"].where(~after["blq"], 0.0)
        i = level.idxmin()
        out["nadir"], out["nadir_day"] = level[i], after.loc[i, "day"]
        if out["baseline"] > 0:
            out["nadir_percent_reduction"] = 100 * (out["baseline"] - out["nadir"]) / out["baseline"]
