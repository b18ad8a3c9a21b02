"""user full name: the person's name (姓名), kept apart from the login name

Revision ID: 0008
Revises: 0007

A login name (``demo-approver``) is not what a 上行文 prints as its 签发人: that is the
person's name (张三). ``users.full_name`` holds it; empty for users made before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("full_name", sa.String(length=50), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("full_name")
