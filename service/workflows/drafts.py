"""拟稿 → 核稿/签发 → 编号: drafts on the server, approved by the org's 签发人 before issue.

党政机关公文处理工作条例 第十七条: 公文应当经本机关负责人审批签发; GB/T 9704's 成文日期 is the date
of that 签发. So a type that needs it (``DocType.needs_approval_in``) is numbered only from an
approved draft, and the archive shows who approved which version, when. States::

    draft ─submit─► submitted ─approve─► approved ─issue─► issued
      ▲                 │
      └──── returned ◄──┘ return (comment)          withdrawn: by the drafter, unless issued

Every save is a new row of ``draft_versions`` (append-only) and every step a row of
``draft_steps`` and an audit event, in one transaction. Numbers are allocated at issue only
(:mod:`service.workflows.issue_once`). Each use case checks the role (``service/policy.py``),
the org, and what the role's table cannot say: only the drafter edits, submits and withdraws;
an approver never approves a draft of their own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError as SchemaError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.audit import AuditChain, canonical_json
from archive.errors import (
    ConflictError,
    Forbidden,
    NotFoundError,
    OutsideOrg,
    StaleVersion,
    ValidationError,
)
from archive.models import Document, Draft, DraftStep, DraftVersion, Org, User, new_id
from schemas.fields import flatten_messages
from schemas.masking import mask_identifiers
from service import policy
from service.doctypes import DocType, get_doctype
from service.wiring import Wenshu
from service.workflows.accounts import Principal, get_org, printed_name
from service.workflows.cases import require_case

EDITABLE = ("draft", "returned")
#: What a refusal says of a draft in each state ("草稿已提交签发，内容不能再修改").
STATE_WORDS = {
    "draft": "尚未提交签发",
    "submitted": "已提交签发",
    "returned": "已退回修改",
    "approved": "已签发",
    "issued": "已编号发文",
    "withdrawn": "已撤回",
}


def data_sha256(data: dict[str, Any]) -> str:
    """The hash of a version's data: of its canonical JSON, as the audit chain writes JSON."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def doctype_of(code: str) -> DocType:
    doctype = get_doctype(code)
    if doctype is None:
        raise ValidationError(f"未知的文书类型 {code!r}", errors={"type": ["未知的文书类型"]})
    return doctype


def validate(doctype: DocType, data: dict[str, Any]) -> dict[str, Any]:
    """The data as the type's schema loads it; 422 naming ``data.<path>`` as issue would."""
    try:
        return doctype.schema().load(data)  # type: ignore[no-any-return]
    except SchemaError as exc:
        raise ValidationError("输入有误，请按提示修改", errors={"data": exc.messages}) from exc


FILLED_FROM_APPROVAL = "经签发的上行文，签发人由签发记录自动印出签发人姓名，此处请留空"


def _approval_problems(
    doctype: DocType, data: dict[str, Any], needs_approval: bool
) -> dict[str, Any]:
    """A field the 签发 fills (a 上行文's 签发人) is not typed in a draft that needs 签发."""
    field = doctype.approver_field(data) if needs_approval else None
    return {field: [FILLED_FROM_APPROVAL]} if field and data.get(field) else {}


def problems(doctype: DocType, data: dict[str, Any], needs_approval: bool) -> dict[str, str]:
    """What submission would refuse in ``data`` (empty: it would pass)."""
    found = _approval_problems(doctype, data, needs_approval)
    try:
        doctype.schema().load(data)
    except SchemaError as exc:
        found = {**found, **exc.normalized_messages()}
    return flatten_messages(found, "data") if found else {}


def masked(text: str | None) -> str | None:
    """A comment goes into the audit trail with identifiers masked, like a search query."""
    return mask_identifiers(text) if text else text


@dataclass(frozen=True)
class DraftView:
    draft: Draft
    org: Org
    version: DraftVersion
    names: dict[int, str]
    steps: tuple[DraftStep, ...]
    document: Document | None


def _iso(ws: Wenshu, at: datetime | None) -> str | None:
    return ws.local_time(at).isoformat(timespec="seconds") if at else None


