"""Issuing exactly once: a draft becomes one document with one number, whatever the retries.

Two guarantees, each because a user double-clicks, a browser retries, a proxy times out:

* **A draft issues once.** The request claims the draft in a short transaction (a token and
  the time, a lease as long as a number reservation's) before the slow steps; a second request
  finds the claim and waits for the winner's document, or gets it if it is there already. The
  document row, its numbers, the issue event and the draft's ``issued`` state commit in one
  transaction (:class:`DraftClaim` through ``IssueRequest.claim``). A failed issue releases the
  claim and, as every failed issue does, its numbers. A claim older than the lease belongs to a
  request that died: the next request takes it over, and the dead one could no longer commit.
* **An ``Idempotency-Key`` answers once.** Same user, key and request: the first answer again,
  status and JSON (:func:`begin` / :func:`finish`); the same key with another request is
  refused (422 ``idempotency_key_reused``). A request that failed leaves no key behind, so its
  retry runs afresh — it changed nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import canonical_json
from archive.db import as_utc
from archive.errors import (
    ApprovalRequired,
    ConflictError,
    Forbidden,
    IdempotencyKeyReused,
    ValidationError,
)
from archive.models import Document, Draft, DraftStep, DraftVersion, IdempotencyKey, Org, User
from service import policy
from service.doctypes import DocType
from service.wiring import Wenshu
from service.workflows import drafts, records
from service.workflows.accounts import Principal, printed_name
from service.workflows.issuing import IssueRequest, issue

#: How often a waiting request looks again, and how long it waits at most (the slow steps of
#: one issue take seconds; the lease, minutes).
POLL_SECONDS = 0.2
MAX_WAIT_SECONDS = 120.0

APPROVAL_STEPS = "请先拟稿并提交签发（POST /api/v1/drafts → …/submit），经签发人签发后再编号发文"


def require_no_approval(ws: Wenshu, doctype: DocType) -> None:
    """A type that needs 签发 is never issued straight from a form (409 ``approval_required``)."""
    if doctype.needs_approval_in(ws.settings.approval):
        raise ApprovalRequired(
            f"{doctype.label}须经本机关负责人签发后方可编号发文：{APPROVAL_STEPS}",
            errors={"draft_id": ["请给出已签发的草稿"]},
        )


def _lease(ws: Wenshu) -> timedelta:
    return timedelta(seconds=ws.settings.integrity.reservation_lease)


@dataclass(frozen=True)
class DraftClaim:
    """This request's hold on a draft for one issue (``service.workflows.issuing.IssueClaim``)."""

    draft_id: str
    token: str
    version: int
    sha256: str
    approval: dict[str, Any]
    by_user: int

    def details(self) -> dict[str, Any]:
        return {"draft_id": self.draft_id, "draft_version": self.version,
                "draft_sha256": self.sha256, **self.approval}  # fmt: skip

    def commit(self, session: Session, doc: Document) -> None:
        d = session.get(Draft, self.draft_id, with_for_update=True, populate_existing=True)
        if d is None or d.issuing_token != self.token:
            raise ConflictError("编号发文超时，草稿已由其他请求接手，请刷新查看")
        d.state = "issued"
        d.document_id = doc.id
        d.data_sha256 = self.sha256
        d.issuing_token = None
        d.issuing_since = None
        d.updated_at = doc.issued_at
        session.add(
            DraftStep(draft_id=d.id, action="issue", version=self.version, comment=None,
                      at=doc.issued_at, by_user=self.by_user)
        )  # fmt: skip


def _issuable(ws: Wenshu, d: Draft, doctype: DocType) -> int:
    """The version to issue: the approved one, or for a type without 签发 the latest."""
    if d.state == "approved":
        assert d.approved_version is not None
        return d.approved_version
    if d.state in drafts.EDITABLE and not doctype.needs_approval_in(ws.settings.approval):
        return d.version
    if d.state == "withdrawn":
        raise ConflictError("草稿已撤回，不能编号发文")
    if d.state == "submitted":
        raise ApprovalRequired(f"草稿已提交签发，尚未签发：{APPROVAL_STEPS}")
    raise ApprovalRequired(f"{doctype.label}须经本机关负责人签发后方可编号发文：{APPROVAL_STEPS}")


def _authorise(who: Principal, d: Draft, doctype: DocType) -> None:
    if not policy.may(who.role, "documents.issue", issuers=doctype.issuers):
        raise Forbidden(f"角色 {who.role} 无权编号发文{doctype.label}")


def _from_approval(
    ws: Wenshu, s: Session, d: Draft, doctype: DocType, data: dict[str, Any]
) -> dict[str, Any]:
    """What the 签发 puts on the document: the 成文日期 and, on a 上行文, the 签发人.

    GB/T 9704: the 成文日期 is the 签发 date (local), unless the drafter gave one; a 签发 of
    last year leaves it to the issue date, since the 发文字号 is of this year. A 上行文 prints
    the 签发人's name (7.2.4): the approver's, never one typed in the draft.
    """
    if d.approved_at is None:
        return data
    field = doctype.approver_field(data)
    if field is not None:
        data = {**data, field: printed_name(s, d.approved_by)}
    if data.get("date") or "date" not in doctype.schema().fields:
        return data
    approved_on: date = ws.local_date(as_utc(d.approved_at))  # type: ignore[arg-type]
    if approved_on.year != ws.local_date(ws.now()).year:
        return data
    return {**data, "date": approved_on}


