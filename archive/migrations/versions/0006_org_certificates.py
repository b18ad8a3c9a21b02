"""org certificates: every signing certificate an org has had

Revision ID: 0006
Revises: 0005

Until now only the current certificate was kept (``orgs.cert_pem``): after an org replaced
it, its earlier documents reported "not trusted" and its earlier signed checkpoints "signed
by another certificate". ``org_certificates`` keeps each one (append-only, like
``documents``); the upgrade copies in every org's current certificate.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from cryptography import x509
from cryptography.hazmat.primitives import serialization

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLE = "org_certificates"


def upgrade() -> None:
    bind = op.get_bind()
    table = op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_org_certificates_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_certificates")),
        sa.UniqueConstraint("org_id", "sha256", name="uq_org_certificates_org_sha256"),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_certificates_org_id"), ["org_id"], unique=False)
    orgs = bind.execute(sa.text("SELECT id, cert_pem, created_at FROM orgs")).all()
    if orgs:
        op.bulk_insert(
            table,
            [
                {
                    "org_id": org_id,
                    "sha256": _fingerprint(pem),
                    "cert_pem": pem,
                    "added_at": _aware(created_at),
                }
                for org_id, pem, created_at in orgs
            ],
        )
    _protect(bind.dialect.name)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{verb}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_change ON {TABLE}")
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_certificates_org_id"))
    op.drop_table(TABLE)


def _fingerprint(pem: str) -> str:
    """As ``archive.checkpoints.cert_fingerprint`` (a migration does not import app code)."""
    cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _aware(value: datetime | str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _protect(dialect: str) -> None:
    """The database itself refuses UPDATE and DELETE (as 0001 does for documents)."""
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END"
            )
        return
    op.execute(
        f"CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$ "
        f"BEGIN RAISE EXCEPTION '{TABLE} is append-only'; END $$ LANGUAGE plpgsql"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()"
    )
