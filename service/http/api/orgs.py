"""/api/v1/orgs/<code>/seal: the seal image an org seals with, and a preview with it."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import Response, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from service.http import auth
from service.http.api.responses import declare_errors
from service.http.api.schemas import MULTIPART_FILE, SealSchema
from service.http.api.uploads import read_file
from service.http.state import wenshu
from service.workflows.files import seal_preview, seals

blp = Blueprint(
    "orgs",
    __name__,
    url_prefix="/api/v1/orgs",
    description="机构：印章（带透明背景的 PNG）",
)

SEAL_ACTION = "orgs.certificates"
"""Who manages an org's certificate (机构设置) manages its seal: the same policy row."""


@blp.route("/<string:code>/seal")
class OrgSeal(MethodView):
    @blp.doc(requestBody=MULTIPART_FILE)
    @blp.response(200, SealSchema)
    @declare_errors(blp, 403, 404, 413, 422)
    def put(self, code: str) -> dict[str, Any]:
        """启用上传的印章：此后该机构签发的文书盖此印章（文书记录 seal_sha256）。"""
        ws = wenshu()
        who = auth.require(SEAL_ACTION)  # an administrator: installation-wide, as on 机构设置
        _name, data = read_file(ws.settings.limits.max_seal_bytes)
        return {"sha256": seals.set_seal(ws, who, code, data)}


@blp.route("/<string:code>/seal/preview")
class OrgSealPreview(MethodView):
    @blp.doc(requestBody=MULTIPART_FILE)
    @blp.response(200, content_type="application/pdf", description="盖此印章的示例通知（草稿）")
    @declare_errors(blp, 403, 404, 413, 422, 503)
    def post(self, code: str) -> Response:
        """启用前预览：以该印章生成示例通知（带草稿水印），不保存、不启用。"""
        ws = wenshu()
        who = auth.require(SEAL_ACTION)  # an administrator: installation-wide, as on 机构设置
        _name, data = read_file(ws.settings.limits.max_seal_bytes)
        pdf = seal_preview.preview_seal(ws, who, code, data)
        return send_file(BytesIO(pdf), mimetype="application/pdf", download_name="seal-preview.pdf")
