"""Tokenising Chinese official documents, the same way for documents and queries.

Why not jieba's ``ChineseAnalyzer``: it drops single non-CJK characters (``4号`` loses the
``4``) and records character offsets as positions, so phrase queries never match. Here the
text is cut into *units* -- one CJK character, or one maximal run of letters/digits
(``44``, ``abc123``) -- and every unit gets the next position. At each position the stream
holds:

* the bigram with the next unit when they touch (``44号``, ``医保``), so a phrase of any
  length is a chain of terms at consecutive positions (see :func:`phrase_terms`), and
  unsegmented names (``张三丰``) are found whatever jieba thinks of them;
* the unit alone if it is a number or word (``44``), or a CJK character at either end of
  a run (next to a separator), which is where a phrase can need it. Every CJK character
  alone would double the postings -- and indexing time -- for the rare one-character
  query, which ``号*`` answers instead;
``4号`` therefore never matches ``44号``: the bigram ``4号`` is simply not in that text.

jieba works on the query side (:func:`query_words`: which words must all occur). Version 1
also indexed jieba's search-mode words; segmenting every document cost more than the whole
indexing budget (jieba alone: ~50 documents of 1,500 characters a second on the 2-core
machine) for a ranking nudge that the bigrams joining the typed words now give.

Text is folded before cutting -- full-width ASCII to half-width, Latin to lower case,
Traditional to Simplified (OpenCC ``t2s``) -- and the fold keeps the length of the text, so
offsets into the folded text are offsets into the original (used for highlighting and for
masking identifiers in snippets).

Pure Python (jieba, OpenCC): the Whoosh index takes these terms through its analyzer
(:mod:`archive.search.whoosh.analyzer`), the PostgreSQL table as pre-tokenised lexemes
(:mod:`archive.search.postgres.rows`).
"""

from __future__ import annotations

import functools
import logging
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jieba
import opencc

log = logging.getLogger(__name__)

ANALYSIS_VERSION = 3
"""Bump whenever the tokens for a given text change, or the index schema does (3: the
signed original's OCR text): indexes built before then fail ``SearchIndex.check()`` and get
rebuilt, instead of silently missing matches."""

_CJK = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# A letter or digit that is not a CJK ideograph (str.isalnum() is true for both).
_ALNUM = rf"(?:(?![{_CJK}])[^\W_])"
_UNIT_RE = re.compile(rf"([{_CJK}])|({_ALNUM}+)")
_CJK_CHAR_RE = re.compile(rf"[{_CJK}]")


def _fold_table() -> dict[int, int]:
    table = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}  # ！..～ -> !..~
    table[0x3000] = 0x20  # ideographic space
    for cp in list(range(0x41, 0x5B)) + list(range(0xC0, 0x250)) + list(range(0x370, 0x530)):
        lower = chr(cp).lower()
        if len(lower) == 1 and lower != chr(cp):
            table[cp] = ord(lower)
    for full, half in list(table.items()):
        if half in table:  # full-width Ａ -> A -> a in one step
            table[full] = table[half]
    return table


_FOLD = _fold_table()

_init_lock = threading.Lock()
_ready = False
_converter: Any = None
_traditional: frozenset[str] = frozenset()
# Stretches OpenCC converts as a unit; none of these characters is part of a dictionary entry.
_CONVERTIBLE_RUN = re.compile(r"[^\s\-,.?!*，。、；：？！…“”‘’『』「」（）《》〈〉【】〔〕]+")


def warm_up(cache_dir: Path | str | None = None) -> None:
    """Load jieba's dictionary and OpenCC's tables once per process, quietly.

    Call it at process start (a worker's first search otherwise pays ~1 s). jieba writes a
    dictionary cache file; ``cache_dir`` must be writable (default: the system temp dir).
    Safe to call from several threads; later calls are no-ops, so the first ``cache_dir``
    wins (``fold()`` and the tokenizer call this lazily with the default).
    """
    global _ready, _converter, _traditional
    if _ready:
        return
    with _init_lock:
        if _ready:
            return
        jieba.setLogLevel(logging.WARNING)
        jieba.dt.tmp_dir = str(cache_dir or tempfile.gettempdir())
        jieba.initialize()
        _converter = opencc.OpenCC("t2s")
        _traditional = _load_traditional_chars()
        _ready = True
        log.debug("jieba and OpenCC initialised (cache in %s)", jieba.dt.tmp_dir)


def _load_traditional_chars() -> frozenset[str]:
    """Characters whose presence means ``t2s`` may change a text.

    Converting costs as much as segmenting, and almost every document is already Simplified,
    so a stretch without any of these characters is left alone.
    """
    folder = Path(opencc.__file__).parent / "dictionary"
    chars: set[str] = set()
    for name in ("TSCharacters.txt", "TSPhrases.txt"):
        with open(folder / name, encoding="utf-8") as fh:
            for line in fh:
                key, _, values = line.rstrip("\n").partition("\t")
                target = values.split(" ")[0]
                if len(key) == len(target):
                    chars.update(k for k, t in zip(key, target, strict=True) if k != t)
                else:
                    chars.update(key)
    return frozenset(chars)


