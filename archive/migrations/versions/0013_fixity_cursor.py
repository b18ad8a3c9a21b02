"""fixity cursor: where the recurring fixity check stands in its cycle over the archive

Revision ID: 0013
Revises: 0012

The fixity timer no longer recomputes the whole archive on each run: it works through it over
``WENSHU_FIXITY_CYCLE_DAYS``, a slice per run. ``fixity_cursor`` (one row) holds the cycle's
number and start, the last event checked, the slice under way, counts, and a lease so that two
servers do not check the same slice. It is updated in place (bookkeeping; what was checked when
is recorded in the ``fixity.check`` events of the chain). An index on ``audit_checkpoints.seq``
finds the newest checkpoint at or before a seq for ``wenshu verify --since-checkpoint``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "fixity_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("cycle_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position_seq", seq, nullable=False),
        sa.Column("slice_after_seq", seq, nullable=False),
        sa.Column("slice_through_seq", seq, nullable=False),
        sa.Column("documents_checked", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fixity_cursor")),
    )
    # ``wenshu verify --since-checkpoint`` looks up the newest checkpoint at or before a seq.
    # A plain CREATE INDEX: the table (and its append-only triggers) stays as it is.
    op.create_index(op.f("ix_audit_checkpoints_seq"), "audit_checkpoints", ["seq"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_checkpoints_seq"), table_name="audit_checkpoints")
    op.drop_table("fixity_cursor")
