"""The drafts API end to end: a clerk drafts a notice, an approver returns it, then approves it,
the clerk issues it; the document shows its 签发. Retries and races make one document, one
number; a notice without a draft is refused; the trail shows each step with its actor."""

from __future__ import annotations

import datetime as dt
import io
import threading
from dataclasses import replace
from typing import Any

import pytest
from pypdf import PdfReader

from service.documents.layout import chinese_date
from service.wiring import Wenshu
from service.workflows.accounts import add_user
from service.workflows.integrity.fixity import verify_archive
from tests.support import sample
from tests.support.apps import Client, archive_counts, issue_approved


@pytest.fixture
def approval(ws: Wenshu) -> None:
    """The types' own rule: notices and reports need 签发 (a test app switches it off)."""
    ws.settings = replace(ws.settings, approval={})


def notice() -> dict[str, Any]:
    data = sample("notice")
    data.pop("date"), data.pop("print_date")
    return data


def gaps_missing(users: dict[str, Client], ws: Wenshu) -> list[Any]:
    year = ws.local_date(ws.now()).year
    r = users["auditor"].get(f"/api/v1/numbers/gaps?org=llyb&year={year}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["missing"]  # type: ignore[no-any-return]


def test_draft_return_revise_approve_issue(
    users: dict[str, Client], ws: Wenshu, approval: None
) -> None:
    clerk, approver, auditor = users["clerk"], users["approver"], users["auditor"]
    r = clerk.post("/api/v1/drafts", {"type": "notice", "data": {"title": "关于专项检查的通知"}})
    assert r.status_code == 201, r.get_json()
    d = r.get_json()
    assert d["state"] == "draft" and d["version"] == 1 and d["org"] == "llyb"
    assert "data.body" in d["problems"] and d["document"] is None and d["created_by"] == "u-clerk"
    url = f"/api/v1/drafts/{d['id']}"

    data = notice()
    r = clerk.patch(url, {"version": 1, "data": {**data, "title": "初稿"}})
    assert r.status_code == 200 and r.get_json()["version"] == 2
    r = clerk.patch(url, {"version": 2, "data": data})
    assert r.status_code == 200 and r.get_json()["problems"] == {}
    stale = clerk.patch(url, {"version": 2, "data": data})
    assert stale.status_code == 409 and stale.get_json()["code"] == "stale_version"
    assert "第 3 版" in stale.get_json()["message"]
    first = clerk.get(f"{url}/versions/2").get_json()
    assert first["data"]["title"] == "初稿"

    assert clerk.post(f"{url}/submit", {}).status_code == 200
    assert clerk.patch(url, {"version": 3, "data": data}).status_code == 409  # frozen
    r = approver.post(f"{url}/return", {})
    assert r.status_code == 422 and "comment" in r.get_json()["errors"]
    r = approver.post(f"{url}/return", {"comment": "请写明检查时间"})
    assert r.status_code == 200 and r.get_json()["state"] == "returned"

    revised = {**data, "title": "关于开展医保基金专项检查的通知"}
    assert clerk.patch(url, {"version": 3, "data": revised}).status_code == 200
    assert clerk.post(f"{url}/submit", {"comment": "已补充"}).status_code == 200
    assert clerk.post(f"{url}/approve", {}).status_code == 403  # a clerk does not approve
    r = approver.post(f"{url}/approve", {"comment": "同意"})
    assert r.status_code == 200, r.get_json()
    approved = r.get_json()
    assert approved["state"] == "approved" and approved["approval"]["approved_by"] == "u-approver"

    assert approver.post(f"{url}/issue", {}).status_code == 403  # an approver never issues
    r = clerk.post(f"{url}/issue", {})
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    again = clerk.post(f"{url}/issue", {})
    assert again.status_code == 200 and again.get_json()["id"] == doc["id"]
    assert again.get_json()["wenhao"] == doc["wenhao"]

    approval = doc["approval"]
    assert approval["draft_id"] == d["id"] and approval["approved_by"] == "u-approver"
    assert approval["comment"] == "同意" and approval["returns"] == 1
    approved_on = approval["approved_at"][:10]
    text = "".join(
        p.extract_text() or ""
        for p in PdfReader(io.BytesIO(clerk.get(doc["links"]["pdf"]).data)).pages
    ).replace(" ", "")
    assert chinese_date(dt.date.fromisoformat(approved_on)) in text  # 成文日期 = 签发 date
    assert clerk.get(doc["links"]["self"]).get_json()["approval"] == approval

    final = clerk.get(url).get_json()
    assert final["state"] == "issued" and final["document"]["id"] == doc["id"]
    assert [h["action"] for h in final["history"]] == [
        "create", "update", "update", "submit", "return", "update", "submit", "approve", "issue",
    ]  # fmt: skip
    listed = clerk.get("/api/v1/drafts?state=issued&mine=true").get_json()
    assert [i["id"] for i in listed["items"]] == [d["id"]] and listed["total"] == 1
    assert users["other_clerk"].get(url).status_code == 404
    assert users["other_clerk"].get("/api/v1/drafts").get_json()["total"] == 0

    events = auditor.get(f"/api/v1/audit/events?object_id={d['id']}&per_page=100").get_json()
    steps = [(e["action"], e["actor"]) for e in events["events"]]
    assert ("draft.return", "u-approver") in steps and ("draft.approve", "u-approver") in steps
    assert steps[0] == ("draft.create", "u-clerk")
    issued = auditor.get(f"/api/v1/audit/events?object_id={doc['id']}").get_json()["events"]
    issue_event = next(e for e in issued if e["action"] == "document.issue")
    assert issue_event["details"]["draft_id"] == d["id"]
    assert issue_event["details"]["approved_by"] == "u-approver"
    assert issue_event["details"]["draft_sha256"] == final["document"]["data_sha256"]
    assert gaps_missing(users, ws) == []
    assert verify_archive(ws).ok


def test_notice_without_a_draft_is_refused(
    users: dict[str, Client], ws: Wenshu, approval: None
) -> None:
    before = archive_counts(ws)
    r = users["clerk"].post(
        "/api/v1/documents", {"type": "notice", "org": "llyb", "data": notice()}
    )
    assert r.status_code == 409, r.get_json()
    body = r.get_json()
    assert body["code"] == "approval_required" and "提交签发" in body["message"]
    assert archive_counts(ws) == before

    r = issue_approved(users["clerk"], users["approver"], {"type": "notice", "org": "llyb",
                                                           "data": sample("notice")})  # fmt: skip
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["approval"]["approved_by"] == "u-approver"

    # a draft that is approved issues through POST /api/v1/documents too, once
    clerk = users["clerk"]
    d = clerk.post("/api/v1/drafts", {"type": "notice", "data": notice()}).get_json()
    r = clerk.post("/api/v1/documents", {"draft_id": d["id"]})
    assert r.status_code == 409 and r.get_json()["code"] == "approval_required"
    clerk.post(f"/api/v1/drafts/{d['id']}/submit", {})
    users["approver"].post(f"/api/v1/drafts/{d['id']}/approve", {})
    r = clerk.post("/api/v1/documents", {"draft_id": d["id"], "type": "notice"})
    assert r.status_code == 201, r.get_json()
    again = clerk.post(f"/api/v1/drafts/{d['id']}/issue", {})
    assert again.status_code == 200 and again.get_json()["id"] == r.get_json()["id"]
    assert gaps_missing(users, ws) == []


def test_same_idempotency_key_one_document(users: dict[str, Client], ws: Wenshu) -> None:
    inspector = users["inspector"]
    body = {"type": "inspection_record", "org": "llyb", "data": sample("inspection_record")}
    key = {"Idempotency-Key": "rec-2026-0001"}
    first = inspector.post("/api/v1/documents", body, headers=key)
    assert first.status_code == 201, first.get_json()
    before = archive_counts(ws)
    second = inspector.post("/api/v1/documents", body, headers=key)
    assert second.status_code == 201 and second.get_json() == first.get_json()
    assert archive_counts(ws) == before  # one document, one 档号

    other = {**body, "data": {**body["data"], "place": "另一处检查地点"}}
    r = inspector.post("/api/v1/documents", other, headers=key)
    assert r.status_code == 422 and r.get_json()["code"] == "idempotency_key_reused"
    assert archive_counts(ws) == before
    # the key is the user's: another user's same key is another request
    another = Client(
        inspector.app, add_user(ws, name="u-inspector2", role="inspector", org_code="llyb")
    )
    r = another.post("/api/v1/documents", body, headers=key)
    assert r.status_code == 201 and r.get_json()["id"] != first.get_json()["id"]
    assert gaps_missing(users, ws) == []


def test_concurrent_issue_calls_make_one_document(
    users: dict[str, Client], ws: Wenshu, approval: None
) -> None:
    clerk, approver = users["clerk"], users["approver"]
    d = clerk.post("/api/v1/drafts", {"type": "notice", "data": notice()}).get_json()
    url = f"/api/v1/drafts/{d['id']}"
    clerk.post(f"{url}/submit", {})
    assert approver.post(f"{url}/approve", {}).status_code == 200
    before = archive_counts(ws)
    answers: list[Any] = []
    barrier = threading.Barrier(2)

    def call() -> None:
        c = Client(clerk.app, clerk.token)  # a test client of its own per thread
        barrier.wait()
        answers.append(c.post(f"{url}/issue", {}))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert sorted(a.status_code for a in answers) == [200, 201], [a.get_json() for a in answers]
    assert len({a.get_json()["id"] for a in answers}) == 1
    after = archive_counts(ws)
    assert after[0] == before[0] + 1 and after[1] == before[1] + 2  # a 发文字号 and a 档号
    assert gaps_missing(users, ws) == []
    assert verify_archive(ws).ok


def test_who_may_touch_a_draft(users: dict[str, Client], approval: None) -> None:
    clerk = users["clerk"]
    assert (
        users["approver"].post("/api/v1/drafts", {"type": "notice", "data": {}}).status_code == 403
    )
    assert (
        users["inspector"].post("/api/v1/drafts", {"type": "notice", "data": {}}).status_code == 403
    )
    assert (
        users["auditor"].post("/api/v1/drafts", {"type": "notice", "data": {}}).status_code == 403
    )
    r = clerk.post("/api/v1/drafts", {"type": "notice", "org": "tyyb", "data": {}})
    assert r.status_code == 403
    r = clerk.post("/api/v1/drafts", {"type": "nope", "data": {}})
    assert r.status_code == 422 and "type" in r.get_json()["errors"]
    d = clerk.post("/api/v1/drafts", {"type": "notice", "data": notice()}).get_json()
    url = f"/api/v1/drafts/{d['id']}"
    assert users["auditor"].get(url).status_code == 200  # the auditor reads the org's drafts
    assert users["other_approver"].post(f"{url}/approve", {}).status_code == 404
    assert users["approver"].post(f"{url}/approve", {}).status_code == 409  # not submitted yet
    assert clerk.get(f"{url}/versions/9").status_code == 404
    for admin in ("sysadmin", "secadmin", "auditadmin"):  # 三员: no drafting, no reading
        r = users[admin].post("/api/v1/drafts", {"type": "notice", "data": notice()})
        assert r.status_code == 403, admin
        assert users[admin].get(url).status_code == 403, admin
        assert users[admin].post(f"{url}/approve", {}).status_code == 403, admin
    assert clerk.post(f"{url}/withdraw", {"comment": "重复"}).get_json()["state"] == "withdrawn"
    assert clerk.post(f"{url}/issue", {}).status_code == 409
