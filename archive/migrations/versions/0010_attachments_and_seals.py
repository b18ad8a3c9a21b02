"""attachments as files and the bureau's own seal

Revision ID: 0010
Revises: 0009

``uploads`` holds a file an org uploaded to attach to a notice (a PDF, or a DOCX with the PDF
the converter made of it; both blobs). ``org_seals`` holds every seal image an org has had;
its latest row is the seal in use, an org without one seals with the drawn test seal. Both are
append-only. A document records the seal it was sealed with (``seal_sha256``, and whether it
was the drawn test seal) and the files appended to it (``attachments``); documents made before
have none of the three.

``documents`` gains its columns by plain ``ADD COLUMN`` (no batch copy): on SQLite a copy of
the table would lose the triggers that keep it append-only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

APPEND_ONLY = ("uploads", "org_seals")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_uploads_org_id_orgs")),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_uploads_uploaded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
    )
    op.create_index(op.f("ix_uploads_org_id"), "uploads", ["org_id"], unique=False)
    op.create_table(
        "org_seals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_org_seals_org_id_orgs")),
        sa.ForeignKeyConstraint(
            ["added_by"], ["users.id"], name=op.f("fk_org_seals_added_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_seals")),
    )
    op.create_index(op.f("ix_org_seals_org_id"), "org_seals", ["org_id"], unique=False)
    for table in APPEND_ONLY:
        _protect(dialect, table)
    op.add_column("documents", sa.Column("seal_sha256", sa.String(length=64), nullable=True))
    op.add_column("documents", sa.Column("seal_drawn", sa.Boolean(), nullable=True))
    op.add_column("documents", sa.Column("attachments", sa.JSON(), nullable=True))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect != "sqlite":  # SQLite keeps the columns: dropping them copies the table
        for column in ("attachments", "seal_drawn", "seal_sha256"):
            op.drop_column("documents", column)
    for table in APPEND_ONLY:
        _unprotect(dialect, table)
    op.drop_index(op.f("ix_org_seals_org_id"), table_name="org_seals")
    op.drop_table("org_seals")
    op.drop_index(op.f("ix_uploads_org_id"), table_name="uploads")
    op.drop_table("uploads")


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
