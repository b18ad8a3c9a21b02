"""/api/v1/documents: preview, issue, list, read, files, verification, withdrawal."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import Response, send_file
from flask import request as flask_request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, fields
from marshmallow import ValidationError as SchemaError
from werkzeug.exceptions import RequestEntityTooLarge

from archive.audit import AuditChain
from archive.errors import NotFoundError, ValidationError
from service import telemetry
from service.doctypes import DocType, get_doctype
from service.documents.scan import UploadTooLarge
from service.http import auth
from service.http.api.idempotency import PARAMETER, idempotent
from service.http.api.responses import declare_errors, declare_spreadsheets
from service.http.api.schemas import (
    DocumentInputSchema,
    DocumentListQuerySchema,
    DocumentListSchema,
    DocumentSchema,
    OcrAgainSchema,
    PreviewInputSchema,
    RequestSchema,
    ScanReviewInputSchema,
    SignedCopyQuerySchema,
    SignedCopyStatusSchema,
    VerifySchema,
    WithdrawInputSchema,
)
from service.http.headers import SANDBOX, content_disposition
from service.http.state import wenshu
from service.workflows import drafts, issue_once, records, signed_copy
from service.workflows.accounts import Principal, get_org
from service.workflows.issuing import IssueRequest, issue, preview
from service.workflows.lists import registers, tables
from service.workflows.lists.documents import DocumentFilter
from service.workflows.lists.tables import Table

blp = Blueprint(
    "documents",
    __name__,
    url_prefix="/api/v1/documents",
    description="文书：预览、签发、查阅、下载、验证",
)


def validated(body: dict[str, Any]) -> tuple[DocType, dict[str, Any]]:
    """The type and its data validated by the type's schema; 422 naming ``data.<path>``."""
    doctype = get_doctype(body["type"])
    if doctype is None:
        raise ValidationError(
            f"未知的文书类型 {body['type']!r}", errors={"type": ["未知的文书类型"]}
        )
    try:
        data = doctype.schema().load(body["data"])
    except SchemaError as exc:
        raise ValidationError("输入有误，请按提示修改", errors={"data": exc.messages}) from exc
    return doctype, data


def _authorise_issue(doctype: DocType, org_code: str) -> Principal:
    who = auth.require("documents.issue", issuers=doctype.issuers)
    auth.require_org(who, org_code)
    return who


@blp.route("/preview")
class Preview(MethodView):
    @blp.arguments(PreviewInputSchema)
    @blp.response(200, content_type="application/pdf", description="草稿 PDF，带水印，不占用文号")
    @declare_errors(blp, 400, 403, 404, 413, 422, 503)
    def post(self, body: dict[str, Any]) -> Response:
        ws = wenshu()
        doctype = get_doctype(body["type"])
        if doctype is not None:
            who = auth.require("documents.preview", issuers=doctype.issuers)
            auth.require_org(who, body["org"])
        else:
            who = auth.current()
        doctype, data = validated(body)
        with ws.db.read() as s:
            org = get_org(s, body["org"])
        pdf = preview(ws, IssueRequest(doctype, org.code, data, body["data"]), org)
        with ws.db.write() as s:  # previews are counted: every one is an audit event
            AuditChain.append(
                s,
                actor=who.name,
                action="document.preview",
                org=org.code,
                details={"type": doctype.code},
            )
        return send_file(BytesIO(pdf), mimetype="application/pdf", download_name="preview.pdf")


