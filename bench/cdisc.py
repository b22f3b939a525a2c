"""Benchmark: importing a large SDTM delivery (DM, EX and a PC dataset of about a million records).

    python -m bench.cdisc [--records 1000000] [--subjects 500]

Writes DM, EX and PC as SAS transport files into a temporary folder (synthetic records: CAR transgene in blood,
hourly date-times, a BLQ code in one record of twenty), then times `data_access.cdisc.read_cdisc` (the datasets to
raw text tables) and `data_access.validate.validate` (the tables to a typed Study) separately, and prints the
process's peak resident memory.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat


def write_delivery(folder: Path, n_records: int, n_subjects: int, seed: int = 0) -> int:
    """DM, EX and PC .xpt files; returns the number of PC records (one per subject and hour)."""
    rng = np.random.default_rng(seed)
    subjects = np.array([f"S-{i:05d}" for i in range(n_subjects)])
    first_dose = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n_subjects), unit="D")
    pyreadstat.write_xport(pd.DataFrame({"USUBJID": subjects, "ARM": "150e6 CAR+ T cells", "AGE": 60.0,
                                         "SEX": "F", "RFPENDTC": ""}), str(folder / "dm.xpt"), file_format_version=5)
    pyreadstat.write_xport(pd.DataFrame({"USUBJID": subjects, "EXTRT": "CAR-T",
                                         "EXSTDTC": first_dose.strftime("%Y-%m-%d")}), str(folder / "ex.xpt"),
                           file_format_version=5)
    which = np.repeat(np.arange(n_subjects), int(np.ceil(n_records / n_subjects)))[:n_records]
    hour = np.arange(n_records) - np.searchsorted(which, which)  # 0, 1, 2, ... within each subject
    when = first_dose[which] + pd.to_timedelta(hour - 24, unit="h")
    value = rng.lognormal(6, 2, n_records)
    blq = np.arange(n_records) % 20 == 0
    pc = pd.DataFrame({
        "USUBJID": subjects[which], "PCTESTCD": "CARCOPY", "PCTEST": "CAR transgene",
        "PCSTRESC": np.where(blq, "<20", ""), "PCSTRESN": np.where(blq, np.nan, value),
        "PCSTRESU": "copies/ug gDNA", "PCSPEC": "BLOOD", "PCLLOQ": 20.0, "PCDTC": when.strftime("%Y-%m-%dT%H:%M")})
    pyreadstat.write_xport(pc, str(folder / "pc.xpt"), file_format_version=5)
    return len(pc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=500)
    args = parser.parse_args()

    from data_access.cdisc import read_cdisc
    from data_access.readers import files_from_path
    from data_access.validate import validate

    folder = Path(tempfile.mkdtemp(prefix="cartscope-bench-cdisc-"))
    try:
        n = write_delivery(folder, args.records, args.subjects)
        files = files_from_path(folder)
        size = sum(len(f.data) for f in files)
        print(f"SDTM delivery: {args.subjects:,} subjects, {n:,} PC records, {size / 1e6:.0f} MB of .xpt")
        start = time.perf_counter()
        raw = read_cdisc(files, max_bytes=size)
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        study, report = validate(raw, "bench")
        validate_s = time.perf_counter() - start
        assert study is not None, report.to_text()[:2000]
        print(f"read_cdisc (datasets -> raw text tables): {read_s:.2f} s")
        print(f"validate (raw tables -> typed Study): {validate_s:.2f} s")
        print(f"process peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB")
        print(f"measurements stored: {len(study.measurements):,}, BLQ: {int(study.measurements['blq'].sum()):,}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
