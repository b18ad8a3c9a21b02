"""Fixity: a flipped byte, a PDF re-signed with another key, a vanished document — each is named,
reported by `wenshu verify` and recorded in the trail; the recurring check runs on its own."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from archive.errors import ValidationError
from archive.models import AuditCheckpoint
from archive.retention import due_on, parse_setting
from service.documents.pades import make_dev_identity, sign_pdf
from service.workers.integrity import RecurringChecks
from service.workflows.accounts import add_user
from service.workflows.integrity import fixity
from service.workflows.integrity.cycle import run_slice
from service.workflows.integrity.fixity import run_fixity, verify_archive
from tests.support import sample
from tests.support.apps import Client, WenshuCli, make_app
from tests.support.tamper import events, flip_byte, overwrite, raw_sql


def issue(users: dict[str, Any]) -> dict[str, Any]:
    r = users["clerk"].post(
        "/api/v1/documents", {"type": "notice", "org": "llyb", "data": sample("notice")}
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("blob", ["pdf_sha256", "docx_sha256"])
def test_a_flipped_byte_is_named_and_recorded(users: dict[str, Any], ws: Any, blob: str) -> None:
    doc, other = issue(users), issue(users)
    with ws.db.read() as s:
        from archive.models import Document

        digest = getattr(s.get(Document, doc["id"]), blob)
    assert verify_archive(ws).ok
    flip_byte(ws.blobs.path(digest))

    report = run_fixity(ws, actor="tester")
    assert {p.document_id for p in report.problems} == {doc["id"]}
    assert any(
        f"{blob[:-7]} blob {digest} does not match its sha256" in p.message for p in report.problems
    )
    failure = events(ws, "fixity.failure")[-1]
    assert failure.object_id == doc["id"] and failure.org == "llyb"
    summary = [e for e in events(ws, "fixity.check") if e.org == "llyb"][-1]
    assert json.loads(summary.details)["failed_documents"] == [doc["id"]]
    assert other["id"] not in failure.details


def test_a_pdf_resigned_with_another_key_is_named(users: dict[str, Any], ws: Any) -> None:
    doc = issue(users)
    seq = events(ws, "document.issue")[-1].seq
    with ws.db.read() as s:
        from archive.models import Document

        row = s.get(Document, doc["id"])
        assert row is not None
        docx = ws.blobs.get(row.docx_sha256)
    # An impostor certificate with the same name: only the key differs.
    key_pem, cert_pem = make_dev_identity("吕梁市医疗保障局", org_code="llyb")
    forged = sign_pdf(ws.converter.to_pdf(docx, pdfa=True), key_pem=key_pem, cert_pem=cert_pem)

    # 1. dropped in place of the archived file
    original = ws.blobs.path(doc["sha256"])
    kept = original.read_bytes()
    overwrite(original, forged)
    problems = verify_archive(ws).problems
    assert {p.document_id for p in problems} == {doc["id"]}
    assert {p.kind for p in problems} == {"blob", "signature"}
    assert any("trusted=False" in p.message for p in problems)
    overwrite(original, kept)
    assert verify_archive(ws).ok

    # 2. stored as a proper blob and the document row edited to point at it
    new_digest = ws.blobs.put(forged)
    raw_sql(ws, f"UPDATE documents SET pdf_sha256='{new_digest}' WHERE id='{doc['id']}'")
    problems = verify_archive(ws).problems
    assert {p.document_id for p in problems} == {doc["id"]}
    messages = "\n".join(p.message for p in problems)
    assert "trusted=False" in messages
    assert f"pdf_sha256 {new_digest} differs from {doc['sha256']} recorded at seq {seq}" in messages
    # and the reader's verification endpoint says the same
    v = users["auditor"].get(doc["links"]["verify"]).get_json()
    assert v["signature"]["trusted"] is False and v["problems"]


def test_a_vanished_document_is_named_by_its_issue_event(users: dict[str, Any], ws: Any) -> None:
    doc = issue(users)
    seq = events(ws, "document.issue")[-1].seq
    raw_sql(ws, f"DELETE FROM documents WHERE id='{doc['id']}'")
    problems = verify_archive(ws).problems
    assert [(p.kind, p.document_id, p.seq) for p in problems] == [("record", doc["id"], seq)]
    assert "missing from the archive" in problems[0].message
    gaps = users["auditor"].get("/api/v1/numbers/gaps?org=llyb").get_json()
    assert {m["number"] for m in gaps["missing"]} == {doc["wenhao"], doc["archive_no"]}


def test_the_full_verification_reads_the_archive_a_chunk_at_a_time(
    users: dict[str, Any], ws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of two documents: a flipped PDF and a deleted row in the second chunk, rows with
    no issue event over two chunks of their own, all found as in one chunk; a document issued
    while the run goes (after it read the chain head) is neither checked nor missing."""
    docs = [issue(users) for _ in range(5)]  # chunks by issue seq: [0, 1], [2, 3], [4]
    seqs = [e.seq for e in events(ws, "document.issue")]
    flip_byte(ws.blobs.path(docs[2]["sha256"]))
    forged = [f"forged-{n}" for n in range(3)]  # copies of a row, without an issue event
    raw_sql(
        ws,
        f"CREATE TEMP TABLE t AS SELECT * FROM documents WHERE id='{docs[0]['id']}'",
        *(
            sql
            for f in forged
            for sql in (
                f"UPDATE t SET id='{f}', wenhao=wenhao||'{f}', archive_no=archive_no||'{f}'",
                "INSERT INTO documents SELECT * FROM t",
            )
        ),
        f"DELETE FROM documents WHERE id='{docs[3]['id']}'",
    )
    whole = verify_archive(ws)
    assert whole.checked == {"llyb": 7}
    assert "documents: 7 checked, 4 with problems" in whole.lines

    monkeypatch.setattr(fixity, "CHUNK", 2)
    late: list[dict[str, Any]] = []
    chunk_end = fixity.chunk_end

    def issue_once_started(*args: Any) -> int:
        if not late:  # the run has read the head and checked the chain: issue one more
            late.append(issue(users))
        return chunk_end(*args)

    monkeypatch.setattr(fixity, "chunk_end", issue_once_started)
    chunked = verify_archive(ws)
    assert late and late[0]["id"] in {e.object_id for e in events(ws, "document.issue")}
    assert late[0]["id"] not in {p.document_id for p in chunked.problems}
    assert chunked.checked == {"llyb": 7}
    assert (chunked.lines, chunked.problems) == (whole.lines, whole.problems)
    assert {p.document_id for p in chunked.problems} == {docs[2]["id"], docs[3]["id"], *forged}
    missing = [(p.document_id, p.seq) for p in chunked.problems if "missing from" in p.message]
    assert missing == [(docs[3]["id"], seqs[3])]
    unrecorded = [p.document_id for p in chunked.problems if "no document.issue" in p.message]
    assert unrecorded == forged
    assert any("does not match its sha256" in p.message for p in chunked.problems)


