"""scan checks: recognitions run again, the engine, the page comparison, reviews, progress

Revision ID: 0012
Revises: 0011

A signed copy may now be recognised more than once without a new upload (``wenshu ocr
--again``): ``signed_copy_ocr`` holds one row per ``run`` (the key becomes signed copy + run;
rows made before are run 1), with the ``engine`` that read it and the ``comparison`` of the scan
with the generated document (pages, differences, signatures; NULL for rows made before).
``ocr_queue`` says which run an entry is for and how many pages are read so far.
``signed_copy_reviews`` records an inspector's or auditor's confirmation of a comparison (the
differences seen, a signature's absence with its reason); append-only like the rest.

SQLite cannot change a primary key in place: ``signed_copy_ocr`` is copied (batch mode), its
append-only triggers dropped first and made again after.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _unprotect(dialect, "signed_copy_ocr")
    with op.batch_alter_table("signed_copy_ocr", recreate="always") as batch_op:
        batch_op.add_column(sa.Column("run", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("engine", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("comparison", sa.JSON(), nullable=True))
        batch_op.drop_constraint("pk_signed_copy_ocr", type_="primary")
        batch_op.create_primary_key("pk_signed_copy_ocr", ["signed_copy_id", "run"])
    _protect(dialect, "signed_copy_ocr")
    with op.batch_alter_table("ocr_queue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column("pages_done", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "signed_copy_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("signed_copy_id", sa.Integer(), nullable=False),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.Integer(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["signed_copy_id"],
            ["signed_copies.id"],
            name=op.f("fk_signed_copy_reviews_signed_copy_id_signed_copies"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_signed_copy_reviews_reviewed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_copy_reviews")),
    )
    with op.batch_alter_table("signed_copy_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signed_copy_reviews_signed_copy_id"), ["signed_copy_id"], unique=False
        )
    _protect(dialect, "signed_copy_reviews")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _unprotect(dialect, "signed_copy_reviews")
    with op.batch_alter_table("signed_copy_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signed_copy_reviews_signed_copy_id"))
    op.drop_table("signed_copy_reviews")
    with op.batch_alter_table("ocr_queue", schema=None) as batch_op:
        batch_op.drop_column("pages_done")
        batch_op.drop_column("run")
    _unprotect(dialect, "signed_copy_ocr")
    op.execute("DELETE FROM signed_copy_ocr WHERE run > 1")
    with op.batch_alter_table("signed_copy_ocr", recreate="always") as batch_op:
        batch_op.drop_constraint("pk_signed_copy_ocr", type_="primary")
        batch_op.create_primary_key("pk_signed_copy_ocr", ["signed_copy_id"])
        batch_op.drop_column("comparison")
        batch_op.drop_column("engine")
        batch_op.drop_column("run")
    _protect(dialect, "signed_copy_ocr")


def _protect(dialect: str, table: str) -> None:
    """The database itself refuses UPDATE and DELETE (as 0005 does)."""
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
