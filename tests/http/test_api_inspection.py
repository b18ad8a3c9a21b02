"""Inspection documents through the API: issue from samples, domain validation, cases,
preview, withdrawal and correction."""

from __future__ import annotations

import copy
import io
import re
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from archive.models import AuditEvent, Document
from tests.support import sample
from tests.support.apps import archive_counts

TYPES = ("inspection_record", "interview_transcript", "inspection_report")


def issue(client: Any, doctype: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
    body = {
        "type": doctype,
        "org": "llyb",
        "data": data if data is not None else sample(doctype),
        **extra,
    }
    return client.post("/api/v1/documents", body)


def upload_blank_scan(client: Any, doc_id: str) -> Any:
    """A one-page scan of the signed original (a blank page will do for the case check)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (210, 297), 255).save(out, format="PNG")
    return client.flask.post(
        f"/api/v1/documents/{doc_id}/signed-copy",
        data={"file": [(io.BytesIO(out.getvalue()), "page-1.png", "image/png")]},
        headers=client.headers(),
        content_type="multipart/form-data",
    )


def text_of(pdf: bytes) -> str:
    pages = (p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", "", "".join(pages))


@pytest.mark.parametrize("doctype", TYPES)
def test_each_type_issues_from_its_sample(users: dict[str, Any], ws: Any, doctype: str) -> None:
    r = issue(users["inspector"], doctype)
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert doc["wenhao"] is None and doc["archive_no"].startswith("J041-")
    pdf = users["inspector"].get(doc["links"]["pdf"]).data
    assert doc["page_count"] == len(PdfReader(io.BytesIO(pdf)).pages), "the converter's count"
    text = text_of(pdf)
    assert re.sub(r"\s+", "", doc["title"]) in text
    v = users["inspector"].get(doc["links"]["verify"]).get_json()
    assert v["sha256_ok"] and v["signature"]["valid"] and v["signature"]["trusted"]
    if doctype == "inspection_report":
        with ws.db.read() as s:
            facts = s.get(Document, doc["id"]).facts
        assert facts["violations"] == len(sample(doctype)["violations"])
        assert facts["major"] >= 1 and facts["general"] >= 1
        assert "重大" in text and "一般" in text and "合计" in text


@pytest.mark.parametrize(
    ("doctype", "mutate", "path"),
    [
        (
            "inspection_record",
            lambda d: d["subject"].update(kind="institution", id_code="91110000802100433C"),
            "data.subject.id_code",
        ),
        (
            "inspection_record",
            lambda d: d["subject"].update(kind="person", id_code="110105194912310021"),
            "data.subject.id_code",
        ),
        (
            "interview_transcript",
            lambda d: d.__setitem__("interviewers", d["interviewers"][:1]),
            "data.interviewers",
        ),
        (
            "interview_transcript",
            lambda d: d["interviewee"].__setitem__("id_number", "110105194912310021"),
            "data.interviewee.id_number",
        ),
        (
            "inspection_record",
            lambda d: d.update(started_at="2021-05-11T10:00:00", ended_at="2021-05-11T09:00:00"),
            "data.ended_at",
        ),
        (
            "inspection_report",
            lambda d: d["violations"][0].__setitem__("amount", "-1"),
            "data.violations.0.amount",
        ),
        (
            "inspection_report",
            lambda d: d["violations"][0].__setitem__("measures", ["口头警告"]),
            "data.violations.0.measures.0",
        ),
        (
            "inspection_report",
            lambda d: d.update(started_on="2021-05-20", ended_on="2021-05-11"),
            "data.ended_on",
        ),
    ],
    ids=[
        "credit-code",
        "id-card",
        "one-interviewer",
        "interviewee-id",
        "end-before-start",
        "negative-amount",
        "unknown-measure",
        "dates-reversed",
    ],
)
def test_domain_errors_are_422_and_change_nothing(
    users: dict[str, Any], ws: Any, doctype: str, mutate: Any, path: str
) -> None:
    data = copy.deepcopy(sample(doctype))
    mutate(data)
    before = archive_counts(ws)
    r = issue(users["inspector"], doctype, data)
    assert r.status_code == 422, r.get_json()
    assert path in r.get_json()["errors"], r.get_json()
    assert archive_counts(ws) == before


def test_roles_per_type(users: dict[str, Any]) -> None:
    assert issue(users["clerk"], "inspection_record").status_code == 403
    assert issue(users["auditor"], "interview_transcript").status_code == 403
    assert issue(users["clerk"], "inspection_report").status_code == 201


def test_case_lists_documents_in_order_and_checks_completeness(users: dict[str, Any]) -> None:
    insp = users["inspector"]
    r = insp.post(
        "/api/v1/cases", {"case_no": "LL-2021-007", "title": "某医院专项检查", "org": "llyb"}
    )
    assert r.status_code == 201, r.get_json()
    assert (
        insp.post(
            "/api/v1/cases", {"case_no": "LL-2021-007", "title": "重复", "org": "llyb"}
        ).status_code
        == 409
    )
    assert issue(insp, "inspection_record", case_no="NO-SUCH-CASE").status_code == 422

    order = ["inspection_record", "interview_transcript", "interview_transcript"]
    ids = [issue(insp, t, case_no="LL-2021-007").get_json()["id"] for t in order]
    case = insp.get("/api/v1/cases/LL-2021-007").get_json()
    assert case["complete"] is False and case["lacking"][0] == "检查报告"
    assert case["signed_copies_missing"] == ids  # each record and transcript is signed by hand
    ids.append(issue(insp, "inspection_report", case_no="LL-2021-007").get_json()["id"])
    case = insp.get("/api/v1/cases/LL-2021-007").get_json()
    assert case["complete"] is False and len(case["lacking"]) == 3
    for doc_id in ids[:3]:
        assert upload_blank_scan(insp, doc_id).status_code == 201
    case = insp.get("/api/v1/cases/LL-2021-007").get_json()
    assert [d["id"] for d in case["documents"]] == ids
    assert [d["type"] for d in case["documents"]] == [*order, "inspection_report"]
    assert case["complete"] is True and case["lacking"] == []
    listing = insp.get("/api/v1/cases").get_json()
    assert listing["total"] == 1 and listing["items"][0]["documents"] == 4
    assert users["other_clerk"].get("/api/v1/cases/LL-2021-007").status_code == 404


@pytest.mark.parametrize("doctype", TYPES)
def test_preview_every_type(users: dict[str, Any], ws: Any, doctype: str) -> None:
    before = archive_counts(ws)
    r = users["inspector"].post(
        "/api/v1/documents/preview", {"type": doctype, "org": "llyb", "data": sample(doctype)}
    )
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "草稿" in text_of(r.data) or len(PdfReader(io.BytesIO(r.data)).pages) >= 1
    assert archive_counts(ws) == before


def test_withdraw_and_supersede_keep_the_original(users: dict[str, Any], ws: Any) -> None:
    insp = users["inspector"]
    old = issue(insp, "inspection_record").get_json()
    pdf_before = insp.get(old["links"]["pdf"]).data
    assert insp.post(f"/api/v1/documents/{old['id']}/withdraw", {"reason": ""}).status_code == 422
    assert (
        users["auditor"]
        .post(f"/api/v1/documents/{old['id']}/withdraw", {"reason": "记录有误"})
        .status_code
        == 403
    )
    r = insp.post(f"/api/v1/documents/{old['id']}/withdraw", {"reason": "被核查对象名称记录有误"})
    assert r.status_code == 200 and r.get_json()["status"] == "withdrawn"
    assert r.get_json()["withdrawal"]["reason"] == "被核查对象名称记录有误"
    assert (
        insp.post(f"/api/v1/documents/{old['id']}/withdraw", {"reason": "再次作废"}).status_code
        == 409
    )
    assert insp.get(old["links"]["pdf"]).data == pdf_before

    new = issue(insp, "inspection_record", supersedes=old["id"]).get_json()
    assert new["supersedes"] == old["id"]
    assert insp.get(old["links"]["self"]).get_json()["superseded_by"] == [new["id"]]
    assert issue(insp, "interview_transcript", supersedes=old["id"]).status_code == 422
    with ws.db.read() as s:
        actions = {
            e.action
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.object_id.in_([old["id"], new["id"]]))
            )
        }
    assert {"document.issue", "document.withdraw"} <= actions
    detail = users["auditor"].get(f"/api/v1/documents/{new['id']}").get_json()
    assert detail["supersedes"] == old["id"]


def test_a_case_needs_no_org_for_a_user_of_one_org_and_extra_keys_are_refused_in_chinese(
    users: dict[str, Any],
) -> None:
    made = users["inspector"].post("/api/v1/cases", {"case_no": "LL-2026-009", "title": "某医院"})
    assert made.status_code == 201 and made.get_json()["org"] == "llyb"
    extra = users["inspector"].post(
        "/api/v1/cases", {"case_no": "LL-2026-010", "title": "某药店", "orgg": "llyb"}
    )
    assert extra.status_code == 422
    assert extra.get_json()["errors"] == {"orgg": "未知字段，请检查拼写"}
    assert users["inspector"].get("/api/v1/cases/LL-2026-010").status_code == 404
    paged = users["inspector"].get("/api/v1/documents?page=x")
    assert paged.status_code == 422 and paged.get_json()["errors"] == {"page": "应为整数"}


def test_a_case_list_counts_only_its_own_orgs_documents(users: dict[str, Any], ws: Any) -> None:
    """Two orgs may use one case number: each org's list counts its own documents only."""
    from service.workflows.accounts import add_user
    from tests.support.apps import Client

    token = add_user(ws, name="u-other-inspector", role="inspector", org_code="tyyb")
    theirs = Client(users["anonymous"].app, token)
    for client, org in ((users["inspector"], "llyb"), (theirs, "tyyb")):
        made = client.post("/api/v1/cases", {"case_no": "SAME-001", "title": "同号", "org": org})
        assert made.status_code == 201, made.get_json()
    body = {"type": "inspection_record", "org": "tyyb", "data": sample("inspection_record")}
    for _ in range(2):
        r = theirs.post("/api/v1/documents", {**body, "case_no": "SAME-001"})
        assert r.status_code == 201, r.get_json()
    mine = users["inspector"].get("/api/v1/cases").get_json()["items"]
    assert [(c["case_no"], c["documents"]) for c in mine] == [("SAME-001", 0)]
    other = theirs.get("/api/v1/cases").get_json()["items"]
    assert [(c["case_no"], c["documents"]) for c in other] == [("SAME-001", 2)]
