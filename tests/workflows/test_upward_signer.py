"""A 上行文 prints its 签发人 (GB/T 9704 7.2.4): after 签发, the approver's own name, never a
name typed in the draft; a 下行文 prints none. Issued without 签发, the drafter types it."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from archive.errors import ConflictError, ValidationError
from archive.models import AuditEvent
from service.wiring import Wenshu
from service.workflows import drafts, issue_once, records
from service.workflows.accounts import Principal, set_full_name
from tests.support import sample
from tests.support.apps import person


@pytest.fixture
def crew(ws: Wenshu) -> dict[str, Principal]:
    ws.settings = replace(ws.settings, approval={})  # the types' own rule: a notice needs 签发
    return {
        "clerk": person(ws, "u-clerk", "clerk", full_name="李明"),
        "approver": person(ws, "u-approver", "approver", full_name="王建国"),
        "nameless": person(ws, "u-approver2", "approver"),
    }


def notice(**extra: Any) -> dict[str, Any]:
    data = sample("notice")
    data.pop("date"), data.pop("print_date"), data.pop("signer", None)
    return {**data, **extra}


def pdf_text(ws: Wenshu, who: Principal, doc_id: str) -> str:
    view = records.load(ws, who, doc_id)
    pdf = ws.blobs.get(view.doc.pdf_sha256)
    return "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)


def approved(ws: Wenshu, crew: dict[str, Principal], data: dict[str, Any]) -> str:
    v = drafts.create(ws, crew["clerk"], type="notice", org_code="llyb", data=data)
    drafts.submit(ws, crew["clerk"], v.draft.id)
    drafts.approve(ws, crew["approver"], v.draft.id, "同意")
    return v.draft.id


def test_upward_notice_prints_the_approvers_name(ws: Wenshu, crew: dict[str, Principal]) -> None:
    draft_id = approved(ws, crew, notice(direction="上行文", addressees=["山西省医疗保障局"]))
    doc_id, _ = issue_once.issue_draft(ws, crew["clerk"], draft_id)

    view = records.load(ws, crew["clerk"], doc_id)
    assert records.to_json(ws, view)["approval"]["approved_by_name"] == "王建国"
    with ws.db.read() as s:
        event = s.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "document.issue", AuditEvent.object_id == doc_id
            )
        )
        assert event is not None and json.loads(event.details)["approved_by_name"] == "王建国"
    text = pdf_text(ws, crew["clerk"], doc_id).replace(" ", "")
    assert "签发人：王建国" in text or ("签发人" in text and "王建国" in text)
    assert "u-approver" not in text


def test_downward_notice_prints_no_signer(ws: Wenshu, crew: dict[str, Principal]) -> None:
    doc_id, _ = issue_once.issue_draft(ws, crew["clerk"], approved(ws, crew, notice()))
    text = pdf_text(ws, crew["clerk"], doc_id)
    assert "签发人" not in text and "王建国" not in text


def test_a_signer_typed_in_a_draft_that_needs_approval_is_refused(
    ws: Wenshu, crew: dict[str, Principal]
) -> None:
    v = drafts.create(ws, crew["clerk"], type="notice", org_code="llyb", data=notice(signer="张三"))
    assert "签发记录" in drafts.to_json(ws, v)["problems"]["data.signer"]
    with pytest.raises(ValidationError) as refused:
        drafts.submit(ws, crew["clerk"], v.draft.id)
    assert "signer" in refused.value.errors["data"]

    downward = drafts.update(
        ws, crew["clerk"], v.draft.id, version=1, data=notice(direction="下行文", signer="张三")
    )
    assert "上行文" in drafts.to_json(ws, downward)["problems"]["data.signer"]


def test_an_approver_without_a_full_name_cannot_approve_an_upward_draft(
    ws: Wenshu, crew: dict[str, Principal]
) -> None:
    v = drafts.create(
        ws, crew["clerk"], type="notice", org_code="llyb", data=notice(direction="上行文")
    )
    drafts.submit(ws, crew["clerk"], v.draft.id)
    with pytest.raises(ConflictError) as refused:
        drafts.approve(ws, crew["nameless"], v.draft.id)
    assert "wenshu user-set u-approver2 --full-name" in refused.value.message
    assert drafts.read(ws, crew["clerk"], v.draft.id).draft.state == "submitted"

    set_full_name(ws, name="u-approver2", full_name=" 赵　刚 ", actor="cli")
    drafts.approve(ws, crew["nameless"], v.draft.id)
    doc_id, _ = issue_once.issue_draft(ws, crew["clerk"], v.draft.id)
    view = records.load(ws, crew["clerk"], doc_id)
    assert records.to_json(ws, view)["approval"]["approved_by_name"] == "赵 刚"  # NFKC, trimmed


def test_without_approval_an_upward_notice_needs_a_typed_signer(
    ws: Wenshu, crew: dict[str, Principal]
) -> None:
    ws.settings = replace(ws.settings, approval={"notice": False})
    v = drafts.create(
        ws, crew["clerk"], type="notice", org_code="llyb", data=notice(direction="上行文")
    )
    assert drafts.to_json(ws, v)["problems"] == {}  # the schema cannot know; issue says it
    with pytest.raises(ValidationError) as refused:
        issue_once.issue_draft(ws, crew["clerk"], v.draft.id)
    assert refused.value.errors == {"data": {"signer": ["上行文须填写签发人姓名"]}}

    typed = drafts.update(
        ws, crew["clerk"], v.draft.id, version=1, data=notice(direction="上行文", signer="张三")
    )
    doc_id, _ = issue_once.issue_draft(ws, crew["clerk"], typed.draft.id)
    assert "张三" in pdf_text(ws, crew["clerk"], doc_id)
