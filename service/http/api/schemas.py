"""Request and response shapes of the HTTP API (documented in the OpenAPI spec)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from schemas.fields import PlainText, WenshuSchema
from service.doctypes import DOCTYPES
from service.workflows.signed_copy import FORMS


class RequestSchema(WenshuSchema):
    """Base of every request body and query string: messages in Chinese, as for document input;
    unknown keys in a body are refused (a query string ignores them: ``unknown = EXCLUDE``)."""

    error_messages = {"unknown": "未知字段，请检查拼写", "type": "应为对象（JSON 对象）"}


class ErrorSchema(Schema):
    code = fields.String(required=True)
    status = fields.Integer(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.String())


#: An org code as ``add_org`` accepts it: ASCII letters, digits, - and _ (it ends up in file
#: names and headers, so nothing else may pass).
ORG_CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="机构代码只能由字母、数字、-、_ 组成")


class DocumentInputSchema(RequestSchema):
    type = fields.String(
        required=True,
        validate=validate.Length(max=40),
        metadata={"description": " | ".join(DOCTYPES)},
    )
    org = fields.String(required=True, validate=ORG_CODE)
    case_no = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=64)
    )
    supersedes = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=32)
    )
    data = fields.Dict(
        required=True, metadata={"description": "the type's input, see GET /api/v1/doctypes"}
    )


class PreviewInputSchema(RequestSchema):
    type = fields.String(required=True, validate=validate.Length(max=40))
    org = fields.String(required=True, validate=ORG_CODE)
    data = fields.Dict(required=True)


class LinksSchema(Schema):
    self = fields.String()
    pdf = fields.String()
    docx = fields.String()
    verify = fields.String()


class WithdrawalSchema(Schema):
    reason = fields.String()
    withdrawn_at = fields.String()


class SignedCopyOcrSchema(Schema):
    status = fields.String(metadata={"description": "正在识别 | 已识别 | 识别失败"})
    done = fields.Boolean()
    pdf_sha256 = fields.String(allow_none=True)
    rotated_pages = fields.List(fields.Integer())
    error = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)


class SignedCopyStatusSchema(Schema):
    status = fields.String(metadata={"description": "已归档签字原件 | 待上传签字原件"})
    version = fields.Integer(allow_none=True)
    source = fields.String(metadata={"description": "pdf | images"})
    pages = fields.Integer(allow_none=True)
    expected_pages = fields.Integer()
    page_mismatch = fields.Boolean(allow_none=True)
    sha256 = fields.String(allow_none=True)
    uploaded_at = fields.String(allow_none=True)
    uploaded_by = fields.String(allow_none=True)
    ocr = fields.Nested(SignedCopyOcrSchema, allow_none=True)
    links = fields.Dict(keys=fields.String(), values=fields.String())


class SignedCopyQuerySchema(RequestSchema):
    class Meta:
        unknown = EXCLUDE

    version = fields.Integer(
        load_default=None, validate=validate.Range(min=1, max=2**31 - 1, error="版本号超出范围")
    )
    form = fields.String(
        load_default="archival",
        validate=validate.OneOf(FORMS, error="form 只能是 archival 或 scan"),
        metadata={
            "description": "archival：带文字层的 PDF/A（识别完成前为扫描件）；scan：上传时的扫描件"
        },
    )


class DocumentSchema(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True)
    org = fields.String(required=True)
    case_no = fields.String(allow_none=True)
    wenhao = fields.String(allow_none=True)
    archive_no = fields.String(required=True)
    title = fields.String(required=True)
    sha256 = fields.String(required=True)
    issued_at = fields.String(required=True)
    issued_by = fields.String(required=True)
    page_count = fields.Integer()
    retention = fields.String()
    supersedes = fields.String(allow_none=True)
    superseded_by = fields.List(fields.String())
    status = fields.String()
    withdrawal = fields.Nested(WithdrawalSchema, allow_none=True)
    signed_copy = fields.Nested(
        SignedCopyStatusSchema,
        allow_none=True,
        metadata={"description": "签字原件（检查记录单、询问笔录）；其他类型为 null"},
    )
    links = fields.Nested(LinksSchema)


class PageQuerySchema(RequestSchema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class DocumentListQuerySchema(PageQuerySchema):
    type = fields.String(load_default=None, validate=validate.Length(max=40))
    case_no = fields.String(load_default=None, validate=validate.Length(max=64))
    org = fields.String(load_default=None, validate=ORG_CODE)
    signed_copy = fields.String(
        load_default=None,
        validate=validate.OneOf(["missing"], error="signed_copy 只能是 missing"),
        metadata={"description": "missing：尚缺签字原件的检查记录单和询问笔录"},
    )


class DocumentListSchema(Schema):
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    items = fields.List(fields.Nested(DocumentSchema), required=True)


class SignatureSchema(Schema):
    intact = fields.Boolean()
    valid = fields.Boolean()
    trusted = fields.Boolean()
    signer = fields.String(allow_none=True)
    signed_at = fields.String(allow_none=True)
    covers_whole_file = fields.Boolean()


class VerifySchema(Schema):
    sha256_ok = fields.Boolean(required=True)
    sha256 = fields.String()
    signature = fields.Nested(SignatureSchema, required=True)
    problems = fields.List(fields.String())


class WithdrawInputSchema(RequestSchema):
    reason = PlainText(
        required=True,
        max_length=2000,
        validate=validate.Length(min=2, max=2000, error="请填写作废理由（2–2000 字）"),
    )


class SearchHitSchema(Schema):
    id = fields.String()
    type = fields.String()
    org = fields.String()
    title = fields.String()
    wenhao = fields.String(allow_none=True)
    archive_no = fields.String(allow_none=True)
    case_no = fields.String(allow_none=True)
    issued_at = fields.String()
    snippet = fields.String()
    score = fields.Float()
    status = fields.String()
    from_scan = fields.Boolean(
        metadata={"description": "匹配只出现在签字原件扫描件的识别文字中（摘要取自扫描件）"}
    )


class SearchResultSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    hits = fields.List(fields.Nested(SearchHitSchema))
    facets = fields.Dict()
    indexing = fields.Integer(
        metadata={
            "description": "Documents issued before this search that were not yet searchable "
            "when it ran (the index was busy): ask again in a moment to see them too."
        }
    )


class AuditEventSchema(Schema):
    seq = fields.Integer()
    at = fields.String()
    actor = fields.String()
    org = fields.String(allow_none=True)
    action = fields.String()
    object_id = fields.String(allow_none=True)
    details = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()


class DocTypeSchema(Schema):
    type = fields.String()
    label = fields.String()
    issuers = fields.List(fields.String())
    numbered = fields.Boolean()
    schema = fields.Dict()
    sample = fields.Dict()
