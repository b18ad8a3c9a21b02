"""search: a GIN index over each org's terms in the PostgreSQL search table

Revision ID: 0015
Revises: 0012

A search within one org (everybody but the administrators) read the posting lists of every org
from the one GIN index and then fetched and discarded the rows of the others: at 1,000,000
documents that, not the rows shown, is what a broad query costs. A partial GIN index per org
(``WHERE org = '…'``) answers it from that org's entries alone (docs/search.md, "Index
choices"). ``PgSearchIndex.rebuild`` makes them for every org in the rebuilt table; this
migration makes them for a table built before, if there is one (the table is derived data
and exists only with ``WENSHU_SEARCH_BACKEND=postgresql``). The full GIN index stays, for
administrators and for orgs added after the last rebuild. Each index is built by a full read of
the table: minutes per org at a million documents.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from archive.search.postgres.query import TABLE
from archive.search.postgres.rows import org_index_sql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if bind.scalar(sa.text("SELECT to_regclass(:t)"), {"t": TABLE}) is None:
        return
    orgs = bind.scalars(sa.text(f"SELECT DISTINCT org FROM {TABLE}")).all()
    for org in sorted(orgs):
        op.execute(org_index_sql(TABLE, org))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    names = bind.scalars(
        sa.text("SELECT indexname FROM pg_indexes WHERE tablename = :t AND indexname LIKE :n"),
        {"t": TABLE, "n": f"{TABLE}%_terms_org_%"},
    ).all()
    for name in names:
        op.execute(f"DROP INDEX IF EXISTS {name}")
