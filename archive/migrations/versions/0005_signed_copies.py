"""signed copies: the hand-signed paper original, its OCR and the OCR work queue

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 23:40:00

``signed_copies`` holds one row per uploaded version of a document's signed original (the scan
as received, a blob); ``signed_copy_ocr`` the outcome of recognising it (the searchable PDF/A and
the recognised text, both blobs). Both are append-only, like ``documents``. ``ocr_queue`` is a
work queue like ``index_queue``: written in the upload's transaction, claimed and marked done by
the recogniser.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APPEND_ONLY = ("signed_copies", "signed_copy_ocr")


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "signed_copies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("expected_pages", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_signed_copies_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_signed_copies_uploaded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_copies")),
        sa.UniqueConstraint("document_id", "version", name="uq_signed_copies_document_version"),
    )
    with op.batch_alter_table("signed_copies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signed_copies_document_id"), ["document_id"], unique=False
        )

    op.create_table(
        "signed_copy_ocr",
        sa.Column("signed_copy_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("text_sha256", sa.String(length=64), nullable=True),
        sa.Column("rotated_pages", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["signed_copy_id"],
            ["signed_copies.id"],
            name=op.f("fk_signed_copy_ocr_signed_copy_id_signed_copies"),
        ),
        sa.PrimaryKeyConstraint("signed_copy_id", name=op.f("pk_signed_copy_ocr")),
    )

    op.create_table(
        "ocr_queue",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("signed_copy_id", sa.Integer(), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["signed_copy_id"],
            ["signed_copies.id"],
            name=op.f("fk_ocr_queue_signed_copy_id_signed_copies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocr_queue")),
    )
    with op.batch_alter_table("ocr_queue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ocr_queue_done_at"), ["done_at"], unique=False)

    for table in APPEND_ONLY:
        _protect(bind.dialect.name, table)


def downgrade() -> None:
    bind = op.get_bind()
    for table in APPEND_ONLY:
        _unprotect(bind.dialect.name, table)
    with op.batch_alter_table("ocr_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ocr_queue_done_at"))
    op.drop_table("ocr_queue")
    op.drop_table("signed_copy_ocr")
    with op.batch_alter_table("signed_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signed_copies_document_id"))
    op.drop_table("signed_copies")


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
