"""拟稿 → 核稿/签发 → 编号 through the use cases: who may do what, what the archive then shows,
and that a draft becomes one document with one number however often it is issued."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from archive.db import as_utc
from archive.errors import (
    ApprovalRequired,
    ConflictError,
    Forbidden,
    StaleVersion,
    ValidationError,
)
from archive.models import AuditEvent, Document, Draft, NumberReservation
from service.wiring import Wenshu
from service.workflows import drafts, issue_once, records
from service.workflows.accounts import Principal
from service.workflows.audit_report import build_export, report_facts
from service.workflows.integrity.fixity import verify_archive
from service.workflows.numbers_report import gaps
from tests.support import sample
from tests.support.apps import make_app, person


@pytest.fixture
def crew(ws: Wenshu) -> dict[str, Principal]:
    """The types' own rule of 签发 (a test app switches it off), and the people of one org."""
    ws.settings = replace(ws.settings, approval={})
    return {
        "clerk": person(ws, "d-clerk", "clerk"),
        "clerk2": person(ws, "d-clerk2", "clerk"),
        "inspector": person(ws, "d-inspector", "inspector"),
        "approver": person(ws, "d-approver", "approver"),
        "sysadmin": person(ws, "d-sysadmin", "sysadmin"),
    }


def notice_data(ws: Wenshu) -> dict[str, Any]:
    """The sample notice without its dates (of 2021: the 成文日期 is to be the 签发 date)."""
    data = sample("notice")
    data.pop("date"), data.pop("print_date")
    return data


def trail(ws: Wenshu, object_ids: set[str]) -> list[tuple[str, str]]:
    with ws.db.read() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.object_id.in_(object_ids)).order_by(AuditEvent.seq)
        )
        return [(e.action, e.actor) for e in rows if e.action.startswith(("draft.", "document.i"))]


def test_draft_returned_revised_approved_and_issued(ws: Wenshu, crew: dict[str, Principal]) -> None:
    clerk, approver = crew["clerk"], crew["approver"]
    partial = {"title": "关于开展医保基金专项检查的通知"}
    v = drafts.create(ws, clerk, type="notice", org_code="llyb", data=partial)
    assert v.draft.state == "draft" and v.draft.version == 1
    assert "data.body" in drafts.to_json(ws, v)["problems"]  # incomplete, and says what lacks
    with pytest.raises(ValidationError) as refused:
        drafts.submit(ws, clerk, v.draft.id)
    assert "body" in refused.value.errors["data"]

    data = notice_data(ws)
    v = drafts.update(ws, clerk, v.draft.id, version=1, data={**data, "title": "初稿"})
    v = drafts.update(ws, clerk, v.draft.id, version=2, data=data)
    assert v.draft.version == 3 and drafts.to_json(ws, v)["problems"] == {}
    with pytest.raises(StaleVersion):
        drafts.update(ws, clerk, v.draft.id, version=2, data=data)
    with pytest.raises(Forbidden):  # only the drafter edits
        drafts.update(ws, crew["clerk2"], v.draft.id, version=3, data=data)

    drafts.submit(ws, clerk, v.draft.id)
    with pytest.raises(ConflictError):  # frozen once submitted
        drafts.update(ws, clerk, v.draft.id, version=3, data=data)
    with pytest.raises(ValidationError):  # a return says why
        drafts.return_(ws, approver, v.draft.id, "  ")
    with pytest.raises(Forbidden):  # a clerk neither returns nor approves
        drafts.approve(ws, clerk, v.draft.id)
    v = drafts.return_(ws, approver, v.draft.id, "请补充检查时间安排")
    assert v.draft.state == "returned" and v.draft.returns == 1

    revised = {**data, "title": "关于开展2026年医保基金专项检查的通知"}
    v = drafts.update(ws, clerk, v.draft.id, version=3, data=revised)
    drafts.submit(ws, clerk, v.draft.id)
    with pytest.raises(ApprovalRequired):  # submitted is not approved
        issue_once.issue_draft(ws, clerk, v.draft.id)
    with pytest.raises(Forbidden):  # an approver never issues
        issue_once.issue_draft(ws, approver, v.draft.id)
    v = drafts.approve(ws, approver, v.draft.id, "同意印发")
    assert v.draft.state == "approved" and v.draft.approved_version == 4

    doc_id, created = issue_once.issue_draft(ws, clerk, v.draft.id)
    again, created_again = issue_once.issue_draft(ws, crew["clerk2"], v.draft.id)
    assert created and (again, created_again) == (doc_id, False)

    view = records.load(ws, clerk, doc_id)
    doc = records.to_json(ws, view)
    assert doc["title"] == revised["title"]
    assert doc["approval"]["approved_by"] == "d-approver"
    assert doc["approval"]["comment"] == "同意印发" and doc["approval"]["returns"] == 1
    approved_on = ws.local_date(as_utc(v.draft.approved_at))  # type: ignore[arg-type]
    assert doc["approval"]["approved_at"].startswith(approved_on.isoformat())
    with ws.db.read() as s:
        d = s.get(Draft, v.draft.id)
        assert d is not None and d.state == "issued" and d.document_id == doc_id
        issue_event = s.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "document.issue", AuditEvent.object_id == doc_id
            )
        )
        assert issue_event is not None
    assert d.data_sha256 == drafts.read(ws, clerk, d.id, 4).version.sha256
    assert f'"draft_sha256":"{d.data_sha256}"' in issue_event.details
    assert '"approved_by":"d-approver"' in issue_event.details
    assert f'"draft_id":"{d.id}"' in issue_event.details
    # the archived input record names the draft and the version issued
    archived = ws.blobs.get(view.doc.input_sha256).decode()
    assert '"draft_version": 4' in archived

    assert trail(ws, {d.id, doc_id}) == [
        ("draft.create", "d-clerk"),
        ("draft.update", "d-clerk"),
        ("draft.update", "d-clerk"),
        ("draft.submit", "d-clerk"),
        ("draft.return", "d-approver"),
        ("draft.update", "d-clerk"),
        ("draft.submit", "d-clerk"),
        ("draft.approve", "d-approver"),
        ("document.issue", "d-clerk"),
    ]
    steps = [st["action"] for st in drafts.to_json(ws, drafts.read(ws, clerk, d.id))["history"]]
    assert steps[-2:] == ["approve", "issue"]
    year = ws.local_date(ws.now()).year
    assert gaps(ws, "llyb", year)["missing"] == []
    assert verify_archive(ws).ok
    # the auditor's report names who 签发ed it, and the export carries every step with its actor
    today = ws.local_date(ws.now())
    approvals = report_facts(ws, "llyb", today, today)["approvals"]
    assert [(a["label"], a["approved_by"], a["returns"]) for a in approvals] == [
        (view.doc.wenhao, "d-approver", 1)
    ]
    exported = build_export(ws, clerk, {"llyb"})["events"]
    assert ("draft.approve", "d-approver") in {(e["action"], e["actor"]) for e in exported}


def test_separation_of_duties(ws: Wenshu, crew: dict[str, Principal]) -> None:
    clerk, approver = crew["clerk"], crew["approver"]
    with pytest.raises(Forbidden):  # an approver does not draft
        drafts.create(ws, approver, type="notice", org_code="llyb", data={})
    with pytest.raises(Forbidden):  # a notice is a clerk's to draft
        drafts.create(ws, crew["inspector"], type="notice", org_code="llyb", data={})
    with pytest.raises(Forbidden):  # an administrator drafts nothing (三员分立)
        drafts.create(ws, crew["sysadmin"], type="notice", org_code="llyb", data={})
    v = drafts.create(ws, clerk, type="notice", org_code="llyb", data=notice_data(ws))
    drafts.submit(ws, clerk, v.draft.id)
    with pytest.raises(Forbidden):  # nor approves one
        drafts.approve(ws, crew["sysadmin"], v.draft.id)
    drafts.approve(ws, approver, v.draft.id)
    with pytest.raises(ConflictError):  # approved once
        drafts.approve(ws, approver, v.draft.id)

    other = person(ws, "d-other-approver", "approver", "llyb")
    w = drafts.create(ws, crew["clerk"], type="notice", org_code="llyb", data=notice_data(ws))
    with pytest.raises(Forbidden):
        drafts.withdraw(ws, crew["clerk2"], w.draft.id)
    drafts.withdraw(ws, crew["clerk"], w.draft.id, "不再发文")
    with pytest.raises(ConflictError):
        drafts.submit(ws, crew["clerk"], w.draft.id)
    with pytest.raises(ConflictError):
        issue_once.issue_draft(ws, crew["clerk"], w.draft.id)
    assert other.role == "approver"


