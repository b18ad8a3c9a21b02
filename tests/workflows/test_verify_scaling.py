"""Verification that scales: `wenshu verify --since-checkpoint` checks only what came after the
last verified checkpoint, the fixity cycle covers the archive a slice per run from a cursor in
the database, and the process pool gives the serial result."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from archive.models import AuditCheckpoint, Document, FixityCursor
from service.settings import SettingsError, load_settings
from service.workflows.accounts import add_user
from service.workflows.integrity import cycle
from service.workflows.integrity.cycle import cycle_status, run_slice
from service.workflows.integrity.documents import FileChecker, files_of
from service.workflows.integrity.fixity import verify_archive
from service.workflows.integrity.since import verify_since_checkpoint
from tests.support import sample
from tests.support.apps import Client, WenshuCli, make_app
from tests.support.tamper import events, flip_byte, raw_sql


def issue(users: dict[str, Any], org: str = "llyb") -> dict[str, Any]:
    who = users["clerk"] if org == "llyb" else users["other_clerk"]
    r = who.post("/api/v1/documents", {"type": "notice", "org": org, "data": sample("notice")})
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def tune(ws: Any, **integrity: Any) -> None:
    ws.settings = dataclasses.replace(
        ws.settings, integrity=dataclasses.replace(ws.settings.integrity, **integrity)
    )


def last_checkpoint_seq(ws: Any) -> int:
    with ws.db.read() as s:
        return int(s.scalar(select(func.max(AuditCheckpoint.seq))) or 0)


def pdf_of(ws: Any, doc: dict[str, Any]) -> Path:
    return ws.blobs.path(doc["sha256"])  # type: ignore[no-any-return]


# --- wenshu verify --since-checkpoint ---------------------------------------------------------


def test_since_checkpoint_refuses_without_a_verified_checkpoint(
    users: dict[str, Any], ws: Any
) -> None:
    issue(users)
    cli = WenshuCli(ws)
    first = cli.invoke(args=["verify", "--since-checkpoint"])
    assert first.exit_code == 2 and "还没有一次完整验证通过" in first.output
    assert cli.invoke(args=["verify"]).exit_code == 0  # verified, but nothing signed before it
    second = cli.invoke(args=["verify", "--since-checkpoint"])
    assert second.exit_code == 2 and "此前没有签名检查点" in second.output
    assert not [
        e for e in events(ws, "fixity.check") if '"since_checkpoint"' in e.details
    ]  # refused: nothing checked, nothing recorded


def test_since_checkpoint_checks_only_what_came_after(users: dict[str, Any], ws: Any) -> None:
    before = issue(users)
    cli = WenshuCli(ws)
    assert cli.invoke(args=["checkpoint"]).exit_code == 0
    cp_seq = last_checkpoint_seq(ws)  # the seq both orgs signed
    assert cli.invoke(args=["verify"]).exit_code == 0
    after = [issue(users), issue(users, "tyyb")]

    ok = cli.invoke(args=["verify", "--since-checkpoint"])
    assert ok.exit_code == 0, ok.output
    assert f"起点：检查点 llyb@{cp_seq}" in ok.output
    assert "检查点之后发文 2 份" in ok.output and "通过" in ok.output
    recorded = [json.loads(e.details) for e in events(ws, "fixity.check")][-2:]
    assert {d["mode"] for d in recorded} == {"since_checkpoint"}
    assert sum(d["documents"] for d in recorded) == 2 and all(d["ok"] for d in recorded)

    # A document from before the checkpoint is not looked at again (the cycle's job) …
    flip_byte(pdf_of(ws, before))
    again = cli.invoke(args=["verify", "--since-checkpoint"])
    assert again.exit_code == 0 and before["id"] not in again.output
    # … one after it is, blob and signature, and the run fails, naming it.
    flip_byte(pdf_of(ws, after[1]))
    bad = cli.invoke(args=["verify", "--since-checkpoint"])
    assert bad.exit_code == 1
    assert after[1]["id"] in bad.output and "does not match its sha256" in bad.output
    assert "signature not valid" in bad.output and before["id"] not in bad.output
    # the full verification sees both
    full = {p.document_id for p in verify_archive(ws).problems}
    assert full == {before["id"], after[1]["id"]}


def test_since_checkpoint_finds_an_edited_event_and_a_swapped_row(
    users: dict[str, Any], ws: Any
) -> None:
    issue(users)
    cli = WenshuCli(ws)
    cli.invoke(args=["checkpoint"])
    assert cli.invoke(args=["verify"]).exit_code == 0
    doc = issue(users)
    seq = events(ws, "document.issue")[-1].seq
    other = issue(users)
    with ws.db.read() as s:
        other_pdf = s.get(Document, other["id"]).pdf_sha256  # type: ignore[union-attr]

    raw_sql(ws, f"UPDATE documents SET pdf_sha256='{other_pdf}' WHERE id='{doc['id']}'")
    swapped = cli.invoke(args=["verify", "--since-checkpoint"])
    assert swapped.exit_code == 1
    assert f"pdf_sha256 {other_pdf} differs from {doc['sha256']} recorded at seq {seq}" in (
        swapped.output
    )

    raw_sql(ws, f"UPDATE audit_events SET actor='someone-else' WHERE seq={seq}")
    edited = cli.invoke(args=["verify", "--since-checkpoint"])
    assert edited.exit_code == 1
    assert f"审计链在第 {seq} 号事件处断开" in edited.output
    # the documents after the break are still checked, to the last event
    assert f"pdf_sha256 {other_pdf} differs from {doc['sha256']}" in edited.output

    raw_sql(ws, f"DELETE FROM documents WHERE id='{other['id']}'")
    gone = cli.invoke(args=["verify", "--since-checkpoint"])
    assert gone.exit_code == 1
    assert f"document {other['id']}" in gone.output
    assert "is missing from the archive" in gone.output


def test_since_checkpoint_refuses_a_start_whose_event_no_longer_hashes_to_what_was_signed(
    users: dict[str, Any], ws: Any
) -> None:
    issue(users)
    cli = WenshuCli(ws)
    cli.invoke(args=["checkpoint"])
    cp_seq = last_checkpoint_seq(ws)
    assert cli.invoke(args=["verify"]).exit_code == 0
    raw_sql(ws, f"UPDATE audit_events SET actor='x' WHERE seq={cp_seq}")
    bad = cli.invoke(args=["verify", "--since-checkpoint"])
    assert bad.exit_code == 1
    assert f"起点检查点 llyb@{cp_seq}：第 {cp_seq} 号事件内容被改动" in bad.output


def test_since_checkpoint_starts_from_the_newest_checkpoint_it_verified(
    users: dict[str, Any], ws: Any
) -> None:
    issue(users)
    cli = WenshuCli(ws)
    cli.invoke(args=["checkpoint", "--org", "llyb"])
    cli.invoke(args=["verify"])
    issue(users)
    cli.invoke(args=["checkpoint", "--org", "llyb"])
    newer = last_checkpoint_seq(ws)
    assert cli.invoke(args=["verify", "--since-checkpoint"]).exit_code == 0  # covers `newer`
    issue(users)
    report = verify_since_checkpoint(ws, actor="test")
    assert report.ok and report.details["after_seq"] == newer
    assert sum(report.checked.values()) == 1


# --- the fixity cycle -------------------------------------------------------------------------


def test_the_cycle_checks_every_document_once_a_slice_per_run(
    users: dict[str, Any], ws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = [issue(users, org) for org in ("llyb", "tyyb", "llyb", "llyb", "tyyb")]
    tune(ws, fixity_cycle_days=3.0, fixity_interval=86400.0)  # 5 documents over 3 runs: 2, 2, 1
    start, day = ws.now(), timedelta(days=1)
    clock = iter(start + n * day for n in range(10))
    monkeypatch.setattr(ws, "now", lambda: today[0])
    today = [next(clock)]
    seen: list[str] = []
    slices = []
    for _ in range(3):
        report = run_slice(ws, actor="test")
        today[0] = next(clock)
        assert report.ok, report.failures
        slices.append((report.after_seq, report.through_seq, report.documents))
        seen.extend(
            e.object_id
            for e in events(ws, "document.issue")
            if report.after_seq < e.seq <= report.through_seq
        )
    assert [n for _a, _t, n in slices] == [2, 2, 1]
    assert [a for a, _t, _n in slices] == [0, slices[0][1], slices[1][1]]  # contiguous
    assert sorted(seen) == sorted(d["id"] for d in docs)  # each exactly once
    assert report.cycle_complete and not any(
        json.loads(e.details)["cycle_complete"]
        for e in events(ws, "fixity.check")[:-2]  # only the last run's two org events
    )
    checks = [json.loads(e.details) for e in events(ws, "fixity.check")]
    assert {(c["cycle"], c["slice"]["through_seq"]) for c in checks} == {
        (1, t) for _a, t, _n in slices
    }
    status = cycle_status(ws)
    assert status.cycle == 2 and status.position_seq == 0 and status.documents_left == 5
    assert [r.documents for r in status.runs] == [1, 2, 2]
    # the next cycle starts from seq 1 again and finds a flipped byte anywhere in the archive
    flip_byte(pdf_of(ws, docs[0]))
    found = run_slice(ws, actor="test")
    assert found.cycle == 2 and {p.document_id for p in found.problems} == {docs[0]["id"]}
    assert events(ws, "fixity.failure")[-1].object_id == docs[0]["id"]


def test_an_interrupted_run_resumes_at_the_cursor(
    users: dict[str, Any], ws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = [issue(users) for _ in range(5)]
    tune(ws, fixity_cycle_days=1.0)  # the whole archive in one slice …
    monkeypatch.setattr(cycle, "CHUNK", 2)  # … committed two documents at a time

    def crash(report: Any, position: int) -> None:
        raise KeyboardInterrupt  # killed after the first chunk is committed

    with pytest.raises(KeyboardInterrupt):
        run_slice(ws, actor="test", progress=crash)
    with ws.db.read() as s:
        cur = s.get(FixityCursor, 1)
        assert cur is not None and cur.documents_checked == 2 and cur.lease_owner is None
        first_chunk_end = cur.position_seq
    assert cycle_status(ws).slice_through_seq > first_chunk_end
    cli = WenshuCli(ws)
    status = cli.invoke(args=["fixity", "--status"])
    assert (
        f"游标：第 {first_chunk_end} 号事件" in status.output
        and "下次从游标处继续" in status.output
    )

    rest = cli.invoke(args=["fixity"])
    assert rest.exit_code == 0, rest.output
    assert "续查中断的一段" in rest.output and "文书 3 份" in rest.output
    assert "第 1 轮已完成" in rest.output
    check = json.loads(events(ws, "fixity.check")[-1].details)
    assert check["slice"]["after_seq"] == 0 and check["resumed"] is True
    seqs = [e.seq for e in events(ws, "document.issue")]
    assert len([q for q in seqs if q > first_chunk_end]) == 3 == len(docs) - 2

    status = cli.invoke(args=["fixity", "--status"])
    assert "周期：第 2 轮，1 天一轮" in status.output
    assert "文书 3 份" in status.output  # the last run, listed


def test_the_timer_runs_a_slice_and_a_second_runner_waits_for_the_lease(
    users: dict[str, Any], ws: Any
) -> None:
    issue(users)
    with ws.db.write() as s:
        cur = cycle.lock_cursor(s, ws.now())
        cur.lease_owner, cur.lease_until = "another-server", ws.now() + cycle.LEASE
    busy = WenshuCli(ws).invoke(args=["fixity"])
    assert busy.exit_code == 2 and "另一个完整性检查正在进行" in busy.output
    with ws.db.write() as s:
        cur = cycle.lock_cursor(s, ws.now())
        cur.lease_until = ws.now() - cycle.LEASE  # that server died
    assert run_slice(ws, actor="test").documents == 1


# --- the process pool -------------------------------------------------------------------------


def test_the_process_pool_gives_the_serial_result(users: dict[str, Any], ws: Any) -> None:
    docs = [issue(users), issue(users, "tyyb"), issue(users)]
    flip_byte(pdf_of(ws, docs[1]))
    with ws.db.read() as s:
        from archive.certificates import trusted_certificates
        from archive.models import Org

        rows = s.execute(
            select(Document, Org.code).join(Org, Document.org_id == Org.id).order_by(Document.id)
        ).all()
        trusted = trusted_certificates(s)
    tasks = [files_of(doc, org) for doc, org in rows] * 7  # past the pool's threshold
    with FileChecker(ws.blobs.root, trusted, workers=1) as serial:
        one = serial(tasks)
    with FileChecker(ws.blobs.root, trusted, workers=2) as pooled:
        two = pooled(tasks)
        assert pooled.pooled  # really in other processes
    assert one == two
    bad = {t.document_id for t, found in zip(tasks, two, strict=True) if found}
    assert bad == {docs[1]["id"]}
    tune(ws, verify_workers=2)
    assert {p.document_id for p in verify_archive(ws).problems} == {docs[1]["id"]}


def test_the_cycle_and_workers_settings_are_read_and_checked() -> None:
    env = {"WENSHU_FIXITY_CYCLE_DAYS": "7", "WENSHU_VERIFY_WORKERS": "3"}
    settings = load_settings(environ=env)
    assert settings.integrity.fixity_cycle_days == 7 and settings.integrity.verify_workers == 3
    assert load_settings(environ={}).integrity.fixity_cycle_days == 30
    for var, bad in (("WENSHU_FIXITY_CYCLE_DAYS", "0"), ("WENSHU_VERIFY_WORKERS", "-1")):
        with pytest.raises(SettingsError, match=var):
            load_settings(environ={var: bad})


def test_since_checkpoint_and_the_cycle_on_every_database(
    tmp_path: Path, converter_dir: dict[str, Any], database_url: str
) -> None:
    """The cursor's row lock, the seq lookups and the JSON filters, on SQLite and PostgreSQL."""
    app = make_app(tmp_path, converter_dir, DATABASE_URL=database_url)
    ws = app.extensions["wenshu"]
    try:
        clerk = Client(app, add_user(ws, name="v-clerk", role="clerk", org_code="llyb"))
        users = {"clerk": clerk}
        issue(users)
        cli = WenshuCli(ws)
        assert cli.invoke(args=["checkpoint"]).exit_code == 0
        assert cli.invoke(args=["verify"]).exit_code == 0
        late = issue(users)
        since = cli.invoke(args=["verify", "--since-checkpoint"])
        assert since.exit_code == 0 and "检查点之后发文 1 份" in since.output, since.output
        tune(ws, fixity_cycle_days=1.0)
        run = cli.invoke(args=["fixity"])
        assert run.exit_code == 0 and "文书 2 份" in run.output and "第 1 轮已完成" in run.output
        flip_byte(pdf_of(ws, late))
        bad = cli.invoke(args=["fixity"])
        assert bad.exit_code == 1 and late["id"] in bad.output
        status = cli.invoke(args=["fixity", "--status"])
        assert "周期：第 3 轮" in status.output and "有问题 1 份" in status.output
    finally:
        ws.close()
