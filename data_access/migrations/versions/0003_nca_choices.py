"""The analyst's NCA choices: samples left out and hand-chosen lambda-z points, per study version, as an
append-only history; and named analysis settings per study (data_access/choices.py).

Revision ID: 0003_nca_choices
Revises: 0002_widen_specimen
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_nca_choices"
down_revision = "0002_widen_specimen"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nca_choices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("study", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("subject_id", sa.String(100), nullable=False),
        sa.Column("analyte", sa.String(40), nullable=False),
        sa.Column("specimen", sa.String(40), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("day", sa.Float),
        sa.Column("days", sa.Text),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_nca_choices_study_version", "nca_choices", ["study", "version"])
    op.create_table(
        "named_settings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("study", sa.String(100), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("saved_by", sa.String(200), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_named_settings_study_name", "named_settings", ["study", "name"])


def downgrade() -> None:
    op.drop_index("ix_named_settings_study_name", table_name="named_settings")
    op.drop_table("named_settings")
    op.drop_index("ix_nca_choices_study_version", table_name="nca_choices")
    op.drop_table("nca_choices")
