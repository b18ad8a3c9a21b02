"""How cost grows with the archive: issue, search and verify with N documents already archived.

Usage: scripts/bench_scale [--sizes 2000,10000] [--issues 10] [--queries 1]
                           [--verify-timeout 600] [--keep]
e.g.   scripts/bench_scale --sizes 10000,100000,1000000

For each size, in a scratch PostgreSQL database of the local cluster (``scripts/bench_pg.py``)
with the PostgreSQL search backend, the service is created in-process and one notice is issued
through the API (LibreOffice, signature, blobs). Then the archive is filled to the size with
COPY, not through the API: ``documents`` rows that share that notice's content-addressed blobs
(so every one verifies), a ``document.issue`` audit event for each on a valid hash chain (salts
and head with it), and the search table's rows, from the generated corpus of
``scripts/bench_search.py`` (at most 100,000 distinct documents, copied in the server beyond,
as its ``--copies``). Then it prints, per size:

* issue: ``--issues`` notices through ``POST /api/v1/documents`` (p50 / p95; should not grow);
* search: the fixed query set of ``bench_search`` through ``GET /api/v1/search`` (p50 / p95,
  first round and the rounds after);
* the auditor's ``GET /api/v1/audit/fixity`` (the fixity cycle's status: counts over the
  archive);
* verify: ``wenshu verify`` in a process of its own (the whole archive: every blob hash and
  every signature), stopped after ``--verify-timeout`` seconds; ``wenshu verify
  --since-checkpoint`` (the notices issued above); and ``wenshu fixity`` (the cycle's first
  slice), each stopped after the same timeout, with its time and peak RSS.

The filled archive stands for one verified earlier: right after the fill the script signs a
checkpoint at its head and records, as a full ``wenshu verify`` that passed would, a
``fixity.check`` event saying the chain was verified through there (``"mode": "bench_fill"``).
That is the starting point of ``--since-checkpoint``, which then checks what the API added.
The commands run this checkout's code (``PYTHONPATH``), whichever package the virtualenv holds.

Figures and how to read them: docs/performance.md ("Cost by archive size").
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from archive.audit import GENESIS, canonical_json, content_hash, link_hash  # noqa: E402
from archive.search import IndexedDoc  # noqa: E402
from archive.search.analysis import warm_up  # noqa: E402
from archive.search.postgres.rows import COLUMNS, rows  # noqa: E402
from scripts.bench_pg import replicate_search_docs, scratch_database  # noqa: E402
from scripts.bench_search import ORGS, Corpus, pct, query_set  # noqa: E402

DISTINCT = 100_000
"""At most this many distinct documents are analysed in Python; beyond, rows are copied."""
WENSHU = ROOT / ".venv" / "bin" / "wenshu"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:7.1f} ms  p95 {pct(values, 95) * 1000:7.1f} ms"


def filler_docs(size: int, seed: int) -> Iterator[IndexedDoc]:
    """The corpus of ``bench_search``, ids ``f0000000``… (the filler documents' ids)."""
    for n, doc in enumerate(Corpus(seed).documents(size)):
        yield IndexedDoc(**{**doc.__dict__, "id": f"f{n:07d}"})


def copy_rows(conn: Any, table: str, columns: list[str], values: Iterator[tuple[Any, ...]]) -> int:
    raw = conn.connection.driver_connection
    count = 0
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in values:
            cp.write_row(row)
            count += 1
    return count


def fill(
    ws: Any, url: str, size: int, seed: int, template_id: str
) -> tuple[dict[str, float], list[IndexedDoc]]:
    """Grow the archive by ``size`` filler documents; returns the time of each part and a
    sample of the documents (to draw queries from)."""
    timings: dict[str, float] = {}
    distinct = min(size, DISTINCT)
    copies = max(1, size // distinct)
    # The search table: COPY the distinct rows, then copy them in the server.
    started = time.perf_counter()
    sample: list[IndexedDoc] = []
    # begin(), not connect(): COPY goes through the driver's cursor, which SQLAlchemy does not
    # see, so a connection that ran nothing else would end without committing (and the search
    # table of every size was the handful of notices issued through the API).
    with ws.db.engine.begin() as conn:

        def keep(docs: Iterator[IndexedDoc]) -> Iterator[IndexedDoc]:
            for n, doc in enumerate(docs):
                if n % max(1, distinct // 2000) == 0:
                    sample.append(doc)
                yield doc

        copy_rows(
            conn,
            "search_docs",
            [c.strip() for c in COLUMNS.split(",")],
            rows(keep(filler_docs(distinct, seed)), 2),
        )
    searchable = replicate_search_docs(url, copies, like="f%")
    assert searchable >= distinct * copies, f"search table holds {searchable} rows"
    timings["search rows"] = time.perf_counter() - started

    # Documents and their issue events: the template notice's row and event, renumbered.
    started = time.perf_counter()
    with ws.db.engine.begin() as conn:
        doc = dict(
            conn.execute(text("SELECT * FROM documents WHERE id = :i"), {"i": template_id})
            .mappings()
            .one()
        )
        event = (
            conn.execute(
                text(
                    "SELECT * FROM audit_events WHERE object_id = :i AND action = 'document.issue'"
                ),
                {"i": template_id},
            )
            .mappings()
            .one()
        )
        orgs = dict(conn.execute(text("SELECT code, id FROM orgs")).all())
        head_seq, head_hash = conn.execute(text("SELECT seq, hash FROM audit_head")).one()
        details = json.loads(event["details"])
        columns = list(doc)
        ids = [f"f{n:07d}" for n in range(distinct)]
        ids += [f"c{k}-{i}" for k in range(1, copies) for i in ids]
        rng = random.Random(seed)
        org_codes = [o[0] for o in ORGS for _ in range(o[6]) if o[0] in orgs] or ["llyb"]
        chain: list[tuple[Any, ...]] = []
        salts: list[tuple[int, str]] = []
        seq, prev = int(head_seq), str(head_hash or GENESIS)
        at = datetime(2018, 1, 1, tzinfo=UTC)
        step = timedelta(seconds=8 * 365 * 86400 / len(ids))

        def documents() -> Iterator[tuple[Any, ...]]:
            nonlocal seq, prev, at
            for n, doc_id in enumerate(ids):
                org = rng.choice(org_codes)
                at += step
                archive_no = f"S{orgs.get(org, 1):03d}-{at.year}-D30-{n:07d}"
                wenhao = f"{org}测〔{at.year}〕{n + 1}号" if n % 5 == 0 else None
                row = {
                    **doc,
                    "id": doc_id,
                    "org_id": orgs.get(org, doc["org_id"]),
                    "wenhao": wenhao,
                    "archive_no": archive_no,
                    "issued_at": at,
                    "supersedes": None,
                }
                said = {**details, "wenhao": wenhao, "archive_no": archive_no}
                said = {k: (doc_id if v == template_id else v) for k, v in said.items()}
                seq += 1
                salt = secrets.token_hex(16)
                text_ = canonical_json(said)
                content = content_hash(
                    salt=salt,
                    at=at,
                    actor=event["actor"],
                    org=org,
                    action="document.issue",
                    object_id=doc_id,
                    details=text_,
                )
                digest = link_hash(seq=seq, prev_hash=prev, content_sha256=content)
                chain.append(
                    (seq, at, event["actor"], org, "document.issue", doc_id, text_, prev, digest)
                )
                salts.append((seq, salt))
                prev = digest
                yield tuple(
                    json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                    for v in (row[c] for c in columns)
                )

        copy_rows(conn, "documents", columns, documents())
        copy_rows(
            conn,
            "audit_events",
            ["seq", "at", "actor", "org", "action", "object_id", "details", "prev_hash", "hash"],
            iter(chain),
        )
        copy_rows(conn, "audit_event_salts", ["seq", "salt"], iter(salts))
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": seq, "h": prev})
    with ws.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("documents", "audit_events", "audit_event_salts"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    timings["documents and audit events"] = time.perf_counter() - started
    return timings, sample


def count_as_verified(ws: Any) -> int:
    """Sign a checkpoint at the filled head and record the chain verified through it (the
    fill's premise: every filler verifies); returns that seq."""
    from archive.audit import AuditChain
    from archive.models import AuditHead
    from service.workflows.integrity.fixity import checkpoint_now

    checkpoint_now(ws, actor="bench_scale", reason="bench_fill", orgs={"llyb"})
    with ws.db.write() as s:
        head = s.get(AuditHead, 1)
        assert head is not None
        through = int(head.seq)
        AuditChain.append(
            s,
            actor="bench_scale",
            action="fixity.check",
            org="llyb",
            details={"mode": "bench_fill", "ok": True, "verified_through": through},
        )
    return through


def issue(client: Any, headers: dict[str, str], body: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = client.post(
        "/api/v1/documents", data=body, content_type="application/json", headers=headers
    )
    took = time.perf_counter() - t0
    assert r.status_code == 201, r.get_json()
    return took, str(r.get_json()["id"])


def search_round(client: Any, headers: dict[str, str], queries: list[Any]) -> list[float]:
    took = []
    for _cls, kwargs in queries:
        params = {k: str(v) for k, v in kwargs.items()}
        t0 = time.perf_counter()
        r = client.get("/api/v1/search", query_string=params, headers=headers)
        took.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.get_json()
    return took


def verify(env: dict[str, str], timeout: float, *extra: str, command: str = "verify") -> str:
    """Run ``wenshu command *extra``: its time, verdict and peak RSS (GNU ``time``'s maximum
    resident set: the largest of the process and the workers it waited for; measured from a
    small parent, as a child forked from this script would start at its size)."""
    t0 = time.perf_counter()
    with tempfile.NamedTemporaryFile("r") as peak:
        proc = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M", "-o", peak.name, str(WENSHU), command, *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            so_far = _peak_so_far(proc.pid)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return f"not finished after {timeout:.0f} s (stopped), peak RSS so far {so_far}"
        took = time.perf_counter() - t0
        rss = int(peak.read().split()[-1]) / 1024  # KiB
    verdict = "OK" if proc.returncode == 0 else f"exit {proc.returncode}: {stderr.strip()[-300:]}"
    said = [line for line in stdout.splitlines() if "用时" in line or line.startswith("第 ")]
    return f"{took:,.1f} s, {verdict}, peak RSS {rss:,.0f} MB" + "".join(
        f"\n    {line}" for line in said
    )


def _peak_so_far(pid: int) -> str:
    """The largest ``VmHWM`` of the processes under ``pid`` (``time`` and what it started)."""
    peaks, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            continue
        peaks += [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")]
    return f"{max(peaks) / 1024:,.0f} MB" if peaks else "unknown"


def bench(size: int, args: argparse.Namespace) -> None:
    from service import create_app
    from service.doctypes import sample_input
    from service.documents.convert.pool import ConverterPool
    from service.ops.cli import initialise
    from service.workflows.accounts import add_user

    print(f"\n== {size:,} documents archived  (load average {load()})", flush=True)
    with (
        scratch_database("wenshu_scale", keep=args.keep) as url,
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp,
    ):
        config = {
            "DATA_DIR": Path(tmp) / "data",
            "DATABASE_URL": url,
            "SEARCH_BACKEND": "postgresql",
            "CONVERTER_POOL_SIZE": 1,
            "APPROVAL": {"notice": False},  # only the issue is timed, as in bench_issue
        }
        app = create_app(config)
        logging.getLogger("wenshu").setLevel(logging.WARNING)  # no line per request
        ws = app.extensions["wenshu"]
        initialise(ws)
        token = add_user(ws, name="bench", role="clerk", org_code="llyb")
        reader = add_user(ws, name="reader", role="inspector", org_code="llyb")
        auditor = add_user(ws, name="auditor", role="auditor", org_code="llyb")
        pool = ConverterPool(ws.pool_settings)
        pool.start()
        try:
            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}"}
            body = json.dumps(
                {"type": "notice", "org": "llyb", "data": sample_input("notice")},
                ensure_ascii=False,
            )
            _, template_id = issue(client, headers, body)  # the blobs every filler shares
            ws.catch_up_index(30)
            timings, sample = fill(ws, url, size, args.seed, template_id)
            for what, took in timings.items():
                print(f"fill (COPY) {what}: {took:,.0f} s", flush=True)
            through = count_as_verified(ws)
            print(f"filled archive counted as verified through seq {through:,}", flush=True)

            issued = [issue(client, headers, body)[0] for _ in range(args.issues)]
            print(f"issue, {args.issues} notices through the API: {ms(issued)}", flush=True)

            searcher = {"Authorization": f"Bearer {reader}"}
            queries = query_set(sample, random.Random(args.seed + 7))
            first = search_round(client, searcher, queries)
            later = [
                t for _ in range(args.queries) for t in search_round(client, searcher, queries)
            ]
            print(f"search, {len(queries)} queries (API), first round: {ms(first)}", flush=True)
            if later:
                print(f"search, rounds after ({args.queries}): {ms(later)}", flush=True)

            status = []
            for _ in range(3):
                t0 = time.perf_counter()
                r = client.get(
                    "/api/v1/audit/fixity", headers={"Authorization": f"Bearer {auditor}"}
                )
                status.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.get_json()
            print(f"GET /api/v1/audit/fixity (cycle status), 3 times: {ms(status)}", flush=True)
        finally:
            pool.stop()
            ws.close()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "WENSHU_DATA": str(Path(tmp) / "data"),
            "DATABASE_URL": url,
            "WENSHU_SEARCH_BACKEND": "postgresql",
        }
        print(f"wenshu verify: {verify(env, args.verify_timeout)}", flush=True)
        since = verify(env, args.verify_timeout, "--since-checkpoint")
        print(f"wenshu verify --since-checkpoint: {since}", flush=True)
        print(f"wenshu fixity: {verify(env, args.verify_timeout, command='fixity')}", flush=True)
        print(f"(load average {load()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,10000", help="comma-separated archive sizes")
    parser.add_argument("--issues", type=int, default=10, help="notices issued per size")
    parser.add_argument("--queries", type=int, default=1, help="search rounds after the first")
    parser.add_argument("--verify-timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args()
    warm_up()
    print(f"bench_scale started {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load()}")
    for size in (int(s) for s in args.sizes.split(",")):
        bench(size, args)


if __name__ == "__main__":
    main()
