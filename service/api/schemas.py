"""Request and response shapes of the HTTP API (documented in the OpenAPI spec)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate


class ErrorSchema(Schema):
    code = fields.String(required=True)
    status = fields.Integer(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.String())


class DocumentInputSchema(Schema):
    type = fields.String(
        required=True,
        metadata={
            "description": "notice | inspection_record | interview_transcript | inspection_report"
        },
    )
    org = fields.String(required=True, validate=validate.Length(min=1, max=32))
    case_no = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=64)
    )
    supersedes = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=32)
    )
    data = fields.Dict(
        required=True, metadata={"description": "the type's input, see GET /api/v1/doctypes"}
    )


class PreviewInputSchema(Schema):
    type = fields.String(required=True)
    org = fields.String(required=True, validate=validate.Length(min=1, max=32))
    data = fields.Dict(required=True)


class LinksSchema(Schema):
    self = fields.String()
    pdf = fields.String()
    docx = fields.String()
    verify = fields.String()


class WithdrawalSchema(Schema):
    reason = fields.String()
    withdrawn_at = fields.String()


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
    links = fields.Nested(LinksSchema)


class PageQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class DocumentListQuerySchema(PageQuerySchema):
    type = fields.String(load_default=None)
    case_no = fields.String(load_default=None)
    org = fields.String(load_default=None)


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


class WithdrawInputSchema(Schema):
    reason = fields.String(
        required=True,
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


class SearchResultSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    hits = fields.List(fields.Nested(SearchHitSchema))
    facets = fields.Dict()



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