@blp.route("")
class Documents(MethodView):
    @blp.arguments(DocumentInputSchema)
    @blp.response(201, DocumentSchema)
    @blp.alt_response(200, schema=DocumentSchema, description="该草稿已编号发文：返回同一文书")
    @blp.doc(parameters=[PARAMETER])
    @declare_errors(blp, 400, 403, 404, 409, 413, 422, 503)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """编号发文：编号、生成、转换 PDF/A、签章、归档、索引、审计，全部完成或全部不发生。

        须经签发的类型（通知、检查报告）只能按已签发的草稿发文（``draft_id``），否则 409
        approval_required。"""
        if body["draft_id"] is not None:
            from_draft(body)
            return idempotent(
                "POST /api/v1/documents",
                body,
                lambda: issue_once.issue_draft_answer(wenshu(), auth.current(), body["draft_id"]),
            )
        doctype = get_doctype(body["type"])
        if doctype is not None:  # an unknown type is the validation's 422, below
            _authorise_issue(doctype, body["org"])
            issue_once.require_no_approval(wenshu(), doctype)
        return idempotent("POST /api/v1/documents", body, lambda: (self._issue(body), 201))

    @staticmethod
    def _issue(body: dict[str, Any]) -> dict[str, Any]:
        ws, who = wenshu(), auth.current()
        doctype, data = validated(body)
        doc = issue(
            ws,
            IssueRequest(
                doctype,
                body["org"],
                data,
                body["data"],
                case_no=body.get("case_no"),
                supersedes=body.get("supersedes"),
            ),
            who,
        )
        ws.index_soon()
        return records.to_json(ws, records.load(ws, who, doc.id))

    @blp.arguments(DocumentListQuerySchema, location="query")
    @blp.response(200, DocumentListSchema)
    @declare_spreadsheets(blp, "format=xlsx|csv：按筛选条件导出全部")
    @declare_errors(blp, 403, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """文书列表：关键词、类型、状态、案件、被检查机构、当事人、签发日期，按签发时间排序；
        ``format=xlsx|csv`` 导出全部符合条件的文书（审计事件 documents.export）。"""
        ws = wenshu()
        who = auth.require("documents.read")
        flt = document_filter(args)
        if args["format"]:
            table = registers.export_documents(ws, who, flt, args["org"], args["format"])
            return spreadsheet(table, args["format"])
        total, views = records.listing(
            ws,
            who,
            type=None,
            case_no=None,
            org=args["org"],
            page=args["page"],
            per_page=args["per_page"],
            signed_copy=args["signed_copy"],
            flt=flt,
        )
        return {
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
            "items": [records.to_json(ws, v) for v in views],
        }


def document_filter(args: dict[str, Any]) -> DocumentFilter:
    """The list's filters from parsed query arguments (the API's and the page's)."""
    return DocumentFilter(
        q=args.get("q") or "",
        type=args.get("type") or None,
        status=args.get("status") or None,
        case_no=args.get("case_no") or None,
        institution=(args.get("institution") or "").strip() or None,
        person=(args.get("person") or "").strip() or None,
        date_from=args.get("date_from"),
        date_to=args.get("date_to"),
        sort=args.get("sort") or "-issued_at",
    )


def spreadsheet(table: Table, fmt: str) -> Response:
    resp = Response(tables.render(table, fmt), content_type=tables.FORMATS[fmt])
    resp.headers["Content-Disposition"] = content_disposition(
        f"{table.name}.{fmt}", attachment=True
    )
    return resp


def from_draft(body: dict[str, Any]) -> None:
    """A request naming a draft may name its type and org too; they must be the draft's."""
    who = auth.require("documents.issue")
    view = drafts.read(wenshu(), who, body["draft_id"]) if body["type"] or body["org"] else None
    if view is not None:
        wrong = {
            k: ["与草稿不符"]
            for k, v in (("type", view.draft.type), ("org", view.org.code))
            if body[k] is not None and body[k] != v
        }
        if wrong:
            raise ValidationError("type、org 与草稿不符", errors=wrong)


@blp.route("/<string:doc_id>")
class DocumentItem(MethodView):
    @blp.response(200, DocumentSchema)
    @declare_errors(blp, 403, 404)
    def get(self, doc_id: str) -> dict[str, Any]:
        ws = wenshu()
        who = auth.current()
        view = records.load(ws, who, doc_id)
        records.record_read(ws, who, "document.view", view)
        return records.to_json(ws, view)


class FileQuerySchema(RequestSchema):
    class Meta:
        unknown = EXCLUDE

    view = fields.Boolean(
        load_default=False,
        metadata={"description": "true：在页面中显示（记为查阅 document.view，而非下载）"},
    )


class VerifyQuerySchema(RequestSchema):
    class Meta:
        unknown = EXCLUDE

    on_view = fields.Boolean(
        load_default=False,
        metadata={"description": "true：打开文书页面时自动验证（事件注明，以区别于用户的验证）"},
    )


def _file(doc_id: str, kind: str, shown: bool = False) -> Response:
    ws = wenshu()
    who = auth.current()
    view = records.load(ws, who, doc_id)
    digest = view.doc.pdf_sha256 if kind == "pdf" else view.doc.docx_sha256
    if not ws.blobs.exists(digest):
        raise NotFoundError("归档文件缺失，请联系审计员", errors={"file": [digest]})
    mimetype = (
        "application/pdf"
        if kind == "pdf"
        else "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    resp = send_file(ws.blobs.path(digest), mimetype=mimetype)
    name = (view.doc.wenhao or view.doc.archive_no) + "." + kind
    resp.headers["Content-Disposition"] = content_disposition(name, attachment=kind == "docx")
    resp.headers["X-Content-SHA256"] = digest
    # Recorded once the answer is formed: an answer that fails leaves no event. A PDF shown in
    # the page (or a tab) is a view; anything else is a download.
    action = "document.view" if shown else "document.download"
    records.record_read(ws, who, action, view, {"file": kind, "sha256": digest})
    return resp


@blp.route("/<string:doc_id>/pdf")
class DocumentPdf(MethodView):
    @blp.arguments(FileQuerySchema, location="query")
    @blp.response(200, content_type="application/pdf", description="签章后的 PDF/A-2b")
    @declare_errors(blp, 403, 404, 422)
    def get(self, args: dict[str, Any], doc_id: str) -> Response:
        return _file(doc_id, "pdf", shown=args["view"])


@blp.route("/<string:doc_id>/docx")
class DocumentDocx(MethodView):
    @blp.response(
        200, content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    @declare_errors(blp, 403, 404)
    def get(self, doc_id: str) -> Response:
        return _file(doc_id, "docx")


@blp.route("/<string:doc_id>/verify")
class DocumentVerify(MethodView):
    @blp.arguments(VerifyQuerySchema, location="query")
    @blp.response(200, VerifySchema)
    @declare_errors(blp, 403, 404, 422)
    def get(self, args: dict[str, Any], doc_id: str) -> dict[str, Any]:
        ws = wenshu()
        who = auth.current()
        view = records.load(ws, who, doc_id)
        result = records.verification(ws, view)
        if result["problems"]:
            telemetry.VERIFY_FAILURES.inc()
        details: dict[str, Any] = {"ok": not result["problems"]}
        if args["on_view"]:
            details["on_view"] = True
        records.record_read(ws, who, "document.verify", view, details)
        return result


@blp.route("/<string:doc_id>/signed-copy")
class DocumentSignedCopy(MethodView):
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                                "description": "一个 PDF，或按页序的 JPEG/PNG/TIFF 图片",
                            }
                        },
                    }
                }
            },
        }
    )
    @blp.response(201, DocumentSchema)
    @declare_errors(blp, 403, 404, 409, 413, 422)
    def post(self, doc_id: str) -> dict[str, Any]:
        """上传签字原件（检查记录单、询问笔录）：存档、审计，随后后台识别文字并编入检索。"""
        ws = wenshu()
        who = auth.current()
        view = records.load(ws, who, doc_id)
        signed_copy.authorise_upload(who, view)  # before the body is read
        flask_request.max_content_length = ws.settings.limits.max_upload_bytes
        try:
            uploads = flask_request.files.getlist("file")
            files = [(f.filename or "", f.mimetype or "", f.read()) for f in uploads]
        except RequestEntityTooLarge as exc:
            limit = ws.settings.limits.max_upload_bytes // (1024 * 1024)
            raise UploadTooLarge(
                f"上传文件超过 {limit} MiB 上限", errors={"file": [f"超过 {limit} MiB"]}
            ) from exc
        signed_copy.upload(ws, who, view, files)
        return records.to_json(ws, records.load(ws, who, doc_id))

    @blp.arguments(SignedCopyQuerySchema, location="query")
    @blp.response(200, content_type="application/pdf", description="签字原件 PDF（默认最新版）")
    @declare_errors(blp, 403, 404, 422)
    def get(self, args: dict[str, Any], doc_id: str) -> Response:
        ws = wenshu()
        who = auth.current()
        view = records.load(ws, who, doc_id)
        scan = signed_copy.download(ws, view, args["version"], args["form"])
        resp = send_file(ws.blobs.path(scan.digest), mimetype="application/pdf")
        resp.headers["Content-Disposition"] = content_disposition(scan.name, attachment=False)
        resp.headers["X-Content-SHA256"] = scan.digest
        resp.headers["Content-Security-Policy"] = SANDBOX  # someone's upload: no script of ours
        records.record_read(ws, who, "document.download", view, scan.details)
        return resp


