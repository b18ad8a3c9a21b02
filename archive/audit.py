"""The audit trail: an append-only chain of events, each hash covering the one before.

``AuditChain.append`` locks the single head row, so appends serialise across processes and
servers; the event row, the head and whatever the event records commit in one transaction.
``verify_chain`` recomputes every hash and names the first sequence number that does not fit —
an edited, deleted, reordered or truncated row all show up there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _iso(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite hands datetimes back naive; they were stored as UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    org: str | None,
    action: str,
    object_id: str | None,
    details: str,
    prev_hash: str,
) -> str:
    payload = canonical_json(
        {
            "seq": seq,
            "at": _iso(at),
            "actor": actor,
            "org": org,
            "action": action,
            "object_id": object_id,
            "details": details,
            "prev": prev_hash,
        }
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _hash_of(ev: AuditEvent) -> str:
    return event_hash(
        seq=ev.seq,
        at=ev.at,
        actor=ev.actor,
        org=ev.org,
        action=ev.action,
        object_id=ev.object_id,
        details=ev.details,
        prev_hash=ev.prev_hash,
    )


class AuditChain:
    """Appends events inside the caller's write transaction."""

    @staticmethod
    def append(
        session: Session,
        *,
        actor: str,
        action: str,
        org: str | None = None,
        object_id: str | None = None,
        details: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> AuditEvent:
        head = session.get(AuditHead, 1, with_for_update=True)
        if head is None:
            head = AuditHead(id=1, seq=0, hash=GENESIS)
            session.add(head)
        # Microsecond precision survives every backend, so the hash recomputes identically.
        at = (at or datetime.now(UTC)).astimezone(UTC)
        ev = AuditEvent(
            seq=head.seq + 1,
            at=at,
            actor=actor,
            org=org,
            action=action,
            object_id=object_id,
            details=canonical_json(details or {}),
            prev_hash=head.hash,
        )
        ev.hash = _hash_of(ev)
        session.add(ev)
        head.seq, head.hash = ev.seq, ev.hash
        session.flush()
        return ev


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None = None


def _events(session: Session, batch: int = 2000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > last)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_chain(session: Session) -> ChainReport:
    """Recompute the whole chain; report the first sequence number that does not fit."""
    prev, expected_seq, checked = GENESIS, 1, 0
    for ev in _events(session):
        if ev.seq != expected_seq:
            return ChainReport(
                False, checked, prev, expected_seq, f"第 {expected_seq} 号事件缺失或顺序被改动"
            )
        if ev.prev_hash != prev:
            return ChainReport(
                False, checked, prev, ev.seq, f"第 {ev.seq} 号事件的前序哈希与链不符"
            )
        if _hash_of(ev) != ev.hash:
            return ChainReport(
                False, checked, prev, ev.seq, f"第 {ev.seq} 号事件内容被改动（哈希不符）"
            )
        prev, expected_seq, checked = ev.hash, expected_seq + 1, checked + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != checked or head.hash != prev):
        bad = checked + 1 if head.seq > checked else head.seq
        return ChainReport(
            False,
            checked,
            prev,
            bad,
            f"链头记录为第 {head.seq} 号，链中只找到 {checked} 个事件（末尾被截断或改动）",
        )
    return ChainReport(True, checked, prev, None)


def event_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def event_dict(ev: AuditEvent) -> dict[str, Any]:
    return {
        "seq": ev.seq,
        "at": _iso(ev.at),
        "actor": ev.actor,
        "org": ev.org,
        "action": ev.action,
        "object_id": ev.object_id,
        "details": json.loads(ev.details),
        "prev_hash": ev.prev_hash,
        "hash": ev.hash,
    }
