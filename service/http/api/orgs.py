"""/api/v1/orgs/<code>/seal: the seal image an org seals with, and a preview with it;
/api/v1/orgs/<code>/templates/<type>: the versions of a type's template the org renders with
(upload, preview, activate)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import Response, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from service.http import auth
from service.http.api.responses import declare_errors
from service.http.api.schemas import MULTIPART_FILE, SealSchema
from service.http.api.uploads import read_file
from service.http.state import wenshu
from service.workflows.files import seal_preview, seals, template_preview, templates

blp = Blueprint(
    "orgs",
    __name__,
    url_prefix="/api/v1/orgs",
    description="机构：印章（带透明背景的 PNG）与文书模板版本（DOCX）",
)

SEAL_ACTION = "orgs.certificates"
"""Who manages an org's certificate (机构设置) manages its seal: the same policy row."""
TEMPLATE_ACTION = SEAL_ACTION
"""The template decides what the paper looks like as the seal does: whoever manages the seal
manages the templates (the secadmin, installation-wide)."""


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


class TemplateVersionSchema(Schema):
    sha256 = fields.String(required=True, metadata={"description": "模板文件（DOCX）的 SHA-256"})
    default = fields.Boolean(required=True, metadata={"description": "true：系统默认模板"})
    active = fields.Boolean(required=True, metadata={"description": "true：本机构正在使用"})
    filename = fields.String()
    size = fields.Integer()
    added_at = fields.String(allow_none=True, metadata={"description": "上传时间"})
    added_by = fields.String(allow_none=True, metadata={"description": "上传人"})
    links = fields.Dict(metadata={"description": "preview：示例文书预览（PDF）；activate：启用"})


class TemplateListSchema(Schema):
    type = fields.String(required=True)
    active_sha256 = fields.String(required=True)
    items = fields.List(fields.Nested(TemplateVersionSchema), required=True)


def _version_json(code: str, doctype: str, v: templates.TemplateVersion) -> dict[str, Any]:
    base = f"/api/v1/orgs/{code}/templates/{doctype}/{v.sha256}"
    return {
        "sha256": v.sha256,
        "default": v.default,
        "active": v.active,
        "filename": v.filename,
        "size": v.size,
        "added_at": wenshu().local_time(v.added_at).isoformat() if v.added_at else None,
        "added_by": v.added_by,
        "links": {
            "docx": base,
            "preview": f"{base}/preview?seal=true",
            "activate": f"{base}/activate",
        },
    }


@blp.route("/<string:code>/templates/<string:doctype>")
class OrgTemplates(MethodView):
    @blp.response(200, TemplateListSchema)
    @declare_errors(blp, 403, 404)
    def get(self, code: str, doctype: str) -> dict[str, Any]:
        """该机构此类文书的模板版本（新上传的在前，最后是系统默认模板）及正在使用的版本。"""
        ws = wenshu()
        auth.require("admin.read")  # the 机构设置 page shows them to both administrators
        versions = templates.list_versions(ws, code, doctype)
        return {
            "type": doctype,
            "active_sha256": next(v.sha256 for v in versions if v.active),
            "items": [_version_json(code, doctype, v) for v in versions],
        }

    @blp.doc(requestBody=MULTIPART_FILE)
    @blp.response(201, TemplateVersionSchema)
    @declare_errors(blp, 403, 404, 413, 422)
    def post(self, code: str, doctype: str) -> dict[str, Any]:
        """上传模板版本（DOCX）：按本类文书的约定检查（占位符、样式、字体、GB/T 9704 版面），
        不合格时 422 逐条说明；合格则保存，须预览后启用才用于新文书。"""
        ws = wenshu()
        who = auth.require(TEMPLATE_ACTION)
        name, data = read_file(templates.MAX_TEMPLATE_BYTES)
        version = templates.upload_template(ws, who, code, doctype, data, name)
        return _version_json(code, doctype, version)


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@blp.route("/<string:code>/templates/<string:doctype>/<string:sha256>")
class OrgTemplateFile(MethodView):
    @blp.response(200, content_type=DOCX_TYPE, description="该模板版本的 DOCX 文件")
    @declare_errors(blp, 403, 404)
    def get(self, code: str, doctype: str, sha256: str) -> Response:
        """下载模板版本（DOCX），在 Word 或 WPS 中修改后再上传。"""
        ws = wenshu()
        auth.require("admin.read")
        data = templates.version_bytes(ws, code, doctype, sha256)
        return send_file(BytesIO(data), mimetype=DOCX_TYPE, download_name=f"{doctype}.docx")


class TemplatePreviewQuery(Schema):
    seal = fields.Boolean(
        load_default=False,
        metadata={"description": "true：盖本机构的印章（看印章与署名、日期的位置）；默认不盖"},
    )


@blp.route("/<string:code>/templates/<string:doctype>/<string:sha256>/preview")
class OrgTemplatePreview(MethodView):
    @blp.arguments(TemplatePreviewQuery, location="query", as_kwargs=True)
    @blp.response(200, content_type="application/pdf", description="以该模板生成的示例文书（草稿）")
    @declare_errors(blp, 403, 404, 422, 503)
    def get(self, code: str, doctype: str, sha256: str, seal: bool) -> Response:
        """以该模板版本和本机构的机关标志生成此类文书的示例（带草稿水印、占位文号），不启用；
        seal=true 时盖本机构的印章，与签发的文书版式相同。"""
        ws = wenshu()
        auth.require(TEMPLATE_ACTION)
        pdf = template_preview.preview_version(ws, code, doctype, sha256, sealed=seal)
        return send_file(
            BytesIO(pdf), mimetype="application/pdf", download_name=f"{doctype}-preview.pdf"
        )


@blp.route("/<string:code>/templates/<string:doctype>/<string:sha256>/activate")
class OrgTemplateActivate(MethodView):
    @blp.response(200, TemplateVersionSchema)
    @declare_errors(blp, 403, 404, 409)
    def post(self, code: str, doctype: str, sha256: str) -> dict[str, Any]:
        """启用该模板版本：此后该机构此类文书用它生成（已签发的文书不变，各自记录 template_sha256）。"""
        ws = wenshu()
        who = auth.require(TEMPLATE_ACTION)
        version = templates.activate_template(ws, who, code, doctype, sha256)
        return _version_json(code, doctype, version)
