"""Tampering with an archive the way an intruder with file and database access would: past the
blobs' read-only mode and the append-only triggers (SQLite)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archive.models import AuditEvent


def overwrite(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    overwrite(path, bytes(data))


def raw_sql(ws: Any, *sql: str) -> None:
    """Run ``sql`` on the SQLite database with every trigger dropped first."""
    raw_sql_at(ws.settings.paths.data / "wenshu.db", *sql)


def raw_sql_at(path: Path, *sql: str) -> None:
    """Tamper as an attacker with file access would: drop the guards of the SQLite database
    at ``path``, then run ``sql``."""
    con = sqlite3.connect(path, timeout=60)
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        con.execute(f"DROP TRIGGER {name}")
    for stmt in sql:
        con.execute(stmt)
    con.commit()
    con.close()


def events(ws: Any, action: str) -> list[AuditEvent]:
    """The audit events of ``action``, in chain order."""
    with ws.db.read() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )
