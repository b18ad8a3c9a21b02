"""The one masking of identifiers: what it hides, what it leaves, and IDs in ASCII digits only."""

from __future__ import annotations

import hashlib

import pytest
from marshmallow import fields

from schemas.fields import IdCardNumber, WenshuSchema, is_valid_credit_code, is_valid_id_card
from schemas.masking import mask_identifiers, masked

ID = "141102197803150320"  # valid: GB 11643 check digit 0
ID_X = "11010519491231002X"
OLD_ID = "110105491231002"  # 15 digits, born 1949-12-31
CREDIT = "91110000802100433B"
ARABIC_INDIC = ID.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


def test_the_identifiers_of_the_table_are_real() -> None:
    assert is_valid_id_card(ID) and is_valid_id_card(ID_X) and is_valid_credit_code(CREDIT)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (ID, "141102********0320"),
        (f"当事人王五，身份证号{ID}，违规", "当事人王五，身份证号141102********0320，违规"),
        ("1411 0219 7803 1503 20", "1411 02** **** **03 20"),
        ("1411-0219-7803-1503-20", "1411-02**-****-**03-20"),
        ("141102 19780315 0320", "141102 ******** 0320"),
        ("1411　0219　7803　1503　20", "1411　02**　****　**03　20"),  # full-width spaces
        (f"ID{ID}", "ID141102********0320"),
        (f"id:{ID}", "id:141102********0320"),
        (f"身份证号码:{ID}号", "身份证号码:141102********0320号"),
        (f"公民身份号码{ID}住址", "公民身份号码141102********0320住址"),
        (f"{ID}1", "141102*********3201"),  # an OCR'd extra digit
        (f"8{ID}", "814110*********0320"),
        ("1411021978\n03150320", "141102****\n****0320"),  # across an OCR line break
        ("１４１１０２１９７８０３１５０３２０", "１４１１０２********０３２０"),
        (ARABIC_INDIC, ARABIC_INDIC[:6] + "*" * 8 + ARABIC_INDIC[-4:]),
        (ID_X, "110105********002X"),
        (ID_X.lower(), "110105********002x"),
        ("110105 1949 1231 002x", "110105 **** **** 002x"),
        (OLD_ID, "110105*****1002"),
        ("110105 491231 002", "110105 *****1 002"),
        (CREDIT, "911100********433B"),
        (f"统一社会信用代码：{CREDIT}。", "统一社会信用代码：911100********433B。"),
        (f"USCC{CREDIT}", "USCC911100********433B"),
    ],
)
def test_an_identifier_is_masked_however_it_is_written(text: str, shown: str) -> None:
    assert mask_identifiers(text) == shown
    assert len(mask_identifiers(text)) == len(text)


@pytest.mark.parametrize(
    "text",
    [
        "18535835221",
        "0358-8221234",
        "(0358)8221234转801",
        "电话：0358-8221234 18535835221",
        "18535835221 18535835222",  # two phone numbers in a row
        "吕医保发〔2021〕44号",
        "J041-2026-D30-BGS-0001",
        "2021年4月23日9时05分",
        "2026-11-22T21:05:13.123456Z",
        "合计 12000 35000 48000 元",  # a row of amounts: 15 digits, no birth date
        "邮编310005，密渡橋路51-1號",
        "吕医保发〔2021〕44号 J041-2021-D30-JGK-0044",
        "a8f5f167-f44f-4964-e6c9-9801d7a0e2d4",
        hashlib.sha256(b"141102197803150320").hexdigest(),
        "blob " + "1" * 40 + "abcdef" + "2" * 18 + " does not match its sha256",
        "",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_identifiers(text) == text


def test_masked_walks_audit_details_and_keeps_what_is_not_text() -> None:
    details = {
        "q": "1411 0219 7803 1503 20",
        "total": 3,
        "ok": True,
        "filters": {"person": f"王五{ID}", "case_no": ID},
        "problems": [f"身份证号{ID}", None],
    }
    assert masked(details) == {
        "q": "1411 02** **** **03 20",
        "total": 3,
        "ok": True,
        "filters": {"person": "王五141102********0320", "case_no": "141102********0320"},
        "problems": ["身份证号141102********0320", None],
    }


class _Subject(WenshuSchema):
    id_code = IdCardNumber(required=True)
    name = fields.String()


@pytest.mark.parametrize(
    "typed",
    [
        ARABIC_INDIC,
        ID.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")),  # Extended Arabic-Indic
        ID.translate(str.maketrans("0123456789", "०१२३४५६७८९")),  # Devanagari
        ID[:5] + "٣" + ID[6:],
    ],
)
def test_an_id_in_other_digits_is_refused_naming_the_character(typed: str) -> None:
    errors = _Subject().validate({"id_code": typed})
    message = errors["id_code"][0]
    assert message.startswith("身份证号只能用半角数字 0–9")
    assert "第 1 位" in message or "第 6 位" in message


def test_full_width_ascii_digits_are_still_folded_and_accepted() -> None:
    assert _Subject().load({"id_code": "１４１１０２１９７８０３１５０３２０"}) == {"id_code": ID}
