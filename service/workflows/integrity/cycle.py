"""The recurring fixity check: the whole archive once per cycle, a slice per run.

Recomputing every hash and signature on every run does not scale (pyHanko ≈ 15 ms a PDF: four
hours a run at a million documents). Instead each run checks the next slice of the audit chain
and, with it, every document whose ``document.issue`` event lies in that slice, so that over
``WENSHU_FIXITY_CYCLE_DAYS`` (30) every event and every document is checked once:

- the slice's events, recomputed link by link (``verify_segment``: segments compose into the
  whole chain), its checkpoints (signature, head against the chain) and that each
  ``audit.checkpoint`` event in it still has its row;
- each document issued in it: its three blobs, its PDF signature, its row against its event;
- each ``document.withdraw`` event in it against its 作废 row.

A run's size is what is left of the cycle divided by the runs left before the cycle's end (one
run every ``WENSHU_FIXITY_INTERVAL_SECONDS``; a day when the timer is off and the command is run
by hand), at most twice the even share, so a server that was down catches up over several runs
rather than in one long one. The cycle ends when a slice reaches the chain's head as it was when
the slice began; the next run starts the next cycle from seq 1.

The cursor (``fixity_cursor``) advances with each committed chunk of documents, in the same
transaction as the ``fixity.failure`` events of that chunk: a run that is killed loses at most
the chunk under way, and the next run resumes at the cursor, finishing the same slice. A lease
on the row keeps two servers of one database from checking the same slice. Each run ends with
one ``fixity.check`` event per org naming the cycle and the slice (``after_seq``,
``through_seq``).
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.audit import ChainReport, verify_segment
from archive.certificates import certificate_history, trusted_certificates
from archive.checkpoints import verify_checkpoints
from archive.db import as_utc
from archive.models import AuditEvent, AuditHead, Document, FixityCursor, Org
from service.wiring import Wenshu
from service.workflows.integrity.documents import FileChecker
from service.workflows.integrity.fixity import (
    ISSUE,
    ArchiveReport,
    Problem,
    check_documents,
    chunk_end,
    issue_seqs,
    issued_documents,
    record_checks,
    record_failures,
    withdrawals_in,
)

log = logging.getLogger(__name__)

CHUNK = 200
"""Documents checked between two commits of the cursor."""
LEASE = timedelta(minutes=15)
"""A run renews its lease with every chunk; a lease older than this belongs to a dead run."""
CATCH_UP = 2
"""A run checks at most this many times its even share of the cycle."""


@dataclass
class SliceReport(ArchiveReport):
    cycle: int = 0
    after_seq: int = 0
    through_seq: int = 0
    cycle_complete: bool = False
    resumed: bool = False
    busy_until: datetime | None = None
    """Set when another run holds the lease: nothing was checked."""

    @property
    def documents(self) -> int:
        return sum(self.checked.values())


@dataclass(frozen=True)
class CycleRun:
    at: datetime
    cycle: int
    after_seq: int
    through_seq: int
    documents: int
    failed_documents: int
    problems: list[str]
    cycle_complete: bool


@dataclass(frozen=True)
class CycleStatus:
    cycle: int
    started_at: datetime | None
    ends_at: datetime | None
    cycle_days: float
    position_seq: int
    slice_through_seq: int
    head_seq: int
    documents_checked: int
    documents_total: int
    documents_left: int
    problems: int
    running_until: datetime | None
    runs: list[CycleRun] = field(default_factory=list)


def runs_per_day(ws: Wenshu) -> float:
    interval = ws.settings.integrity.fixity_interval
    return 86400.0 / interval if interval > 0 else 1.0


def slice_size(
    remaining: int,
    *,
    total: int,
    ends_at: datetime,
    now: datetime,
    per_day: float,
    cycle_days: float,
) -> int:
    """Documents to check in this run: the rest of the cycle over the runs left, capped."""
    runs_left = max(1, math.ceil((ends_at - now).total_seconds() / 86400.0 * per_day))
    even = max(1, math.ceil(total / max(1.0, cycle_days * per_day)))
    return max(1, min(math.ceil(remaining / runs_left), CATCH_UP * even))


def lock_cursor(s: Session, now: datetime) -> FixityCursor:
    """The cursor row, locked for this transaction (made on first use)."""
    cur = s.get(FixityCursor, 1, with_for_update=True)
    if cur is None:
        cur = FixityCursor(
            id=1,
            cycle=1,
            cycle_started_at=now,
            position_seq=0,
            slice_after_seq=0,
            slice_through_seq=0,
            documents_checked=0,
            problems=0,
            updated_at=now,
        )
        s.add(cur)
        s.flush()
    return cur


def _claim(
    ws: Wenshu, owner: str, now: datetime, report: SliceReport, most: int | None = None
) -> bool:
    """Take the lease and fix the slice (or resume the interrupted one); a new slice holds at
    most ``most`` documents when given."""
    cycle_days = ws.settings.integrity.fixity_cycle_days
    with ws.db.write() as s:
        cur = lock_cursor(s, now)
        lease_until = as_utc(cur.lease_until)
        if cur.lease_owner not in (None, owner) and lease_until and lease_until > now:
            report.busy_until = lease_until
            return False
        report.cycle = cur.cycle
        if cur.slice_through_seq > cur.position_seq:
            report.resumed = True
        else:
            head = s.get(AuditHead, 1)
            head_seq = head.seq if head is not None else 0
            remaining = int(
                s.scalar(select(func.count()).select_from(issue_seqs(cur.position_seq).subquery()))
                or 0
            )
            total = int(s.scalar(select(func.count()).select_from(Document)) or 0)
            started = as_utc(cur.cycle_started_at) or now
            n = slice_size(
                remaining,
                total=total,
                ends_at=started + timedelta(days=cycle_days),
                now=now,
                per_day=runs_per_day(ws),
                cycle_days=cycle_days,
            )
            if most is not None:
                n = max(1, min(n, most))
            nth = s.scalar(issue_seqs(cur.position_seq).order_by(AuditEvent.seq).offset(n).limit(1))
            # The slice ends just before the (n+1)-th document, or at the head.
            cur.slice_after_seq = cur.position_seq
            cur.slice_through_seq = (nth - 1) if nth is not None else head_seq
        report.after_seq, report.through_seq = cur.slice_after_seq, cur.slice_through_seq
        cur.lease_owner, cur.lease_until, cur.updated_at = owner, now + LEASE, now
    return True


def run_slice(
    ws: Wenshu,
    *,
    actor: str,
    progress: Callable[[SliceReport, int], None] | None = None,
    most: int | None = None,
    actor_orgs: set[str] | None = None,
) -> SliceReport:
    """Check the next slice of the cycle (or finish the interrupted one) and record it.

    ``progress(report, position_seq)`` is called after each committed chunk. ``most`` caps the
    documents of a new slice (a request must not run for an hour); the runs after it share out
    what is left of the cycle, so the cycle still ends on time. ``actor_orgs``: the orgs whose
    trail names ``actor`` (an org's auditor who asked for the slice); the other orgs' events
    name the cycle itself, ``system:fixity``, as no org sees another's people.
    """
    report = SliceReport(details={})
    owner = uuid.uuid4().hex
    if not _claim(ws, owner, ws.now(), report, most):
        return report
    with ws.db.read() as s:
        trusted = trusted_certificates(s)
        certs = certificate_history(s)
        position = int(s.get(FixityCursor, 1).position_seq)  # type: ignore[union-attr]
    try:
        with FileChecker(
            ws.blobs.root, trusted, workers=ws.settings.integrity.verify_workers
        ) as checker:
            while position < report.through_seq:
                position = _chunk(ws, checker, certs, owner, position, report, actor)
                if progress is not None:
                    progress(report, position)
        _finish(ws, owner, report, actor, actor_orgs)
    finally:
        with ws.db.write() as s:
            cur = s.get(FixityCursor, 1, with_for_update=True)
            if cur is not None and cur.lease_owner == owner:
                cur.lease_owner, cur.lease_until = None, None
    for p in report.problems:
        log.error("fixity: %s", p.message)
    return report


def _chunk(
    ws: Wenshu,
    checker: FileChecker,
    certs: dict[str, dict[str, str]],
    owner: str,
    position: int,
    report: SliceReport,
    actor: str,
) -> int:
    """Check the next ``CHUNK`` documents of the slice and the events up to the last of them;
    commit the cursor there with the failures found. Returns the new position."""
    problems: list[Problem] = []
    with ws.db.read() as s:
        end = chunk_end(s, position, report.through_seq, CHUNK)
        chain = verify_segment(s, after_seq=position, through_seq=end)
        if report.chain is None or report.chain.ok:
            report.chain = ChainReport(
                chain.ok,
                (report.chain.checked if report.chain else 0) + chain.checked,
                chain.head_hash,
                chain.first_bad_seq,
                chain.problem,
                chain.head_seq,
            )
        if not chain.ok:
            problems.append(
                Problem(
                    "chain",
                    f"audit chain broken at seq {chain.first_bad_seq}: {chain.problem}",
                    seq=chain.first_bad_seq,
                )
            )
        for p in verify_checkpoints(s, certs, after_seq=position, through_seq=end).problems:
            problems.append(
                Problem(
                    "checkpoint",
                    f"checkpoint {p.org}@{p.seq} (from seq {p.first_bad_seq}): {p.message}",
                    org=p.org,
                    seq=p.first_bad_seq,
                )
            )
        docs = issued_documents(s, position, end, problems)
        problems.extend(withdrawals_in(s, position, end)[1])
    problems.extend(check_documents(checker, docs, report))
    now = ws.now()
    with ws.db.write() as s:
        cur = s.get(FixityCursor, 1, with_for_update=True)
        if cur is None or cur.lease_owner != owner:
            raise RuntimeError("fixity cursor lease lost")  # another run took over: stop here
        failed = record_failures(s, problems, actor=actor)
        cur.position_seq = end
        cur.documents_checked += len(docs)
        cur.problems += len(failed)
        cur.lease_until, cur.updated_at = now + LEASE, now
    report.problems.extend(problems)
    return end


def _finish(
    ws: Wenshu, owner: str, report: SliceReport, actor: str, actor_orgs: set[str] | None
) -> None:
    """Record the slice (one ``fixity.check`` per org); a slice that reached the head ends the
    cycle, and the next run starts the next one from seq 1."""
    now = ws.now()
    with ws.db.write() as s:
        cur = s.get(FixityCursor, 1, with_for_update=True)
        if cur is None or cur.lease_owner != owner:
            raise RuntimeError("fixity cursor lease lost")
        # A slice that is not the cycle's last ends just before a document's issue event.
        after = s.get(AuditEvent, report.through_seq + 1)
        report.cycle_complete = after is None or after.action != ISSUE
        if report.chain is None:  # a slice with no event left to check (an empty chain)
            report.chain = ChainReport(True, 0, "", None, None, report.through_seq)
        report.details = {
            "mode": "cycle",
            "cycle": cur.cycle,
            "slice": {"after_seq": report.after_seq, "through_seq": report.through_seq},
            "cycle_complete": report.cycle_complete,
            "resumed": report.resumed,
        }
        record_checks(s, report, actor=actor, actor_orgs=actor_orgs)
        if report.cycle_complete:
            cur.cycle += 1
            cur.cycle_started_at = now
            cur.position_seq = cur.slice_after_seq = cur.slice_through_seq = 0
            cur.documents_checked = cur.problems = 0
        cur.updated_at = now


def cycle_status(ws: Wenshu, *, runs: int = 10, org: str | None = None) -> CycleStatus:
    """Where the cycle stands and its last runs (from the ``fixity.check`` events): of the
    whole archive, or with ``org`` that org's documents only (checked, left, total, problems:
    no org learns another's size). One cursor goes through the chain of all orgs."""
    cycle_days = ws.settings.integrity.fixity_cycle_days
    with ws.db.read() as s:
        cur = s.get(FixityCursor, 1)
        head = s.get(AuditHead, 1)
        position = cur.position_seq if cur else 0
        issues = issue_seqs(0)
        documents = select(func.count()).select_from(Document)
        if org is not None:
            issues = issues.where(AuditEvent.org == org)
            documents = documents.join(Org, Org.id == Document.org_id).where(Org.code == org)
        total = int(s.scalar(documents) or 0)
        checked = cur.documents_checked if cur else 0
        problems = cur.problems if cur else 0
        if org is not None:  # the org's share of the cycle, counted from the chain
            before = issues.where(AuditEvent.seq <= position).subquery()
            checked = int(s.scalar(select(func.count()).select_from(before)) or 0)
            failures = select(func.count()).where(
                AuditEvent.action == "fixity.failure", AuditEvent.org == org
            )
            if cur is not None and cur.cycle_started_at is not None:
                failures = failures.where(AuditEvent.at >= cur.cycle_started_at)
            problems = int(s.scalar(failures) or 0)
        left = int(
            s.scalar(
                select(func.count()).select_from(issues.where(AuditEvent.seq > position).subquery())
            )
            or 0
        )
        recent = list(
            s.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.action == "fixity.check",
                    AuditEvent.details.contains('"mode":"cycle"'),
                    *([AuditEvent.org == org] if org is not None else []),
                )
                .order_by(AuditEvent.seq.desc())
                .limit(runs * 20)
            )
        )
    started = as_utc(cur.cycle_started_at) if cur else None
    lease = as_utc(cur.lease_until) if cur else None
    done = _runs(recent)
    return CycleStatus(
        cycle=cur.cycle if cur else 1,
        started_at=started,
        ends_at=started + timedelta(days=cycle_days) if started else None,
        cycle_days=cycle_days,
        position_seq=position,
        slice_through_seq=cur.slice_through_seq if cur else 0,
        head_seq=head.seq if head else 0,
        documents_checked=checked,
        documents_total=total,
        documents_left=left,
        problems=problems,
        running_until=lease if lease and lease > ws.now() and cur and cur.lease_owner else None,
        runs=done[:runs],
    )


def _runs(events: list[AuditEvent]) -> list[CycleRun]:
    """One run per (cycle, slice): its org events summed, newest first."""
    runs: dict[tuple[int, int, int], dict[str, Any]] = {}
    for ev in events:
        d = json.loads(ev.details)
        sl = d.get("slice") or {}
        key = (int(d.get("cycle", 0)), int(sl.get("after_seq", 0)), int(sl.get("through_seq", 0)))
        run = runs.setdefault(
            key,
            {
                "at": as_utc(ev.at),
                "documents": 0,
                "failed": 0,
                "problems": [],
                "complete": bool(d.get("cycle_complete")),
            },
        )
        run["documents"] += int(d.get("documents", 0))
        run["failed"] += len(d.get("failed_documents", []))
        run["problems"] = sorted(set(run["problems"]) | set(d.get("problems", [])))
    return [
        CycleRun(
            r["at"], k[0], k[1], k[2], r["documents"], r["failed"], r["problems"], r["complete"]
        )
        for k, r in runs.items()
    ]
