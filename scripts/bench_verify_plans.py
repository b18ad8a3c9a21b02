"""The lookups of ``wenshu verify --since-checkpoint`` on a large archive, as each database plans
and runs them.

Usage: scripts/bench_verify --plans [EVENTS]   (default 1,000,000 events)

Fills a fresh database (SQLite in a temporary folder; PostgreSQL too when WENSHU_TEST_PG names
an admin URL, as for the tests) with EVENTS synthetic audit events — every third one a
``document.issue`` with its document row — and a checkpoint every 1,000 events, then prints
EXPLAIN (ANALYZE on PostgreSQL) of each lookup that ``--since-checkpoint`` makes from a
checkpoint 3,000 events before the head: the cost must not depend on EVENTS. The rows are not a
valid chain (nothing here hashes): this measures only the lookups.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from archive.migrate import upgrade  # noqa: E402


def fill(url: str, events: int) -> None:
    upgrade(url)
    engine = create_engine(url)
    pg = url.startswith("postgresql")
    series = (
        f"generate_series(1, {events}) AS g(n)"
        if pg
        else f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {events}) "
        "SELECT n FROM s)"
    )
    hash_of = "lpad(n::text, 63, '0') || 'h'" if pg else "printf('%063dh', n)"
    now = "now()" if pg else "'2026-12-01 00:00:00'"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orgs (id, code, name, mark, zihao, fonds_no, unit_code, seal_text, "
                "region, cert_pem, cert_is_test, is_test, created_at) VALUES (1, 'llyb', "
                "'吕梁市医疗保障局', '吕梁市医疗保障局文件', '吕医保发', 'J041', 'BGS', "
                f"'吕梁市医疗保障局', '吕梁市', '', true, true, {now})"
            )
        )
        conn.execute(
            text(
                "INSERT INTO users (id, name, full_name, role, org_id, token_hash, active, "
                f"created_at) VALUES (1, 'bench', '', 'clerk', 1, 'x', true, {now})"
            )
        )
        conn.execute(
            text(
                "INSERT INTO audit_events (seq, at, actor, org, action, object_id, details, "
                f"prev_hash, hash) SELECT n, {now}, 'bench', 'llyb', CASE WHEN n % 3 = 0 THEN "
                "'document.issue' ELSE 'document.view' END, 'd' || n, '{}', "
                f"{hash_of}, {hash_of} FROM {series}"
            )
        )
        conn.execute(
            text(
                "INSERT INTO documents (id, type, org_id, title, archive_no, retention, "
                "input_sha256, docx_sha256, pdf_sha256, page_count, facts, issued_at, issued_by) "
                f"SELECT 'd' || n, 'notice', 1, 't', 'A-' || n, 'D30', 'x', 'x', 'x', 1, '{{}}', "
                f"{now}, 1 FROM {series} WHERE n % 3 = 0"
            )
        )
        conn.execute(
            text(
                "INSERT INTO audit_checkpoints (org, seq, head_hash, at, reason, cert_sha256, "
                f"signature) SELECT 'llyb', n, 'h', {now}, 'interval', 'c', 's' FROM {series} "
                "WHERE n % 1000 = 0"
            )
        )
        conn.execute(text("ANALYZE"))
    engine.dispose()


def plans(url: str, events: int) -> None:
    engine = create_engine(url)
    pg = url.startswith("postgresql")
    after = events - 3000
    explain = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON)" if pg else "EXPLAIN QUERY PLAN"
    queries = [
        f"SELECT * FROM audit_checkpoints WHERE seq <= {events - 1} ORDER BY seq DESC, id LIMIT 1",
        f"SELECT seq, object_id FROM audit_events WHERE action = 'document.issue' AND seq > {after} ORDER BY seq",
        f"SELECT * FROM audit_events WHERE seq > {after} ORDER BY seq LIMIT 2000",
        "SELECT * FROM documents WHERE id IN ("
        + ", ".join(f"'d{n}'" for n in range(after - after % 3 + 3, events + 1, 3))
        + ")",
    ]
    with engine.connect() as conn:
        for q in queries:
            t0 = time.perf_counter()
            conn.execute(text(q)).all()
            ms = (time.perf_counter() - t0) * 1000
            rows = [" ".join(str(c) for c in r) for r in conn.execute(text(f"{explain} {q}"))]
            plan = " | ".join(r.strip() for r in rows if "Planning" not in r)
            print(f"  {q[:88]}{'…' if len(q) > 88 else ''}\n    {ms:7.1f} ms  {plan[:300]}")
    engine.dispose()


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(f"load: {os.getloadavg()[0]:.2f}; {events} events, {events // 3} documents")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'plans.db'}"
        t0 = time.perf_counter()
        fill(url, events)
        print(f"SQLite (filled in {time.perf_counter() - t0:.0f} s):")
        plans(url, events)
    admin = os.environ.get("WENSHU_TEST_PG")
    if admin:
        name = f"wenshu_plans_{secrets.token_hex(4)}"
        root = create_engine(admin, isolation_level="AUTOCOMMIT")
        with root.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        try:
            url = admin.rsplit("/", 1)[0] + "/" + name
            t0 = time.perf_counter()
            fill(url, events)
            print(f"PostgreSQL (filled in {time.perf_counter() - t0:.0f} s):")
            plans(url, events)
        finally:
            with root.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            root.dispose()


if __name__ == "__main__":
    main()
