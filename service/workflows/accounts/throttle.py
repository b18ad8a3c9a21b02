"""Login throttling by where the attempts come from, never by the account alone.

Failures are counted per source address and per (source address, typed name). Past a few
free failures each key waits an exponentially growing pause before it may try again (1 s,
2 s, 4 s … at most 15 minutes); an attempt during the pause is refused unverified and not
counted, so each real guess costs the pause; a quiet hour forgets it. A stranger typing someone's name a
thousand times slows down only that stranger: the person, from their own address, logs in at
once. Nothing here looks at whether the typed name exists, so a throttled reply says nothing
about it. Behind a reverse proxy the source is the client's address only if the proxy is
trusted (``WENSHU_TRUSTED_PROXIES``); else every client shares the proxy's address.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from archive.db import as_utc
from archive.models import LoginThrottle

FREE_PER_PAIR = 5
"""Failures of one (source, name) before its pauses begin."""
FREE_PER_SOURCE = 100
"""Failures of one source, whatever the names, before its pauses begin."""
MAX_PAUSE = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)
"""A key with no failure for this long starts again from nothing."""


def keys(source: str | None, name: str) -> tuple[str, str]:
    """The two keys an attempt counts under: its source, and its source with the name."""
    where = source or "unknown"
    return f"src:{where}"[:200], f"pair:{where}|{name}"[:200]


def wait(session: Session, source: str | None, name: str, now: datetime) -> int:
    """Seconds this attempt must still wait (0: it may try now)."""
    src, pair = keys(source, name)
    rows = {
        r.key: r
        for r in session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_((src, pair))))
    }
    longest = timedelta(0)
    for key, free in ((src, FREE_PER_SOURCE), (pair, FREE_PER_PAIR)):
        row = rows.get(key)
        if row is None or row.failures < free:
            continue
        last = as_utc(row.last_failure_at) or now
        if now - last > FORGET_AFTER:
            continue
        pause = min(timedelta(seconds=2 ** min(row.failures - free, 20)), MAX_PAUSE)
        longest = max(longest, last + pause - now)
    return int(longest.total_seconds() + 0.999) if longest > timedelta(0) else 0


def failed(session: Session, source: str | None, name: str, now: datetime) -> None:
    """Count a failed attempt under both keys (one statement each, safe between workers)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for key in keys(source, name):
        stmt = insert(LoginThrottle).values(key=key, failures=1, last_failure_at=now)
        stale = LoginThrottle.last_failure_at < now - FORGET_AFTER
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={
                    "failures": case((stale, 1), else_=LoginThrottle.failures + 1),
                    "last_failure_at": now,
                },
            )
        )


def succeeded(session: Session, source: str | None, name: str) -> None:
    """A right password clears its (source, name) pair; the source's count stays."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys(source, name)[1]))