@blp.route("/<string:doc_id>/signed-copy/status")
class DocumentSignedCopyStatus(MethodView):
    @blp.response(200, SignedCopyStatusSchema)
    @declare_errors(blp, 403, 404)
    def get(self, doc_id: str) -> dict[str, Any]:
        """签字原件的状态（如识别进度），不含文书内容；与列表一样不另记查阅事件。"""
        ws = wenshu()
        who = auth.current()
        view = records.load(ws, who, doc_id)
        status = records.signed_copy_json(ws, view, blp.url_prefix or "")
        if status is None:
            raise NotFoundError("该类文书不需要签字原件")
        if status.get("comparison"):  # the status only: the texts are read (and audited) above
            status["comparison"] = {
                k: v for k, v in status["comparison"].items() if k not in ("pages", "reviews")
            }
        return status


@blp.route("/<string:doc_id>/signed-copy/ocr-again")
class DocumentSignedCopyOcrAgain(MethodView):
    @blp.response(202, OcrAgainSchema)
    @declare_errors(blp, 403, 404, 409)
    def post(self, doc_id: str) -> dict[str, Any]:
        """重新识别最新版签字原件（无需重新上传）：排入识别队列，返回第几次识别。"""
        ws = wenshu()
        who = auth.current()
        view = records.load(ws, who, doc_id)
        return {"run": signed_copy.recognise_again(ws, who, view)}


