"""The audit chain detects edits, deletions, reordering and truncation; the database refuses changes;
signed checkpoints expose a rewrite that recomputed every hash."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from archive.audit import AuditChain, content_hash, link_hash, verify_chain
from archive.checkpoints import cert_fingerprint, make_checkpoints, verify_checkpoints
from archive.db import Database
from archive.migrate import upgrade
from archive.models import AuditEvent, AuditEventSalt, AuditHead
from service.documents.pades import make_dev_identity
from tests.support.offline import rsa_identity
from tests.support.tamper import raw_sql_at as raw

ORGS = ("llyb", "tyyb")


@pytest.fixture(scope="module")
def identities() -> dict[str, tuple[bytes, bytes]]:
    return {org: make_dev_identity(f"{org} 医疗保障局", org_code=org) for org in ORGS}


@pytest.fixture
def chain_db(tmp_path: Path) -> tuple[Database, Path]:
    path = tmp_path / "a.db"
    upgrade(f"sqlite:///{path}")
    db = Database(f"sqlite:///{path}")
    for i in range(6):
        append(db, i)
    return db, path


def append(db: Database, i: int) -> None:
    with db.write() as s:
        AuditChain.append(
            s,
            actor="tester",
            action="document.view",
            org=ORGS[i % 2],
            object_id=f"d{i}",
            details={"i": i},
        )


def check(db: Database) -> tuple[bool, int | None]:
    with db.read() as s:
        r = verify_chain(s)
    return r.ok, r.first_bad_seq


def certs(identities: dict[str, tuple[bytes, bytes]]) -> dict[str, dict[str, str]]:
    """Each org's certificate history: here, the one certificate it signs with."""
    return {
        org: {cert_fingerprint(cert): cert.decode("ascii")}
        for org, (_key, cert) in identities.items()
    }


def checkpoint(db: Database, identities: dict[str, tuple[bytes, bytes]]) -> int:
    with db.write() as s:
        made = make_checkpoints(s, identities, actor="t", reason="manual", at=datetime.now(UTC))
    return made[0].seq


def test_intact_chain_verifies(chain_db: tuple[Database, Path]) -> None:
    db, _ = chain_db
    with db.read() as s:
        r = verify_chain(s)
    assert r.ok and r.checked == 6 and r.first_bad_seq is None and r.head_seq == 6


@pytest.mark.parametrize("table", ["audit_events", "audit_event_salts", "audit_checkpoints"])
def test_database_rejects_update_and_delete(
    chain_db: tuple[Database, Path], identities: dict[str, tuple[bytes, bytes]], table: str
) -> None:
    db, _ = chain_db
    checkpoint(db, identities)
    column = {"audit_events": "actor", "audit_event_salts": "salt", "audit_checkpoints": "reason"}
    with pytest.raises(DatabaseError, match="append-only"), db.write() as s:
        s.execute(text(f"UPDATE {table} SET {column[table]}='x'"))
    with pytest.raises(DatabaseError, match="append-only"), db.write() as s:
        s.execute(text(f"DELETE FROM {table}"))
    assert check(db) == (True, None)


@pytest.mark.parametrize(
    ("sql", "bad_seq"),
    [
        (["UPDATE audit_events SET details='{\"i\":99}' WHERE seq=3"], 3),
        (["UPDATE audit_events SET actor='someone-else' WHERE seq=2"], 2),
        (["UPDATE audit_events SET org='tyyb' WHERE seq=5"], 5),
        (["UPDATE audit_events SET at='2020-01-01 00:00:00.000000' WHERE seq=4"], 4),
        (["DELETE FROM audit_events WHERE seq=4"], 4),
        (["DELETE FROM audit_event_salts WHERE seq=2"], 2),
        (
            [
                "UPDATE audit_events SET seq=100 WHERE seq=2",
                "UPDATE audit_events SET seq=2 WHERE seq=5",
                "UPDATE audit_events SET seq=5 WHERE seq=100",
            ],
            2,
        ),
        (["DELETE FROM audit_events WHERE seq>=5"], 5),
        (["DELETE FROM audit_events WHERE seq>=5", "DELETE FROM audit_head"], 5),
    ],
    ids=[
        "edit-details",
        "edit-actor",
        "edit-org",
        "edit-time",
        "delete",
        "delete-salt",
        "reorder",
        "truncate",
        "truncate-and-drop-head",
    ],
)
def test_tampering_names_the_first_bad_seq(
    chain_db: tuple[Database, Path], sql: list[str], bad_seq: int
) -> None:
    db, path = chain_db
    raw(path, *sql)
    ok, first_bad = check(db)
    assert not ok
    assert first_bad == bad_seq


def rewrite_consistently(db: Database, path: Path, seq: int) -> None:
    """The strongest attack on the chain alone: change one event and recompute every hash after
    it, and the head, so the chain verifies again."""
    raw(path)  # drop the triggers
    with db.write() as s:
        rows = s.execute(
            select(AuditEvent, AuditEventSalt.salt)
            .join(AuditEventSalt, AuditEventSalt.seq == AuditEvent.seq)
            .order_by(AuditEvent.seq)
        ).all()
        prev = rows[0][0].prev_hash
        for ev, salt in rows:
            if ev.seq == seq:
                ev.details = json.dumps({"i": "rewritten"})
            ev.prev_hash = prev
            ev.hash = link_hash(
                seq=ev.seq,
                prev_hash=prev,
                content_sha256=content_hash(
                    salt=salt,
                    at=ev.at,
                    actor=ev.actor,
                    org=ev.org,
                    action=ev.action,
                    object_id=ev.object_id,
                    details=ev.details,
                ),
            )
            prev = ev.hash
        head = s.get(AuditHead, 1)
        assert head is not None
        head.hash = prev


