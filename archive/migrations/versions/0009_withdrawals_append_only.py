"""withdrawals append-only: the database refuses UPDATE and DELETE of a 作废 row

Revision ID: 0009
Revises: 0008

A withdrawal (作废) is as much on record as the document it marks: deleting its row would bring
a withdrawn document back to life with nothing to show for it. The table gets the triggers that
``documents`` and the audit tables have (0001, 0003), and ``wenshu verify`` matches every row
with its ``document.withdraw`` event (``service/workflows/fixity.py``).
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLE = "withdrawals"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
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


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{verb}")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_change ON {TABLE}")
    op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
