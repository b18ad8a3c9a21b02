"""Verification of the whole archive, and signed checkpoints on demand (the timer is
``service/workers/integrity.py``; the cycle that spreads this over days is ``cycle.py``).

A fixity check recomputes the audit chain, checks every signed checkpoint, every blob's sha256,
every PDF signature against its org's certificate, that each document row still says what
its ``document.issue`` event recorded (a swapped PDF with a row edited to match shows up there),
and that the 作废 rows and the ``document.withdraw`` events name the same documents with the
same reasons (a deleted or added withdrawal row shows up there).
Its outcome is itself recorded: one ``fixity.check`` event per org, and one ``fixity.failure``
event per document with problems. A check of every org that found nothing also says up to which
event it verified the chain (``verified_through``): a signed checkpoint at or before it is where
``wenshu verify --since-checkpoint`` may start.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from archive import checkpoints
from archive.audit import AuditChain, ChainReport, verify_chain
from archive.certificates import certificate_history, trusted_certificates
from archive.checkpoints import CheckpointReport, checkpoint_dict, verify_checkpoints
from archive.models import AuditEvent, AuditHead, Document, Org, Withdrawal
from archive.signed_copies import copy_problems
from service.wiring import Wenshu
from service.workflows.integrity.documents import FileChecker, files_of

log = logging.getLogger(__name__)

RECORDED_FIELDS = ("pdf_sha256", "docx_sha256", "input_sha256", "wenhao", "archive_no")


@dataclass(frozen=True)
class Problem:
    kind: str  # chain | checkpoint | blob | signature | record
    message: str
    org: str | None = None
    document_id: str | None = None
    seq: int | None = None


def missing_document(
    doc_id: str, seq: int, org_code: str | None, details: dict[str, Any]
) -> Problem:
    """A ``document.issue`` event (at ``seq``, with its ``details``) whose document row is
    gone."""
    return Problem(
        "record",
        f"document {doc_id} ({details.get('wenhao') or details.get('archive_no')}) "
        f"recorded as issued at seq {seq} is missing from the archive",
        org_code,
        doc_id,
        seq,
    )


@dataclass
class ArchiveReport:
    lines: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # documents checked per org
    chain: ChainReport | None = None
    checkpoints: CheckpointReport | None = None
    details: dict[str, Any] = field(default_factory=lambda: {"mode": "full"})
    """How it was checked, recorded in each ``fixity.check`` event."""
    verified_through: int | None = None
    """Set when every org's documents and the chain to this seq were found intact."""

    @property
    def failures(self) -> list[str]:
        return [p.message for p in self.problems]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_trail(s: Session, orgs: set[str] | None = None) -> tuple[ChainReport, CheckpointReport]:
    """The whole chain, and the signed checkpoints of ``orgs`` (None: every org) against it."""
    return verify_chain(s), verify_checkpoints(s, certificate_history(s), orgs=orgs)


ISSUE = "document.issue"
CHUNK = 2000
"""Documents the full verification reads, checks and lets go of at a time."""

Issued = tuple[int, str | None, dict[str, Any]]
"""A ``document.issue`` event: ``(seq, org, details)``."""


