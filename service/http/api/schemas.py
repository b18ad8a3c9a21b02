"""Request and response shapes of the HTTP API (documented in the OpenAPI spec)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from schemas.fields import PlainText, WenshuSchema
from service.doctypes import DOCTYPES
from service.labels import DRAFT_STATES
from service.workflows.lists.documents import SORTS, STATUSES
from service.workflows.signed_copy import FORMS, REVIEW_KINDS


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


REQUIRED = "缺少必填项"
DRAFT_ID = validate.Regexp(r"^[0-9a-f]{1,32}$", error="草稿编号格式不正确")


class DocumentInputSchema(RequestSchema):
    """Either a form (``type``, ``org``, ``data`` …) for a type that needs no 签发, or the
    ``draft_id`` of an approved draft, whose approved version is what is issued."""

    type = fields.String(
        load_default=None,
        validate=validate.Length(max=40),
        metadata={"description": " | ".join(DOCTYPES) + "（按草稿签发时可省略）"},
    )
    org = fields.String(load_default=None, validate=ORG_CODE)
    case_no = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=64)
    )
    supersedes = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=32)
    )
    data = fields.Dict(
        load_default=None,
        metadata={"description": "the type's input, see GET /api/v1/doctypes"},
    )
    draft_id = fields.String(
        load_default=None,
        validate=DRAFT_ID,
        metadata={
            "description": "已签发的草稿：按其签发的版本编号发文（同 POST …/drafts/<id>/issue）"
        },
    )

    @validates_schema
    def _form_or_draft(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("draft_id") is None:
            missing = {k: [REQUIRED] for k in ("type", "org", "data") if data.get(k) is None}
            if missing:
                raise ValidationError(missing)
            return
        extra = {
            k: ["按草稿编号发文时不再提交此项：内容以签发的版本为准"]
            for k in ("data", "case_no", "supersedes")
            if data.get(k) is not None
        }
        if extra:
            raise ValidationError(extra)


class DraftInputSchema(RequestSchema):
    type = fields.String(
        required=True,
        validate=validate.Length(max=40),
        metadata={"description": " | ".join(DOCTYPES)},
    )
    org = fields.String(
        load_default=None, validate=ORG_CODE, metadata={"description": "默认本机构"}
    )
    case_no = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=64)
    )
    supersedes = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=32)
    )
    data = fields.Dict(
        load_default=dict,
        metadata={"description": "草稿内容，可不完整（problems 给出提交时的问题）"},
    )


class DraftUpdateSchema(RequestSchema):
    version = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=2**31 - 1, error="版本号超出范围"),
        metadata={"description": "所修改的版本（应为当前版本，否则 409 stale_version）"},
    )
    data = fields.Dict(required=True)


class DraftCommentSchema(RequestSchema):
    comment = PlainText(
        load_default=None,
        allow_none=True,
        max_length=2000,
        metadata={"description": "意见（可选）"},
    )


class DraftReturnSchema(RequestSchema):
    comment = PlainText(
        required=True,
        max_length=2000,
        validate=validate.Length(min=1, max=2000, error="请填写退回意见（1–2000 字）"),
        metadata={"description": "退回意见（必填）"},
    )


class DraftIssueSchema(RequestSchema):
    """Nothing to send: what is issued is the approved version (an empty body is fine)."""


class DraftListQuerySchema(RequestSchema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    state = fields.String(
        load_default=None,
        validate=validate.OneOf(DRAFT_STATES, error="state 应为 " + " | ".join(DRAFT_STATES)),
    )
    mine = fields.Boolean(load_default=False, metadata={"description": "只列本人起草的"})
    org = fields.String(load_default=None, validate=ORG_CODE)


class DraftHistorySchema(Schema):
    action = fields.String(
        metadata={"description": "create | update | submit | return | approve | withdraw | issue"}
    )
    version = fields.Integer()
    by = fields.String()
    at = fields.String()
    comment = fields.String(allow_none=True)


class DraftApprovalSchema(Schema):
    version = fields.Integer()
    approved_by = fields.String()
    approved_at = fields.String()
    comment = fields.String(allow_none=True)


class DraftDocumentSchema(Schema):
    id = fields.String()
    wenhao = fields.String(allow_none=True)
    archive_no = fields.String()
    data_sha256 = fields.String(allow_none=True, metadata={"description": "所发版本内容的 sha256"})
    links = fields.Dict(keys=fields.String(), values=fields.String())


class DraftSchema(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True)
    org = fields.String(required=True)
    case_no = fields.String(allow_none=True)
    supersedes = fields.String(allow_none=True)
    state = fields.String(required=True, metadata={"description": " | ".join(DRAFT_STATES)})
    needs_approval = fields.Boolean()
    version = fields.Integer(required=True)
    data = fields.Dict(required=True)
    sha256 = fields.String()
    problems = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "字段路径 → 提交签发时会给出的说明；为空则可提交"},
    )
    history = fields.List(fields.Nested(DraftHistorySchema), required=True)
    approval = fields.Nested(DraftApprovalSchema, allow_none=True)
    returns = fields.Integer()
    document = fields.Nested(DraftDocumentSchema, allow_none=True)
    created_by = fields.String(required=True)
    created_at = fields.String()
    updated_at = fields.String(required=True)
    links = fields.Dict(keys=fields.String(), values=fields.String())


class DraftListSchema(Schema):
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    items = fields.List(fields.Nested(DraftSchema), required=True)


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


class OcrProgressSchema(Schema):
    run = fields.Integer()
    pages_done = fields.Integer()
    pages = fields.Integer()


class SignedCopyOcrSchema(Schema):
    status = fields.String(
        metadata={"description": "正在识别 | 已识别 | 识别失败 | 未识别（已有新版本）"}
    )
    done = fields.Boolean()
    pdf_sha256 = fields.String(allow_none=True)
    rotated_pages = fields.List(fields.Integer())
    error = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)
    engine = fields.String(allow_none=True, metadata={"description": "rapidocr | tesseract"})
    run = fields.Integer(allow_none=True, metadata={"description": "第几次识别（重新识别递增）"})
    progress = fields.Nested(
        OcrProgressSchema, allow_none=True, metadata={"description": "正在进行的识别：已读页数"}
    )


class ScanDifferenceSchema(Schema):
    kind = fields.String(metadata={"description": "changed | added | missing"})
    expected = fields.String(metadata={"description": "文书原文"})
    found = fields.String(metadata={"description": "扫描件识别所得"})
    before = fields.String(metadata={"description": "原文中紧邻其前的文字"})


class ScanSignatureSchema(Schema):
    label = fields.String()
    present = fields.Boolean()


class ScanPageSchema(Schema):
    page = fields.Integer(metadata={"description": "扫描件的页码"})
    matches_page = fields.Integer(allow_none=True, metadata={"description": "对应文书的页码"})
    similarity = fields.Float()
    signature_present = fields.Boolean(allow_none=True)
    signatures = fields.List(fields.Nested(ScanSignatureSchema))
    differences = fields.List(fields.Nested(ScanDifferenceSchema))


class ScanReviewSchema(Schema):
    kind = fields.String()
    page = fields.Integer(allow_none=True)
    reason = fields.String()
    reviewed_at = fields.String()


class ScanComparisonSchema(Schema):
    status = fields.String(metadata={"description": "一致 | 有出入 | 比对失败"})
    error = fields.String()
    out_of_order = fields.Boolean()
    missing_pages = fields.List(fields.Integer())
    extra_pages = fields.List(fields.Integer())
    pages = fields.List(fields.Nested(ScanPageSchema))
    missing_signatures = fields.List(fields.Integer())
    unexcused_missing_signatures = fields.List(
        fields.Integer(), metadata={"description": "缺签名且未经确认说明理由的页"}
    )
    confirmed = fields.Boolean(metadata={"description": "差异已由检查人员或审计员确认"})
    reviews = fields.List(fields.Nested(ScanReviewSchema))


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
    comparison = fields.Nested(ScanComparisonSchema, allow_none=True)
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


class ApprovalSchema(Schema):
    draft_id = fields.String()
    approved_by = fields.String(allow_none=True, metadata={"description": "签发人（登录名）"})
    approved_by_name = fields.String(
        allow_none=True, metadata={"description": "签发人姓名（上行文版头所印）"}
    )
    approved_at = fields.String(allow_none=True, metadata={"description": "签发时间"})
    comment = fields.String(allow_none=True, metadata={"description": "签发意见"})
    returns = fields.Integer(metadata={"description": "签发前被退回修改的次数"})


class AttachedFileSchema(Schema):
    n = fields.Integer(required=True, metadata={"description": "附件序号"})
    title = fields.String(required=True)
    sha256 = fields.String(
        metadata={"description": "附入的 PDF（归档文件）；仅有标题或正文的附件无此项"}
    )
    pages = fields.Integer()
    upload_id = fields.String()
    document_id = fields.String()


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
    approval = fields.Nested(
        ApprovalSchema,
        allow_none=True,
        metadata={"description": "所据草稿的签发（签发人、时间、意见）；未经草稿签发的文书为 null"},
    )
    list_title = fields.String(
        metadata={"description": "列表所示标题：检查记录单、询问笔录按机构或当事人与日期区分"}
    )
    institution = fields.String(allow_none=True, metadata={"description": "被检查机构"})
    person = fields.String(allow_none=True, metadata={"description": "当事人、被询问人"})
    seal_sha256 = fields.String(
        allow_none=True,
        metadata={"description": "所盖印章图片（归档文件）的 SHA-256；不盖章的类型为 null"},
    )
    seal_drawn = fields.Boolean(
        allow_none=True,
        metadata={"description": "true：机构未上传印章，所盖为测试用绘制印章"},
    )
    template_sha256 = fields.String(
        allow_none=True,
        metadata={
            "description": "生成本文书所用 DOCX 模板（归档文件）的 SHA-256：机构启用的模板版本或系统默认模板；"
            "记录模板之前签发的文书为 null"
        },
    )
    attachments = fields.List(fields.Nested(AttachedFileSchema))
    links = fields.Nested(LinksSchema)


class UploadSchema(Schema):
    id = fields.String(required=True)
    sha256 = fields.String(required=True, metadata={"description": "所上传文件的 SHA-256"})
    media_type = fields.String(required=True)
    pages = fields.Integer(required=True)
    pdf_sha256 = fields.String(metadata={"description": "附入公文的 PDF（DOCX 转换所得）"})
    size = fields.Integer()
    filename = fields.String()
    org = fields.String()
    links = fields.Dict(keys=fields.String(), values=fields.String())


class SealSchema(Schema):
    sha256 = fields.String(required=True)


MULTIPART_FILE = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        }
    },
}


class PageQuerySchema(RequestSchema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class DocumentListQuerySchema(PageQuerySchema):
    q = fields.String(
        load_default="",
        validate=validate.Length(max=500, error="关键词最多 500 字"),
        metadata={"description": "关键词（与检索相同：正文、标题、文号、档号）"},
    )
    type = fields.String(load_default=None, validate=validate.Length(max=40))
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(list(STATUSES), error="状态只能是 " + "、".join(STATUSES)),
        metadata={
            "description": "valid 有效 · withdrawn 已作废 · superseded 已更正 · "
            "signed_copy_missing 待上传签字原件"
        },
    )
    case_no = fields.String(load_default=None, validate=validate.Length(max=64))
    institution = fields.String(
        load_default=None,
        validate=validate.Length(max=100, error="被检查机构最多 100 字"),
        metadata={"description": "被检查机构名称（可输入名称的一部分）"},
    )
    person = fields.String(
        load_default=None,
        validate=validate.Length(max=50, error="当事人姓名最多 50 字"),
        metadata={"description": "当事人、被询问人姓名"},
    )
    date_from = fields.Date(
        load_default=None, error_messages={"invalid": "起始日期应为 YYYY-MM-DD"}
    )
    date_to = fields.Date(load_default=None, error_messages={"invalid": "截止日期应为 YYYY-MM-DD"})
    sort = fields.String(
        load_default="-issued_at",
        validate=validate.OneOf(list(SORTS), error="排序只能是 issued_at 或 -issued_at"),
        metadata={"description": "-issued_at 签发时间新→旧（默认）· issued_at 旧→新"},
    )
    org = fields.String(load_default=None, validate=ORG_CODE)
    signed_copy = fields.String(
        load_default=None,
        validate=validate.OneOf(["missing"], error="signed_copy 只能是 missing"),
        metadata={"description": "missing：尚缺签字原件的检查记录单和询问笔录"},
    )
    format = fields.String(
        load_default=None,
        validate=validate.OneOf(["xlsx", "csv"], error="导出格式只能是 xlsx 或 csv"),
        metadata={"description": "xlsx 或 csv：按筛选条件导出全部（不分页），身份证号打码"},
    )

    @validates_schema
    def _dates_in_order(self, data: dict[str, Any], **_kw: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError({"date_to": ["截止日期不能早于起始日期"]})


class DispatchQuerySchema(RequestSchema):
    class Meta:
        unknown = EXCLUDE

    org = fields.String(load_default=None, validate=ORG_CODE)
    year = fields.Integer(
        required=True,
        validate=validate.Range(min=2000, max=2100, error="年度应在 2000–2100 之间"),
        error_messages={"required": "请填写年度 year", "invalid": "年度应为四位数字"},
    )
    format = fields.String(
        load_default=None,
        validate=validate.OneOf(["xlsx", "csv"], error="导出格式只能是 xlsx 或 csv"),
    )


class DispatchLineSchema(Schema):
    n = fields.Integer(required=True)
    wenhao = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "有效、已作废、已更正、空号…"})
    document_id = fields.String(allow_none=True)
    title = fields.String()
    approver = fields.String(metadata={"description": "签发人"})
    made_on = fields.String(allow_none=True, metadata={"description": "成文日期"})
    secrecy = fields.String(metadata={"description": "密级"})
    addressees = fields.String(metadata={"description": "主送机关"})
    copies = fields.Integer(allow_none=True, metadata={"description": "份数（档案未登记时为空）"})
    pages = fields.Integer(allow_none=True)
    archive_no = fields.String()
    note = fields.String(metadata={"description": "注销或作废的理由"})


class DispatchRegisterSchema(Schema):
    org = fields.String(required=True)
    org_name = fields.String(required=True)
    year = fields.Integer(required=True)
    zihao = fields.List(fields.String())
    lines = fields.List(fields.Nested(DispatchLineSchema), required=True)


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


class ScanReviewInputSchema(RequestSchema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(REVIEW_KINDS, error="kind 只能是 differences 或 signature"),
        metadata={"description": "differences：差异已核对；signature：某页确无签名（须说明理由）"},
    )
    page = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=1000, error="页码超出范围"),
        metadata={"description": "kind=signature 时：缺少签名的扫描页"},
    )
    reason = PlainText(
        required=True,
        max_length=2000,
        validate=validate.Length(min=2, max=2000, error="请填写说明（2–2000 字）"),
    )


class OcrAgainSchema(Schema):
    run = fields.Integer()


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
    total = fields.Integer(
        metadata={
            "description": "Matching documents: exact up to 10,000; beyond, 10,000 as a lower "
            "bound (see total_relation)."
        }
    )
    total_relation = fields.String(
        validate=validate.OneOf(["eq", "gte"]),
        metadata={
            "description": '"eq": total is exact; "gte": at least total documents match (the '
            "count stops at 10,000, as Elasticsearch's track_total_hits; facets then count "
            "those first 10,000 matches only)."
        },
    )
    page = fields.Integer()
    per_page = fields.Integer()
    hits = fields.List(fields.Nested(SearchHitSchema))
    facets = fields.Dict(
        metadata={"description": "Counts by type, org and year over the matches counted for total."}
    )
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
    needs_approval = fields.Boolean(
        metadata={"description": "须经签发人签发后方可编号发文（先拟稿、提交签发）"}
    )
    schema = fields.Dict()
    sample = fields.Dict()
