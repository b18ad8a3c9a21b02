"""/api/v1/drafts: 拟稿 → 提交签发 → 签发 or 退回 → 编号发文, and every saved version.

Views parse, authorise (``auth.require`` with the policy's draft actions) and call one use case
of :mod:`service.workflows.drafts` or :mod:`service.workflows.issue_once`; the use cases check
what the role cannot say (only the drafter edits; no one approves their own draft).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.http import auth
from service.http.api.idempotency import PARAMETER, idempotent
from service.http.api.responses import declare_errors
from service.http.api.schemas import (
    DocumentSchema,
    DraftCommentSchema,
    DraftInputSchema,
    DraftIssueSchema,
    DraftListQuerySchema,
    DraftListSchema,
    DraftReturnSchema,
    DraftSchema,
    DraftUpdateSchema,
)
from service.http.state import wenshu
from service.workflows import drafts, issue_once

blp = Blueprint(
    "drafts",
    __name__,
    url_prefix="/api/v1/drafts",
    description="草稿：拟稿、提交签发、签发或退回、编号发文（党政机关公文处理工作条例 第十七条）",
)


def _json(view: drafts.DraftView) -> dict[str, Any]:
    return drafts.to_json(wenshu(), view)


@blp.route("")
class Drafts(MethodView):
    @blp.arguments(DraftInputSchema)
    @blp.response(201, DraftSchema)
    @declare_errors(blp, 400, 403, 404, 413, 422)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """拟稿：新建草稿（第 1 版）；内容可不完整，problems 给出提交签发时的问题。"""
        auth.require("drafts.write")  # the role first: no 422 about a type it may not draft
        doctype = drafts.doctype_of(body["type"])
        who = auth.require("drafts.write", issuers=doctype.issuers)
        auth.require_org(who, body["org"] or who.org_code)
        view = drafts.create(
            wenshu(),
            who,
            type=body["type"],
            org_code=body["org"],
            data=body["data"],
            case_no=body["case_no"],
            supersedes=body["supersedes"],
        )
        return _json(view)

    @blp.arguments(DraftListQuerySchema, location="query")
    @blp.response(200, DraftListSchema)
    @declare_errors(blp, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """本机构的草稿（state 按状态，mine 只列本人起草的），最近修改的在前。"""
        who = auth.require("drafts.read")
        total, views = drafts.listing(
            wenshu(),
            who,
            state=args["state"],
            mine=args["mine"],
            org=args["org"],
            page=args["page"],
            per_page=args["per_page"],
        )
        return {
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
            "items": [_json(v) for v in views],
        }


@blp.route("/<string:draft_id>")
class DraftItem(MethodView):
    @blp.response(200, DraftSchema)
    @declare_errors(blp, 403, 404)
    def get(self, draft_id: str) -> dict[str, Any]:
        who = auth.require("drafts.read")
        return _json(drafts.read(wenshu(), who, draft_id))

    @blp.arguments(DraftUpdateSchema)
    @blp.response(200, DraftSchema)
    @declare_errors(blp, 400, 403, 404, 409, 413, 422)
    def patch(self, body: dict[str, Any], draft_id: str) -> dict[str, Any]:
        """保存：新的一版（version 应为当前版本，否则 409 stale_version）；仅拟稿人，草稿或退回状态。"""
        who = auth.require("drafts.write")
        view = drafts.update(wenshu(), who, draft_id, version=body["version"], data=body["data"])
        return _json(view)


@blp.route("/<string:draft_id>/versions/<int:version>")
class DraftVersionItem(MethodView):
    @blp.response(200, DraftSchema)
    @declare_errors(blp, 403, 404)
    def get(self, draft_id: str, version: int) -> dict[str, Any]:
        """草稿的某一版（每次保存都留存）。"""
        who = auth.require("drafts.read")
        return _json(drafts.read(wenshu(), who, draft_id, version))


@blp.route("/<string:draft_id>/submit")
class DraftSubmit(MethodView):
    @blp.arguments(DraftCommentSchema, required=False)
    @blp.response(200, DraftSchema)
    @declare_errors(blp, 400, 403, 404, 409, 413, 422)
    def post(self, body: dict[str, Any], draft_id: str) -> dict[str, Any]:
        """提交签发：完整校验（422 指明字段），此后内容冻结。"""
        who = auth.require("drafts.write")
        return _json(drafts.submit(wenshu(), who, draft_id, body.get("comment")))


@blp.route("/<string:draft_id>/return")
class DraftReturn(MethodView):
    @blp.arguments(DraftReturnSchema)
    @blp.response(200, DraftSchema)
    @declare_errors(blp, 400, 403, 404, 409, 413, 422)
    def post(self, body: dict[str, Any], draft_id: str) -> dict[str, Any]:
        """退回修改（签发人），须填写意见。"""
        who = auth.require("drafts.approve")
        return _json(drafts.return_(wenshu(), who, draft_id, body["comment"]))


@blp.route("/<string:draft_id>/approve")
class DraftApprove(MethodView):
    @blp.arguments(DraftCommentSchema, required=False)
    @blp.response(200, DraftSchema)
    @declare_errors(blp, 400, 403, 404, 409, 413, 422)
    def post(self, body: dict[str, Any], draft_id: str) -> dict[str, Any]:
        """签发（本机关签发人，且不是拟稿人）：批准所提交的版本。"""
        who = auth.require("drafts.approve")
        return _json(drafts.approve(wenshu(), who, draft_id, body.get("comment")))


@blp.route("/<string:draft_id>/withdraw")
class DraftWithdraw(MethodView):
    @blp.arguments(DraftCommentSchema, required=False)
    @blp.response(200, DraftSchema)
    @declare_errors(blp, 400, 403, 404, 409, 413, 422)
    def post(self, body: dict[str, Any], draft_id: str) -> dict[str, Any]:
        """撤回草稿（拟稿人）；已编号发文的不能撤回。草稿与历史保留。"""
        who = auth.require("drafts.write")
        return _json(drafts.withdraw(wenshu(), who, draft_id, body.get("comment")))


@blp.route("/<string:draft_id>/issue")
class DraftIssue(MethodView):
    @blp.arguments(DraftIssueSchema, required=False)
    @blp.response(201, DocumentSchema, description="编号发文，返回文书")
    @blp.alt_response(200, schema=DocumentSchema, description="已编号发文：返回同一文书，不另编号")
    @blp.doc(parameters=[PARAMETER])
    @declare_errors(blp, 400, 403, 404, 409, 413, 422, 503)
    def post(self, body: dict[str, Any], draft_id: str) -> tuple[dict[str, Any], int]:
        """编号发文：按签发的版本分配文号与档号、生成、签章、归档；重复调用返回同一文书。"""
        who = auth.require("documents.issue")
        return idempotent(
            f"POST /api/v1/drafts/{draft_id}/issue",
            body,
            lambda: issue_once.issue_draft_answer(wenshu(), who, draft_id),
        )
