"""From what a user typed to a Whoosh-independent query plan: terms, phrases, exact keys.

Query language, for people not trained in any: words separated by spaces must all occur (in
the title or the body); "quoted text" must occur as written; a whole word or quoted piece that
*is* a 文号, 档号, case number, ID-card number or credit code also matches that field exactly.
Nothing a user types is syntax, so no query can fail to parse.

A word is required as the set of its bigrams (``医疗保障`` -> 医疗, 疗保, 保障): nearly always
the word itself, and it costs no position checks. Quoted text and pieces with separators inside
(a 文号, an e-mail address) must also match as a phrase, which :mod:`archive.search.whoosh.engine`
checks against the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from archive.errors import ValidationError
from archive.search.analysis import fold, is_cjk, phrase_pattern, phrase_terms, query_words

SORTS = ("relevance", "newest", "oldest")
MAX_PER_PAGE = 100
MAX_QUERY_CHARS = 256  # longer input is cut: a query is typed, not pasted documents
TITLE_BOOST = 2.0

_QUOTED_RE = re.compile(r'"([^"]*)"|“([^”]*)”')
IDENTIFIER_RE = re.compile(
    r"(?<![0-9a-z])(?:[0-9]{17}[0-9x]|[0-9a-hj-npqrtuwxy]{2}[0-9]{6}[0-9a-hj-npqrtuwxy]{10})(?![0-9a-z])"
)
_BRACKETS = str.maketrans({"【": "〔", "】": "〕", "[": "〔", "]": "〕", "〖": "〔", "〗": "〕"})
_YEAR_NUMBER_RE = re.compile(r"[〔(]([0-9]{4})[〕)]第?0*([0-9]+)号$")
EXACT_FIELDS = ("wenhao", "archive_no", "case_no")


def exact_key(text: str) -> str:
    """The normalised form under which 文号, 档号, case numbers and IDs are indexed.

    Width folded, whitespace dropped, 【】/[] brackets (and a bracketed year in ASCII
    parentheses) turned into 〔〕, no leading zeros in the 序号, upper case: so
    ``吕医保发【2021】044号`` and ``吕医保发〔2021〕44号`` are one key.
    """
    key = "".join(unicodedata.normalize("NFKC", text).split()).translate(_BRACKETS)
    return _YEAR_NUMBER_RE.sub(r"〔\1〕\2号", key).upper()


@dataclass(frozen=True)
class TermSet:
    """Documents holding every one of ``terms`` in ``field``, and a term starting with each of
    ``prefixes``: a CJK character typed alone, which the index keeps alone only at the end
    of a run, elsewhere as the start of a bigram (a character inside a phrase is a term)."""

    field: str
    terms: tuple[str, ...]
    prefixes: tuple[str, ...] = ()


def _termset(field: str, words: list[str]) -> TermSet:
    terms: list[str] = []
    prefixes: list[str] = []
    for word in words:
        found = phrase_terms(word)
        if len(found) == 1 and lone_character(found[0]) and fold(word).strip() == found[0]:
            prefixes.append(found[0])
        else:
            terms.extend(found)
    return TermSet(field, tuple(dict.fromkeys(terms)), tuple(dict.fromkeys(prefixes)))


@dataclass(frozen=True)
class Alternative:
    """One way to satisfy a requirement: all of ``required`` and, if set, the phrase."""

    required: TermSet | None = None
    phrases: tuple[tuple[str, ...], ...] = ()
    """Each must occur in ``body`` (title and body) at consecutive positions."""
    exact: tuple[str, str] | None = None
    """(field, key): an exact 文号/档号/case number/identifier match."""


@dataclass(frozen=True)
class ParsedQuery:
    requirements: tuple[tuple[Alternative, ...], ...]
    """Every requirement must hold; each by any of its alternatives."""
    scoring: tuple[tuple[str, str, float], ...]
    """(field, term, boost) that add to relevance: the required terms, in the title too,
    and the bigrams joining the words as typed (``保基`` of ``医保基金``)."""
    highlight: re.Pattern[str] | None


@dataclass(frozen=True)
class SearchFilters:
    """Conditions on fields, each optional; ``orgs`` None means every org (administrators)."""

    orgs: tuple[str, ...] | None = None
    type: str | None = None
    case_no: str | None = None
    wenhao: str | None = None
    archive_no: str | None = None
    institution: str | None = None
    person: str | None = None
    inspector: str | None = None
    identifier: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    status: str | None = None

    def name_sets(self) -> list[TermSet]:
        """The name filters as term sets of their fields (a name typed in part matches)."""
        out = []
        for fieldname, value in (
            ("institutions", self.institution),
            ("persons", self.person),
            ("inspectors", self.inspector),
        ):
            if value:
                out.append(_termset(fieldname, [value]))
        return out


def validate(page: int, per_page: int, sort: str, filters: SearchFilters) -> None:
    errors = {}
    if page < 1:
        errors["page"] = "页码必须从 1 开始。"
    if not 1 <= per_page <= MAX_PER_PAGE:
        errors["per_page"] = f"每页条数必须在 1 到 {MAX_PER_PAGE} 之间。"
    if sort not in SORTS:
        errors["sort"] = "排序方式只能是 relevance、newest 或 oldest。"
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        errors["date_from"] = "开始日期不能晚于结束日期。"
    if (
        filters.amount_min is not None
        and filters.amount_max is not None
        and filters.amount_min > filters.amount_max
    ):
        errors["amount_min"] = "最小金额不能大于最大金额。"
    for name in ("institution", "person", "inspector"):
        value = getattr(filters, name)
        if value and not phrase_terms(value):
            errors[name] = "请输入名称中的文字。"
    if errors:
        raise ValidationError("搜索参数有误。", errors=errors)


def parse_query(q: str, known: Callable[[str, str], bool]) -> ParsedQuery | None:
    """Turn what a user typed into requirements, scoring terms and a highlight pattern.

    None when nothing in ``q`` is searchable (empty, only punctuation, ``*``): the caller
    then lists by the filters alone. ``known(field, key)`` says whether an exact key is in
    the index, so exact alternatives that cannot match stay out of the plan.
    """
    q = fold(q[:MAX_QUERY_CHARS], simplified=False)
    pieces: list[tuple[str, bool]] = []  # (text, quoted)
    last = 0
    for m in _QUOTED_RE.finditer(q):
        pieces.append((q[last : m.start()], False))
        pieces.append((m.group(1) if m.group(1) is not None else m.group(2), True))
        last = m.end()
    pieces.append((q[last:].replace('"', " "), False))
    chunks = [(t, True) for t, quoted in pieces if quoted] + [
        (chunk, False) for t, quoted in pieces if not quoted for chunk in t.split()
    ]
    requirements: list[tuple[Alternative, ...]] = []
    scoring: dict[tuple[str, str], float] = {}
    patterns: list[str] = []
    for chunk, quoted in chunks:
        alternatives = _exact_alternatives(chunk, known)
        text_alternative = _text_alternative(chunk, quoted, scoring)
        if text_alternative is not None:
            alternatives.insert(0, text_alternative)
            words = [fold(chunk)] if quoted else query_words(chunk)
            patterns.extend(p for p in map(phrase_pattern, {chunk, *words}) if p)
        if alternatives:
            requirements.append(tuple(alternatives))
    if not requirements:
        return None
    if len(chunks) > 1 and (whole := _exact_alternatives(q, known)):
        # A 文号 typed with spaces: either every piece, or the whole as an exact key.
        merged = tuple(a for r in requirements for a in r if a.required is not None)
        requirements = [tuple(whole) + ((_all_of(merged),) if merged else ())]
    patterns.sort(key=len, reverse=True)
    highlight = re.compile("|".join(patterns)) if patterns else None
    return ParsedQuery(
        tuple(requirements),
        tuple((f, t, b) for (f, t), b in scoring.items()),
        highlight,
    )


def _all_of(alternatives: tuple[Alternative, ...]) -> Alternative:
    terms = tuple(dict.fromkeys(t for a in alternatives if a.required for t in a.required.terms))
    prefixes = tuple(
        dict.fromkeys(p for a in alternatives if a.required for p in a.required.prefixes)
    )
    return Alternative(required=TermSet("body", terms, prefixes))


def _text_alternative(
    chunk: str, quoted: bool, scoring: dict[tuple[str, str], float]
) -> Alternative | None:
    words = [fold(chunk)] if quoted else query_words(chunk)
    if not words:
        return None
    required = list(dict.fromkeys(t for w in words for t in phrase_terms(w)))
    if not required:
        return None
    phrases = tuple(
        tuple(terms)
        for w in words
        if (quoted or not w.isalnum()) and len(terms := phrase_terms(w)) > 1
    )
    for term in required:
        scoring[("body", term)] = 1.0
        scoring[("title", term)] = TITLE_BOOST
    for term in phrase_terms(chunk):  # bigrams bridging the words: side by side as typed
        scoring.setdefault(("body", term), 1.0)
    return Alternative(required=_termset("body", words), phrases=phrases)


def _exact_alternatives(text: str, known: Callable[[str, str], bool]) -> list[Alternative]:
    key = exact_key(text)
    if not any(ch.isalnum() for ch in key):
        return []
    names = list(EXACT_FIELDS)
    if IDENTIFIER_RE.fullmatch(key.lower()):
        names.append("identifiers")
    return [Alternative(exact=(name, key)) for name in names if known(name, key)]


def lone_character(term: str) -> bool:
    return len(term) == 1 and is_cjk(term)
