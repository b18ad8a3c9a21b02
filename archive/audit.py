"""The audit trail: an append-only chain of events, each hash covering the one before.

One chain serves every org, yet an org's auditor may see nothing of another org. So an event is
hashed in two steps (see docs/audit.md)::

    content_sha256 = sha256(canonical {salt, at, actor, org, action, object_id, details})
    hash           = sha256(canonical {seq, prev, content})

An export shows another org's event *redacted* — only ``seq``, ``prev_hash``,
``content_sha256`` and ``hash`` — and the chain still verifies end to end. The random per-event
salt (kept in ``audit_event_salts``) stops anyone confirming a guess at a redacted event.

``AuditChain.append`` locks the single head row, so appends serialise across processes and
servers; the event row, the head and whatever the event records commit in one transaction.
Details are masked as they are appended (:func:`schemas.masking.masked`): a search typed with
an ID, a comment or a reason quoting one, is kept masked for good, since nothing appended is
ever rewritten. ``verify_chain`` recomputes every hash and names the first sequence number that
does not fit — an edited, deleted, reordered or truncated row all show up there;
``verify_segment`` does the same for a stretch of the chain, so verification can go a slice at a
time or start at a signed checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.models import AuditEvent, AuditEventSalt, AuditHead
from schemas.masking import masked

GENESIS = "0" * 64
HASHING = "wenshu-audit/2"


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def iso(at: datetime) -> str:
    """UTC, microseconds, ``Z``: the one textual form of a time that goes into a hash."""
    if at.tzinfo is None:  # SQLite hands datetimes back naive; they were stored as UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_hash(
    *,
    salt: str,
    at: datetime,
    actor: str,
    org: str | None,
    action: str,
    object_id: str | None,
    details: str,
) -> str:
    """The commitment to everything an event says; ``details`` is its canonical JSON text."""
    return _sha256(
        canonical_json(
            {
                "salt": salt,
                "at": iso(at),
                "actor": actor,
                "org": org,
                "action": action,
                "object_id": object_id,
                "details": details,
            }
        )
    )


def link_hash(*, seq: int, prev_hash: str, content_sha256: str) -> str:
    """The event's place in the chain: its number, its predecessor and its content."""
    return _sha256(canonical_json({"seq": seq, "prev": prev_hash, "content": content_sha256}))


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
    salt: str,
) -> str:
    content = content_hash(
        salt=salt,
        at=at,
        actor=actor,
        org=org,
        action=action,
        object_id=object_id,
        details=details,
    )
    return link_hash(seq=seq, prev_hash=prev_hash, content_sha256=content)


def _content_of(ev: AuditEvent, salt: str) -> str:
    return content_hash(
        salt=salt,
        at=ev.at,
        actor=ev.actor,
        org=ev.org,
        action=ev.action,
        object_id=ev.object_id,
        details=ev.details,
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
        salt = secrets.token_hex(16)
        ev = AuditEvent(
            seq=head.seq + 1,
            at=at,
            actor=actor,
            org=org,
            action=action,
            object_id=object_id,
            details=canonical_json(masked(details or {})),
            prev_hash=head.hash,
        )
        ev.hash = link_hash(
            seq=ev.seq, prev_hash=ev.prev_hash, content_sha256=_content_of(ev, salt)
        )
        session.add(ev)
        session.add(AuditEventSalt(seq=ev.seq, salt=salt))
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
    head_seq: int = 0


def events_with_salts(
    session: Session, *, after_seq: int = 0, batch: int = 2000
) -> Iterator[tuple[AuditEvent, str | None]]:
    """Every event in ``seq`` order with its salt (None when the salt row is gone)."""
    last = after_seq
    while True:
        rows = session.execute(
            select(AuditEvent, AuditEventSalt.salt)
            .outerjoin(AuditEventSalt, AuditEventSalt.seq == AuditEvent.seq)
            .where(AuditEvent.seq > last)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from ((ev, salt) for ev, salt in rows)
        last = rows[-1][0].seq


def _broken_link(
    ev: AuditEvent, salt: str | None, expected_seq: int, prev: str
) -> tuple[int, str] | None:
    """Where and why ``ev`` does not continue a chain that expects ``expected_seq`` after the
    hash ``prev`` (None: it does)."""
    if ev.seq != expected_seq:
        return expected_seq, f"第 {expected_seq} 号事件缺失或顺序被改动"
    if ev.prev_hash != prev:
        return ev.seq, f"第 {ev.seq} 号事件的前序哈希与链不符"
    if salt is None:
        return ev.seq, f"第 {ev.seq} 号事件的盐值记录缺失"
    if link_hash(seq=ev.seq, prev_hash=prev, content_sha256=_content_of(ev, salt)) != ev.hash:
        return ev.seq, f"第 {ev.seq} 号事件内容被改动（哈希不符）"
    return None


def verify_chain(session: Session) -> ChainReport:
    """Recompute the whole chain; report the first sequence number that does not fit.

    The chain is walked to the head as it stands when the walk starts: every event up to it
    was committed with it (an append moves the head in its own transaction), and events
    appended during the walk are left to the next verification — on PostgreSQL each batch
    sees what was committed before it, and a head read last reported those as a cut chain.
    An event that stands past the head when the head is read again was never appended: its
    head was not moved."""
    prev, expected_seq, checked = GENESIS, 1, 0

    def bad(seq: int, problem: str) -> ChainReport:
        return ChainReport(False, checked, prev, seq, problem, checked)

    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    for ev, salt in events_with_salts(session):
        if head is not None and ev.seq > head.seq:
            break
        broken = _broken_link(ev, salt, expected_seq, prev)
        if broken is not None:
            return bad(*broken)
        prev, expected_seq, checked = ev.hash, expected_seq + 1, checked + 1
    if head is not None and head.seq == checked and head.hash == prev:
        past = session.scalar(select(func.max(AuditEvent.seq)))
        now = session.scalar(select(AuditHead.seq).where(AuditHead.id == 1))
        if past is not None and now is not None and past > now:
            return bad(now + 1, f"第 {now + 1} 号及之后的事件不在链头记录之内（链头为第 {now} 号）")
    if head is None and checked:
        return bad(checked + 1, f"链头记录缺失：无法确认第 {checked} 号之后的事件没有被截去")
    if head is not None and (head.seq != checked or head.hash != prev):
        return bad(
            checked + 1 if head.seq > checked else head.seq,
            f"链头记录为第 {head.seq} 号，链中只找到 {checked} 个事件（末尾被截断或改动）",
        )
    return ChainReport(True, checked, prev, None, None, checked)


def verify_segment(
    session: Session, *, after_seq: int, through_seq: int | None = None, batch: int = 2000
) -> ChainReport:
    """Recompute the events in ``(after_seq, through_seq]`` (``None``: to the head) alone.

    Each event's hash is recomputed from its content and its stored ``prev_hash``, and that
    ``prev_hash`` must be the stored hash of the event before it — the one event at
    ``after_seq`` is read, not recomputed. Segments that each verify compose into a chain that
    verifies, so the history can be checked a slice at a time (the fixity cycle) or only from a
    signed checkpoint on (``wenshu verify --since-checkpoint``); the cost is the segment's
    length, by primary key. ``checked`` counts the events recomputed, ``head_seq`` is the last.
    """
    prev = GENESIS
    if after_seq > 0:
        prev_row = session.get(AuditEvent, after_seq)
        if prev_row is None:
            return ChainReport(False, 0, GENESIS, after_seq, f"第 {after_seq} 号事件缺失")
        prev = prev_row.hash
    expected_seq, checked = after_seq + 1, 0

    def bad(seq: int, problem: str) -> ChainReport:
        return ChainReport(False, checked, prev, seq, problem, expected_seq - 1)

    head = session.get(AuditHead, 1)
    end = through_seq if through_seq is not None else (head.seq if head is not None else None)
    for ev, salt in events_with_salts(session, after_seq=after_seq, batch=batch):
        if end is not None and ev.seq > end:
            break
        broken = _broken_link(ev, salt, expected_seq, prev)
        if broken is not None:
            return bad(*broken)
        prev, expected_seq, checked = ev.hash, expected_seq + 1, checked + 1
    last = expected_seq - 1
    if end is not None and last < end:
        return bad(last + 1, f"第 {last + 1} 号事件缺失：链应延续到第 {end} 号")
    if through_seq is None:
        if head is None and last:
            return bad(last + 1, f"链头记录缺失：无法确认第 {last} 号之后的事件没有被截去")
        if head is not None and (head.seq != last or head.hash != prev):
            return bad(
                last + 1 if head.seq > last else head.seq,
                f"链头记录为第 {head.seq} 号，链中只找到第 {last} 号（末尾被截断或改动）",
            )
    return ChainReport(True, checked, prev, None, None, last)


def event_recomputes(session: Session, seq: int, expected_hash: str) -> str | None:
    """Whether the stored event at ``seq`` recomputes (content and stored ``prev_hash``) to
    ``expected_hash`` — the hash a checkpoint signed; ``None`` when it does, else the problem."""
    row = session.execute(
        select(AuditEvent, AuditEventSalt.salt)
        .outerjoin(AuditEventSalt, AuditEventSalt.seq == AuditEvent.seq)
        .where(AuditEvent.seq == seq)
    ).first()
    if row is None:
        return f"第 {seq} 号事件缺失"
    ev, salt = row
    if salt is None:
        return f"第 {seq} 号事件的盐值记录缺失"
    recomputed = link_hash(seq=seq, prev_hash=ev.prev_hash, content_sha256=_content_of(ev, salt))
    if recomputed != ev.hash:
        return f"第 {seq} 号事件内容被改动（哈希不符）"
    if ev.hash != expected_hash:
        return f"第 {seq} 号事件的哈希与签名检查点记录的链头不符"
    return None


def event_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def event_dict(ev: AuditEvent, salt: str | None) -> dict[str, Any]:
    """An event in full, with what an offline verifier needs to recompute its hash."""
    return {
        "seq": ev.seq,
        "at": iso(ev.at),
        "actor": ev.actor,
        "org": ev.org,
        "action": ev.action,
        "object_id": ev.object_id,
        "details": json.loads(ev.details),
        "salt": salt,
        "content_sha256": _content_of(ev, salt) if salt is not None else None,
        "prev_hash": ev.prev_hash,
        "hash": ev.hash,
    }


def redacted_event_dict(ev: AuditEvent, salt: str | None) -> dict[str, Any]:
    """Another org's event: enough to carry the chain across it, nothing of what it says."""
    return {
        "seq": ev.seq,
        "redacted": True,
        "content_sha256": _content_of(ev, salt) if salt is not None else None,
        "prev_hash": ev.prev_hash,
        "hash": ev.hash,
    }


def export_events(session: Session, orgs: set[str] | None) -> Iterator[dict[str, Any]]:
    """The whole chain, events of ``orgs`` in full and the rest redacted (``None``: all full).

    The content hash of a redacted event is recomputed from the stored row; if the row was
    tampered with, the stored ``hash`` no longer matches and the export shows it.
    """
    for ev, salt in events_with_salts(session):
        if orgs is None or ev.org in orgs:
            yield event_dict(ev, salt)
        else:
            yield redacted_event_dict(ev, salt)
