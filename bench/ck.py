"""Benchmark: cellular-kinetic model fits of a 1,000-patient simulated cohort, and of one patient.

    .venv/bin/python -m bench.ck [--patients 1000] [--workers 2]

The cohort is the demo simulator's (data_access/demo.py, another seed), so its profiles are sampled as a trial
samples them. Times (a) `fit_cohort` in one process, (b) in `--workers` processes (both passes: the first with
the assumed residual SD, the second with the pooled one), and (c) one patient's fit with a known residual SD as the
patient page does it (median of 20 patients, 5 runs each). Targets: 1,000 patients under 30 s; one patient under
200 ms.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import pandas as pd

from analysis.ck.cohort import fit_cohort, profiles
from analysis.ck.fit import fit_profile
from bench.ck_validation import simulated_cohort


def simulated_measurements(patients: int, seed: int = 7) -> pd.DataFrame:
    return simulated_cohort(seed, patients)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    measurements = simulated_measurements(args.patients)
    n = measurements.loc[(measurements["analyte"] == "car_copies") & (measurements["specimen"] == "PB"),
                         "subject_id"].nunique()
    print(f"cohort: {n:,} blood transgene profiles; machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, python {platform.python_version()}")
    started = time.perf_counter()
    serial = fit_cohort(measurements)
    serial_s = time.perf_counter() - started
    started = time.perf_counter()
    parallel = fit_cohort(measurements, workers=args.workers)
    parallel_s = time.perf_counter() - started
    same = serial.parameters.equals(parallel.parameters)
    counts = serial.parameters["status"].value_counts()
    print(f"(a) {n:,} patients, 1 process:  {serial_s:.1f} s ({1000 * serial_s / n:.1f} ms per patient)")
    print(f"(b) {n:,} patients, {args.workers} processes: {parallel_s:.1f} s; same results: {same}")
    print("    " + "; ".join(f"{k}: {v}" for k, v in counts.items()))
    one = []
    for profile in profiles(measurements, "car_copies", "PB")[:20]:
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            fit_profile(profile.days, profile.values, profile.blq, profile.lloq, serial.residual_sd)
            runs.append(time.perf_counter() - started)
        one.append(statistics.median(runs))
    one_ms = 1000 * statistics.median(one)
    print(f"(c) one patient: median {one_ms:.1f} ms, slowest of 20 {1000 * max(one):.1f} ms")
    best = min(serial_s, parallel_s)
    print(f"targets: 1,000 patients < 30 s: {'met' if best * 1000 / n < 30 else 'NOT met'} ({best:.1f} s); "
          f"one patient < 200 ms: {'met' if 1000 * max(one) < 200 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
