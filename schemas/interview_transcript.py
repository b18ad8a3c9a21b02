"""Input of a 询问笔录 (interview transcript), DOCTYPES.md §3 and seed 002 附件."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate, validates_schema

from schemas.fields import IdCardNumber, PhoneNumber, PlainText, TimeRange, WenshuSchema
from schemas.inspection_record import line, people


class IntervieweeSchema(WenshuSchema):
    name = line(50, required=True, metadata={"search": "person"})
    gender = line(4, validate=validate.OneOf(("男", "女"), error="性别应为“男”或“女”"))
    address = line(300)
    position = line(100)
    phone = PhoneNumber()
    id_number = IdCardNumber()


class QASchema(WenshuSchema):
    q = PlainText(required=True, max_length=5000)
    a = PlainText(required=True, max_length=20000)


class InterviewTranscriptSchema(WenshuSchema):
    """询问笔录: fewer than two interviewers gives the interviewee the right to refuse."""

    doctype = "interview_transcript"

    title = line(200)
    location = line(300, required=True)
    started_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(required=True)
    interviewee = fields.Nested(IntervieweeSchema, required=True)
    interviewers = people(2, "承办人", metadata={"search": "inspector"})
    recorder = line(50, required=True, metadata={"search": "inspector"})
    matter = line(300, required=True)
    qa = fields.List(
        fields.Nested(QASchema),
        required=True,
        validate=validate.Length(min=1, max=500, error="至少一组问答"),
    )

    @validates_schema
    def _when(self, data: dict[str, Any], **kwargs: Any) -> None:
        TimeRange("started_at", "ended_at").check(data)