def to_json(ws: Wenshu, v: DraftView, base_url: str = "/api/v1/drafts") -> dict[str, Any]:
    d, doctype = v.draft, doctype_of(v.draft.type)
    doc = v.document
    return {
        "id": d.id,
        "type": d.type,
        "org": v.org.code,
        "case_no": d.case_no,
        "supersedes": d.supersedes,
        "state": d.state,
        "needs_approval": doctype.needs_approval_in(ws.settings.approval),
        "version": d.version,
        "data": v.version.data,
        "sha256": v.version.sha256,
        "problems": problems(
            doctype, v.version.data, doctype.needs_approval_in(ws.settings.approval)
        ),
        "history": [
            {
                "action": step.action,
                "version": step.version,
                "by": v.names.get(step.by_user, ""),
                "at": _iso(ws, step.at),
                "comment": step.comment,
            }
            for step in v.steps
        ],
        "approval": (
            {
                "version": d.approved_version,
                "approved_by": v.names.get(d.approved_by, ""),
                "approved_at": _iso(ws, d.approved_at),
                "comment": d.approval_comment,
            }
            if d.approved_by is not None
            else None
        ),
        "returns": d.returns,
        "document": (
            {
                "id": doc.id,
                "wenhao": doc.wenhao,
                "archive_no": doc.archive_no,
                "data_sha256": d.data_sha256,
                "links": {"self": f"/api/v1/documents/{doc.id}"},
            }
            if doc is not None
            else None
        ),
        "created_by": v.names.get(d.created_by, ""),
        "created_at": _iso(ws, d.created_at),
        "updated_at": _iso(ws, d.updated_at),
        "links": {
            "self": f"{base_url}/{d.id}",
            "version": f"{base_url}/{d.id}/versions/{d.version}",
        },
    }


def _view(s: Session, d: Draft, version: int | None = None) -> DraftView:
    n = d.version if version is None else version
    row = s.scalar(
        select(DraftVersion).where(DraftVersion.draft_id == d.id, DraftVersion.version == n)
    )
    if row is None:
        raise NotFoundError(f"草稿没有第 {n} 版")
    steps = tuple(
        s.scalars(select(DraftStep).where(DraftStep.draft_id == d.id).order_by(DraftStep.id))
    )
    ids = {d.created_by, *(st.by_user for st in steps)} | ({d.approved_by} - {None})
    names = {
        uid: name for uid, name in s.execute(select(User.id, User.name).where(User.id.in_(ids)))
    }
    org = s.get(Org, d.org_id)
    assert org is not None
    doc = s.get(Document, d.document_id) if d.document_id else None
    return DraftView(d, org, row, names, steps, doc)


def load_for(s: Session, who: Principal, draft_id: str, *, lock: bool = False) -> Draft:
    """The draft if the caller's org may see it (404 otherwise: no existence leak)."""
    d = s.get(Draft, draft_id, with_for_update=lock, populate_existing=lock)
    if d is None:
        raise NotFoundError("草稿不存在")
    org = s.get(Org, d.org_id)
    if org is None:
        raise NotFoundError("草稿不存在")
    if not who.may_see_org(org.code):
        raise OutsideOrg("草稿不存在", org=org.code, object_id=draft_id)
    return d


def _may_write(who: Principal, doctype: DocType) -> None:
    if not policy.may(who.role, "drafts.write", issuers=doctype.issuers):
        raise Forbidden(f"角色 {who.role} 无权起草{doctype.label}")


def _drafter_only(who: Principal, d: Draft, what: str) -> None:
    """Only the drafter edits, submits or withdraws."""
    if who.user_id != d.created_by:
        raise Forbidden(f"只有拟稿人可以{what}", reason="rule")


def _step(
    s: Session, ws: Wenshu, who: Principal, d: Draft, org: Org, action: str, **details: Any
) -> None:
    """One step of the draft's history and its audit event, in the caller's transaction."""
    now = ws.now()
    comment = details.pop("comment", None)
    d.updated_at = now
    s.add(
        DraftStep(
            draft_id=d.id, action=action, version=d.version, comment=comment, at=now,
            by_user=who.user_id,
        )
    )  # fmt: skip
    AuditChain.append(
        s,
        actor=who.name,
        action=f"draft.{action}",
        org=org.code,
        object_id=d.id,
        at=now,
        details={"type": d.type, "version": d.version, "comment": masked(comment), **details},
    )


