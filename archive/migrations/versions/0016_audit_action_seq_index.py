"""audit_events: the index on action carries seq (and, on PostgreSQL, org)

Revision ID: 0016
Revises: 0015

The verification and the fixity cycle ask for one action's events in a range of seq (the
``document.issue`` events after the cursor, the 2,000th of them after a chunk's start, the
withdrawals since a checkpoint); the cycle's status counts them. With an index on ``action``
alone each of those read every such event's row: at 1,000,000 documents the status page took
220 ms. On ``(action, seq)`` they are range scans of the index, index-only where the table is
vacuumed, which an append-only table always is soon; ``org`` rides along on PostgreSQL for
an org auditor's counts. The index replaces the one on ``action``, which it also serves.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_events_action_seq",
        "audit_events",
        ["action", "seq"],
        postgresql_include=["org"],
    )
    op.drop_index("ix_audit_events_action", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_action", "audit_events", ["action"])
    op.drop_index("ix_audit_events_action_seq", table_name="audit_events")
