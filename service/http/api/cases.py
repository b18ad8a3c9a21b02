"""/api/v1/cases: the documents of one inspection linked together."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from schemas.fields import PlainText
from service.http import auth
from service.http.api.documents import spreadsheet
from service.http.api.responses import declare_errors, declare_spreadsheets
from service.http.api.schemas import ORG_CODE, DocumentSchema, PageQuerySchema, RequestSchema
from service.http.state import wenshu
from service.workflows.cases import case_detail, create_case, list_cases
from service.workflows.lists import registers

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="案件")


class CaseInputSchema(RequestSchema):
    case_no = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[\w\-〔〕（）()]{1,64}$", error="案件编号为 1–64 个字符（汉字、字母、数字、-）"
        ),
    )
    # printed and shown as typed: control characters and direction overrides are refused
    title = PlainText(required=True, multiline=False, max_length=200)
    org = fields.String(
        validate=ORG_CODE, metadata={"description": "机构代码；省略时为调用者所在机构"}
    )


class CaseListQuerySchema(PageQuerySchema):
    format = fields.String(
        load_default=None,
        validate=validate.OneOf(["xlsx", "csv"], error="导出格式只能是 xlsx 或 csv"),
        metadata={"description": "xlsx 或 csv：案件登记簿（全部案件，含是否齐全、尚缺）"},
    )


class CaseSchema(Schema):
    case_no = fields.String()
    title = fields.String()
    org = fields.String()
    created_at = fields.String()
    documents = fields.Integer()


class CaseListSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    items = fields.List(fields.Nested(CaseSchema))


class MissingSignaturesSchema(Schema):
    id = fields.String(metadata={"description": "文书 id"})
    pages = fields.List(fields.Integer(), metadata={"description": "扫描件页码"})


class CaseDetailSchema(Schema):
    case_no = fields.String()
    title = fields.String()
    org = fields.String()
    documents = fields.List(fields.Nested(DocumentSchema))
    complete = fields.Boolean()
    lacking = fields.List(fields.String())
    signed_copies_missing = fields.List(
        fields.String(), metadata={"description": "尚缺签字原件的检查记录单、询问笔录（文书 id）"}
    )
    signatures_missing = fields.List(
        fields.Nested(MissingSignaturesSchema),
        metadata={"description": "签字原件缺少签名且未经确认说明的页"},
    )


@blp.route("")
class Cases(MethodView):
    @blp.arguments(CaseInputSchema)
    @blp.response(201, CaseSchema)
    @declare_errors(blp, 400, 403, 404, 409, 413, 422)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        who = auth.require("cases.create")
        org = body.get("org") or who.org_code  # a user belongs to one org: that is the default
        auth.require_org(who, org)
        return create_case(
            wenshu(), who, org_code=org, case_no=body["case_no"], title=body["title"]
        )

    @blp.arguments(CaseListQuerySchema, location="query")
    @blp.response(200, CaseListSchema)
    @declare_spreadsheets(blp, "format=xlsx|csv：案件登记簿")
    @declare_errors(blp, 403, 422)
    def get(self, args: dict[str, Any]) -> Any:
        who = auth.current()
        if args["format"]:
            table = registers.case_register(wenshu(), who, args["format"])
            return spreadsheet(table, args["format"])
        return list_cases(wenshu(), who, page=args["page"], per_page=args["per_page"])


@blp.route("/<string:case_no>")
class CaseItem(MethodView):
    @blp.response(200, CaseDetailSchema)
    @declare_errors(blp, 403, 404)
    def get(self, case_no: str) -> dict[str, Any]:
        return case_detail(wenshu(), auth.current(), case_no)