def create(
    ws: Wenshu,
    who: Principal,
    *,
    type: str,
    org_code: str | None,
    data: dict[str, Any],
    case_no: str | None = None,
    supersedes: str | None = None,
) -> DraftView:
    """拟稿: a new draft, version 1. It may be incomplete; ``problems`` says what is missing."""
    doctype = doctype_of(type)
    _may_write(who, doctype)
    org_code = org_code or who.org_code
    if not who.may_see_org(org_code):
        raise Forbidden("无权为其他机构拟稿", reason="org")
    now = ws.now()
    with ws.db.write() as s:
        org = get_org(s, org_code)
        if case_no is not None:
            require_case(s, org, case_no)
        d = Draft(
            id=new_id(), type=doctype.code, org_id=org.id, case_no=case_no,
            supersedes=supersedes, state="draft", version=1, created_by=who.user_id,
            created_at=now, updated_at=now, returns=0,
        )  # fmt: skip
        s.add(d)
        s.flush()
        sha = data_sha256(data)
        s.add(
            DraftVersion(
                draft_id=d.id, version=1, data=data, sha256=sha, saved_at=now, saved_by=who.user_id
            )
        )
        _step(s, ws, who, d, org, "create", sha256=sha, case_no=case_no)
        s.flush()
        return _view(s, d)


def update(
    ws: Wenshu, who: Principal, draft_id: str, *, version: int, data: dict[str, Any]
) -> DraftView:
    """Save: the next version, on top of ``version`` (409 ``stale_version`` if it is not the
    latest: someone saved in between, in another tab or window)."""
    with ws.db.write() as s:
        d = load_for(s, who, draft_id, lock=True)
        _may_write(who, doctype_of(d.type))
        _drafter_only(who, d, "修改草稿")
        if d.state not in EDITABLE:
            raise ConflictError(f"草稿{STATE_WORDS[d.state]}，内容不能再修改")
        if version != d.version:
            raise StaleVersion(
                f"草稿已有更新的第 {d.version} 版（你修改的是第 {version} 版），请刷新后再改",
                errors={"version": [f"当前为第 {d.version} 版"]},
            )
        d.version += 1
        sha = data_sha256(data)
        s.add(
            DraftVersion(
                draft_id=d.id, version=d.version, data=data, sha256=sha, saved_at=ws.now(),
                saved_by=who.user_id,
            )
        )  # fmt: skip
        org = s.get(Org, d.org_id)
        assert org is not None
        _step(s, ws, who, d, org, "update", sha256=sha)
        s.flush()
        return _view(s, d)


def submit(ws: Wenshu, who: Principal, draft_id: str, comment: str | None = None) -> DraftView:
    """提交签发: full validation (422 naming fields); the content is frozen from here."""
    with ws.db.write() as s:
        d = load_for(s, who, draft_id, lock=True)
        doctype = doctype_of(d.type)
        _may_write(who, doctype)
        _drafter_only(who, d, "提交签发")
        if d.state not in EDITABLE:
            raise ConflictError(f"草稿{STATE_WORDS[d.state]}，不能提交签发")
        org = s.get(Org, d.org_id)
        assert org is not None
        current = _view(s, d).version
        validate(doctype, current.data)
        filled = _approval_problems(
            doctype, current.data, doctype.needs_approval_in(ws.settings.approval)
        )
        if filled:
            raise ValidationError("输入有误，请按提示修改", errors={"data": filled})
        if d.case_no is not None:
            require_case(s, org, d.case_no)
        d.state = "submitted"
        _step(s, ws, who, d, org, "submit", sha256=current.sha256, comment=comment)
        s.flush()
        return _view(s, d)


def _approver_of(who: Principal) -> None:
    if not policy.may(who.role, "drafts.approve"):
        raise Forbidden(f"角色 {who.role} 无权签发或退回草稿")