def test_wenshu_verify_and_checkpoint_commands(app: Any, users: dict[str, Any], ws: Any) -> None:
    doc = issue(users)
    runner = WenshuCli(ws)
    ok = runner.invoke(args=["verify"])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output

    made = runner.invoke(args=["checkpoint"])
    assert (
        made.exit_code == 0
        and "checkpoint llyb@" in made.output
        and "checkpoint tyyb@" in made.output
    )

    flip_byte(ws.blobs.path(doc["sha256"]))
    bad = runner.invoke(args=["verify"])
    assert bad.exit_code == 1
    assert doc["id"] in bad.output and "does not match its sha256" in bad.output
    summaries = [e for e in events(ws, "fixity.check") if e.org == "llyb"]
    assert [e.actor for e in summaries] == ["cli", "cli"]
    assert [json.loads(e.details)["ok"] for e in summaries] == [True, False]


def test_recurring_checks_run_on_their_interval(users: dict[str, Any], ws: Any) -> None:
    checks = RecurringChecks(ws, fixity_every=0.3, checkpoint_every=0.2)
    checks.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not events(ws, "fixity.check"):
            time.sleep(0.1)
    finally:
        checks.stop()
    assert {e.actor for e in events(ws, "fixity.check")} == {"system:fixity"}
    with ws.db.read() as s:
        reasons = {(cp.org, cp.reason) for cp in s.scalars(select(AuditCheckpoint))}
    assert {("llyb", "interval"), ("tyyb", "interval")} <= reasons
    assert users["auditor"].get("/api/v1/audit/verify").get_json()["ok"]


