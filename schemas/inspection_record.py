"""Input of a 检查记录单 (on-site inspection record), DOCTYPES.md §2 and seed 002 附件."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.fields import (
    CreditCode,
    IdCardNumber,
    PhoneNumber,
    PlainText,
    TimeRange,
    WenshuSchema,
    _localise,
)

SUBJECT_KINDS = ("institution", "person")


def line(max_length: int = 200, **kwargs: Any) -> PlainText:
    return PlainText(multiline=False, max_length=max_length, **kwargs)


def people(minimum: int, what: str, **kwargs: Any) -> fields.List:
    """A list of names with at least ``minimum`` entries (the forms say 至少 2 人)."""
    return fields.List(
        line(50, required=True),
        required=True,
        **kwargs,
        validate=[
            validate.Length(min=minimum, error=f"{what}至少 {minimum} 人"),
            validate.Length(max=20, error=f"{what}最多 20 人"),
        ],
    )


def paragraphs(required: bool = False, *, minimum: int = 0) -> fields.List:
    return fields.List(
        PlainText(required=True, max_length=20000),
        required=required,
        validate=[
            validate.Length(min=minimum, error="至少填写一段"),
            validate.Length(max=500, error="段落过多：最多 500 段"),
        ],
    )


class SubjectSchema(WenshuSchema):
    """对象信息: an institution (单位) or a person; the identifier is checked by kind."""

    kind = fields.String(
        required=True,
        validate=validate.OneOf(
            SUBJECT_KINDS, error="对象类别 kind 应为 institution（单位）或 person（个人）"
        ),
    )
    # Search: the name is the inspected institution, or the person inspected; the 法定代表人
    # a person concerned, or for a person the 工作单位 (an institution).
    name = line(
        200,
        required=True,
        metadata={"search": "institution", "search_when": {"kind": {"person": "person"}}},
    )
    category = line(50)  # 类别/性质, or 性别 for a person
    address = line(300)
    legal_rep = line(  # 法定代表人, or 工作单位 for a person
        200, metadata={"search": "person", "search_when": {"kind": {"person": "institution"}}}
    )
    phone = PhoneNumber()
    id_code = fields.String(validate=validate.Length(max=32))  # checked below by kind

    @validates_schema
    def _id_by_kind(self, data: dict[str, Any], **kwargs: Any) -> None:
        code = data.get("id_code")
        if code is None or data.get("kind") not in SUBJECT_KINDS:
            return
        checker = CreditCode() if data["kind"] == "institution" else IdCardNumber()
        _localise(checker)
        try:
            data["id_code"] = checker.deserialize(code)
        except ValidationError as exc:
            raise ValidationError(exc.messages, field_name="id_code") from exc


class InspectionRecordSchema(WenshuSchema):
    """检查记录单. Datetimes are ISO 8601; the end must follow the start."""

    doctype = "inspection_record"

    title = line(200)
    location = line(300, required=True)
    started_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(required=True)
    subject = fields.Nested(SubjectSchema, required=True)
    inspectors = people(2, "检查人员", metadata={"search": "inspector"})
    recorder = line(50, required=True, metadata={"search": "inspector"})
    matter = line(300, required=True)
    findings = paragraphs(required=True, minimum=1)
    witness = line(50, metadata={"search": "person"})

    @validates_schema
    def _when(self, data: dict[str, Any], **kwargs: Any) -> None:
        TimeRange("started_at", "ended_at").check(data)
