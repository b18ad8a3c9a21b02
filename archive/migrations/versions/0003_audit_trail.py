"""audit trail: event salts, signed checkpoints, legal holds

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 21:40:00

The event hash changes to two steps (content hash, then link hash) with a per-event salt, so an
org's export can carry other orgs' events redacted. Events hashed the old way cannot be
re-hashed (the table refuses UPDATE), so this revision refuses a database that already holds
events rather than leave a chain that no longer verifies.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("audit_event_salts", "audit_checkpoints", "legal_holds")


def upgrade() -> None:
    bind = op.get_bind()
    existing = bind.execute(sa.text("SELECT COUNT(*) FROM audit_events")).scalar()
    if existing:
        raise RuntimeError(
            f"migration 0003 changes how audit events are hashed, and this database already "
            f"holds {existing} events hashed the old way (development data): start from a fresh "
            f"data directory"
        )
    op.create_table(
        "audit_event_salts",
        sa.Column("seq", SEQ, autoincrement=False, nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event_salts")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org", sa.String(length=32), nullable=False),
        sa.Column("seq", SEQ, nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("cert_sha256", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("org", "seq", name="uq_audit_checkpoints_org_seq"),
    )
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_checkpoints_org"), ["org"], unique=False)

    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("placed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_user", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_user"], ["users.id"], name=op.f("fk_legal_holds_by_user_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_legal_holds_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_legal_holds_document_id"), ["document_id"], unique=False
        )
    for table in APPEND_ONLY:
        _protect(bind.dialect.name, table)


def downgrade() -> None:
    bind = op.get_bind()
    for table in APPEND_ONLY:
        _unprotect(bind.dialect.name, table)
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_holds_document_id"))
    op.drop_table("legal_holds")
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoints_org"))
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_event_salts")


def _protect(dialect: str, table: str) -> None:
    """The database itself refuses UPDATE and DELETE (as 0001 does for audit_events)."""
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