def issue_draft(ws: Wenshu, who: Principal, draft_id: str) -> tuple[str, bool]:
    """编号发文 from a draft: (the document's id, whether this call made it)."""
    with ws.db.read() as s:
        d = drafts.load_for(s, who, draft_id)
        doctype = drafts.doctype_of(d.type)
        _authorise(who, d, doctype)
        if d.state == "issued":
            assert d.document_id is not None
            return d.document_id, False
        n = _issuable(ws, d, doctype)
        row = s.scalar(
            select(DraftVersion).where(DraftVersion.draft_id == d.id, DraftVersion.version == n)
        )
        assert row is not None
        org = s.get(Org, d.org_id)
        assert org is not None
    data = drafts.validate(doctype, row.data)
    token = secrets.token_hex(16)
    deadline = time.monotonic() + min(MAX_WAIT_SECONDS, _lease(ws).total_seconds())
    while True:
        with ws.db.write() as s:
            d = drafts.load_for(s, who, draft_id, lock=True)
            if d.state == "issued":
                assert d.document_id is not None
                return d.document_id, False
            if _issuable(ws, d, doctype) != n:
                raise ConflictError("草稿在编号发文前又有修改，请刷新后重试")
            now = ws.now()
            since = as_utc(d.issuing_since)
            if d.issuing_token is None or since is None or since + _lease(ws) < now:
                d.issuing_token, d.issuing_since = token, now
                approval = _approval_details(s, d)
                data = _from_approval(ws, s, d, doctype, data)
                break
        if time.monotonic() > deadline:
            raise ConflictError("草稿正在编号发文，请稍后刷新查看结果")
        time.sleep(POLL_SECONDS)
    claim = DraftClaim(d.id, token, n, row.sha256, approval, who.user_id)
    try:
        doc = issue(
            ws,
            IssueRequest(doctype, org.code, data, row.data, case_no=d.case_no,
                         supersedes=d.supersedes, claim=claim),
            who,
        )  # fmt: skip
    except BaseException:
        _release(ws, draft_id, token)
        raise
    return doc.id, True


def issue_draft_answer(ws: Wenshu, who: Principal, draft_id: str) -> tuple[dict[str, Any], int]:
    """The document issued from the draft as the API shows it: 201 if this call made it, 200
    if it was there already (a second call, or the loser of two)."""
    doc_id, created = issue_draft(ws, who, draft_id)
    if created:
        ws.index_soon()
    return records.to_json(ws, records.load(ws, who, doc_id)), 201 if created else 200


def _approval_details(s: Session, d: Draft) -> dict[str, Any]:
    """Who approved, when, with what comment (masked), after how many returns: for the event."""
    if d.approved_by is None:
        return {"approved_by": None, "returns": d.returns}
    user = s.get(User, d.approved_by)
    assert user is not None
    at = as_utc(d.approved_at)
    return {
        "approved_by": user.name,
        "approved_by_name": user.full_name or None,
        "approved_at": at.isoformat() if at else None,
        "approval_comment": drafts.masked(d.approval_comment),
        "returns": d.returns,
    }


def _release(ws: Wenshu, draft_id: str, token: str) -> None:
    with ws.db.write() as s:
        d = s.get(Draft, draft_id, with_for_update=True)
        if d is not None and d.issuing_token == token:
            d.issuing_token = None
            d.issuing_since = None


# ---------------------------------------------------------------- Idempotency-Key


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def check_key(key: str) -> str:
    key = key.strip()
    if not 1 <= len(key) <= 200 or not key.isascii() or not key.isprintable():
        raise ValidationError(
            "Idempotency-Key 应为 1–200 个可打印 ASCII 字符",
            errors={"Idempotency-Key": ["格式不正确"]},
        )
    return key


def _request_sha256(scope: str, request: Any) -> str:
    text = canonical_json({"scope": scope, "request": request})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def begin(ws: Wenshu, who: Principal, *, scope: str, key: str, request: Any) -> Answer | None:
    """The first answer to this key, or None: then this request runs and must :func:`finish`
    (or :func:`abandon`). A request with this key still running is waited for."""
    digest = _request_sha256(scope, request)
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    while True:
        try:
            with ws.db.write() as s:
                row = s.get(IdempotencyKey, (who.user_id, key), with_for_update=True)
                now = ws.now()
                if row is None:
                    s.add(IdempotencyKey(user_id=who.user_id, key=key, scope=scope,
                                         request_sha256=digest, created_at=now))  # fmt: skip
                    return None
                if row.request_sha256 != digest:
                    raise IdempotencyKeyReused(
                        "该 Idempotency-Key 已用于另一个请求，请为新的请求换一个新键",
                        errors={"Idempotency-Key": ["已用于内容不同的请求"]},
                    )
                if row.status is not None:
                    return Answer(row.status, dict(row.response or {}))
                created = as_utc(row.created_at)
                if created is not None and created + _lease(ws) < now:
                    row.created_at = now  # its request died: this one runs instead
                    return None
        except sa_exc.IntegrityError:
            pass  # another request inserted the key first (PostgreSQL): look again
        if time.monotonic() > deadline:
            raise ConflictError("同一 Idempotency-Key 的请求仍在处理，请稍后重试")
        time.sleep(POLL_SECONDS)


def finish(ws: Wenshu, who: Principal, key: str, answer: Answer) -> None:
    with ws.db.write() as s:
        row = s.get(IdempotencyKey, (who.user_id, key), with_for_update=True)
        if row is not None:
            row.status, row.response = answer.status, answer.body


def abandon(ws: Wenshu, who: Principal, key: str) -> None:
    """The request failed: forget the key, so a retry runs afresh."""
    with ws.db.write() as s:
        row = s.get(IdempotencyKey, (who.user_id, key))
        if row is not None and row.status is None:
            s.delete(row)
