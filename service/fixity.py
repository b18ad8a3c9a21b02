"""Whole-archive verification: the audit chain, every blob's sha256, every PDF signature."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from archive.audit import verify_chain
from archive.models import Document, Org
from service.core import Wenshu
from service.sign import verify_pdf


@dataclass
class ArchiveReport:
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def verify_archive(ws: Wenshu) -> ArchiveReport:
    report = ArchiveReport()
    with ws.db.read() as s:
        chain = verify_chain(s)
        docs = s.execute(
            select(Document, Org).join(Org, Document.org_id == Org.id).order_by(Document.issued_at)
        ).all()
    if chain.ok:
        report.lines.append(f"audit chain: {chain.checked} events, head {chain.head_hash[:16]}…")
    else:
        report.failures.append(f"audit chain broken at seq {chain.first_bad_seq}: {chain.problem}")
    bad_docs = 0
    for doc, org in docs:
        label = f"document {doc.id} ({doc.wenhao or doc.archive_no})"
        problems = []
        for kind, digest in (
            ("input", doc.input_sha256),
            ("docx", doc.docx_sha256),
            ("pdf", doc.pdf_sha256),
        ):
            if not ws.blobs.exists(digest):
                problems.append(f"{kind} blob {digest} is missing")
            elif not ws.blobs.verify(digest):
                problems.append(f"{kind} blob {digest} does not match its sha256")
        if ws.blobs.exists(doc.pdf_sha256):
            sig = verify_pdf(
                ws.blobs.get(doc.pdf_sha256), trusted_certs=[org.cert_pem.encode("ascii")]
            )
            if not sig.ok:
                problems.append(
                    f"signature not valid (intact={sig.intact}, valid={sig.valid}, trusted={sig.trusted}, "
                    f"covers_whole_file={sig.covers_whole_file}): {sig.error or ''}"
                )
        if problems:
            bad_docs += 1
            report.failures.extend(f"{label}: {p}" for p in problems)
    report.lines.append(f"documents: {len(docs)} checked, {bad_docs} with problems")
    return report