def test_a_type_without_approval_issues_from_its_draft(
    ws: Wenshu, crew: dict[str, Principal]
) -> None:
    inspector = crew["inspector"]
    v = drafts.create(
        ws, inspector, type="inspection_record", org_code="llyb", data=sample("inspection_record")
    )
    doc_id, created = issue_once.issue_draft(ws, inspector, v.draft.id)
    assert created
    doc = records.to_json(ws, records.load(ws, inspector, doc_id))
    assert doc["approval"] == {
        "draft_id": v.draft.id,
        "approved_by": None,
        "approved_by_name": None,
        "approved_at": None,
        "comment": None,
        "returns": 0,
    }
    with pytest.raises(ApprovalRequired):  # and a notice needs its 签发 first
        issue_once.require_no_approval(ws, drafts.doctype_of("notice"))


def test_a_failed_issue_releases_the_draft_and_consumes_no_number(
    ws: Wenshu, crew: dict[str, Principal]
) -> None:
    clerk, approver = crew["clerk"], crew["approver"]
    data = {**notice_data(ws), "date": "2019-05-06"}  # not the 发文字号's year
    v = drafts.create(ws, clerk, type="notice", org_code="llyb", data=data)
    drafts.submit(ws, clerk, v.draft.id)
    drafts.approve(ws, approver, v.draft.id)
    with pytest.raises(ValidationError) as refused:
        issue_once.issue_draft(ws, clerk, v.draft.id)
    assert "date" in refused.value.errors["data"]
    with ws.db.read() as s:
        d = s.get(Draft, v.draft.id)
        assert d is not None and d.state == "approved" and d.issuing_token is None
        assert s.scalar(select(func.count()).select_from(NumberReservation)) == 0


def test_draft_versions_are_append_only(ws: Wenshu, crew: dict[str, Principal]) -> None:
    drafts.create(ws, crew["clerk"], type="notice", org_code="llyb", data={"title": "甲"})
    con = sqlite3.connect(ws.settings.paths.data / "wenshu.db", timeout=60)
    try:
        for sql in ("UPDATE draft_versions SET data = '{}'", "DELETE FROM draft_steps"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                con.execute(sql)
    finally:
        con.close()


def test_two_concurrent_issues_make_one_document_and_one_number(
    tmp_path: Path, converter_dir: dict[str, Any], database_url: str
) -> None:
    app = make_app(tmp_path, converter_dir, DATABASE_URL=database_url, APPROVAL="")
    ws: Wenshu = app.extensions["wenshu"]
    try:
        clerk = person(ws, "c-clerk", "clerk")
        clerk2 = person(ws, "c-clerk2", "clerk")
        approver = person(ws, "c-approver", "approver")
        v = drafts.create(ws, clerk, type="notice", org_code="llyb", data=notice_data(ws))
        drafts.submit(ws, clerk, v.draft.id)
        drafts.approve(ws, approver, v.draft.id)
        results: list[tuple[str, bool]] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(2)

        def run(who: Principal) -> None:
            barrier.wait()
            try:
                results.append(issue_once.issue_draft(ws, who, v.draft.id))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(w,)) for w in (clerk, clerk2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        assert errors == []
        assert len({doc_id for doc_id, _ in results}) == 1
        assert sorted(created for _, created in results) == [False, True]
        with ws.db.read() as s:
            assert s.scalar(select(func.count()).select_from(Document)) == 1
            statuses = s.scalars(select(NumberReservation.status)).all()
        assert statuses == ["used", "used"]  # one 发文字号 and one 档号
        year = ws.local_date(ws.now()).year
        assert gaps(ws, "llyb", year)["missing"] == []
        assert verify_archive(ws).ok
    finally:
        ws.close()