def _to_simplified(run: re.Match[str]) -> str:
    text = run.group()
    if _traditional.isdisjoint(text):
        return text
    converted: str = _converter.convert(text)
    if len(converted) == len(text):
        return converted
    # Offsets must survive the fold; convert character by character where a phrase changed length.
    singles = (_converter.convert(ch) for ch in text)
    return "".join(s if len(s) == 1 else ch for s, ch in zip(singles, text, strict=True))


def fold(text: str, *, simplified: bool = True) -> str:
    """Fold width, case and (unless ``simplified`` is false) Traditional characters.

    ``len(text)`` never changes. Without ``simplified`` it is a cheap ``str.translate``;
    the Traditional-to-Simplified step costs about as much as segmenting the text.
    """
    folded = text.translate(_FOLD)
    return _simplify(folded) if simplified else folded


@functools.lru_cache(maxsize=8)
def _simplify(folded: str) -> str:
    # Cached: indexing folds each text twice (for the stored snippet copy, then in the analyzer).
    warm_up()
    if _traditional.isdisjoint(folded):  # nearly every document: nothing to convert
        return folded
    return _CONVERTIBLE_RUN.sub(_to_simplified, folded)


class _Units:
    """The units of a folded text with their offsets, and whether each touches the next.

    Whitespace between two units joins them when either is CJK: PDF extraction breaks lines
    inside words (``稽核工\\n作``) and typists write ``2021 年``. Two letter/digit runs stay
    apart, otherwise ``abc 123`` and ``abc123`` would become the same bigram.
    """

    __slots__ = ("folded", "texts", "starts", "ends", "cjk", "joined")

    def __init__(self, folded: str) -> None:
        self.folded = folded
        self.texts: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.cjk: list[bool] = []
        for m in _UNIT_RE.finditer(folded):
            self.texts.append(m.group())
            self.starts.append(m.start())
            self.ends.append(m.end())
            self.cjk.append(m.group(1) is not None)
        n = len(self.texts)
        self.joined = [False] * n
        for i in range(n - 1):
            gap_start, gap_end = self.ends[i], self.starts[i + 1]
            if gap_start == gap_end:
                self.joined[i] = True
            elif (self.cjk[i] or self.cjk[i + 1]) and folded[gap_start:gap_end].isspace():
                self.joined[i] = True

    def __len__(self) -> int:
        return len(self.texts)

    def bigram(self, i: int) -> str:
        return self.texts[i] + self.texts[i + 1]


def iter_tokens(value: str) -> Iterator[tuple[str, int, int, int]]:
    """Yield ``(text, position, startchar, endchar)`` for every term of ``value``, in order.

    The reference definition of the terms: :func:`term_runs` computes the same terms
    several times faster and is what indexing uses.
    """
    units = _Units(fold(value))
    for i in range(len(units)):
        start = units.starts[i]
        run_start = i == 0 or not units.joined[i - 1]
        if not units.cjk[i] or not units.joined[i] or run_start:  # else the bigram stands in
            yield units.texts[i], i, start, units.ends[i]
        if units.joined[i]:
            yield units.bigram(i), i, start, units.ends[i + 1]


# Whitespace next to a CJK character joins the units on either side (see _Units).
_JOINING_SPACE_RE = re.compile(rf"(?<=[{_CJK}])\s+(?=[^\W_])|(?<=[^\W_])\s+(?=[{_CJK}])")
_CHAIN_RE = re.compile(r"[^\W_]+")  # touching units, i.e. one run of bigrams
_CHAIN_UNIT_RE = re.compile(rf"[{_CJK}]|{_ALNUM}+")
_ALL_CJK_RE = re.compile(rf"[{_CJK}]+")


def term_runs(value: str) -> Iterator[tuple[int, list[str]]]:
    """The terms of ``value`` as runs ``(first position, terms at consecutive positions)``.

    The same terms as :func:`iter_tokens`, computed chain by chain (a chain = units that
    touch, hence linked by bigrams) with C-level string operations: the common chain, all
    CJK, costs one slice per character. Within a chain the units standing alone never have
    the text of a bigram, and runs come in position order per text, so each term's
    positions come in order.
    """
    text = _JOINING_SPACE_RE.sub("", fold(value))
    pos = 0
    for chain in _CHAIN_RE.findall(text):
        if _ALL_CJK_RE.fullmatch(chain):
            n = len(chain)
            yield pos, [chain[0]]
            if n > 1:
                yield pos, [chain[i : i + 2] for i in range(n - 1)]
                yield pos + n - 1, [chain[-1]]
        else:
            units = _CHAIN_UNIT_RE.findall(chain)
            n = len(units)
            if n > 1:
                yield pos, [a + b for a, b in zip(units, units[1:], strict=False)]
            for i, unit in enumerate(units):
                if i == 0 or i == n - 1 or not is_cjk(unit[0]):
                    yield pos + i, [unit]
        pos += n