def return_(ws: Wenshu, who: Principal, draft_id: str, comment: str) -> DraftView:
    """退回修改, with the approver's comment (required: the drafter must know what to change)."""
    if not comment or not comment.strip():
        raise ValidationError("退回须填写意见", errors={"comment": ["请填写退回意见"]})
    with ws.db.write() as s:
        d = load_for(s, who, draft_id, lock=True)
        _approver_of(who)
        if d.state != "submitted":
            raise ConflictError(f"草稿{STATE_WORDS[d.state]}，只有已提交签发的草稿可以退回")
        org = s.get(Org, d.org_id)
        assert org is not None
        d.state = "returned"
        d.returns += 1
        _step(s, ws, who, d, org, "return", comment=comment.strip())
        s.flush()
        return _view(s, d)


def approve(ws: Wenshu, who: Principal, draft_id: str, comment: str | None = None) -> DraftView:
    """签发: an approver of the org, not the drafter, approves the submitted version."""
    with ws.db.write() as s:
        d = load_for(s, who, draft_id, lock=True)
        _approver_of(who)
        if who.user_id == d.created_by:
            raise Forbidden("拟稿人不能签发自己起草的文稿，请由本机关其他负责人签发", reason="rule")
        if d.state != "submitted":
            raise ConflictError(f"草稿{STATE_WORDS[d.state]}，只有已提交签发的草稿可以签发")
        org = s.get(Org, d.org_id)
        assert org is not None
        version = _view(s, d).version
        if doctype_of(d.type).approver_field(version.data):
            printed_name(s, who.user_id)  # a 上行文 prints the approver's name: it must exist
        d.state = "approved"
        d.approved_version = d.version
        d.approved_by = who.user_id
        d.approved_at = ws.now()
        d.approval_comment = comment.strip() if comment and comment.strip() else None
        _step(s, ws, who, d, org, "approve", sha256=version.sha256, comment=d.approval_comment)
        s.flush()
        return _view(s, d)


def withdraw(ws: Wenshu, who: Principal, draft_id: str, comment: str | None = None) -> DraftView:
    """撤回: the drafter gives a draft up (kept, with its history); never once it is issued."""
    with ws.db.write() as s:
        d = load_for(s, who, draft_id, lock=True)
        _may_write(who, doctype_of(d.type))
        _drafter_only(who, d, "撤回草稿")
        if d.state in ("issued", "withdrawn"):
            raise ConflictError(f"草稿{STATE_WORDS[d.state]}，不能撤回")
        if d.issuing_token is not None:
            raise ConflictError("草稿正在编号发文，不能撤回")
        org = s.get(Org, d.org_id)
        assert org is not None
        d.state = "withdrawn"
        _step(s, ws, who, d, org, "withdraw", comment=comment)
        s.flush()
        return _view(s, d)


def read(ws: Wenshu, who: Principal, draft_id: str, version: int | None = None) -> DraftView:
    _may_read(who)
    with ws.db.read() as s:
        return _view(s, load_for(s, who, draft_id), version)


def _may_read(who: Principal) -> None:
    if not policy.may(who.role, "drafts.read"):
        raise Forbidden(f"角色 {who.role} 无权查看草稿")


def listing(
    ws: Wenshu,
    who: Principal,
    *,
    state: str | None,
    mine: bool,
    org: str | None,
    page: int,
    per_page: int,
) -> tuple[int, list[DraftView]]:
    """A page of the org's drafts, latest first; ``mine``: those the caller drafted."""
    _may_read(who)
    q = select(Draft).join(Org, Draft.org_id == Org.id)
    if org and org != who.org_code:
        raise Forbidden("无权查看其他机构的草稿", reason="org")
    q = q.where(Org.code == who.org_code)
    if state:
        q = q.where(Draft.state == state)
    if mine:
        q = q.where(Draft.created_by == who.user_id)
    with ws.db.read() as s:
        total = int(s.scalar(select(func.count()).select_from(q.subquery())) or 0)
        rows = s.scalars(
            q.order_by(Draft.updated_at.desc(), Draft.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        return total, [_view(s, d) for d in rows]
