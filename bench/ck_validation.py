"""Verification by simulation of the cellular-kinetic model fits (docs/ck-model.md).

    .venv/bin/python -m bench.ck_validation [--cohorts 20] [--first-seed 1]

Simulates `--cohorts` demo-sized studies with the demo's simulator (data_access/demo.py: other seeds than the
bundled study's), fits every blood CAR-transgene profile as the app does (analysis.ck.cohort.fit_cohort: σ pooled
per cohort), and compares the estimates with each patient's true parameters: how many profiles each fit status
gets, the bias (median of ln(estimate / truth), shown as a percentage) and the coverage of the 95% intervals, per
parameter, for the profiles that support the model and for those fitted without a persistence phase.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from analysis.ck.cohort import fit_cohort
from analysis.ck.fit import CONVERGED, NO_PERSISTENCE
from data_access.demo import simulate_with_truth
from data_access.importer import read_study_files
from data_access.readers import SourceFile
from data_access.validate import validate

PRIMARY = ("cmax", "tmax", "rho", "alpha", "fb", "beta")


def simulated_cohort(seed: int, n_subjects: int | None = None):
    """A demo-design study of the simulator (validated as an import is) and each patient's true parameters."""
    tables, truth = simulate_with_truth(seed, n_subjects)
    files = [SourceFile(f"{name}.csv", frame.to_csv(index=False).encode()) for name, frame in tables.items()]
    loaded, report = validate(read_study_files(files), f"simulated-{seed}")
    if loaded is None:
        raise SystemExit(report.to_text())
    return loaded.measurements, truth.set_index("subject_id")


def compare(parameters: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, fit in parameters.iterrows():
        true = truth.loc[fit["subject_id"]]
        row = {"status": fit["status"], "supports_model": fit["status"] == CONVERGED and not fit["reason"]}
        for name in PRIMARY:
            row[f"{name}_log_ratio"] = np.log(fit[name] / true[name]) if fit[name] == fit[name] else np.nan
            row[f"{name}_covered"] = (fit[f"{name}_lower"] <= true[name] <= fit[f"{name}_upper"]
                                      if fit[f"{name}_lower"] == fit[f"{name}_lower"] else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def summary(results: pd.DataFrame, which: pd.Series, label: str) -> pd.DataFrame:
    part = results[which]
    out = []
    for name in PRIMARY:
        ratio = part[f"{name}_log_ratio"].dropna()
        covered = part[f"{name}_covered"].dropna().astype(bool)
        if ratio.empty:
            continue
        out.append({"profiles": label, "parameter": name, "n": len(ratio),
                    "median bias %": 100 * (np.exp(ratio.median()) - 1),
                    "coverage of 95% CI %": 100 * covered.mean() if len(covered) else np.nan,
                    "n with CI": len(covered)})
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cohorts", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    frames, sds, seconds = [], [], 0.0
    for seed in range(args.first_seed, args.first_seed + args.cohorts):
        measurements, truth = simulated_cohort(seed)
        started = time.perf_counter()
        cohort = fit_cohort(measurements)
        seconds += time.perf_counter() - started
        sds.append(cohort.residual_sd)
        frames.append(compare(cohort.parameters, truth))
    results = pd.concat(frames, ignore_index=True)
    print(f"{args.cohorts} simulated cohorts, {len(results)} profiles, fitted in {seconds:.1f} s; "
          f"pooled residual SD median {np.median(sds):.3f} (true 0.35), range {min(sds):.3f}-{max(sds):.3f}")
    counts = results["status"].value_counts()
    print("fit status: " + "; ".join(f"{k} {v} ({100 * v / len(results):.0f} %)" for k, v in counts.items()))
    table = pd.concat([summary(results, results["supports_model"], "support the model"),
                       summary(results, results["status"] == NO_PERSISTENCE, "no persistence phase")])
    with pd.option_context("display.width", 200, "display.float_format", "{:.1f}".format):
        print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
