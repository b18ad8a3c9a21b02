"""Engine and transactions. Writes are short and serialised; reads never wait for writes.

SQLite has one writer for the whole database: a write transaction starts with ``BEGIN IMMEDIATE``
so two writers queue on the busy timeout instead of deadlocking on a lock upgrade. With WAL,
readers are never blocked. PostgreSQL serialises on row locks (``SELECT … FOR UPDATE``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

SQLITE_BUSY_MS = 30_000


def as_utc(at: datetime | None) -> datetime | None:
    """A stored time, timezone-aware: SQLite hands datetimes back naive; they were stored as UTC."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """Hands out sessions for one transaction each: ``write()`` or ``read()``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = url.startswith("sqlite")

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Session]:
        with self.engine.connect() as conn:
            conn.info["write"] = write
            try:
                with Session(bind=conn, expire_on_commit=False) as session, session.begin():
                    yield session
            finally:
                conn.info["write"] = False

    def write(self) -> Any:
        """One short write transaction; commits on exit, rolls back on any exception."""
        return self._transaction(True)

    def read(self) -> Any:
        return self._transaction(False)

    def dispose(self) -> None:
        self.engine.dispose()
