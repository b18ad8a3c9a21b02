"""The administrators' trail: what the three administrators (and the server's operator, ``cli``)
did, which each of them reads — 等保 2.0's 三员 audited by one another.

It holds the events about accounts, orgs, certificates, seals and templates (``user.*``,
``org.*``, ``template.*``), the administrators' own logins and logouts, and the reads of this
trail (``admin.trail_read``).
It holds nothing of documents: their trail is the auditor's (``/api/v1/audit``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from archive.audit import AuditChain
from archive.db import as_utc
from archive.models import AuditEvent, User
from service import policy
from service.wiring import Wenshu
from service.workflows.accounts import Principal

ADMIN_ACTIONS = ("user.", "org.", "admin.", "template.")
"""Prefixes of the actions that are administration, whoever did them."""
PAGE = 100


@dataclass(frozen=True)
class TrailEvent:
    seq: int
    at: datetime
    actor: str
    org: str | None
    action: str
    object_id: str | None
    details: dict[str, Any]


def read_trail(ws: Wenshu, who: Principal, *, before_seq: int | None = None) -> list[TrailEvent]:
    """The latest ``PAGE`` events of the trail (before ``before_seq``), newest first; the read
    is itself an event of the trail."""
    admins = select(User.name).where(User.role.in_(policy.ADMIN_ROLES))
    q = select(AuditEvent).where(
        or_(
            *(AuditEvent.action.startswith(prefix) for prefix in ADMIN_ACTIONS),
            and_(AuditEvent.action.startswith("auth."), AuditEvent.actor.in_(admins)),
        )
    )
    if before_seq is not None:
        q = q.where(AuditEvent.seq < before_seq)
    with ws.db.write() as s:
        rows = list(s.scalars(q.order_by(AuditEvent.seq.desc()).limit(PAGE)))
        events = [
            TrailEvent(
                ev.seq,
                as_utc(ev.at) or ws.now(),
                ev.actor,
                ev.org,
                ev.action,
                ev.object_id,
                json.loads(ev.details),
            )
            for ev in rows
        ]
        AuditChain.append(
            s,
            actor=who.name,
            action="admin.trail_read",
            org=who.org_code,
            details={"before_seq": before_seq, "events": len(events)},
        )
    return events
