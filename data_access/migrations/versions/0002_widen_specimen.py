"""Widen measurements.specimen from 10 to 40 characters (specimen names such as 'cerebrospinal fluid').

Validation reads the limit from the column (store.text_limits), so imports accept the longer names once the database
is at this revision. On SQLite the batch operation rebuilds the table (SQLite has no ALTER COLUMN; it does not
enforce VARCHAR lengths either, but the declared type is what the schema says); on PostgreSQL it is one ALTER TABLE.

Revision ID: 0002_widen_specimen
Revises: 0001_baseline
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_widen_specimen"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("measurements") as batch:
        batch.alter_column("specimen", existing_type=sa.String(10), type_=sa.String(40))


def downgrade() -> None:
    too_long = op.get_bind().execute(sa.text("SELECT count(*) FROM measurements WHERE length(specimen) > 10")).scalar()
    if too_long:
        raise RuntimeError(f"cannot narrow measurements.specimen back to 10 characters: {too_long} stored "
                           "measurements have a longer specimen")
    with op.batch_alter_table("measurements") as batch:
        batch.alter_column("specimen", existing_type=sa.String(40), type_=sa.String(10))
