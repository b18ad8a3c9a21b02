"""PostgreSQL for the benchmarks: a throw-away database, the server's CPU time, a table's size.

The server is the local cluster ``scripts/postgres`` starts (or ``WENSHU_TEST_PG``, an admin URL).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent


def admin_url() -> str:
    """An admin URL of a running PostgreSQL: WENSHU_TEST_PG, else the local Debian cluster."""
    url = os.environ.get("WENSHU_TEST_PG")
    if url:
        return url
    out = subprocess.run(
        [str(ROOT / "scripts" / "postgres")], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


@contextmanager
def scratch_database(prefix: str, keep: bool = False) -> Iterator[str]:
    """A new database (URL yielded), dropped afterwards unless ``keep``."""
    admin = admin_url()
    name = f"{prefix}_{secrets.token_hex(4)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        if not keep:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        engine.dispose()


def server_cpu_seconds() -> float:
    """CPU time (user + system) of every running ``postgres`` process: sample before and after
    a step to see what the server spent on it (processes that ended in between are missed)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name.startswith("postgres"):
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


def relation_mib(url: str, table: str) -> float:
    """Size of ``table`` with its TOAST data and indexes, in MiB."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            size = conn.scalar(text("SELECT pg_total_relation_size(:t)"), {"t": table})
    finally:
        engine.dispose()
    return float(size or 0) / 2**20


def replicate_search_docs(
    url: str, copies: int, table: str = "search_docs", like: str = "d%"
) -> int:
    """Grow the search table ``copies`` times over inside the server: each further copy of a row
    gets its own id, its issue date moved on by a fixed stride within 2018-2025 (year with it)
    and no 文号 or 档号 (those stay unique); its terms, texts, org and type are the original's.
    A million rows in minutes, where analysing a million documents in Python takes an hour.
    Only rows whose id is ``LIKE like`` are copied. The indexes are dropped first and built
    again after, as ``rebuild`` makes them (a partial GIN per org among them); returns the row
    count."""
    from archive.search.postgres.rows import index_sql, org_index_sql

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            indexes = conn.scalars(
                text(
                    "SELECT indexname FROM pg_indexes WHERE tablename = :t "
                    "AND indexname NOT LIKE '%_pkey'"
                ),
                {"t": table},
            ).all()
            for name in indexes:
                conn.execute(text(f"DROP INDEX {name}"))
            columns = (
                "id, type, org, status, issued_at, year, amount, case_no, wenhao, archive_no,"
                " identifiers, terms, approximate, title, body, body_folded, more_text, shown"
            )
            for k in range(1, copies):
                conn.execute(
                    text(
                        f"""
                        INSERT INTO {table} ({columns})
                        SELECT 'c' || :k || '-' || id, type, org, status, moved, to_char(moved, 'YYYY'),
                               amount, case_no, NULL, NULL, identifiers, terms, approximate,
                               title, body, body_folded, more_text, shown
                        FROM (SELECT *, timestamp '2018-01-01 08:00' + make_interval(
                                  days => ((issued_at::date - date '2018-01-01') + :k * 263) % 2920,
                                  mins => (extract(hour from issued_at)::int - 8) * 60
                                          + extract(minute from issued_at)::int) AS moved
                              FROM {table} WHERE id LIKE :like) AS base
                        """
                    ),
                    {"k": k, "like": like},
                )
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL maintenance_work_mem = '2GB'"))
            for stmt in index_sql(table):
                conn.execute(text(stmt))
            for org in conn.scalars(text(f"SELECT DISTINCT org FROM {table}")).all():
                conn.execute(text(org_index_sql(table, org)))  # as rebuild() makes them
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {table}"))
            return int(conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
    finally:
        engine.dispose()


TERM_INDEXES = ("gin", "rum", "org")
"""How the terms of the search table can be indexed, for ``bench_search --index``: one GIN
index (as ``rows.index_sql`` makes it), one RUM index (``postgresql-15-rum``), or the GIN index
and a partial GIN index per org beside it (a search of one org reads only that org's posting
lists; as ``PgSearchIndex.rebuild`` makes them)."""


def use_term_index(url: str, kind: str, table: str = "search_docs") -> tuple[float, float]:
    """Replace the index over ``terms`` by one of ``TERM_INDEXES``; returns (seconds to build,
    MiB of the new index or indexes)."""
    import time

    from archive.search.postgres.rows import org_index_sql

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL maintenance_work_mem = '2GB'"))
            full = f"{table}_terms"
            for name in conn.scalars(
                text(
                    "SELECT indexname FROM pg_indexes WHERE tablename = :t AND "
                    "(indexdef LIKE '%(terms)%' OR indexdef LIKE '%(terms %')"
                ),
                {"t": table},
            ):
                if not (kind == "org" and name == full):
                    conn.execute(text(f"DROP INDEX {name}"))
            started = time.perf_counter()
            if kind in ("gin", "org"):
                conn.execute(
                    text(f"CREATE INDEX IF NOT EXISTS {full} ON {table} USING gin (terms)")
                )
                made = [full]
            elif kind == "rum":
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS rum"))
                made = [f"{table}_terms_rum"]
                conn.execute(
                    text(f"CREATE INDEX {made[0]} ON {table} USING rum (terms rum_tsvector_ops)")
                )
            else:
                raise ValueError(f"term index: one of {TERM_INDEXES}")
            if kind == "org":
                for org in conn.scalars(text(f"SELECT DISTINCT org FROM {table}")).all():
                    conn.execute(text(org_index_sql(table, org)))
                made = conn.scalars(
                    text(
                        "SELECT indexname FROM pg_indexes WHERE tablename = :t AND indexname LIKE :n"
                    ),
                    {"t": table, "n": f"{table}_terms_org_%"},
                ).all()
            took = time.perf_counter() - started
            size = sum(
                conn.scalar(text("SELECT pg_relation_size(to_regclass(:i))"), {"i": name}) or 0
                for name in made
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"ANALYZE {table}"))
        return took, size / 2**20
    finally:
        engine.dispose()
