"""Benchmark: server time of a lambda-z point change on the patient page (target under 50 ms).

    .venv/bin/python -m bench.nca_choices [--repeats 50]

What the server does when an analyst chooses lambda-z points or leaves a sample out, past storing the choice:
the patient's NCA with the study's choices (analysis.nca.engine.run_nca on that patient's rows), the patient
view the page draws from (analysis.views.patients.patient_view: NCA, curves, facts, panels), and the page's
whole update (the view, the stacked figure and the summary tables), on the demo study. Prints the median and
95th percentile of each over --repeats changes (each a different set of points).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import settings
from analysis.nca import NCAOptions
from analysis.nca.engine import run_nca
from analysis.views.common import StudyData
from analysis.views.patients import patient_view
from components.frame import on_screen, screen
from components.patient import kinetics_figure, kinetics_summary
from data_access.readers import files_from_path, read_files
from data_access.validate import validate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    study, _ = validate(read_files(files_from_path(settings.DEMO_DIR), settings.max_file_bytes()), "demo")
    study.version = 1
    data = StudyData.of(study)
    subject = "DM-003"
    rows = data.measurements_of(subject)
    choices = [((subject, "car_copies", "PB", days),) for days in ((28.0, 63.0, 90.0), (21.0, 28.0, 63.0, 90.0),
                                                                   (13.0, 21.0, 28.0), (63.0, 90.0))]
    nca_times, view_times, update_times = [], [], []
    for i in range(args.repeats):
        options = NCAOptions(intervals=((0.0, 28.0),), lambda_z_points=choices[i % len(choices)],
                             exclusions=((subject, "car_copies", "PB", 21.0),) if i % 2 else ())
        started = time.perf_counter()
        run_nca(rows, options)
        nca_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        view = patient_view(data, subject, options)
        view_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        on_screen(kinetics_figure(view, data.note, screen()), screen())
        kinetics_summary(view, "summary")
        update_times.append(time.perf_counter() - started + view_times[-1])

    def figures(times):
        ms = sorted(1000 * t for t in times)
        return f"median {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms"

    print(f"demo study, patient {subject}, {args.repeats} changes; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"the patient's NCA with the choices: {figures(nca_times)}")
    print(f"the patient view (NCA, curves, facts): {figures(view_times)}")
    print(f"the page's whole update (view, figure, summary): {figures(update_times)}")
    print(f"target: a lambda-z change recomputes in under 50 ms server time (the NCA and the view): "
          f"{'met' if statistics.median(view_times) < 0.05 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
