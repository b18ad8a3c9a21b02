"""/api/v1/uploads: files (PDF, DOCX) an org attaches to its notices."""

from __future__ import annotations

from typing import Any

from flask import Response, send_file
from flask import request as flask_request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.exceptions import RequestEntityTooLarge

from service.documents.scan import UploadTooLarge
from service.http import auth
from service.http.api.responses import declare_errors
from service.http.api.schemas import MULTIPART_FILE, UploadSchema
from service.http.state import wenshu
from service.workflows.files import uploads

blp = Blueprint(
    "uploads",
    __name__,
    url_prefix="/api/v1/uploads",
    description="附件文件：上传 PDF 或 DOCX，作为通知的附件附在正文之后",
)


def read_file(max_bytes: int) -> tuple[str, bytes]:
    """The multipart ``file`` (name, bytes), at most ``max_bytes``; 413 naming ``file``."""
    flask_request.max_content_length = max_bytes + 64 * 1024  # the form's own bytes
    limit = f"{max_bytes / (1024 * 1024):g} MiB"
    try:
        upload = flask_request.files.get("file")
        data = upload.read(max_bytes + 1) if upload else b""
    except RequestEntityTooLarge as exc:
        raise UploadTooLarge(f"文件超过 {limit} 上限", errors={"file": [f"超过 {limit}"]}) from exc
    if len(data) > max_bytes:
        raise UploadTooLarge(f"文件超过 {limit} 上限", errors={"file": [f"超过 {limit}"]})
    return (upload.filename or "") if upload else "", data


@blp.route("")
class Uploads(MethodView):
    @blp.doc(requestBody=MULTIPART_FILE)
    @blp.response(201, UploadSchema)
    @declare_errors(blp, 403, 413, 422, 503)
    def post(self) -> dict[str, Any]:
        """上传附件文件（PDF 或 DOCX，按内容识别）：归本机构所有，DOCX 转为 PDF 计页。"""
        ws = wenshu()
        who = auth.require("attachments.upload")
        name, data = read_file(ws.settings.limits.max_attachment_bytes)
        return uploads.to_json(uploads.upload(ws, who, name, data))


@blp.route("/<string:upload_id>")
class UploadItem(MethodView):
    @blp.response(200, UploadSchema)
    @declare_errors(blp, 403, 404)
    def get(self, upload_id: str) -> dict[str, Any]:
        ws = wenshu()
        who = auth.require("documents.read")
        view = uploads.load(ws, who, upload_id)
        uploads.record_read(ws, who, view, "upload.view")
        return uploads.to_json(view)


@blp.route("/<string:upload_id>/pdf")
class UploadPdf(MethodView):
    @blp.response(200, content_type="application/pdf", description="附入公文的 PDF")
    @declare_errors(blp, 403, 404)
    def get(self, upload_id: str) -> Response:
        ws = wenshu()
        who = auth.require("documents.read")
        view = uploads.load(ws, who, upload_id)
        uploads.record_read(ws, who, view, "upload.download")
        digest = view.upload.pdf_sha256
        resp = send_file(
            ws.blobs.path(digest), mimetype="application/pdf", download_name="upload.pdf"
        )
        resp.headers["X-Content-SHA256"] = digest
        return resp
