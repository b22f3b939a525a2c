"""Baseline: the schema as the release before migrations made it (store.py and accounts.py at that time).

Written out here, not read from store.metadata, so it stays what it was when the tables change. On a database made
before migrations (create_all of an earlier release, no alembic_version) it adds only what is missing: the tables it
lacks, import_log.mapping, the audit trail's append-only triggers; rows already stored are kept.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

#: The database refuses to change or delete audit rows, whoever asks: trigger name -> statement, per dialect.
APPEND_ONLY_TRIGGERS = {
    "sqlite": {
        "audit_events_no_update": "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
                                  "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
        "audit_events_no_delete": "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
                                  "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    },
    "postgresql": {
        "audit_events_no_change": "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON "
                                  "audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
    },
}
POSTGRES_TRIGGER_FUNCTION = ("CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql "
                             "AS $$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$")


def _data_table(name: str, *columns: sa.Column) -> tuple:
    """A per-study table: id, study_id (indexed), subject_id, its own columns, extra (JSON text)."""
    return (name, [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("studies.id"), nullable=False),
        sa.Column("subject_id", sa.String(100), nullable=False),
        *columns,
        sa.Column("extra", sa.Text()),
    ], [(f"ix_{name}_study_id", ["study_id"])])


def _tables() -> list[tuple[str, list, list[tuple[str, list[str]]]]]:
    """(table name, columns and constraints, [(index name, columns)]) in the order they can be made."""
    return [
        ("studies", [
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(100), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("simulated", sa.Boolean(), nullable=False),
            sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("imported_by", sa.String(200), nullable=False),
            sa.Column("n_subjects", sa.Integer(), nullable=False),
            sa.Column("n_rows", sa.Integer(), nullable=False),
            sa.UniqueConstraint("name", "version", name="uq_study_name_version"),
        ], []),
        ("import_log", [
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("study_id", sa.Integer(), sa.ForeignKey("studies.id"), nullable=False),
            sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("imported_by", sa.String(200), nullable=False),
            sa.Column("source", sa.String(50), nullable=False),
            sa.Column("files", sa.Text(), nullable=False),
            sa.Column("row_counts", sa.Text(), nullable=False),
            sa.Column("checksum", sa.String(64), nullable=False),
            sa.Column("mapping", sa.Text()),
        ], []),
        ("mappings", [
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(100), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("created_by", sa.String(200), nullable=False),
            sa.Column("mapping", sa.Text(), nullable=False),
        ], [("ix_mappings_name", ["name"])]),
        _data_table("subjects", sa.Column("dose_level", sa.String(200)), sa.Column("age", sa.Float()),
                    sa.Column("sex", sa.String(1)), sa.Column("last_contact_day", sa.Float()),
                    sa.Column("death_day", sa.Float())),
        _data_table("measurements", sa.Column("analyte", sa.String(40)), sa.Column("specimen", sa.String(10)),
                    sa.Column("day", sa.Float()), sa.Column("value", sa.Float()), sa.Column("unit", sa.String(40)),
                    sa.Column("lloq", sa.Float()), sa.Column("blq", sa.Boolean())),
        _data_table("adverse_events", sa.Column("term", sa.String(300)), sa.Column("grade", sa.Integer()),
                    sa.Column("onset_day", sa.Float()), sa.Column("resolution_day", sa.Float()),
                    sa.Column("serious", sa.Boolean()), sa.Column("related", sa.Boolean())),
        _data_table("responses", sa.Column("day", sa.Float()), sa.Column("response", sa.String(10)),
                    sa.Column("mrd_negative", sa.Boolean())),
        _data_table("concomitant_medications", sa.Column("drug", sa.String(300)), sa.Column("start_day", sa.Float()),
                    sa.Column("end_day", sa.Float()), sa.Column("indication", sa.String(300))),
        _data_table("time_to_event", sa.Column("endpoint", sa.String(10)), sa.Column("day", sa.Float()),
                    sa.Column("event", sa.Boolean())),
        ("study_analytes", [
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("study_id", sa.Integer(), sa.ForeignKey("studies.id"), nullable=False),
            sa.Column("code", sa.String(40), nullable=False),
            sa.Column("label", sa.String(200), nullable=False),
            sa.Column("unit", sa.String(40), nullable=False),
            sa.Column("kind", sa.String(20), nullable=False),
            sa.Column("specimens", sa.String(200)),
            sa.Column("method", sa.String(300)),
            sa.Column("extra", sa.Text()),
        ], [("ix_study_analytes_study_id", ["study_id"])]),
        ("users", [
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(100), nullable=False, unique=True),
            sa.Column("role", sa.String(20), nullable=False),
            sa.Column("password_hash", sa.String(200)),
            sa.Column("email", sa.String(200)),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("created_by", sa.String(200), nullable=False),
        ], []),
        ("study_grants", [
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
            sa.Column("study_name", sa.String(100), nullable=False),
            sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("granted_by", sa.String(200), nullable=False),
            sa.UniqueConstraint("user_id", "study_name", name="uq_grant_user_study"),
        ], [("ix_study_grants_user_id", ["user_id"])]),
        ("audit_events", [
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("user_name", sa.String(200), nullable=False),
            sa.Column("client", sa.String(100), nullable=False),
            sa.Column("action", sa.String(40), nullable=False),
            sa.Column("study", sa.String(100)),
            sa.Column("subject_id", sa.String(100)),
            sa.Column("detail", sa.Text()),
        ], [("ix_audit_action_user_at", ["action", "user_name", "at"]), ("ix_audit_at", ["at"])]),
    ]


def _existing_triggers(bind) -> set[str]:
    if bind.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"
    elif bind.dialect.name == "postgresql":
        query = ("SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('audit_events') "
                 "AND NOT tgisinternal")
    else:
        return set()
    return set(bind.execute(sa.text(query)).scalars())


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    for name, elements, indexes in _tables():
        if name in existing:
            continue
        op.create_table(name, *elements)
        for index_name, columns in indexes:
            op.create_index(index_name, name, columns)
    if "mapping" not in {c["name"] for c in sa.inspect(bind).get_columns("import_log")}:
        op.add_column("import_log", sa.Column("mapping", sa.Text()))  # made before mappings were recorded
    missing = {name: statement for name, statement in APPEND_ONLY_TRIGGERS.get(bind.dialect.name, {}).items()
               if name not in _existing_triggers(bind)}
    if missing and bind.dialect.name == "postgresql":
        op.execute(POSTGRES_TRIGGER_FUNCTION)
    for statement in missing.values():
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for name in APPEND_ONLY_TRIGGERS.get(bind.dialect.name, {}):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON audit_events" if bind.dialect.name == "postgresql"
                                                         else ""))
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    for name, _elements, _indexes in reversed(_tables()):
        op.drop_table(name)  # its indexes go with it
