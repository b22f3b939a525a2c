"""Benchmark: the vectorised NCA engine against the plain per-profile pandas groupby-apply, in one run.

    python -m bench.nca [--subjects 10000]

Builds a simulated cohort (bench/cohort.py: ~1.2 million rows, every analyte and specimen), then times
(a) `analysis.nca.nca` on all profiles (5 runs; sorted input as the store returns it, and shuffled
input), and (b) `analysis.nca.reference.nca_reference` (groupby-apply, numpy/scipy per profile, same
rules) once. Prints both times, their ratio, the engine's peak memory, and whether the two agree.
"""
from __future__ import annotations

import argparse
import platform
import resource
import statistics
import time
import tracemalloc

import numpy as np

from analysis.nca import NCAOptions, nca
from analysis.nca.parameters import KEY_COLUMNS, columns
from analysis.nca.reference import nca_reference
from bench.cohort import kinetics_cohort


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    args = parser.parse_args()

    build_s, m = timed(kinetics_cohort, args.subjects)
    n_profiles = m.groupby(["subject_id", "analyte", "specimen"]).ngroups
    print(f"cohort: {args.subjects:,} patients, {len(m):,} rows, {n_profiles:,} profiles (built in {build_s:.1f} s)")
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")

    nca(m)  # warm-up (imports, allocator)
    engine_times = [timed(nca, m)[0] for _ in range(5)]
    shuffled = m.sample(frac=1, random_state=0)
    shuffled_times = [timed(nca, shuffled)[0] for _ in range(3)]
    tracemalloc.start()
    result = nca(m)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    baseline_s, baseline = timed(nca_reference, m, NCAOptions())
    engine_s = statistics.median(engine_times)
    # every declared parameter the plain implementation also computes (analysis/nca/parameters.py)
    compared = [c for c in columns(NCAOptions().interval_names) if c in baseline.columns and c not in KEY_COLUMNS]
    differing = [c for c in compared if not np.allclose(result[c].to_numpy(float), baseline[c].to_numpy(float),
                                                         rtol=1e-9, atol=1e-9, equal_nan=True)]
    agree = not differing

    print(f"(a) engine, sorted input:   median {engine_s:.3f} s, min {min(engine_times):.3f} s  (5 runs)")
    print(f"    engine, shuffled input: median {statistics.median(shuffled_times):.3f} s  (3 runs)")
    print(f"(b) groupby-apply baseline: {baseline_s:.1f} s  (1 run)")
    print(f"ratio (b)/(a): {baseline_s / engine_s:.0f}x")
    print(f"engine peak memory (tracemalloc): {peak / 1e6:.0f} MB; process max RSS before (b): {rss_mb:.0f} MB")
    print(f"results agree (rtol 1e-9) on {len(compared)} parameters: {agree}"
          + (f" (differ: {', '.join(differing)})" if differing else ""))
    print(f"targets: all profiles < 0.5 s: {'met' if engine_s < 0.5 else 'NOT met'}; >= 30x: "
          f"{'met' if baseline_s / engine_s >= 30 else 'NOT met'}; peak memory < 1 GB: "
          f"{'met' if peak < 1e9 else 'NOT met'}")


if __name__ == "__main__":
    main()
