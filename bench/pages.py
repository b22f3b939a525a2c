"""Benchmark: server time of the kinetics pages on a 1,000-patient simulated study.

    python -m bench.pages [--patients 1000] [--requests 200]

Simulates the study with the demo simulator, imports it into a throw-away SQLite database, builds the
app, and sends real Dash callback requests through Flask's test client (routing, the callback, JSON
serialisation: everything the server does). Prints the 50th/95th percentile and maximum server time
and the largest response size for:
- a new patient (the page router renders /patients/<id>),
- a new AUC window on the patient page (the kinetics callback),
- a cohort-page update (the cohort callback; new windows make the cohort NCA be computed, then cached).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cartscope-bench-"))
    os.environ["CARTSCOPE_DATABASE_URL"] = f"sqlite:///{work / 'bench.db'}"
    os.environ["CARTSCOPE_CACHE_DIR"] = str(work / "cache")
    from data_access.demo import write_demo_study
    from data_access.importer import import_path

    write_demo_study(work / "study", n_subjects=args.patients)
    started = time.perf_counter()
    result = import_path(work / "study", "bench", source="bench", simulated=True)
    assert result.stored, result.report.to_text()
    print(f"study: {result.record.n_subjects:,} patients, {result.record.n_rows:,} rows "
          f"(imported in {time.perf_counter() - started:.1f} s)")

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import app as app_module

    client = app_module.server.test_client()
    dependencies = json.loads(client.get("/_dash-dependencies").data)
    ids = _subject_ids(work / "study" / "subjects.csv")
    rng = random.Random(1)

    def call(fragment: str, values: dict, changed: str) -> tuple[float, int]:
        dep = next(d for d in dependencies if fragment in d["output"])
        body = {
            "output": dep["output"],
            "outputs": [_output(o) for o in dep["output"].strip(".").split("...")],
            "inputs": [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in dep["inputs"]],
            "state": [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in dep["state"]],
            "changedPropIds": [changed],
        }
        start = time.perf_counter()
        response = client.post("/_dash-update-component", json=body)
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.data[:500]
        return elapsed, len(response.data)

    key = {"study": "bench", "version": "1"}

    def page_state(page: str) -> str:  # how Dash names a pattern-matching id in its dependency list
        return json.dumps({"page": page, "type": "cs-page-state"}, separators=(",", ":")) + ".data"
    measures: dict[str, list[tuple[float, int]]] = {"new patient": [], "new AUC window": [], "cohort update": []}
    windows = [(0, 28), (0, 14), (0, 90), (7, 28), (0, 60)]
    # Warm-up: first requests pay for loading the study into this process.
    call("_pages_content", {"_pages_location.pathname": f"/patients/{ids[0]}",
                            "_pages_location.search": "?study=bench"}, "_pages_location.pathname")
    for _ in range(args.requests):
        subject = rng.choice(ids)
        measures["new patient"].append(call(
            "_pages_content", {"_pages_location.pathname": f"/patients/{subject}",
                               "_pages_location.search": "?study=bench"}, "_pages_location.pathname"))
        start, end = rng.choice(windows)
        measures["new AUC window"].append(call(
            "patient-summary.children", {"patient-auc-start.value": start, "patient-auc-end.value": end,
                                         "patient-auc-method.value": rng.choice(["linuplogdown", "linear"]),
                                         "patient-blq.value": "pknca", "patient-days.value": "all",
                                         page_state("patients"): {**key, "page": "patients", "_subject": subject}},
            "patient-auc-end.value"))
    for i in range(max(args.requests // 4, 20)):
        start, end = windows[i % len(windows)] if i < 2 * len(windows) else rng.choice(windows)
        measures["cohort update"].append(call(
            "kinetics-summary.children", {"kinetics-analyte.value": rng.choice(["car_copies", "car_t_pct"]),
                                   "kinetics-specimen.value": rng.choice(["PB", "BM"]),
                                   "kinetics-group.value": rng.choice(["dose_level", "response_group", "crs_group",
                                                                       "none"]),
                                   "kinetics-display.value": rng.choice(["colour", "facet"]),
                                   "kinetics-scale.value": rng.choice(["log", "linear"]),
                                   "kinetics-stat.value": rng.choice(["median", "geomean"]),
                                   "kinetics-start.value": start, "kinetics-end.value": end,
                                   "kinetics-method.value": "linuplogdown", "kinetics-blq.value": "pknca",
                                   page_state("kinetics"): {**key, "page": "kinetics"}}, "kinetics-group.value"))
    targets = {"new patient": 0.050, "new AUC window": 0.050, "cohort update": 0.300}
    print(f"{'update':<16}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'max payload':>13}  target (p95)")
    for name, values in measures.items():
        times = [t for t, _ in values]
        p95 = percentile(times, 95)
        print(f"{name:<16}{len(values):>5}{statistics.median(times) * 1e3:>9.1f}{p95 * 1e3:>9.1f}"
              f"{max(times) * 1e3:>9.1f}{max(s for _, s in values) / 1e6:>11.2f} MB  < {targets[name] * 1e3:.0f} ms: "
              f"{'met' if p95 < targets[name] else 'NOT met'}; payload < 2 MB: "
              f"{'met' if max(s for _, s in values) < 2e6 else 'NOT met'}")


def _subject_ids(path: Path) -> list[str]:
    import pandas as pd

    return pd.read_csv(path)["subject_id"].tolist()


def _output(spec: str) -> dict:
    component, prop = spec.rsplit(".", 1)
    # pattern-matching ids (the figures' {"type": "cs-graph", ...}) are JSON in the dependency string
    return {"id": json.loads(component) if component.startswith("{") else component, "property": prop}


if __name__ == "__main__":
    main()
