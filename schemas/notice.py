"""Input of a 通知 (notice): a numbered official document in the GB/T 9704-2012 red-header
format. Keys are the API contract of DOCTYPES.md §1.

The 发文字号 is not here: it is allocated at issue. Heading numbers (一、（一）1.（1）) are
not typed either; the renderer generates them, so a number pasted in front of a heading
("一、工作目标") is removed here rather than printed twice.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.fields import EmailAddress, PhoneNumber, PlainText, WenshuSchema

__all__ = [
    "AttachmentSchema",
    "BlockSchema",
    "ContactSchema",
    "DIRECTIONS",
    "NoticeSchema",
    "SECRECY_LEVELS",
    "URGENCIES",
]

URGENCIES = ("特急", "加急")
DIRECTIONS = ("下行文", "平行文", "上行文")
"""行文方向. Only a 上行文 (to a higher authority) prints its 签发人 (GB/T 9704 7.2.4)."""
SECRECY_LEVELS = ("秘密", "机密", "绝密")
HEADING_LEVELS = (1, 2, 3, 4)

# A number typed in front of a heading: 一、 （一） (一) 1. 1、 １． （1） (1)
_PASTED_NUMBER = re.compile(
    r"^(?:[一二三四五六七八九十百零〇]+[、.．]"
    r"|[（(][一二三四五六七八九十百零〇]+[）)]"
    r"|\d+[.．、](?!\d)"
    r"|[（(]\d+[）)])\s*"
)
_COPY_NO = re.compile(r"[0-9]{6}\Z")
_SECRECY_TERM = re.compile(r"(?:\d+(?:年|个月|月|日|天)|长期)")
_DATE_RANGE = validate.Range(
    min=dt.date(1950, 1, 1),
    max=dt.date(2099, 12, 31),
    error="日期超出合理范围（1950–2099 年），请核对",
)


def _strip_pasted_number(text: str) -> str:
    return _PASTED_NUMBER.sub("", text, count=1).strip()


def _strip_parentheses(text: str) -> str:
    """附注 is printed in parentheses; drop the ones a user typed so they are not doubled."""
    if len(text) >= 2 and text[0] in "（(" and text[-1] in "）)":
        return text[1:-1].strip()
    return text


def _strip_trailing_punctuation(text: str) -> str:
    """主送机关 are joined with "，" and the line ends with "："; drop typed separators."""
    return text.rstrip("，,：:、；;。 ")


def _line(max_length: int, **kwargs: Any) -> PlainText:
    return PlainText(multiline=False, max_length=max_length, **kwargs)


class BlockSchema(WenshuSchema):
    """One block of 正文: ``{"heading": …, "level": 1–4}`` or ``{"text": …}``.

    A heading may also carry ``text``: it is then run into the same paragraph after the
    heading, as in "（一）提高站位，加强领导。各县市区…" (the heading keeps its own font).
    A text block may hold several paragraphs separated by newlines.
    """

    heading = _line(1000, post_load=_strip_pasted_number)
    level = fields.Integer(
        strict=True,
        validate=validate.OneOf(HEADING_LEVELS, error="层级 level 应为 1、2、3 或 4"),
    )
    text = PlainText(max_length=20000)

    @validates_schema
    def _one_kind(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "heading" in data:
            if not data["heading"]:
                raise ValidationError("标题不能为空", field_name="heading")
            if "level" not in data:
                raise ValidationError("标题须给出层级 level（1–4）", field_name="level")
        elif "text" in data:
            if "level" in data:
                raise ValidationError("只有标题（heading）才有层级 level", field_name="level")
            if not data["text"]:
                raise ValidationError("正文段落不能为空", field_name="text")
        else:
            raise ValidationError(
                "每一块须是标题 {heading, level} 或正文 {text}", field_name="text"
            )


_FILE_ID = validate.Regexp(r"^[0-9a-f]{1,32}$", error="编号格式不正确")


class AttachmentSchema(WenshuSchema):
    """An attachment: listed under the body as 附件：1. …. Besides its title it holds at most
    one of: ``body`` (typed text, printed after the notice on a new page headed 附件1),
    ``upload_id`` (a file uploaded by ``POST /api/v1/uploads``) or ``document_id`` (another
    document issued by the same org); the pages of a file or document are appended after the
    notice, the first headed 附件N. A title alone is only listed."""

    title = _line(200, required=True)
    body = fields.List(fields.Nested(BlockSchema))
    upload_id = fields.String(validate=_FILE_ID, metadata={"description": "上传文件的编号"})
    document_id = fields.String(validate=_FILE_ID, metadata={"description": "本机关文书的编号"})

    @validates_schema
    def _one_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [k for k in ("body", "upload_id", "document_id") if data.get(k)]
        if len(given) > 1:
            message = "附件正文、上传文件、本机关文书只能选一种"
            raise ValidationError({k: [message] for k in given})


class ContactSchema(WenshuSchema):
    """联系人 printed at the end of the body."""

    name = _line(50, required=True, metadata={"search": "person"})
    phone = PhoneNumber()
    email = EmailAddress()


class NoticeSchema(WenshuSchema):
    """通知. ``load()`` returns a plain dict; dates are ``datetime.date``."""

    doctype = "notice"

    title = PlainText(required=True, max_length=200)
    addressees = fields.List(
        _line(200, required=True, post_load=_strip_trailing_punctuation),
        required=True,
        validate=validate.Length(min=1, error="至少填写一个主送机关"),
    )
    body = fields.List(
        fields.Nested(BlockSchema),
        required=True,
        validate=validate.Length(min=1, error="正文至少要有一段"),
    )
    attachments = fields.List(
        fields.Nested(AttachmentSchema),
        validate=validate.Length(max=50, error="附件最多 50 个"),
    )
    contact = fields.Nested(ContactSchema)
    direction = _line(
        10, validate=validate.OneOf(DIRECTIONS, error="行文方向只能是“下行文”“平行文”或“上行文”")
    )
    signer = _line(100, metadata={"search": "person"})
    copy_no = _line(
        6,
        validate=validate.Regexp(_COPY_NO, error="份号为 6 位阿拉伯数字，如 000001"),
    )
    """份号 (GB/T 9704-2012 §7.2.1): the copy's number, six digits, printed first in the 版头;
    a 涉密 notice must carry it (党政机关公文处理工作条例 第九条)."""
    urgency = _line(10, validate=validate.OneOf(URGENCIES, error="紧急程度只能是“特急”或“加急”"))
    secrecy = _line(
        10,
        validate=validate.OneOf(SECRECY_LEVELS, error="密级只能是“秘密”“机密”或“绝密”"),
    )
    secrecy_term = _line(
        10,
        validate=validate.Regexp(_SECRECY_TERM, error="保密期限写作“1年”“6个月”或“长期”"),
    )
    date = fields.Date(validate=_DATE_RANGE)
    note = PlainText(max_length=500, post_load=_strip_parentheses)
    cc = fields.List(_line(200, required=True, post_load=_strip_trailing_punctuation))
    printed_by = _line(100)
    print_date = fields.Date(validate=_DATE_RANGE)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("signer") and data.get("direction") in ("下行文", "平行文"):
            errors["signer"] = ["只有上行文标注签发人：请将行文方向选为“上行文”，或删去签发人"]
        if data.get("secrecy_term") and not data.get("secrecy"):
            errors["secrecy_term"] = ["填写保密期限时须同时填写密级 secrecy"]
        if data.get("secrecy") and not data.get("copy_no"):
            errors["copy_no"] = ["涉密公文须标注份号（6 位阿拉伯数字，如 000001）"]
        made, printed = data.get("date"), data.get("print_date")
        if made and printed and printed < made:
            errors["print_date"] = ["印发日期不应早于成文日期"]
        if errors:
            raise ValidationError(errors)


def is_upward(data: dict[str, Any]) -> bool:
    """A 上行文: so marked, or (input from before ``direction`` existed) carrying a 签发人."""
    return (data.get("direction") or ("上行文" if data.get("signer") else "下行文")) == "上行文"
