"""Shared marshmallow pieces: identifier checks, plain-text fields, time ranges, Chinese messages.

Every document schema derives from :class:`WenshuSchema`, so users get errors in Chinese
that say what to fix ("缺少必填项", "身份证号校验位错误"), and unknown keys are refused.
Identifier checks follow REFERENCE.md: 身份证号 per GB 11643-1999, 统一社会信用代码 per
GB 32100-2015. The pure functions (``is_valid_id_card`` …) are for code that is not a schema,
e.g. the search index masking identifiers in hits.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields
from marshmallow.types import ErrorMessages

__all__ = [
    "CreditCode",
    "EmailAddress",
    "IdCardNumber",
    "PhoneNumber",
    "PlainText",
    "TimeRange",
    "WenshuSchema",
    "credit_code_problem",
    "id_card_problem",
    "is_valid_credit_code",
    "is_valid_id_card",
    "mask_identifier",
]

# --------------------------------------------------------------------------- identifiers

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")  # ASCII only: ``\d`` takes ٣ and ३ too

_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I O S V Z
_CREDIT_VALUE = {c: i for i, c in enumerate(_CREDIT_ALPHABET)}
_CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1 3 9 27 19 26 16 17 20 29 …

_ID_MESSAGES: ErrorMessages = {
    "length": "身份证号应为 18 位，现为 {length} 位",
    "format": "身份证号格式错误：前 17 位应为数字，最后一位为数字或 X",
    "digits": "身份证号只能用半角数字 0–9（末位可为 X），第 {position} 位“{char}”不是",
    "birth_date": "身份证号中的出生日期（第 7–14 位）不是有效日期",
    "checksum": "身份证号校验位错误，请核对号码",
}
_CREDIT_MESSAGES: ErrorMessages = {
    "length": "统一社会信用代码应为 18 位，现为 {length} 位",
    "charset": "统一社会信用代码含有不允许的字符“{char}”（只用半角数字 0–9 和大写字母，不用 I、O、S、V、Z）",
    "checksum": "统一社会信用代码校验位错误，请核对代码",
}


def id_card_problem(value: str, *, today: dt.date | None = None) -> str | None:
    """Return why ``value`` is not a valid 18-digit 身份证号 (a message key), or None.

    Lower-case ``x`` is accepted; digits are ASCII only (``digits``: Arabic-Indic ``٣`` or
    Devanagari ``३`` are digits to Python's ``int`` yet no ID is written with them, and text
    masking would not know them as an ID). The birth date (positions 7–14) must be a real date,
    not before 1900 and not in the future.
    """
    s = value.upper()
    if len(s) != 18:
        return "length"
    if _foreign_digit(s) is not None:
        return "digits"
    if not _ID_SHAPE.fullmatch(s):
        return "format"
    try:
        born = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return "birth_date"
    if born.year < 1900 or born > (today or dt.date.today()):
        return "birth_date"
    total = sum(int(d) * w for d, w in zip(s[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != s[17]:
        return "checksum"
    return None


def _foreign_digit(value: str) -> int | None:
    """The index of the first decimal digit that is not ASCII 0–9, or None."""
    return next((i for i, ch in enumerate(value) if ch.isdecimal() and not ch.isascii()), None)


def credit_code_problem(value: str) -> str | None:
    """Return why ``value`` is not a valid 统一社会信用代码 (a message key), or None."""
    if len(value) != 18:
        return "length"
    for ch in value:
        if ch not in _CREDIT_VALUE:
            return "charset"
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(value[:17], _CREDIT_WEIGHTS, strict=True))
    check = (31 - total % 31) % 31
    if _CREDIT_ALPHABET[check] != value[17]:
        return "checksum"
    return None


def is_valid_id_card(value: str) -> bool:
    """True when ``value`` is a valid 身份证号 (GB 11643-1999, lower-case x accepted)."""
    return isinstance(value, str) and id_card_problem(value) is None


def is_valid_credit_code(value: str) -> bool:
    """True when ``value`` is a valid 统一社会信用代码 (GB 32100-2015)."""
    return isinstance(value, str) and credit_code_problem(value) is None


def mask_identifier(value: str) -> str:
    """Mask an identifier for lists and search hits: keep the first 6 and last 4.

    ``11010519491231002X`` → ``110105********002X``. A value of 10 characters or fewer would
    show almost everything that way, so it is masked completely.
    """
    s = value.strip()
    if len(s) <= 10:
        return "*" * len(s)
    return s[:6] + "*" * (len(s) - 10) + s[-4:]


# --------------------------------------------------------------------------- text

# Characters that can never be typed on purpose and that break XML or spoof the reading order.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _bad_char(ch: str, *, multiline: bool) -> bool:
    if ch == "\n":
        return not multiline
    if ch == "\t":
        return False
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Cs"):
        return True
    cp = ord(ch)
    if (cp & 0xFFFE) == 0xFFFE or 0xFDD0 <= cp <= 0xFDEF:  # noncharacters
        return True
    return ch in _BIDI_CONTROLS


class PlainText(fields.String):
    """User text that is printed literally.

    Strips surrounding whitespace (full-width spaces too, so pasted 「　　」 indents go),
    normalises line ends to ``\\n`` and to NFC, refuses control characters other than newline
    and tab, refuses newlines where ``multiline`` is False, and refuses an empty value when
    the field is required. Braces, ``<`` and ``&`` are ordinary characters here: rendering
    never treats user text as a template.
    """

    default_error_messages = {
        "blank": "缺少必填项",
        "control": "第 {position} 个字符是不可见的控制字符（{codepoint}），请删去",
        "newline": "这一项不能换行",
        "too_long": "过长：最多 {max} 个字，现有 {length} 个字",
    }

    def __init__(self, *, multiline: bool = True, max_length: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.multiline = multiline
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
        text = text.strip()
        if self.multiline:
            text = "\n".join(line.rstrip() for line in text.split("\n"))
        for i, ch in enumerate(text, start=1):
            if _bad_char(ch, multiline=self.multiline):
                if ch == "\n":
                    raise self.make_error("newline")
                raise self.make_error("control", position=i, codepoint=f"U+{ord(ch):04X}")
        if not text and self.required:
            raise self.make_error("blank")
        if self.max_length is not None and len(text) > self.max_length:
            raise self.make_error("too_long", max=self.max_length, length=len(text))
        return text


class _Identifier(fields.String):
    """An identifier typed by a person: full-width digits and letters folded (NFKC),
    surrounding spaces dropped, upper-cased, then checked."""

    def _normalise(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        return unicodedata.normalize("NFKC", text).strip().upper()


class IdCardNumber(_Identifier):
    """身份证号 (GB 11643-1999): 17 digits, a check character, a real birth date.
    Stored upper-case (``x`` → ``X``)."""

    default_error_messages = _ID_MESSAGES

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        s = self._normalise(value, attr, data, **kwargs)
        problem = id_card_problem(s)
        if problem:
            at = _foreign_digit(s) or 0
            raise self.make_error(problem, length=len(s), position=at + 1, char=s[at : at + 1])
        return s


class CreditCode(_Identifier):
    """统一社会信用代码 (GB 32100-2015): 18 characters from 0-9 and A-Y without I O S V Z,
    the last a check character."""

    default_error_messages = _CREDIT_MESSAGES

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        s = self._normalise(value, attr, data, **kwargs)
        problem = credit_code_problem(s)
        if problem:
            bad = next((c for c in s if c not in _CREDIT_VALUE), "")
            raise self.make_error(problem, length=len(s), char=bad)
        return s


_PHONE = re.compile(r"\+?[\d\s\-()（）]{5,24}(?:(?:转|-|ext\.?)\s*\d{1,6})?")


class PhoneNumber(PlainText):
    """A telephone number as people write it: 18535835221, 0358-8221234, (0358)8221234转801."""

    default_error_messages = {
        "phone": "电话号码格式不正确，例如 18535835221 或 0358-8221234",
    }

    def __init__(self, **kwargs: Any):
        super().__init__(multiline=False, max_length=40, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = unicodedata.normalize("NFKC", super()._deserialize(value, attr, data, **kwargs))
        digits = sum(ch.isdigit() for ch in text)
        if text and (not _PHONE.fullmatch(text) or digits < 5):
            raise self.make_error("phone")
        return text


class EmailAddress(fields.Email):
    """An e-mail address; surrounding spaces are dropped before the check."""

    default_error_messages = {"invalid": "电子邮箱格式不正确，例如 llybjgk@163.com"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip()
        return super()._deserialize(value, attr, data, **kwargs)


# --------------------------------------------------------------------------- time ranges


@dataclass(frozen=True)
class TimeRange:
    """Checks that ``data[end]`` comes after ``data[start]``; use it in a schema validator::

        _when = TimeRange("started_at", "ended_at")

        @validates_schema
        def _check_when(self, data, **kwargs):
            self._when.check(data)

    The error is attached to the end field, so the path reads ``data.ended_at``. Missing
    values are left to the fields' own ``required`` checks.
    """

    start: str = "started_at"
    end: str = "ended_at"
    allow_equal: bool = False
    message: str = "结束时间应晚于开始时间"

    def check(self, data: Mapping[str, Any]) -> None:
        begin, finish = data.get(self.start), data.get(self.end)
        if begin is None or finish is None:
            return
        try:
            ordered = begin <= finish if self.allow_equal else begin < finish
        except TypeError as exc:  # aware vs naive datetimes
            raise ValidationError(
                "开始和结束时间须同时带时区或同时不带时区", field_name=self.end
            ) from exc
        if not ordered:
            raise ValidationError(self.message, field_name=self.end)

    __call__ = check


# --------------------------------------------------------------------------- base schema

# Chinese text for marshmallow's built-in messages, by field class (most general first).
_ZH_MESSAGES: tuple[tuple[type, dict[str, str]], ...] = (
    (
        fields.Field,
        {"required": "缺少必填项", "null": "不能为空（null）", "validator_failed": "取值无效"},
    ),
    (fields.String, {"invalid": "应为文本", "invalid_utf8": "不是有效的 UTF-8 文本"}),
    (fields.Number, {"invalid": "应为数字", "too_large": "数值过大"}),
    (fields.Integer, {"invalid": "应为整数"}),
    (fields.Float, {"special": "不能是 NaN 或无穷大"}),
    (fields.Decimal, {"special": "不能是 NaN 或无穷大"}),
    (fields.Boolean, {"invalid": "应为 true 或 false"}),
    (fields.List, {"invalid": "应为列表（JSON 数组）"}),
    (fields.Tuple, {"invalid": "应为列表（JSON 数组）"}),
    (fields.Nested, {"type": "应为对象（JSON 对象）"}),
    (fields.Mapping, {"invalid": "应为对象（JSON 对象）"}),
    (fields.Date, {"invalid": "日期格式应为 YYYY-MM-DD，例如 2021-04-23"}),
    (
        fields.DateTime,
        {
            "invalid": "时间格式应为 ISO 8601，例如 2021-04-23T09:05",
            "invalid_awareness": "时间的时区写法不正确",
        },
    ),
    (fields.Time, {"invalid": "时间格式应为 HH:MM，例如 09:05"}),
    (fields.Email, {"invalid": "电子邮箱格式不正确"}),
    (fields.Url, {"invalid": "网址格式不正确"}),
)


def _localise(field: fields.Field) -> None:
    """Replace marshmallow's English default messages on ``field`` (and on the fields it
    contains) with Chinese ones. Messages a schema author set explicitly are kept."""
    english: dict[str, Any] = {}
    for cls in reversed(type(field).__mro__):
        if cls.__module__.startswith("marshmallow."):
            english.update(getattr(cls, "default_error_messages", {}))
    chinese: dict[str, str] = {}
    for cls, messages in _ZH_MESSAGES:
        if isinstance(field, cls):
            chinese.update(messages)
    for key, text in list(field.error_messages.items()):
        if key in chinese and text == english.get(key):
            field.error_messages[key] = chinese[key]
    inner = [getattr(field, "inner", None), getattr(field, "value_field", None)]
    inner += list(getattr(field, "tuple_fields", ()) or ())
    for sub in inner:
        if isinstance(sub, fields.Field):
            _localise(sub)


#: What search makes of a field (``metadata={"search": role}``, read by
#: ``archive/search/extract.py``): the names of people concerned, of inspected institutions,
#: of the inspectors, interviewers and recorders, and the amounts a report adds up.
#: ``metadata={"search_when": {"kind": {"person": "person"}}}`` next to it changes the role
#: by the value of a sibling field (a record's subject is an institution or a person).
SEARCH_ROLES = ("person", "institution", "inspector", "amount")


class WenshuSchema(Schema):
    """Base of every input schema: unknown keys are errors, messages are in Chinese.

    ``load()`` returns a plain dict; errors are a marshmallow ``ValidationError`` whose
    ``messages`` nest by field name and list index (``{"body": {0: {"level": [...]}}}``).
    """

    doctype: ClassVar[str | None] = None
    """The code of the document type whose whole input this is (``schemas/<code>.py``);
    None for the parts nested in it. Lets the layers below the service find a type's schema
    by the code stored on a document (:data:`schemas.INPUT_SCHEMAS`)."""

    error_messages = {
        "unknown": "未知字段，请检查拼写（此类文书没有这一项）",
        "type": "应为对象（JSON 对象）",
    }

    class Meta:
        unknown = RAISE

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        _localise(field_obj)


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages → ``{"data.body.0.level": "…"}``: the field paths a 422
    names, for the API's answers and a draft's ``problems`` alike."""
    out: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_messages(value, path))
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        out[prefix or "_"] = "；".join(messages)
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            out.update(flatten_messages(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or "_"] = str(messages)
    return out
