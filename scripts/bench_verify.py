"""Full verification against verification since the last checkpoint, one process against all.

Usage: scripts/bench_verify [N] [DAY]   (default 200 documents, then a day's 50)

Builds an archive of N documents in a temporary data dir: the first is issued for real through
the API in-process (LibreOffice, PAdES, blobs, the audit event); the others are that document's
PDF/A signed again with the org's key (a fresh pyHanko signature each, so a distinct PDF blob
whose signature really has to be validated), stored as blobs, with a document row and a
``document.issue`` event appended through the audit chain as issuing does — so the chain, the
rows and the signatures are all valid and every check does its full work. Then: a signed
checkpoint, full ``wenshu verify`` with 1 and with every worker, DAY more documents,
``wenshu verify --since-checkpoint`` with 1 and with every worker, and one run of the fixity
cycle — each the real command in a process of its own. Prints the time each command reports
for its work (and the process's, which adds starting Python and importing the service), their
ratios, and the query plans (SQLite) of the lookups ``--since-checkpoint`` makes.
``scripts/bench_verify --plans`` runs ``bench_verify_plans.py``: those lookups at 1,000,000
events on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from archive.audit import AuditChain  # noqa: E402
from archive.models import AuditCheckpoint, AuditEvent, Document  # noqa: E402
from service import create_app  # noqa: E402
from service.doctypes import sample_input  # noqa: E402
from service.documents.convert.pool import ConverterPool  # noqa: E402
from service.documents.pades import sign_pdf  # noqa: E402
from service.ops.cli import initialise  # noqa: E402
from service.workflows.accounts import add_user  # noqa: E402
from service.workflows.integrity.fixity import checkpoint_now  # noqa: E402


def add_copies(ws: Any, first: Document, unsigned_pdf: bytes, n: int, serial: list[int]) -> None:
    """``n`` more documents: ``first``'s PDF/A signed anew, with rows and issue events."""
    key_pem, cert_pem = ws.keys.load("llyb")
    with ws.db.read() as s:
        issued = json.loads(
            s.scalar(
                select(AuditEvent.details).where(
                    AuditEvent.action == "document.issue", AuditEvent.object_id == first.id
                )
            )
        )
    for _ in range(n):
        serial[0] += 1
        k = serial[0]
        pdf_sha = ws.blobs.put(sign_pdf(unsigned_pdf, key_pem=key_pem, cert_pem=cert_pem))
        doc_id = uuid.uuid4().hex
        wenhao, archive_no = f"吕医保发〔2026〕{k}号", f"J041-2026-D30-BGS-{k:06d}"
        with ws.db.write() as s:
            row = Document(
                **{
                    c.name: getattr(first, c.name)
                    for c in Document.__table__.columns
                    if c.name not in ("id", "wenhao", "archive_no", "pdf_sha256", "issued_at")
                },
                id=doc_id,
                wenhao=wenhao,
                archive_no=archive_no,
                pdf_sha256=pdf_sha,
                issued_at=ws.now(),
            )
            s.add(row)
            s.flush()
            AuditChain.append(
                s,
                actor="bench",
                action="document.issue",
                org="llyb",
                object_id=doc_id,
                details=issued
                | {"wenhao": wenhao, "archive_no": archive_no, "pdf_sha256": pdf_sha},
            )


def timed(label: str, data: Path, workers: int, *args: str) -> tuple[float, str]:
    """Run ``wenshu ARGS`` as the operator would, on the bench's data dir; the time the command
    reports for its work (``用时 … 秒``: without starting Python and importing the service,
    seconds on a loaded machine), and its output."""
    env = os.environ | {"WENSHU_DATA": str(data), "WENSHU_VERIFY_WORKERS": str(workers)}
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(ROOT / ".venv/bin/wenshu"), *args], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    assert done.returncode == 0, done.stdout + done.stderr
    took = re.search(r"用时 ([0-9.]+) 秒", done.stdout)
    work = float(took.group(1)) if took else wall
    print(f"  {label:<58} {work:8.2f} s  (process {wall:6.2f} s)")
    return work, done.stdout


