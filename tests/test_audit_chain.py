"""The audit chain detects edits, deletions, reordering and truncation; the database refuses changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import DatabaseError

from archive.audit import AuditChain, verify_chain
from archive.db import Database
from archive.migrate import upgrade


@pytest.fixture
def chain_db(tmp_path: Path) -> tuple[Database, Path]:
    path = tmp_path / "a.db"
    upgrade(f"sqlite:///{path}")
    db = Database(f"sqlite:///{path}")
    for i in range(6):
        with db.write() as s:
            AuditChain.append(
                s,
                actor="tester",
                action="document.view",
                org="llyb",
                object_id=f"d{i}",
                details={"i": i},
            )
    return db, path


def raw(path: Path, *sql: str) -> None:
    """Tamper as an attacker with file access would: drop the guards, then change rows."""
    con = sqlite3.connect(path)
    con.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    con.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    for stmt in sql:
        con.execute(stmt)
    con.commit()
    con.close()


def check(db: Database) -> tuple[bool, int | None]:
    with db.read() as s:
        r = verify_chain(s)
    return r.ok, r.first_bad_seq


def test_intact_chain_verifies(chain_db: tuple[Database, Path]) -> None:
    db, _ = chain_db
    with db.read() as s:
        r = verify_chain(s)
    assert r.ok and r.checked == 6 and r.first_bad_seq is None


def test_database_rejects_update_and_delete(chain_db: tuple[Database, Path]) -> None:
    db, _ = chain_db
    from sqlalchemy import text

    with pytest.raises(DatabaseError, match="append-only"), db.write() as s:
        s.execute(text("UPDATE audit_events SET actor='x' WHERE seq=2"))
    with pytest.raises(DatabaseError, match="append-only"), db.write() as s:
        s.execute(text("DELETE FROM audit_events WHERE seq=2"))


@pytest.mark.parametrize(
    ("sql", "bad_seq"),
    [
        (["UPDATE audit_events SET details='{\"i\":99}' WHERE seq=3"], 3),
        (["DELETE FROM audit_events WHERE seq=4"], 4),
        (
            [
                "UPDATE audit_events SET seq=100 WHERE seq=2",
                "UPDATE audit_events SET seq=2 WHERE seq=5",
                "UPDATE audit_events SET seq=5 WHERE seq=100",
            ],
            2,
        ),
        (["DELETE FROM audit_events WHERE seq>=5"], 5),
    ],
    ids=["edit", "delete", "reorder", "truncate"],
)
def test_tampering_names_the_first_bad_seq(
    chain_db: tuple[Database, Path], sql: list[str], bad_seq: int
) -> None:
    db, path = chain_db
    raw(path, *sql)
    ok, first_bad = check(db)
    assert not ok
    assert first_bad == bad_seq
