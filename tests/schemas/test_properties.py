"""Properties (hypothesis) of the identifier checks, the number formats and the analyzer.

The check-digit algorithms are re-derived here from REFERENCE.md (GB 11643-1999, GB 32100-2015)
rather than imported, so a test compares two implementations. ``scripts/fuzz`` runs these with
many more examples (WENSHU_PROPERTY_EXAMPLES).
"""

from __future__ import annotations

import datetime as dt
import os
import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from archive.numbering import format_archive_no, format_wenhao
from archive.search.analysis import (
    _Units,
    fold,
    iter_tokens,
    phrase_terms,
    query_words,
    term_positions,
)
from archive.search.query import exact_key
from schemas.fields import (
    CreditCode,
    IdCardNumber,
    PlainText,
    credit_code_problem,
    id_card_problem,
    mask_identifier,
)

EXAMPLES = int(os.environ.get("WENSHU_PROPERTY_EXAMPLES", "200"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, database=None)

DIGITS = "0123456789"
CREDIT = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def id_check(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def credit_check(first17: str) -> str:
    total = sum(CREDIT.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return CREDIT[(31 - total % 31) % 31]


@st.composite
def id_cards(draw: st.DrawFn) -> str:
    region = draw(st.text(DIGITS, min_size=6, max_size=6))
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31)))
    serial = draw(st.text(DIGITS, min_size=3, max_size=3))
    first17 = region + born.strftime("%Y%m%d") + serial
    return first17 + id_check(first17)


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    first17 = draw(st.text(CREDIT, min_size=17, max_size=17))
    return first17 + credit_check(first17)


def test_reference_vectors() -> None:
    assert id_card_problem("11010519491231002X") is None
    assert id_card_problem("34052419800101001X") is None
    assert id_card_problem("110105194912310021") == "checksum"
    assert credit_code_problem("91110000802100433B") is None


@PROPERTY
@given(id_cards())
def test_every_well_formed_id_card_is_accepted_lower_case_x_too(value: str) -> None:
    assert id_card_problem(value) is None
    loaded = load(IdCardNumber(), value.lower())
    assert loaded == value


@PROPERTY
@given(id_cards(), st.integers(0, 16), st.sampled_from(DIGITS))
def test_one_changed_digit_of_an_id_card_is_refused(value: str, i: int, digit: str) -> None:
    assume(value[i] != digit)
    assert id_card_problem(value[:i] + digit + value[i + 1 :]) is not None


@PROPERTY
@given(credit_codes())
def test_every_well_formed_credit_code_is_accepted(value: str) -> None:
    assert credit_code_problem(value) is None
    assert load(CreditCode(), "　" + value.lower() + " ") == value  # width, case, spaces fold


@PROPERTY
@given(credit_codes(), st.integers(0, 17), st.sampled_from(CREDIT + "IOSVZ"))
def test_one_changed_character_of_a_credit_code_is_refused(value: str, i: int, ch: str) -> None:
    assume(value[i] != ch)
    assert credit_code_problem(value[:i] + ch + value[i + 1 :]) is not None


@PROPERTY
@given(st.one_of(id_cards(), credit_codes()))
def test_masking_keeps_six_and_four_and_hides_the_rest(value: str) -> None:
    masked = mask_identifier(value)
    assert len(masked) == len(value) == 18
    assert masked[:6] == value[:6] and masked[-4:] == value[-4:] and masked[6:-4] == "*" * 8


BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


CONTROLS = BIDI + "\x00\x07\x1b\x7f\u0085"


@PROPERTY
@given(st.text(max_size=20), st.sampled_from(CONTROLS), st.text(max_size=20))
def test_plain_text_refuses_control_and_direction_overrides(
    before: str, bad: str, after: str
) -> None:
    """Refused, naming the code point; only a control that is also whitespace (U+0085) at
    an end is neutralised by stripping."""
    try:
        out = load(PlainText(), before + bad + after)
    except SchemaError as err:
        assert f"U+{ord(bad):04X}" in str(err.messages) or "U+" in str(err.messages)
        return
    assert bad.isspace() and bad not in out


@PROPERTY
@given(st.text())
def test_plain_text_never_lets_a_direction_override_through(text: str) -> None:
    try:
        out = load(PlainText(), text)
    except SchemaError:
        return
    assert not set(out) & set(BIDI)


def load(field: object, value: str) -> str:
    schema = Schema.from_dict({"v": field})()
    return schema.load({"v": value})["v"]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- numbers

WENHAO_RE = re.compile(r"^.+〔\d{4}〕[1-9]\d*号$")
ZIHAO = st.sampled_from(["吕医保发", "并医保发", "晋医保办", "吕医保函"])
YEARS = st.integers(2000, 2099)


