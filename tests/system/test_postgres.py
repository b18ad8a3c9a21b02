"""The same archive on PostgreSQL: triggers, numbering under concurrency, tamper detection,
and two app servers sharing one database."""

from __future__ import annotations

import json
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DatabaseError

from archive.audit import AuditChain, verify_chain
from archive.db import Database
from archive.migrate import upgrade
from service.workflows.accounts import add_user
from tests.support import ROOT, sample
from tests.support.apps import Client, fresh_database, make_app
from tests.support.server import WENSHU, two_servers


@pytest.fixture
def pg_url(tmp_path: Path) -> Any:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


def test_audit_table_refuses_update_and_delete(pg_url: str) -> None:
    upgrade(pg_url)
    db = Database(pg_url)
    with db.write() as s:
        AuditChain.append(s, actor="t", action="x", details={"a": 1})
    for stmt in ("UPDATE audit_events SET actor='y'", "DELETE FROM audit_events"):
        with pytest.raises(DatabaseError, match="append-only"), db.write() as s:
            s.execute(text(stmt))
    db.dispose()


def test_chain_verifies_while_events_are_appended(pg_url: str) -> None:
    """Each statement on PostgreSQL sees what was committed before it: a verification that
    read the head after the events it walked reported appends made meanwhile as a cut chain."""
    upgrade(pg_url)
    db = Database(pg_url)
    with db.write() as s:
        for n in range(300):
            AuditChain.append(s, actor="t", action="x", details={"n": n})
    stop = threading.Event()

    def append() -> None:
        while not stop.is_set():
            with db.write() as s:
                AuditChain.append(s, actor="t", action="x", details={})

    writers = [threading.Thread(target=append) for _ in range(2)]
    for w in writers:
        w.start()
    try:
        reports = []
        for _ in range(40):
            with db.read() as s:
                reports.append(verify_chain(s))
    finally:
        stop.set()
        for w in writers:
            w.join()
    assert [r.problem for r in reports if not r.ok] == []
    assert reports[-1].checked > reports[0].checked >= 300  # the appends went on meanwhile

    # An event written past the head, the head left behind: still found.
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_head DISABLE TRIGGER USER"))
        conn.execute(
            text(
                "UPDATE audit_head SET seq = seq - 1,"
                " hash = (SELECT hash FROM audit_events WHERE seq = audit_head.seq - 1)"
            )
        )
        last = conn.scalar(text("SELECT max(seq) FROM audit_events"))
    engine.dispose()
    with db.read() as s:
        report = verify_chain(s)
    assert not report.ok and report.first_bad_seq == last, report
    db.dispose()


def test_issue_concurrently_and_detect_tampering(
    pg_url: str, tmp_path: Path, converter_dir: dict[str, Any]
) -> None:
    app = make_app(tmp_path, converter_dir, DATABASE_URL=pg_url)
    ws = app.extensions["wenshu"]
    clerk = Client(app, add_user(ws, name="pg-clerk", role="clerk", org_code="llyb"))
    body = {"type": "notice", "org": "llyb", "data": sample("notice")}
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: clerk.post("/api/v1/documents", body), range(12)))
    assert [r.status_code for r in results] == [201] * 12, [
        r.get_json() for r in results if r.status_code != 201
    ][:2]
    numbers = sorted(int(r.get_json()["wenhao"].split("〕")[1].rstrip("号")) for r in results)
    assert numbers == list(range(1, 13))
    with ws.db.read() as s:
        assert verify_chain(s).ok

    # An attacker with database rights disables the guard and rewrites one event.
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE audit_events SET actor='someone' WHERE seq=5"))
    engine.dispose()
    with ws.db.read() as s:
        report = verify_chain(s)
    assert not report.ok and report.first_bad_seq == 5
    ws.close()


def test_two_servers_share_one_archive(pg_url: str, tmp_path: Path) -> None:
    with two_servers(pg_url, tmp_path) as (base_env, token, servers):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        payload = json.dumps(
            {"type": "notice", "org": "llyb", "data": sample("notice")}, ensure_ascii=False
        ).encode()
        urls = [servers[i % 2] for i in range(16)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(
                pool.map(
                    lambda u: requests.post(
                        u + "/api/v1/documents", data=payload, headers=headers, timeout=180
                    ),
                    urls,
                )
            )
        assert [r.status_code for r in results] == [201] * 16, [
            r.text for r in results if r.status_code != 201
        ][:2]
        numbers = sorted(int(r.json()["wenhao"].split("〕")[1].rstrip("号")) for r in results)
        assert numbers == list(range(1, 17))
        # Each server reads what the other issued.
        other = requests.get(
            servers[1] + results[0].json()["links"]["self"], headers=headers, timeout=30
        )
        assert other.status_code == 200
        verify = subprocess.run(
            [WENSHU, "verify"], env=base_env, cwd=ROOT, capture_output=True, text=True
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