@blp.route("/<string:doc_id>/signed-copy/review")
class DocumentSignedCopyReview(MethodView):
    @blp.arguments(ScanReviewInputSchema)
    @blp.response(200, DocumentSchema)
    @declare_errors(blp, 400, 403, 404, 409, 413, 422)
    def post(self, body: dict[str, Any], doc_id: str) -> dict[str, Any]:
        """确认签字原件与文书的比对结果：差异已核对，或某页确无签名及其理由（记入审计）。"""
        ws = wenshu()
        who = auth.current()
        view = records.load(ws, who, doc_id)
        signed_copy.review(ws, who, view, body["kind"], body["page"], body["reason"].strip())
        return records.to_json(ws, records.load(ws, who, doc_id))


@blp.route("/<string:doc_id>/withdraw")
class DocumentWithdraw(MethodView):
    @blp.arguments(WithdrawInputSchema)
    @blp.response(200, DocumentSchema)
    @declare_errors(blp, 400, 403, 404, 409, 413, 422)
    def post(self, body: dict[str, Any], doc_id: str) -> dict[str, Any]:
        """作废：文书与文号保留，标记作废并记录理由。"""
        ws = wenshu()
        who = auth.current()
        view = records.load(ws, who, doc_id)
        doctype = get_doctype(view.doc.type)
        _authorise_issue(doctype, view.org.code)  # type: ignore[arg-type]
        records.withdraw(ws, who, view, body["reason"].strip())
        ws.index_soon()
        return records.to_json(ws, records.load(ws, who, doc_id))