def indent(text: str) -> str:
    return "    " + text.rstrip().replace("\n", "\n    ")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    day = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    cores = os.cpu_count() or 1
    load = os.getloadavg()
    print(f"load before: {load[0]:.2f} {load[1]:.2f} (1, 5 min); cores {cores}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        app = create_app(
            {"DATA_DIR": data, "CONVERTER_POOL_SIZE": 1, "APPROVAL": {"notice": False}}
        )
        ws = app.extensions["wenshu"]
        initialise(ws)
        token = add_user(ws, name="bench", role="clerk", org_code="llyb")
        pool = ConverterPool(ws.pool_settings)
        pool.start()
        try:
            body = {"type": "notice", "org": "llyb", "data": sample_input("notice")}
            r = app.test_client().post(
                "/api/v1/documents", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 201, r.get_json()
            with ws.db.read() as s:
                first = s.get(Document, r.get_json()["id"])
                s.expunge(first)
            unsigned = ws.converter.to_pdf(ws.blobs.get(first.docx_sha256), pdfa=True)
        finally:
            pool.stop()
        serial = [1]
        t0 = time.perf_counter()
        add_copies(ws, first, unsigned, n - 1, serial)
        print(f"archive: {n} documents built in {time.perf_counter() - t0:.1f} s")
        checkpoint_now(ws, actor="bench", reason="manual")
        print(f"full verification (chain from seq 1, every blob and signature), {n} documents:")
        full_1, _ = timed("WENSHU_VERIFY_WORKERS=1 wenshu verify", data, 1, "verify")
        full_n, _ = timed(f"WENSHU_VERIFY_WORKERS={cores} wenshu verify", data, cores, "verify")
        add_copies(ws, first, unsigned, day, serial)
        print(f"since the checkpoint, after {day} new documents (archive {n + day}):")
        since = ("verify", "--since-checkpoint")
        since_1, _ = timed(f"WENSHU_VERIFY_WORKERS=1 wenshu {' '.join(since)}", data, 1, *since)
        since_n, out = timed(
            f"WENSHU_VERIFY_WORKERS={cores} wenshu {' '.join(since)}", data, cores, *since
        )
        print(indent(out))
        print("ratios:")
        print(f"  full, 1 worker / {cores} workers              {full_1 / full_n:6.2f}")
        print(f"  since-checkpoint, 1 worker / {cores} workers  {since_1 / since_n:6.2f}")
        print(f"  full / since-checkpoint ({cores} workers)     {full_n / since_n:6.2f}")
        print(
            f"  per document: full {full_n / n * 1000:.1f} ms, since-checkpoint "
            f"{since_n / day * 1000:.1f} ms ({cores} workers)"
        )
        print("one run of the fixity cycle, then its status:")
        _, out = timed(f"WENSHU_VERIFY_WORKERS={cores} wenshu fixity", data, cores, "fixity")
        print(indent(out))
        _, out = timed("wenshu fixity --status", data, cores, "fixity", "--status")
        print(indent(out))
        with ws.db.read() as s:
            after = int(s.scalar(select(func.max(AuditCheckpoint.seq))) or 0)
            print("query plans of --since-checkpoint (SQLite):")
            for q in (
                "SELECT seq FROM audit_checkpoints WHERE seq <= 100 ORDER BY seq DESC LIMIT 1",
                f"SELECT seq FROM audit_events WHERE action = 'document.issue' AND seq > {after}",
                f"SELECT * FROM audit_events WHERE seq > {after} ORDER BY seq LIMIT 2000",
                "SELECT * FROM documents WHERE id IN ('a', 'b')",
            ):
                plan = "; ".join(row[-1] for row in s.execute(text(f"EXPLAIN QUERY PLAN {q}")))
                print(f"  {q[:70]:<70} → {plan}")
        ws.close()
    load = os.getloadavg()
    print(f"load after: {load[0]:.2f} {load[1]:.2f} (1, 5 min)")


if __name__ == "__main__":
    main()