def test_a_consistent_rewrite_contradicts_a_signed_checkpoint(
    chain_db: tuple[Database, Path], identities: dict[str, tuple[bytes, bytes]]
) -> None:
    db, path = chain_db
    first = checkpoint(db, identities)  # covers seq 1..6; the two checkpoint events are 7, 8
    for i in range(6, 9):
        append(db, i)  # 9..11
    second = checkpoint(db, identities)
    assert (first, second) == (6, 11)
    with db.read() as s:
        assert verify_checkpoints(s, certs(identities)).ok

    rewrite_consistently(db, path, seq=9)
    assert check(db) == (True, None)  # the chain alone no longer shows anything
    with db.read() as s:
        report = verify_checkpoints(s, certs(identities))
    assert not report.ok
    # Both orgs' checkpoints at 11 disagree; the ones at 6 still hold: the rewrite is in 7..11.
    assert {(p.org, p.seq) for p in report.problems} == {("llyb", 11), ("tyyb", 11)}
    assert report.first_bad_seq == 7
    assert "第 7–11 号" in report.problems[0].message


def test_a_checkpoint_signed_with_another_key_is_rejected(
    chain_db: tuple[Database, Path], identities: dict[str, tuple[bytes, bytes]]
) -> None:
    db, _ = chain_db
    impostor = {
        "llyb": (make_dev_identity("llyb 医疗保障局", org_code="llyb")[0], identities["llyb"][1])
    }
    with db.write() as s:
        make_checkpoints(s, impostor, actor="t", reason="manual", at=datetime.now(UTC))
    with db.read() as s:
        report = verify_checkpoints(s, certs(identities))
    assert [(p.org, p.seq) for p in report.problems] == [("llyb", 6)]
    assert "签名无效" in report.problems[0].message


def test_a_deleted_checkpoint_is_missed_by_its_event(
    chain_db: tuple[Database, Path], identities: dict[str, tuple[bytes, bytes]]
) -> None:
    db, path = chain_db
    checkpoint(db, identities)
    raw(path, "DELETE FROM audit_checkpoints WHERE org='tyyb'")
    with db.read() as s:
        report = verify_checkpoints(s, certs(identities))
    assert [(p.org, p.seq, p.first_bad_seq) for p in report.problems] == [("tyyb", 6, 8)]


def test_truncating_below_a_checkpoint_is_detected_even_with_a_forged_head(
    chain_db: tuple[Database, Path], identities: dict[str, tuple[bytes, bytes]]
) -> None:
    db, path = chain_db
    checkpoint(db, identities)
    with db.read() as s:
        h4 = s.get(AuditEvent, 4)
        assert h4 is not None
        hash4 = h4.hash
    raw(
        path, "DELETE FROM audit_events WHERE seq>4", f"UPDATE audit_head SET seq=4, hash='{hash4}'"
    )
    assert check(db) == (True, None)
    with db.read() as s:
        report = verify_checkpoints(s, certs(identities))
    assert not report.ok and report.first_bad_seq == 5


def test_migration_refuses_events_hashed_the_old_way(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    con = sqlite3.connect(tmp_path / "old.db")
    con.execute(
        "INSERT INTO audit_events (seq, at, actor, org, action, object_id, details, prev_hash, hash)"
        " VALUES (1, '2026-01-01 00:00:00.000000', 'a', 'llyb', 'x', NULL, '{}', :z, 'h')",
        {"z": "0" * 64},
    )
    con.commit()
    con.close()
    with pytest.raises(RuntimeError, match="hashed the old way"):
        upgrade(url)


def test_guards_checkpoints_and_detection_on_every_backend(
    database_url: str, identities: dict[str, tuple[bytes, bytes]]
) -> None:
    """The same on PostgreSQL (with WENSHU_TEST_PG) as on SQLite: times round-trip exactly, so
    hashes and checkpoint signatures recompute; guards refuse; an edit is named."""
    upgrade(database_url)
    db = Database(database_url)
    try:
        for i in range(4):
            append(db, i)
        checkpoint(db, identities)
        with db.read() as s:
            assert verify_chain(s).ok and verify_checkpoints(s, certs(identities)).ok
        for table in ("audit_events", "audit_event_salts", "audit_checkpoints"):
            with pytest.raises(DatabaseError, match="append-only"), db.write() as s:
                s.execute(text(f"DELETE FROM {table}"))
        with db.write() as s:
            if db.is_sqlite:
                s.execute(text("DROP TRIGGER audit_events_no_update"))
            else:
                s.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            s.execute(text("UPDATE audit_events SET details=:d WHERE seq=2"), {"d": '{"i":7}'})
        assert check(db) == (False, 2)
    finally:
        db.dispose()


def test_an_org_with_an_rsa_certificate_gets_checkpoints_that_verify(
    chain_db: tuple[Database, Path], identities: dict[str, tuple[bytes, bytes]]
) -> None:
    """One org with an RSA key used to make every checkpoint call fail, for every org."""
    db, _ = chain_db
    mixed = {"llyb": rsa_identity("llyb"), "tyyb": identities["tyyb"]}
    assert checkpoint(db, mixed) == 6  # the head of the six events
    with db.read() as s:
        assert verify_checkpoints(s, certs(mixed)).ok
    forged = {"llyb": (rsa_identity("llyb")[0], mixed["llyb"][1])}  # another RSA key
    checkpoint(db, forged)
    with db.read() as s:
        report = verify_checkpoints(s, certs(mixed))
    assert [p.org for p in report.problems] == ["llyb"] and "签名无效" in report.problems[0].message
