"""per-org template versions, and the template each document was rendered from

Revision ID: 0014
Revises: 0012

``org_templates`` holds every version of a type's DOCX template an org uploaded (a blob,
checked against the type's contract before it was stored); ``org_template_activations`` records
each time an org took a version on (its latest row per type is the template in use; none, the
committed ``doc_templates/<type>.docx``). Both are append-only. A document records the template
it was rendered from (``template_sha256``); documents made before have none.

``documents`` gains its column by plain ``ADD COLUMN`` (no batch copy): on SQLite a copy of the
table would lose the triggers that keep it append-only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

APPEND_ONLY = ("org_templates", "org_template_activations")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "org_templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_org_templates_org_id_orgs")),
        sa.ForeignKeyConstraint(
            ["added_by"], ["users.id"], name=op.f("fk_org_templates_added_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_templates")),
    )
    op.create_index(op.f("ix_org_templates_org_id"), "org_templates", ["org_id"], unique=False)
    op.create_table(
        "org_template_activations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_org_template_activations_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["activated_by"],
            ["users.id"],
            name=op.f("fk_org_template_activations_activated_by_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_template_activations")),
    )
    op.create_index(
        op.f("ix_org_template_activations_org_id"),
        "org_template_activations",
        ["org_id"],
        unique=False,
    )
    for table in APPEND_ONLY:
        _protect(dialect, table)
    op.add_column("documents", sa.Column("template_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect != "sqlite":  # SQLite keeps the column: dropping it copies the table
        op.drop_column("documents", "template_sha256")
    for table in APPEND_ONLY:
        _unprotect(dialect, table)
    op.drop_index(op.f("ix_org_template_activations_org_id"), table_name="org_template_activations")
    op.drop_table("org_template_activations")
    op.drop_index(op.f("ix_org_templates_org_id"), table_name="org_templates")
    op.drop_table("org_templates")


def _protect(dialect: str, table: str) -> None:
    """The database itself refuses UPDATE and DELETE (as 0001 does for documents)."""
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        return
    op.execute(
        f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$ "
        f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$ LANGUAGE plpgsql"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
    )


def _unprotect(dialect: str, table: str) -> None:
    if dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