def term_positions(value: str) -> dict[str, list[int]]:
    """Every term of ``value`` with its positions, in order (see :func:`term_runs`)."""
    table: dict[str, list[int]] = {}
    for start, run in term_runs(value):
        for pos, term in enumerate(run, start):
            found = table.get(term)
            if found is None:
                table[term] = [pos]
            else:
                found.append(pos)
    return table


def is_cjk(char: str) -> bool:
    """True for one CJK ideograph (the unit that pairs into bigrams)."""
    return _CJK_CHAR_RE.fullmatch(char) is not None


def phrase_terms(text: str) -> list[str]:
    """Terms at consecutive positions that match ``text`` exactly as a sequence of units.

    One term per unit: the bigram with the next unit where they touch, the unit alone where
    a separator follows. ``专项检查`` -> ``专项 项检 检查``; ``吕医保发〔2021〕44号`` ->
    ``吕医 医保 保发 发 2021 44号``. The final unit is implied by the last bigram and left out.
    A phrase query is a chain of these terms; an empty list means nothing searchable.
    """
    units = _Units(fold(text))
    n = len(units)
    terms = [units.bigram(i) if units.joined[i] else units.texts[i] for i in range(n)]
    if n >= 2 and units.joined[n - 2]:
        terms.pop()
    return terms


def query_words(chunk: str) -> list[str]:
    """Cut one whitespace-free piece of a query into the words that must all occur.

    jieba's precise mode gives the words (``医保基金监管`` -> 医保 / 基金 / 监管); a word
    of one unit is glued to a neighbour so no query term is a lone digit or character that
    matches everywhere -- a number to the following word (``4`` + ``号``), a character to the
    preceding one. Punctuation between two CJK characters separates words; any other
    separator binds (a 文号, an e-mail address, ``3.5``), and such a word is matched as an
    exact phrase. Returned words are folded substrings of the chunk.
    """
    units = _Units(fold(chunk))
    folded = units.folded
    words: list[str] = []
    first = 0
    for i in range(len(units)):
        last_of_piece = i == len(units) - 1 or (
            not units.joined[i] and units.cjk[i] and units.cjk[i + 1]
        )
        if not last_of_piece:
            continue
        if all(units.joined[first:i]):
            words += [folded[units.starts[a] : units.ends[b]] for a, b in _words(units, first, i)]
        else:
            words.append(folded[units.starts[first] : units.ends[i]])
        first = i + 1
    return words


def _words(units: _Units, first: int, last: int) -> list[list[int]]:
    """jieba's words over touching units ``first..last``, as [first, last] unit ranges."""
    base = units.starts[first]
    unit_at_end = {units.ends[i] - base: i for i in range(first, last + 1)}
    groups: list[list[int]] = []
    start, offset = first, 0
    for word in jieba.lcut(units.folded[base : units.ends[last]]):
        offset += len(word)
        end_unit = unit_at_end.get(offset)
        if end_unit is not None and end_unit >= start:
            groups.append([start, end_unit])
            start = end_unit + 1
    if start <= last:
        groups.append([start, last])
    merged: list[list[int]] = []
    pending: list[int] | None = None  # a lone number waiting for the word after it
    for group in groups:
        if pending is not None:
            group, pending = [pending[0], group[1]], None
        if group[0] == group[1] and not units.cjk[group[0]]:
            pending = group
        elif group[0] == group[1] and merged:
            merged[-1][1] = group[1]
        else:
            merged.append(group)
    if pending is not None:
        if merged:
            merged[-1][1] = pending[1]
        else:
            merged.append(pending)
    if len(merged) >= 2 and merged[0][0] == merged[0][1]:  # a lone character leading the query
        lone = merged.pop(0)
        merged[0][0] = lone[0]
    return merged


def phrase_pattern(text: str) -> str | None:
    """A regex (for the *folded* text) matching where :func:`phrase_terms` of ``text`` match.

    Used to highlight snippets without re-running jieba over a whole document. Touching units
    may be split by whitespace where the index joins them; separated units by any run of
    non-word characters; a leading or trailing number must not be part of a longer one.
    """
    units = _Units(fold(text))
    n = len(units)
    if n == 0:
        return None
    parts = []
    if not units.cjk[0]:
        parts.append(rf"(?<!{_ALNUM})")
    for i in range(n):
        parts.append(re.escape(units.texts[i]))
        if i == n - 1:
            break
        if not units.joined[i]:
            parts.append(r"[\W_]*" if units.cjk[i] or units.cjk[i + 1] else r"[\W_]+")
        elif units.cjk[i] or units.cjk[i + 1]:
            parts.append(r"\s*")
    if not units.cjk[-1]:
        parts.append(rf"(?!{_ALNUM})")
    return "".join(parts)