def test_retention_setting_is_parsed_and_checked() -> None:
    assert parse_setting("notice=10年, inspection_report=永久,x=D30") == {
        "notice": "D10",
        "inspection_report": "Y",
        "x": "D30",
    }
    assert str(due_on("D10", 2026)) == "2037-01-01" and due_on("Y", 2026) is None
    for bad in ("notice=D20", "notice", "=Y", "notice=五年"):
        with pytest.raises(ValidationError):
            parse_setting(bad)


def test_retention_and_intervals_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.doctypes import DOCTYPES
    from service.settings import load_settings

    monkeypatch.setenv("WENSHU_RETENTION", "notice=10年")
    monkeypatch.setenv("WENSHU_FIXITY_INTERVAL_SECONDS", "600")
    settings = load_settings({"DATA_DIR": "/nonexistent"})
    assert DOCTYPES["notice"].retention_in(settings.retention) == "D10"
    assert DOCTYPES["inspection_report"].retention_in(settings.retention) == "Y"
    assert settings.integrity.fixity_interval == 600
    assert settings.integrity.checkpoint_interval == 3600


def test_withdrawals_are_append_only_and_a_deleted_one_fails_verify(
    tmp_path: Path, converter_dir: dict[str, Any], database_url: str
) -> None:
    """作废 rows: the database refuses UPDATE and DELETE (SQLite and PostgreSQL alike); one
    deleted round the triggers brings the document back to life, and `wenshu verify` says so."""
    app = make_app(tmp_path, converter_dir, DATABASE_URL=database_url)
    ws = app.extensions["wenshu"]
    try:
        clerk = Client(app, add_user(ws, name="w-clerk", role="clerk", org_code="llyb"))
        kept, withdrawn = (
            clerk.post(
                "/api/v1/documents", {"type": "notice", "org": "llyb", "data": sample("notice")}
            ).get_json()
            for _ in range(2)
        )
        runner = WenshuCli(ws)
        assert runner.invoke(args=["checkpoint"]).exit_code == 0
        assert runner.invoke(args=["verify"]).exit_code == 0  # the checkpoint is verified
        for doc in (kept, withdrawn):
            r = clerk.post(f"/api/v1/documents/{doc['id']}/withdraw", {"reason": "文号有误"})
            assert r.status_code == 200, r.get_json()
        assert runner.invoke(args=["verify"]).exit_code == 0
        for sql in ("UPDATE withdrawals SET reason = 'x'", "DELETE FROM withdrawals"):
            with pytest.raises(DatabaseError, match="append-only"), ws.db.write() as s:
                s.execute(text(sql))

        with ws.db.write() as s:  # tampering with raw SQL, past the triggers
            if ws.db.is_sqlite:
                s.execute(text("DROP TRIGGER withdrawals_no_delete"))
            else:
                s.execute(text("ALTER TABLE withdrawals DISABLE TRIGGER USER"))
            s.execute(
                text("DELETE FROM withdrawals WHERE document_id = :d"), {"d": withdrawn["id"]}
            )
        assert clerk.get(withdrawn["links"]["self"]).get_json()["status"] == "issued"
        bad = runner.invoke(args=["verify"])
        assert bad.exit_code == 1
        named = [line for line in bad.output.splitlines() if withdrawn["id"] in line]
        assert named and "no withdrawal row" in named[0], bad.output
        assert kept["id"] not in bad.output
        # the withdrawal came after the checkpoint: --since-checkpoint reads its event too
        since = runner.invoke(args=["verify", "--since-checkpoint"])
        assert since.exit_code == 1 and "no withdrawal row" in since.output, since.output
        # and the fixity cycle, whose slices cover the whole chain
        slices = [run_slice(ws, actor="test")]
        while not slices[-1].cycle_complete:
            slices.append(run_slice(ws, actor="test"))
        found = [p for r in slices for p in r.problems]
        assert [(p.document_id, "no withdrawal row" in p.message) for p in found] == [
            (withdrawn["id"], True)
        ]
    finally:
        ws.close()
