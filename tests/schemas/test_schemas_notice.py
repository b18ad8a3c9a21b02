"""Identifier checks, shared fields and the notice schema: what a user typing input sees."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from marshmallow import ValidationError, fields, validates_schema

from schemas.fields import (
    CreditCode,
    IdCardNumber,
    PhoneNumber,
    PlainText,
    TimeRange,
    WenshuSchema,
    is_valid_credit_code,
    is_valid_id_card,
    mask_identifier,
)
from schemas.notice import NoticeSchema
from tests.support import ROOT


def sample() -> dict[str, Any]:
    return json.loads((ROOT / "doc_templates" / "notice.sample.json").read_text(encoding="utf-8"))


def paths(messages: Any, prefix: str = "data") -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages into the API's dotted paths."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.update(paths(value, f"{prefix}.{key}"))
    else:
        out[prefix] = list(messages)
    return out


def load_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        NoticeSchema().load(data)
    return paths(info.value.messages)


# ----------------------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    "number", ["11010519491231002X", "34052419800101001X", "11010519491231002x"]
)
def test_valid_id_cards(number: str) -> None:
    assert is_valid_id_card(number)


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check digit
        "11010519491231002",  # 17 characters
        "1101051949123100211",  # 19 characters
        "11010519491331002X",  # month 13
        "11010520990101002X",  # born in the future
        "1101051949123100AX",  # letters in the body
        "",
    ],
)
def test_invalid_id_cards(number: str) -> None:
    assert not is_valid_id_card(number)


def test_valid_credit_code() -> None:
    assert is_valid_credit_code("91110000802100433B")


@pytest.mark.parametrize(
    "code",
    ["91110000802100433C", "9111000080210043", "91110000802100433I", "91110000802100433b0", ""],
)
def test_invalid_credit_codes(code: str) -> None:
    assert not is_valid_credit_code(code)


def test_mask_identifier_keeps_first_six_and_last_four() -> None:
    assert mask_identifier("11010519491231002X") == "110105********002X"
    assert mask_identifier("91110000802100433B") == "911100********433B"
    assert mask_identifier("12345") == "*****"


class Person(WenshuSchema):
    id_number = IdCardNumber(required=True)
    id_code = CreditCode()
    phone = PhoneNumber()
    remark = PlainText(multiline=False)


def test_identifier_fields_normalise_what_people_type() -> None:
    loaded = Person().load(
        {"id_number": " １１０１０５１９４９１２３１００２ｘ ", "id_code": "91110000802100433b"}
    )
    assert loaded == {"id_number": "11010519491231002X", "id_code": "91110000802100433B"}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"id_number": "110105194912310021"}, "id_number", "身份证号校验位错误"),
        ({"id_number": "1101051949"}, "id_number", "身份证号应为 18 位"),
        ({"id_number": "11010519491331002X"}, "id_number", "出生日期"),
        (
            {"id_number": "11010519491231002X", "id_code": "91110000802100433C"},
            "id_code",
            "校验位错误",
        ),
        ({"id_number": "11010519491231002X", "id_code": "9111000080210O433B"}, "id_code", "“O”"),
        ({"id_number": "11010519491231002X", "phone": "call me"}, "phone", "电话号码格式不正确"),
        ({}, "id_number", "缺少必填项"),
        ({"id_number": 42}, "id_number", "应为文本"),
        ({"id_number": "11010519491231002X", "remark": "a\nb"}, "remark", "不能换行"),
        ({"id_number": "11010519491231002X", "remark": "a\x00b"}, "remark", "U+0000"),
        ({"id_number": "11010519491231002X", "nickname": "x"}, "nickname", "未知字段"),
    ],
)
def test_field_errors_are_chinese_and_name_the_field(
    data: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Person().load(data)
    assert message in " ".join(info.value.messages[field])


def test_plain_text_strips_and_keeps_braces_and_markup() -> None:
    class Note(WenshuSchema):
        text = PlainText(required=True)

    assert Note().load({"text": "　　{{ 7*7 }} <b>& \r\n{% if %}  "}) == {
        "text": "{{ 7*7 }} <b>&\n{% if %}"
    }
    with pytest.raises(ValidationError) as info:
        Note().load({"text": " \u3000 "})
    assert info.value.messages == {"text": ["缺少必填项"]}


class Visit(WenshuSchema):
    started_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(required=True)
    _when = TimeRange("started_at", "ended_at")

    @validates_schema
    def _check_when(self, data: dict[str, Any], **kwargs: Any) -> None:
        self._when.check(data)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2021-05-11T09:00", "2021-05-11T08:59", "结束时间应晚于开始时间"),
        ("2021-05-11T09:00", "2021-05-11T09:00", "结束时间应晚于开始时间"),
        ("2021-05-11T09:00+08:00", "2021-05-11T10:00", "时区"),
    ],
)
def test_time_range_rejects_end_not_after_start(start: str, end: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Visit().load({"started_at": start, "ended_at": end})
    assert message in info.value.messages["ended_at"][0]


def test_time_range_accepts_ordered_times_and_equal_days_when_allowed() -> None:
    loaded = Visit().load({"started_at": "2021-05-11T09:00", "ended_at": "2021-05-11T11:30"})
    assert loaded["ended_at"] - loaded["started_at"] == dt.timedelta(hours=2, minutes=30)
    TimeRange("started_on", "ended_on", allow_equal=True).check(
        {"started_on": dt.date(2021, 5, 11), "ended_on": dt.date(2021, 5, 11)}
    )


# ----------------------------------------------------------------------------- notice


def test_sample_loads_to_plain_dict_with_dates() -> None:
    loaded = NoticeSchema().load(sample())
    assert loaded["date"] == dt.date(2021, 4, 23)
    assert loaded["print_date"] == dt.date(2021, 4, 23)
    assert loaded["contact"] == {
        "name": "高志礼",
        "phone": "18535835221",
        "email": "llybjgk@163.com",
    }
    assert loaded["attachments"][0]["body"][1] == {"heading": "工作目标", "level": 1}
    assert json.loads(json.dumps(loaded, default=str))  # plain data all the way down


def test_minimal_notice() -> None:
    loaded = NoticeSchema().load(
        {"title": "关于x的通知", "addressees": ["各县局"], "body": [{"text": "正文。"}]}
    )
    assert loaded == {
        "title": "关于x的通知",
        "addressees": ["各县局"],
        "body": [{"text": "正文。"}],
    }


def _set(path: str, value: Any) -> Any:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [
        (lambda d: d.pop("title"), "data.title", "缺少必填项"),
        (_set("title", "   "), "data.title", "缺少必填项"),
        (_set("addressees", []), "data.addressees", "至少填写一个主送机关"),
        (_set("addressees", ["", "市中心"]), "data.addressees.0", "缺少必填项"),
        (_set("body", []), "data.body", "正文至少要有一段"),
        (_set("body", "正文"), "data.body", "应为列表"),
        (_set("body.0", {"heading": "x", "level": 7}), "data.body.0.level", "1、2、3 或 4"),
        (_set("body.0", {"heading": "x"}), "data.body.0.level", "层级"),
        (_set("body.0", {"text": "x", "level": 1}), "data.body.0.level", "只有标题"),
        (_set("body.0", {"text": ""}), "data.body.0.text", "不能为空"),
        (_set("body.0", {}), "data.body.0.text", "标题"),
        (_set("body.0", {"text": "x", "style": "bold"}), "data.body.0.style", "未知字段"),
        (_set("attachments.1", {"body": []}), "data.attachments.1.title", "缺少必填项"),
        (
            _set("attachments.0.body.1", {"heading": "x", "level": "1"}),
            "data.attachments.0.body.1.level",
            "应为整数",
        ),
        (_set("contact.email", "not-an-email"), "data.contact.email", "电子邮箱格式不正确"),
        (_set("contact.name", ""), "data.contact.name", "缺少必填项"),
        (_set("urgency", "很急"), "data.urgency", "特急"),
        (_set("secrecy", "内部"), "data.secrecy", "秘密"),
        (_set("secrecy_term", "一段时间"), "data.secrecy_term", "保密期限"),
        (_set("secrecy_term", "1年"), "data.secrecy_term", "须同时填写密级"),
        (_set("secrecy", "秘密"), "data.copy_no", "涉密公文须标注份号"),
        (_set("copy_no", "12345"), "data.copy_no", "6 位阿拉伯数字"),
        (_set("copy_no", "１２３４５６"), "data.copy_no", "6 位阿拉伯数字"),
        (_set("date", "2026-02-30"), "data.date", "YYYY-MM-DD"),
        (_set("date", "1021-04-23"), "data.date", "合理范围"),
        (_set("print_date", "2021-04-22"), "data.print_date", "不应早于成文日期"),
        (_set("cc", "省局"), "data.cc", "应为列表"),
        (_set("wenhao", "吕医保发〔2021〕44号"), "data.wenhao", "未知字段"),
        (_set("note", "x" * 501), "data.note", "最多 500 个字"),
    ],
)
def test_bad_input_names_the_field(mutate: Any, path: str, message: str) -> None:
    data = copy.deepcopy(sample())
    mutate(data)
    errors = load_errors(data)
    assert path in errors, errors
    assert any(message in m for m in errors[path]), errors[path]


def test_every_message_is_chinese() -> None:
    data = {
        "title": 1,
        "addressees": "x",
        "body": [{"heading": 2, "level": "one"}, None],
        "attachments": {},
        "contact": [],
        "date": 5,
        "extra": True,
    }
    for path, messages in load_errors(data).items():
        for message in messages:
            assert any("\u4e00" <= ch <= "\u9fff" for ch in message), (path, message)


def test_typed_numbers_parentheses_and_separators_are_not_doubled() -> None:
    data = copy.deepcopy(sample())
    data["body"] = [
        {"heading": "一、工作目标", "level": 1},
        {"heading": "（二）检查阶段", "level": 2},
        {"heading": "(三) 处理阶段", "level": 2},
        {"heading": "3. 上报名单", "level": 3},
        {"heading": "（1）核对", "level": 4},
        {"heading": "1.5倍以上的费用", "level": 3},
    ]
    data["note"] = "（此件依申请公开）"
    data["addressees"] = ["各县（市、区）医疗保障局，", "市医疗保险管理服务中心："]
    loaded = NoticeSchema().load(data)
    assert [b["heading"] for b in loaded["body"]] == [
        "工作目标",
        "检查阶段",
        "处理阶段",
        "上报名单",
        "核对",
        "1.5倍以上的费用",
    ]
    assert loaded["note"] == "此件依申请公开"
    assert loaded["addressees"] == ["各县（市、区）医疗保障局", "市医疗保险管理服务中心"]


def test_user_text_is_kept_as_typed() -> None:
    data = copy.deepcopy(sample())
    data["title"] = "关于{{ 7*7 }}与<b>&的通知"
    data["body"] = [{"text": "{% if x %}<b>&{{ 7*7 }}"}]
    loaded = NoticeSchema().load(data)
    assert loaded["title"] == "关于{{ 7*7 }}与<b>&的通知"
    assert loaded["body"] == [{"text": "{% if x %}<b>&{{ 7*7 }}"}]
