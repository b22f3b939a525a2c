"""`python -m data_access.migrations revision "what changes"`: write the next revision, versions/000N_<slug>.py, with
the operations autogenerate finds between the tables in the code (store.py, accounts.py) and a scratch SQLite
database upgraded to the current head. Read and finish it before committing: autogenerate sees tables, columns,
types, indexes and constraints, not triggers, data moves or renames (a rename shows as a drop and an add)."""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from alembic import command

from data_access import migrations, store


def next_revision_id(message: str) -> str:
    """The next number after the head's, and the message as a slug: '0003_add_sample_site'."""
    number = int(migrations.head().split("_", 1)[0]) + 1
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"
    return f"{number:04d}_{slug}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_access.migrations", description="CARTscope migrations.")
    commands = parser.add_subparsers(dest="command", required=True)
    revision = commands.add_parser("revision", help="write the next revision from the code's tables")
    revision.add_argument("message", help="what the revision changes, e.g. 'add sample site to measurements'")
    revision.add_argument("--empty", action="store_true", help="no autogenerate: an empty upgrade and downgrade")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        engine = store.new_engine(f"sqlite:///{Path(scratch) / 'head.db'}")
        migrations.upgrade(engine)
        with engine.begin() as connection:
            config = migrations.alembic_config(connection)
            config.set_main_option("file_template", "%%(rev)s")
            script = command.revision(config, message=args.message, autogenerate=not args.empty,
                                      rev_id=next_revision_id(args.message))
        engine.dispose()
    print(f"Written {script.path}: read it, finish it, and test it (tests/data_access/test_migrations.py).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
