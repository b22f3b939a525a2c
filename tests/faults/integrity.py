"""What the fault tests check a database with after an import was killed or raced: every visible version is whole
(the rows stored under it are the counts its import-log entry recorded), versions of a name are 1..n without a
repeat, no row points at a study that is not there, and the database's own checks pass (SQLite: integrity_check
and foreign_key_check; PostgreSQL: amcheck's B-tree checks, when the extension is installed)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select, text

from data_access import store
from tests.conftest import DEMO_DIR, REPO


def variant(folder: Path, number: int) -> Path:
    """The demo study with the first patient's age changed to 20 + number: files that are new to the database
    each time (an identical import stores nothing), the same row counts."""
    out = folder / f"variant-{number}"
    if not out.exists():
        shutil.copytree(DEMO_DIR, out)
        subjects = (out / "subjects.csv").read_text().splitlines(keepends=True)
        cells = subjects[1].split(",")
        cells[2] = str(20 + number)
        subjects[1] = ",".join(cells)
        (out / "subjects.csv").write_text("".join(subjects))
    return out


def import_command(path: Path, name: str) -> list[str]:
    return [sys.executable, "-m", "data_access", "import", str(path), "--name", name]


def start_import(path: Path, name: str, url: str) -> subprocess.Popen:
    """`python -m data_access import PATH --name NAME` on `url`, as its own process (stage lines on stderr)."""
    return subprocess.Popen(import_command(path, name), cwd=REPO, env={**os.environ, "CARTSCOPE_DATABASE_URL": url},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stored_counts(conn, study_id: int) -> dict[str, int]:
    return {table: conn.execute(select(func.count()).select_from(sql).where(sql.c.study_id == study_id)).scalar()
            for table, sql in store.study_tables.items()}


def problems(engine, expected_counts: dict[str, int] | None = None) -> list[str]:
    """Everything wrong with the database (an empty list when it is sound)."""
    found = []
    with engine.connect() as conn:
        studies = conn.execute(select(store.studies_table).order_by(store.studies_table.c.id)).mappings().all()
        logs = conn.execute(select(store.import_log_table)).mappings().all()
        by_study = {}
        for log in logs:
            by_study.setdefault(log["study_id"], []).append(log)
        versions: dict[str, list[int]] = {}
        for study in studies:
            versions.setdefault(study["name"], []).append(study["version"])
            label = f"{study['name']} v{study['version']}"
            entries = by_study.get(study["id"], [])
            if len(entries) != 1:
                found.append(f"{label}: {len(entries)} import-log entries")
                continue
            logged = json.loads(entries[0]["row_counts"])
            stored = stored_counts(conn, study["id"])
            if {t: n for t, n in stored.items() if n or t in logged} != logged:
                found.append(f"{label}: stored rows {stored} differ from the import log's {logged}")
            if expected_counts is not None and logged != expected_counts:
                found.append(f"{label}: the import log says {logged}, the files have {expected_counts}")
            if study["n_subjects"] != stored["subjects"] or \
                    study["n_rows"] != sum(n for t, n in stored.items() if t != "analytes"):
                found.append(f"{label}: the studies row's counts differ from the rows stored")
        for name, numbers in versions.items():
            if sorted(numbers) != list(range(1, len(numbers) + 1)):
                found.append(f"{name}: versions {sorted(numbers)} are not 1..{len(numbers)}")
        ids = select(store.studies_table.c.id)
        for table in [store.import_log_table, *store.study_tables.values()]:
            orphans = conn.execute(select(func.count()).select_from(table)
                                   .where(table.c.study_id.not_in(ids))).scalar()
            if orphans:
                found.append(f"{table.name}: {orphans} rows of no stored study")
        found += database_checks(conn)
    return found


def database_checks(conn) -> list[str]:
    """The database's own consistency checks."""
    if conn.dialect.name == "sqlite":
        found = []
        integrity = [row[0] for row in conn.execute(text("PRAGMA integrity_check"))]
        if integrity != ["ok"]:
            found.append(f"PRAGMA integrity_check: {integrity[:5]}")
        foreign = conn.execute(text("PRAGMA foreign_key_check")).all()
        if foreign:
            found.append(f"PRAGMA foreign_key_check: {foreign[:5]}")
        return found
    available = conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'")).first()
    if available is None:
        return []
    conn.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
    indexes = conn.execute(text(
        "SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE a.amname = 'btree' AND n.nspname = 'public'")).scalars().all()
    found = []
    for index in indexes:
        try:  # heapallindexed: every heap row is in the index, not only the index's own order
            conn.execute(text("SELECT bt_index_check(CAST(:index AS regclass), true)"), {"index": index})
        except Exception as error:  # noqa: BLE001 - the check's complaint is the finding
            found.append(f"amcheck {index}: {error}")
    conn.commit()
    return found