@PROPERTY
@given(ZIHAO, YEARS, st.integers(1, 10**6))
def test_wenhao_format_and_parse_round_trip(zihao: str, year: int, n: int) -> None:
    wenhao = format_wenhao(zihao, year, n)
    assert WENHAO_RE.fullmatch(wenhao)
    m = re.fullmatch(r"(.+)〔(\d{4})〕(\d+)号", wenhao)
    assert m and (m.group(1), int(m.group(2)), int(m.group(3))) == (zihao, year, n)
    # what clerks type (【】, leading zeros, full width) is the same key
    typed = f"{zihao}【{year}】0{n}号".translate(str.maketrans(DIGITS, "０１２３４５６７８９"))
    assert exact_key(typed) == exact_key(wenhao)


@PROPERTY
@given(ZIHAO, YEARS, st.integers(1, 10**6), st.integers(1, 10**6))
def test_distinct_numbers_never_share_a_wenhao_or_a_key(
    zihao: str, year: int, a: int, b: int
) -> None:
    assume(a != b)
    assert format_wenhao(zihao, year, a) != format_wenhao(zihao, year, b)
    assert exact_key(format_wenhao(zihao, year, a)) != exact_key(format_wenhao(zihao, year, b))


@PROPERTY
@given(YEARS, st.sampled_from(["Y", "D30", "D10"]), st.integers(1, 9999), st.integers(1, 9999))
def test_archive_numbers_sort_as_they_count(year: int, retention: str, a: int, b: int) -> None:
    x = format_archive_no("J041", year, retention, "BGS", a)
    y = format_archive_no("J041", year, retention, "BGS", b)
    assert (x < y) == (a < b) and (x == y) == (a == b)  # monotonic, no collisions
    fonds, yr, ret, unit, piece = x.split("-")
    assert (fonds, int(yr), ret, unit, int(piece)) == ("J041", year, retention, "BGS", a)
    assert len(piece) == 4


# --------------------------------------------------------------------------- analyzer

CJK = "医保基金监管专项检查吕梁市局发号年月日通知醫療檢查號"
UNITS = st.one_of(
    st.text(CJK, min_size=1, max_size=1),
    st.text(DIGITS, min_size=1, max_size=5),
    st.text("abcXYZ", min_size=1, max_size=4),
    st.text("０１２４４", min_size=1, max_size=3),
)
SEPARATORS = st.sampled_from(["", "", "", " ", "，", "〔", "〕", "\n", "-"])


@st.composite
def documents(draw: st.DrawFn) -> str:
    units = draw(st.lists(UNITS, min_size=1, max_size=30))
    return "".join(u + draw(SEPARATORS) for u in units)


def phrase_matches(terms: dict[str, list[int]], phrase: list[str]) -> bool:
    if not phrase:
        return False
    starts = set(terms.get(phrase[0], ()))
    for k, term in enumerate(phrase[1:], 1):
        starts &= {p - k for p in terms.get(term, ())}
    return bool(starts)


@PROPERTY
@given(st.text())
def test_folding_is_idempotent_and_keeps_length(text: str) -> None:
    once = fold(text)
    assert fold(once) == once and len(once) == len(text)


@PROPERTY
@given(documents())
def test_fast_terms_equal_the_reference_tokenizer(doc: str) -> None:
    reference: dict[str, list[int]] = {}
    for term, pos, _start, _end in iter_tokens(doc):
        reference.setdefault(term, []).append(pos)
    assert term_positions(doc) == reference


@PROPERTY
@given(documents(), st.data())
def test_every_piece_of_a_document_finds_it(doc: str, data: st.DataObject) -> None:
    """A query typed from any stretch of the text (two units or more, cut where units
    begin and end, without spaces) matches the document's own terms."""
    units = _Units(fold(doc))
    assume(len(units) >= 2)
    a = data.draw(st.integers(0, len(units) - 2))
    b = data.draw(st.integers(a + 1, len(units) - 1))
    piece = doc[units.starts[a] : units.ends[b]]
    assume(not any(ch.isspace() for ch in piece))
    terms = term_positions(doc)
    for word in query_words(piece):
        assert phrase_matches(terms, phrase_terms(word)), (piece, word, phrase_terms(word))


@PROPERTY
@given(ZIHAO, YEARS, st.integers(1, 999), st.integers(1, 999))
def test_a_number_never_matches_another_number(zihao: str, year: int, a: int, b: int) -> None:
    """4号 never finds 44号 (nor 44号 4号): the number and 号 are one term."""
    assume(a != b)
    doc = f"根据{format_wenhao(zihao, year, b)}文件"
    terms = term_positions(doc)
    for word in query_words(f"{a}号"):
        assert not phrase_matches(terms, phrase_terms(word))
    assert all(
        phrase_matches(terms, phrase_terms(w)) for w in query_words(f"{b}号")
    )  # and its own number does