def verify_archive(ws: Wenshu, orgs: set[str] | None = None) -> ArchiveReport:
    """Check the chain, the checkpoints and the documents of ``orgs`` (None: every org).

    Memory is bounded by ``CHUNK``, not by the archive. The documents are read ``CHUNK`` at a
    time by the seq of their ``document.issue`` event (keyset on the event's primary key, as
    the fixity cycle reads its slices, with the same helpers): a seq range is what bounds the
    run, it finds a vanished document in the chunk of its event without holding every event,
    and it keeps the report in issue order, as the old order by ``issued_at`` did. The run is
    bounded by the chain head read at the start: a document issued while it runs is neither
    checked nor counted, and ``verified_through`` is no later than that head. Documents with
    no issue event at all (a row added round the application) come after, from one anti-join
    read a chunk at a time. One pool of workers checks every chunk's files. The chain is
    recomputed as ``verify_chain`` reads it (2,000 events at a time, by seq); the scans of
    hand-signed originals (``copy_problems``) and the withdrawals are read in one go, their
    memory being that of those rows, not of the documents.
    """
    report = ArchiveReport()
    with ws.db.read() as s:
        head = s.get(AuditHead, 1)
        bound = head.seq if head is not None else 0
        chain, cps = report.chain, report.checkpoints = verify_trail(s, orgs)
        trusted = trusted_certificates(s, orgs)
    if chain.ok:
        report.lines.append(f"audit chain: {chain.checked} events, head {chain.head_hash[:16]}…")
    else:
        report.problems.append(
            Problem(
                "chain",
                f"audit chain broken at seq {chain.first_bad_seq}: {chain.problem}",
                seq=chain.first_bad_seq,
            )
        )
    report.lines.append(f"checkpoints: {cps.checked} checked")
    for p in cps.problems:
        report.problems.append(
            Problem(
                "checkpoint",
                f"checkpoint {p.org}@{p.seq} (from seq {p.first_bad_seq}): {p.message}",
                org=p.org,
                seq=p.first_bad_seq,
            )
        )
    bad_docs: set[str | None] = set()
    with FileChecker(
        ws.blobs.root, trusted, workers=ws.settings.integrity.verify_workers
    ) as checker:
        found, missing = check_issued(ws, checker, report, 0, bound, orgs)
        bad_docs.update(p.document_id for p in found)
        report.problems.extend(found)
        after = ""
        while True:
            with ws.db.read() as s:
                unrecorded = _unrecorded(s, orgs, after)
            if not unrecorded:
                break
            found = check_documents(checker, [(doc, org, None) for doc, org in unrecorded], report)
            bad_docs.update(p.document_id for p in found)
            report.problems.extend(found)
            after = unrecorded[-1][0].id
    report.problems.extend(missing)
    with ws.db.read() as s:
        copies = copy_problems(s, ws.blobs, orgs)
        withdrawals = _withdrawal_problems(s, orgs)
    for doc_id, org_code, message in copies:  # the hand-signed originals' scans and OCR output
        bad_docs.add(doc_id)
        kind = "blob" if "blob" in message else "record"
        report.problems.append(Problem(kind, f"document {doc_id}: {message}", org_code, doc_id))
    for problem in withdrawals:
        bad_docs.add(problem.document_id)
        report.problems.append(problem)
    report.lines.append(
        f"documents: {sum(report.checked.values())} checked, {len(bad_docs)} with problems"
    )
    if orgs is None and report.ok:
        report.verified_through = min(chain.head_seq, bound)
    return report


def check_issued(
    ws: Wenshu,
    checker: FileChecker,
    report: ArchiveReport,
    after_seq: int,
    through_seq: int,
    orgs: set[str] | None = None,
) -> tuple[list[Problem], list[Problem]]:
    """Check the documents whose issue event lies in ``(after_seq, through_seq]``, ``CHUNK`` at
    a time, each chunk read in a session of its own (counted in ``report.checked``): the
    problems found in them, and the issue events whose document is gone (``missing_document``)."""
    found: list[Problem] = []
    missing: list[Problem] = []
    position = after_seq
    while position < through_seq:
        with ws.db.read() as s:
            end = chunk_end(s, position, through_seq, CHUNK, orgs)
            docs = issued_documents(s, position, end, missing, orgs)
        found.extend(check_documents(checker, docs, report))
        position = end
    return found, missing


def issue_seqs(
    after_seq: int, through_seq: int | None = None, orgs: set[str] | None = None
) -> Select[int]:
    """The seqs of the ``document.issue`` events in ``(after_seq, through_seq]`` (of ``orgs``)."""
    q = select(AuditEvent.seq).where(AuditEvent.action == ISSUE, AuditEvent.seq > after_seq)
    if through_seq is not None:
        q = q.where(AuditEvent.seq <= through_seq)
    if orgs is not None:
        q = q.where(AuditEvent.org.in_(orgs))
    return q


WITHDRAW = "document.withdraw"


def withdrawals_in(
    s: Session, after_seq: int, through_seq: int | None = None
) -> tuple[int, list[Problem]]:
    """Each ``document.withdraw`` event in ``(after_seq, through_seq]`` against its 作废 row:
    how many were read, and the problems (no row, or another reason)."""
    q = select(AuditEvent).where(AuditEvent.action == WITHDRAW, AuditEvent.seq > after_seq)
    if through_seq is not None:
        q = q.where(AuditEvent.seq <= through_seq)
    problems, n = [], 0
    for ev in s.scalars(q.order_by(AuditEvent.seq)):
        n += 1
        row = s.get(Withdrawal, ev.object_id)
        if row is None:
            message = (
                f"document {ev.object_id} recorded as withdrawn at seq {ev.seq} "
                "has no withdrawal row"
            )
        elif row.reason != json.loads(ev.details).get("reason"):
            message = (
                f"document {ev.object_id}: withdrawal reason differs from the one recorded "
                f"at seq {ev.seq}"
            )
        else:
            continue
        problems.append(Problem("record", message, ev.org, ev.object_id, ev.seq))
    return n, problems


def chunk_end(
    s: Session, after_seq: int, through_seq: int, size: int, orgs: set[str] | None = None
) -> int:
    """Where the next chunk of ``size`` documents after ``after_seq`` ends: the seq of its last
    issue event, or ``through_seq`` when fewer are left."""
    nth = s.scalar(
        issue_seqs(after_seq, through_seq, orgs).order_by(AuditEvent.seq).offset(size - 1).limit(1)
    )
    return int(nth) if nth is not None else through_seq


