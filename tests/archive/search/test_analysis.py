"""The analyzer: what it indexes decides what users can find."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from archive.search.analysis import (
    fold,
    iter_tokens,
    phrase_pattern,
    phrase_terms,
    query_words,
    term_positions,
)
from tests.support import ROOT

# Real documents (one of them Traditional), kept in the repository.
SEEDS = sorted((ROOT / "tests" / "support" / "seeds").glob("*.txt"))


def terms(text: str) -> set[str]:
    return {t for t, _, _, _ in iter_tokens(text)}


def test_numbers_stay_whole_and_keep_their_unit() -> None:
    assert {"4", "4号"} <= terms("第4号")
    got = terms("第44号")
    assert {"44", "44号"} <= got
    assert "4" not in got and "4号" not in got


def test_latin_and_digits_are_kept_lower_cased() -> None:
    assert {"abc123", "x"} <= terms("编号ABC123，附件X")


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("ＡＢＣ１２３", "abc123"),
        ("醫保基金", "医保基金"),
        ("國務院辦公廳", "国务院办公厅"),
        ("　全角空格", " 全角空格"),
        ("吕医保发〔2021〕44号", "吕医保发〔2021〕44号"),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name[:3])
def test_fold_keeps_offsets_of_real_documents(seed: Path) -> None:
    text = seed.read_text(encoding="utf-8")
    assert len(fold(text)) == len(text)


def test_a_phrase_matches_the_same_terms_at_consecutive_positions() -> None:
    text = "为切实提升我市医疗保险稽核水平，开展专项检查工作；吕医保发〔2021〕44号"
    by_pos: dict[int, set[str]] = {}
    for term, pos, _, _ in iter_tokens(text):
        by_pos.setdefault(pos, set()).add(term)
    for phrase in (
        "专项检查",
        "医疗保险稽核",
        "吕医保发〔2021〕44号",
        "张三丰",
        "水平，开",
        "〕44",
    ):
        wanted = phrase_terms(phrase)
        found = any(
            all(w in by_pos.get(p + i, set()) for i, w in enumerate(wanted)) for p in by_pos
        )
        assert found == (phrase in text), phrase


def test_names_jieba_does_not_know_are_indexed_as_bigrams() -> None:
    assert {"张三", "三丰"} <= terms("由李四和张三丰负责")


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("4号", ["4号"]),
        ("2021年", ["2021年"]),
        ("医保基金监管", ["医保", "基金", "监管"]),
        ("医保基金，专项检查", ["医保", "基金", "专项", "检查"]),
        ("3.5万元", ["3.5万元"]),
        ("吕医保发[2021]44号", ["吕医保发[2021]44号"]),
        ("ＡＢＣ１２３", ["abc123"]),
        ("号", ["号"]),
        ("***", []),
    ],
)
def test_query_words_never_leave_a_lone_digit(typed: str, words: list[str]) -> None:
    assert query_words(typed) == words


def test_highlight_pattern_does_not_match_inside_a_longer_number() -> None:
    pattern = re.compile(phrase_pattern("4号") or "")
    assert [m.group() for m in pattern.finditer(fold("第44号，第4号，第 4 号"))] == ["4号", "4 号"]


def test_warm_up_is_quiet_and_caches_where_told(tmp_path: Path) -> None:
    code = (
        "import sys; from archive.search.analysis import warm_up, query_words;"
        "warm_up(sys.argv[1]); warm_up(sys.argv[1]); print(query_words('医保基金'))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "['医保', '基金']"
    assert run.stderr == ""
    assert (tmp_path / "jieba.cache").is_file()


def test_query_words_cover_what_was_typed_on_real_text() -> None:
    assert SEEDS
    text = fold("".join(p.read_text(encoding="utf-8") for p in SEEDS))
    runs = [r for r in re.findall(r"[\u4e00-\u9fff0-9a-z]+", text) if len(r) >= 2]
    for run in runs[::7]:
        for size in (2, 3, 5, 8):
            piece = run[:size]
            words = query_words(piece)
            assert "".join(words) == piece
            assert len(words) == 1 or all(len(phrase_terms(w)) >= 1 and len(w) >= 2 for w in words)


def _reference_table(text: str) -> dict[str, list[int]]:
    table: dict[str, list[int]] = {}
    for term, pos, _, _ in iter_tokens(text):
        table.setdefault(term, []).append(pos)
    return table


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "号",
        "a",
        "稽核工\n作",
        "2021 年",
        "abc 123",
        "ＡＢＣ １２３ 医保",
        "医 保\n基 金 ab cd 12号",
        "吕医保发〔2021〕44号，经查，张三丰于2021年3月",
        "為貫徹落實黨中央、國務院決策部署",
    ],
)
def test_the_fast_term_table_is_the_reference_one(text: str) -> None:
    """Indexing uses term_positions(); queries assume iter_tokens(): they must agree."""
    assert term_positions(text) == _reference_table(text)


def test_the_fast_term_table_agrees_on_real_documents() -> None:
    assert SEEDS
    for seed in SEEDS:
        text = seed.read_text(encoding="utf-8")
        for start in range(0, len(text), 1700):
            piece = text[start : start + 1700]
            assert term_positions(piece) == _reference_table(piece), seed.name
