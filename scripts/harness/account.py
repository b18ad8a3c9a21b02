"""Whether the archive is whole after a run: ``wenshu verify``, the numbering account, the
blobs of every issue event, every acknowledged document archived and found by search."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from scripts.harness import http
from scripts.harness.inputs import DOCTYPES, ROOT
from scripts.harness.service import WENSHU, Service
from service.doctypes import DOCTYPES as REGISTRY


@dataclass
class Account:
    """What a consistency check found; ``problems`` empty means consistent."""

    documents: int = 0
    problems: list[str] = field(default_factory=list)
    in_flight: int = 0
    released: int = 0


def check_archive(
    service: Service,
    acknowledged: dict[str, str],
    *,
    search_ids: set[str] | None = None,
    index_timeout: float = 90,
) -> Account:
    """``wenshu verify`` passes; every consumed number is on its document and every document's
    numbers are consumed by it; no number is missing from a series; every issue event's blobs
    exist; every document the clients were told about (``acknowledged``: id → 档号) is archived;
    and every document of ``search_ids`` (default: all) is found by searching its 文号/档号."""
    from sqlalchemy import select

    from archive import numbering
    from archive.blobs import BlobStore
    from archive.db import Database
    from archive.models import AuditEvent, Document, NumberReservation, Org

    acc = Account()
    verify = subprocess.run(
        [WENSHU, "verify"], env=service.env, cwd=ROOT, capture_output=True, text=True
    )
    if verify.returncode != 0:
        acc.problems.append("wenshu verify failed: " + (verify.stdout + verify.stderr)[-1500:])
    data = service.root / "data"
    db = Database(f"sqlite:///{data / 'wenshu.db'}")
    blobs = BlobStore(data / "archive")
    try:
        with db.read() as s:
            docs = {d.id: (d, code) for d, code in s.execute(select(Document, Org.code).join(Org))}
            acc.documents = len(docs)
            claimed: dict[str, list[str]] = {}
            for series in numbering.series_names(s, ""):
                a = numbering.account(s, series)
                acc.in_flight += len(a.in_flight)
                acc.released += len(a.released)
                if a.missing:
                    acc.problems.append(f"{series}: numbers {a.missing} have no record")
            for r in s.scalars(select(NumberReservation).where(NumberReservation.status == "used")):
                claimed.setdefault(str(r.document_id), []).append(f"{r.series}#{r.n}")
                hit = docs.get(str(r.document_id))
                if hit is None:
                    acc.problems.append(
                        f"{r.series}#{r.n} used by missing document {r.document_id}"
                    )
                elif _number_of(hit[0], r.series) != r.n:
                    acc.problems.append(
                        f"{r.series}#{r.n} used by {r.document_id} with other number"
                    )
            for doc_id, (doc, _code) in docs.items():
                expected = 2 if doc.wenhao else 1
                if len(claimed.get(doc_id, [])) != expected:
                    acc.problems.append(f"document {doc_id} holds numbers {claimed.get(doc_id)}")
            for ev in s.scalars(select(AuditEvent).where(AuditEvent.action == "document.issue")):
                details = json.loads(ev.details)
                for key in ("input_sha256", "docx_sha256", "pdf_sha256"):
                    if not blobs.exists(details[key]):
                        acc.problems.append(f"event {ev.seq} points at missing {key} blob")
        for doc_id, archive_no in acknowledged.items():
            if doc_id not in docs or docs[doc_id][0].archive_no != archive_no:
                acc.problems.append(
                    f"acknowledged document {doc_id} ({archive_no}) is not archived"
                )
        wanted = docs if search_ids is None else {i: docs[i] for i in search_ids if i in docs}
        acc.problems += _unfound(service, wanted, index_timeout)
    finally:
        db.dispose()
    return acc


def archived_ids(service: Service) -> set[str]:
    from sqlalchemy import select

    from archive.models import Document

    with database(service) as db, db.read() as s:
        return set(s.scalars(select(Document.id)))


def open_numbers(service: Service) -> dict[tuple[str, str], int]:
    """Numbers reserved or released (not yet on a document), by the (type, org) whose next
    issue would take them."""
    from sqlalchemy import func, select

    from archive import numbering
    from archive.models import NumberReservation, Org

    year = time.gmtime(time.time() + 8 * 3600).tm_year  # the series year is Asia/Shanghai's
    with database(service) as db, db.read() as s:
        feeders: dict[str, tuple[str, str]] = {}
        for org in s.scalars(select(Org)):
            for doctype in reversed(DOCTYPES):  # the notice feeds its org's 发文字号 and D30
                feeders[numbering.wenhao_series(org.code, org.zihao, year)] = (doctype, org.code)
                series = numbering.archive_series(
                    org.fonds_no, year, REGISTRY[doctype].retention, org.unit_code
                )
                feeders[series] = (doctype, org.code)
        counts: dict[tuple[str, str], int] = {}
        for series, n in s.execute(
            select(NumberReservation.series, func.count())
            .where(NumberReservation.status.in_(("reserved", "released")))
            .group_by(NumberReservation.series)
        ):
            key = feeders[series]
            counts[key] = max(counts.get(key, 0), int(n))
        return counts


@contextmanager
def database(service: Service) -> Iterator[Any]:
    from archive.db import Database

    db = Database(f"sqlite:///{service.root / 'data' / 'wenshu.db'}")
    try:
        yield db
    finally:
        db.dispose()


def _number_of(doc: Any, series: str) -> int | None:
    text = doc.wenhao if series.startswith("wenhao/") else doc.archive_no
    match = re.search(r"(\d+)号$" if series.startswith("wenhao/") else r"-(\d{4})$", text or "")
    return int(match.group(1)) if match else None


def _unfound(service: Service, docs: dict[str, Any], timeout: float) -> list[str]:
    """Documents not found by their 文号 (notices) or 档号 once the index has caught up."""
    pending = dict(docs)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for doc_id, (doc, org) in list(pending.items()):
            try:
                r = service.search(org, doc.wenhao or doc.archive_no)
            except http.TransportError:
                continue
            if r.status_code == 200 and doc_id in {h["id"] for h in r.json()["hits"]}:
                del pending[doc_id]
        if pending:
            time.sleep(1)
    return [
        f"document {i} ({d.wenhao or d.archive_no}) not found by search"
        for i, (d, _) in pending.items()
    ]