def issued_documents(
    s: Session,
    after_seq: int,
    through_seq: int,
    missing: list[Problem],
    orgs: set[str] | None = None,
) -> list[tuple[Document, str, Issued]]:
    """The documents whose issue event lies in ``(after_seq, through_seq]``, with their org
    code and that event, in seq order; an event whose document row is gone (or, with ``orgs``,
    belongs to another org now) goes to ``missing``."""
    q = select(AuditEvent).where(
        AuditEvent.action == ISSUE, AuditEvent.seq > after_seq, AuditEvent.seq <= through_seq
    )
    if orgs is not None:
        q = q.where(AuditEvent.org.in_(orgs))
    events = {
        str(ev.object_id): (ev.seq, ev.org, json.loads(ev.details))
        for ev in s.scalars(q.order_by(AuditEvent.seq))
    }
    rows: list[Any] = []
    if events:
        docs = (
            select(Document, Org.code)
            .join(Org, Document.org_id == Org.id)
            .where(Document.id.in_(list(events)))
        )
        if orgs is not None:
            docs = docs.where(Org.code.in_(orgs))
        rows = list(s.execute(docs).all())
    out = [(doc, code, events.pop(doc.id)) for doc, code in rows]
    out.sort(key=lambda row: row[2][0])
    for doc_id, (seq, org_code, details) in events.items():
        missing.append(missing_document(doc_id, seq, org_code, details))
    return out


def check_documents(
    checker: FileChecker,
    docs: Sequence[tuple[Document, str, Issued | None]],
    report: ArchiveReport,
) -> list[Problem]:
    """Each document's files and its row against its issue event; counted in ``report``."""
    problems = []
    found = checker([files_of(doc, org) for doc, org, _issued in docs])
    for (doc, org, issued), file_problems in zip(docs, found, strict=True):
        report.checked[org] = report.checked.get(org, 0) + 1
        for kind, message in file_problems + record_problems(doc, issued):
            label = f"document {doc.id} ({doc.wenhao or doc.archive_no})"
            problems.append(Problem(kind, f"{label}: {message}", org, doc.id))
    return problems


def _unrecorded(s: Session, orgs: set[str] | None, after_id: str) -> list[tuple[Document, str]]:
    """The next ``CHUNK`` documents by id after ``after_id`` that have no issue event (of
    ``orgs``) at any seq: a document issued while the run goes has one, and is not here."""
    event = select(AuditEvent.seq).where(
        AuditEvent.action == ISSUE, AuditEvent.object_id == Document.id
    )
    q = (
        select(Document, Org.code)
        .join(Org, Document.org_id == Org.id)
        .where(Document.id > after_id)
    )
    if orgs is not None:
        event = event.where(AuditEvent.org.in_(orgs))
        q = q.where(Org.code.in_(orgs))
    q = q.where(~event.exists()).order_by(Document.id).limit(CHUNK)
    return [(doc, code) for doc, code in s.execute(q).all()]


def _recorded(s: Any, orgs: set[str] | None, action: str) -> dict[str, Issued]:
    q = select(AuditEvent).where(AuditEvent.action == action)
    if orgs is not None:
        q = q.where(AuditEvent.org.in_(orgs))
    return {
        str(ev.object_id): (ev.seq, ev.org, json.loads(ev.details))
        for ev in s.scalars(q.order_by(AuditEvent.seq))
    }


def _withdrawal_problems(s: Any, orgs: set[str] | None) -> list[Problem]:
    """Every 作废 row against its ``document.withdraw`` event, and every such event against
    its row: the table refuses UPDATE and DELETE, this catches what goes round the triggers.

    Read in one go: its memory is that of the withdrawals (rare corrections, one row and one
    event each), not of the archive's documents."""
    q = (
        select(Withdrawal, Document, Org.code)
        .join(Document, Document.id == Withdrawal.document_id)
        .join(Org, Org.id == Document.org_id)
    )
    if orgs is not None:
        q = q.where(Org.code.in_(orgs))
    events = _recorded(s, orgs, WITHDRAW)
    problems = []
    for row, doc, org_code in s.execute(q).all():
        label = f"document {doc.id} ({doc.wenhao or doc.archive_no})"
        event = events.pop(doc.id, None)
        if event is None:
            message = f"{label}: withdrawn without a document.withdraw event in the audit trail"
        elif event[2].get("reason") != row.reason:
            message = f"{label}: withdrawal reason differs from the one recorded at seq {event[0]}"
        else:
            continue
        problems.append(Problem("record", message, org_code, doc.id))
    for doc_id, (seq, org_code, details) in events.items():
        problems.append(
            Problem(
                "record",
                f"document {doc_id} ({details.get('wenhao') or details.get('archive_no')}) "
                f"recorded as withdrawn at seq {seq} has no withdrawal row",
                org_code,
                doc_id,
                seq,
            )
        )
    return problems


