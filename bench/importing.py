"""Benchmark: importing a large study, from files to a stored version, in one run per input format.

    python -m bench.importing [--subjects 10000] [--formats csv,xpt]

Writes a simulated study (bench/cohort.py: 10,000 patients give about 1.2 million measurement rows; one subjects
row per patient) as CARTscope CSV files, and the same study as SDTM XPT datasets (data_access.cdisc_demo), then
imports each in a fresh process into a fresh SQLite database with `data_access.importer.import_path` (read,
validate, store: the CLI's and the Data page's path). Prints, per format, rows, seconds per stage, rows per second
and the importing process's peak resident memory (VmHWM). SIMULATED DATA.
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench import peak_memory_mb, run_in_fresh_process
from bench.cohort import kinetics_cohort

UNITS = {"car_copies": "copies/µg gDNA", "car_t_pct": "%", "plasma_cells_pct": "%", "il6": "pg/mL"}


def write_csv_study(out: Path, n_subjects: int) -> int:
    """subjects.csv and measurements.csv of the benchmark cohort; returns the number of measurement rows."""
    m = kinetics_cohort(n_subjects)
    rng = np.random.default_rng(3)
    ids = m["subject_id"].drop_duplicates().to_numpy()
    subjects = pd.DataFrame({"subject_id": ids, "dose_level": rng.choice(["150e6 CAR+ T cells",
                                                                          "450e6 CAR+ T cells"], len(ids)),
                             "age": rng.integers(35, 80, len(ids)), "sex": rng.choice(["M", "F"], len(ids)),
                             "last_contact_day": 730, "death_day": ""})
    out.mkdir(parents=True, exist_ok=True)
    subjects.to_csv(out / "subjects.csv", index=False)
    percent = m["analyte"].isin(["car_t_pct", "plasma_cells_pct"])
    m.loc[percent, "value"] = m.loc[percent, "value"].clip(upper=99.0)
    m = m.assign(unit=m["analyte"].map(UNITS), blq=np.where(m["blq"], "TRUE", "FALSE"))
    m.to_csv(out / "measurements.csv", index=False, float_format="%.6g")
    return len(m)


def write_sdtm(csv_folder: Path, out: Path) -> Path:
    """The CSV study as SDTM .xpt datasets (data_access.cdisc_demo, the writer of the demo's SDTM delivery)."""
    from data_access.cdisc_demo import write_cdisc_demo
    from data_access.readers import files_from_path, read_files
    from data_access.validate import validate

    study, report = validate(read_files(files_from_path(csv_folder), 10**10), "bench")
    if study is None:
        raise SystemExit(report.to_text())
    write_cdisc_demo(out, "sdtm", study=study)
    return out


def import_once(path: str) -> dict:
    """Import `path` into a fresh database in this process; the stage times and the peak memory."""
    from data_access import store
    from data_access.importer import import_files
    from data_access.readers import files_from_path

    with tempfile.TemporaryDirectory() as tmp:
        engine = store.get_engine(f"sqlite:///{tmp}/bench.sqlite")
        start = time.perf_counter()
        files = files_from_path(path)
        result = import_files(files, "bench", source="bench", engine=engine)
        total = time.perf_counter() - start
    if not result.stored:
        raise SystemExit(f"import failed:\n{result.report.to_text()[:3000]}")
    peak_mb = peak_memory_mb()
    return {"rows": result.record.n_rows, "seconds": total, "peak_mb": peak_mb,
            "bytes": sum(len(f.data) for f in files)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--formats", default="csv,xpt")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: import this path in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(import_once(args.one)))
        return
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"pandas {pd.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        folders = {}
        start = time.perf_counter()
        n_rows = write_csv_study(Path(tmp) / "csv", args.subjects)
        folders["csv"] = Path(tmp) / "csv"
        print(f"study: {args.subjects:,} patients, {n_rows:,} measurement rows (written in "
              f"{time.perf_counter() - start:.1f} s)")
        if "xpt" in args.formats:
            start = time.perf_counter()
            folders["xpt"] = write_sdtm(folders["csv"], Path(tmp) / "xpt")
            print(f"the same study as SDTM XPT (DM, EX, PC, CP, LB) written in {time.perf_counter() - start:.1f} s")
        for name, folder in folders.items():
            if name not in args.formats.split(","):
                continue
            r = run_in_fresh_process("bench.importing", str(folder))  # with the default file-size limit
            if isinstance(r, str):
                print(f"{name}: FAILED\n{r}")
                continue
            print(f"{name}: {r['rows']:,} rows stored in {r['seconds']:.1f} s = {r['rows'] / r['seconds']:,.0f} "
                  f"rows/s; input {r['bytes'] / 1e6:.0f} MB; peak memory {r['peak_mb']:,.0f} MB "
                  f"(targets: < 60 s, < 2,048 MB)")


if __name__ == "__main__":
    main()
