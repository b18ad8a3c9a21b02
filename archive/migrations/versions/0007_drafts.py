"""drafts: 拟稿 → 核稿/签发 → 编号, and the idempotency keys of issue requests

Revision ID: 0007
Revises: 0006

A document that needs 签发 (党政机关公文处理工作条例 第十七条) starts as a draft on the server.
``drafts`` holds where each stands; ``draft_versions`` every saved version of its data and
``draft_steps`` every step of its history (both append-only, like ``documents``: the database
refuses UPDATE and DELETE). ``idempotency_keys`` remembers the answer to an issue request sent
with an ``Idempotency-Key``, so a retry gets the same document rather than a second one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

APPEND_ONLY = ("draft_versions", "draft_steps")


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "drafts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=True),
        sa.Column("supersedes", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("approved_version", sa.Integer(), nullable=True),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approval_comment", sa.Text(), nullable=True),
        sa.Column("issuing_token", sa.String(length=32), nullable=True),
        sa.Column("issuing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document_id", sa.String(length=32), nullable=True),
        sa.Column("data_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_drafts_org_id_orgs")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_drafts_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["users.id"], name=op.f("fk_drafts_approved_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_drafts_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
        sa.UniqueConstraint("document_id", name=op.f("uq_drafts_document_id")),
    )
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drafts_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_drafts_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_drafts_created_by"), ["created_by"], unique=False)

    op.create_table(
        "draft_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("draft_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"], ["drafts.id"], name=op.f("fk_draft_versions_draft_id_drafts")
        ),
        sa.ForeignKeyConstraint(
            ["saved_by"], ["users.id"], name=op.f("fk_draft_versions_saved_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_versions")),
        sa.UniqueConstraint("draft_id", "version", name="uq_draft_versions_draft_version"),
    )
    with op.batch_alter_table("draft_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_draft_versions_draft_id"), ["draft_id"], unique=False)

    op.create_table(
        "draft_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("draft_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_user", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"], ["drafts.id"], name=op.f("fk_draft_steps_draft_id_drafts")
        ),
        sa.ForeignKeyConstraint(
            ["by_user"], ["users.id"], name=op.f("fk_draft_steps_by_user_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_steps")),
    )
    with op.batch_alter_table("draft_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_draft_steps_draft_id"), ["draft_id"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_idempotency_keys_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )

    for table in APPEND_ONLY:
        _protect(bind.dialect.name, table)


def downgrade() -> None:
    bind = op.get_bind()
    for table in APPEND_ONLY:
        _unprotect(bind.dialect.name, table)
    op.drop_table("idempotency_keys")
    for table, column in (("draft_steps", "draft_id"), ("draft_versions", "draft_id")):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
        op.drop_table(table)
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        for column in ("created_by", "state", "org_id"):
            batch_op.drop_index(batch_op.f(f"ix_drafts_{column}"))
    op.drop_table("drafts")


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