def record_problems(doc: Document, issued: Issued | None) -> list[tuple[str, str]]:
    """The row against its ``document.issue`` event ``(seq, org, details)``."""
    if issued is None:
        return [("record", "no document.issue event in the audit trail")]
    seq, _org, details = issued
    return [
        (
            "record",
            f"{name} {getattr(doc, name)} differs from {details.get(name)} recorded at seq {seq}",
        )
        for name in RECORDED_FIELDS
        if details.get(name) != getattr(doc, name)
    ]


def record(ws: Wenshu, report: ArchiveReport, *, actor: str, orgs: set[str] | None = None) -> None:
    """Append the outcome to the trail: a summary per org, a failure event per bad document."""
    with ws.db.write() as s:
        record_failures(s, report.problems, actor=actor)
        record_checks(s, report, actor=actor, orgs=orgs)


def record_failures(s: Session, problems: list[Problem], *, actor: str) -> list[str]:
    """One ``fixity.failure`` event per document with problems; returns their ids."""
    by_doc: dict[str, list[Problem]] = {}
    for p in problems:
        if p.document_id and p.org:
            by_doc.setdefault(p.document_id, []).append(p)
    for doc_id, found in by_doc.items():
        AuditChain.append(
            s,
            actor=actor,
            action="fixity.failure",
            org=found[0].org,
            object_id=doc_id,
            details={
                "kinds": sorted({p.kind for p in found}),
                "problems": [p.message for p in found],
            },
        )
    return sorted(by_doc)


SYSTEM_FIXITY = "system:fixity"
"""The actor of the recurring fixity check (the worker's timer)."""


def record_checks(
    s: Session,
    report: ArchiveReport,
    *,
    actor: str,
    orgs: set[str] | None = None,
    actor_orgs: set[str] | None = None,
) -> None:
    """One ``fixity.check`` event per org: what was checked (``report.details`` says how:
    mode, slice, checkpoint) and what was found. A check of every org that found nothing
    names the last event of the chain it verified (``verified_through``). With
    ``actor_orgs``, only those orgs' events name ``actor``; the others name ``SYSTEM_FIXITY``."""
    codes = sorted(orgs if orgs is not None else set(s.scalars(select(Org.code))))
    general = [p.message for p in report.problems if p.kind == "chain"]
    extra = dict(report.details)
    if orgs is None and report.ok and report.verified_through is not None:
        extra["verified_through"] = report.verified_through
    for code in codes:
        mine = [p for p in report.problems if p.org == code]
        AuditChain.append(
            s,
            actor=actor if actor_orgs is None or code in actor_orgs else SYSTEM_FIXITY,
            action="fixity.check",
            org=code,
            details={
                "ok": not mine and not general,
                "documents": report.checked.get(code, 0),
                "failed_documents": sorted({p.document_id for p in mine if p.document_id}),
                "chain_ok": bool(report.chain and report.chain.ok),
                "first_bad_seq": report.chain.first_bad_seq if report.chain else None,
                "problems": (general + [p.message for p in mine if not p.document_id])[:50],
            }
            | extra,
        )


def run_fixity(ws: Wenshu, *, actor: str, orgs: set[str] | None = None) -> ArchiveReport:
    report = verify_archive(ws, orgs)
    record(ws, report, actor=actor, orgs=orgs)
    for p in report.problems:
        log.error("fixity: %s", p.message)
    return report


def checkpoint_now(
    ws: Wenshu,
    *,
    actor: str,
    reason: str,
    orgs: set[str] | None = None,
    only_if_new: bool = False,
) -> list[dict[str, Any]]:
    """Sign the chain head with the key of each org in ``orgs`` (None: every org with a key).

    ``only_if_new`` skips an org whose last checkpoint already covers all activity (the timer
    uses it, so an idle archive does not grow a checkpoint per interval).
    """
    with ws.db.write() as s:
        q = select(Org)
        if orgs is not None:
            q = q.where(Org.code.in_(orgs))
        activity = checkpoints.last_activity_seq(s)
        identities = {}
        for org in s.scalars(q.order_by(Org.code)):
            if not ws.keys.has(org.code):
                log.warning("no signing key for org %s: no checkpoint", org.code)
                continue
            if only_if_new and checkpoints.last_checkpoint_seq(s, org.code) >= activity:
                continue
            key_pem, _cert = ws.keys.load(org.code)
            identities[org.code] = (key_pem, org.cert_pem.encode("ascii"))
        made = checkpoints.make_checkpoints(s, identities, actor=actor, reason=reason, at=ws.now())
        return [checkpoint_dict(cp) for cp in made]
