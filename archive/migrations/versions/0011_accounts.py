"""accounts: token expiry, temporary passwords, password history, login throttling, test orgs

Revision ID: 0011
Revises: 0010

- ``users.token_expires_at``: tokens made before expire 90 days after this migration;
- ``user_credentials.must_change`` replaces the lockout (``failed_logins``, ``locked_until``):
  failures now slow down their source (``login_throttle``), never lock an account;
- ``password_history``: the earlier hashes a new password may not repeat;
- ``orgs.is_test``: only the demo org (``llyb``) is a test org, taking any certificate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

DEMO_ORG = "llyb"


def upgrade() -> None:
    # plain ADD/DROP COLUMN on users and orgs: a batch would rebuild a table others refer to
    op.add_column("users", sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True))
    users = sa.table("users", sa.column("token_expires_at", sa.DateTime(timezone=True)))
    op.execute(users.update().values(token_expires_at=datetime.now(UTC) + timedelta(days=90)))

    with op.batch_alter_table("user_credentials") as batch:
        batch.add_column(
            sa.Column("must_change", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")

    op.add_column(
        "orgs", sa.Column("is_test", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    orgs = sa.table("orgs", sa.column("code", sa.String()), sa.column("is_test", sa.Boolean()))
    op.execute(orgs.update().where(orgs.c.code == DEMO_ORG).values(is_test=True))

    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_history_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    op.create_index(op.f("ix_password_history_user_id"), "password_history", ["user_id"])
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_index(op.f("ix_password_history_user_id"), table_name="password_history")
    op.drop_table("password_history")
    op.drop_column("orgs", "is_test")  # in place (SQLite ≥ 3.35)
    with op.batch_alter_table("user_credentials") as batch:
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.drop_column("must_change")
    op.drop_column("users", "token_expires_at")
