"""Masking identifiers in any text that leaves the system: one function for every exit.

Audit details (appended masked: the chain is immutable), document titles in lists and exports,
search hits and their snippets (OCR text included), log lines and error messages all go through
:func:`mask_identifiers`; :func:`masked` applies it to every string of a JSON-like value.

What is masked, found on a folded copy of the text (full-width characters and every Unicode
decimal digit — Arabic-Indic ``٣``, Devanagari ``३`` — read as their ASCII form, letters
upper-cased; the text keeps its own characters, only masked digits become ``*``):

- **A run of 15 or more digits written without a break** (a final ``X``/``x`` counts), whatever
  is glued to it: ``身份证号码:141102…``, ``ID141102…``, an OCR'd ID with an extra digit. That is
  a 身份证号 (18 digits), an old 15-digit one, or a number as personal (a bank card, a 社保 card
  number); such runs are never a 文号, a date, an amount or a phone number.
- **An ID written in groups**: digits with up to three spaces or dashes between them
  (``1411 0219 7803 1503 20``, ``1411-0219-…``, across an OCR line break) where 18 of them
  (17 digits and a digit or ``X``) carry a real birth date (positions 7–14, year 1800–2099), or
  the whole run is 18 such characters, or exactly 15 digits with a real ``YYMMDD`` at
  positions 7–12. Other grouped numbers — two phone numbers in a row, a table of amounts —
  are left alone.
- **A 统一社会信用代码**: 18 characters of its alphabet (two, six digits, ten) standing alone
  as today, or, inside a longer run of letters and digits, 18 with a valid check character.

Each is shown as its first 6 and last 4 characters with asterisks between
(``141102********0320``); separators stay where they were. A run of 32 or more lower-case hex
characters is a digest the system wrote (``sha256``, a request id) and is left as it is.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from schemas.fields import is_valid_credit_code

__all__ = ["mask_identifiers", "masked"]

_KEEP_HEAD, _KEEP_TAIL = 6, 4
_RUN = re.compile(r"[0-9](?:[\s\-‐‑‒–—―]{0,3}[0-9])*X?")
_GAP = re.compile(r"[\s\-‐‑‒–—―]")
_ALNUM_RUN = re.compile(r"[0-9A-Z]{18,}")
_CREDIT_SHAPE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")
_DIGEST = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f])[0-9a-f]{32,}(?![0-9A-Za-z])")


def mask_identifiers(text: str) -> str:
    """``text`` with every 身份证号 and 统一社会信用代码 in it masked (see the module)."""
    if not text:
        return text
    folded = _fold(text)
    for digest in _DIGEST.finditer(text):  # found as written: lower case
        a, b = digest.span()
        folded = folded[:a] + "#" * (b - a) + folded[b:]
    hidden: set[int] = set()
    for run in _RUN.finditer(folded):
        hidden.update(_in_digit_run(run.start(), run.group()))
    for run in _ALNUM_RUN.finditer(folded):
        hidden.update(_in_alnum_run(run.start(), run.group()))
    if not hidden:
        return text
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


def masked(value: Any) -> Any:
    """``value`` (a string, or dicts and lists of them, as in audit details) masked throughout;
    keys, numbers and other values as they are."""
    if isinstance(value, str):
        return mask_identifiers(value)
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


# --------------------------------------------------------------------------- folding


def _fold(text: str) -> str:
    """Same length as ``text``: ASCII letters upper-cased, full-width forms and Unicode digits
    as ASCII, every other character as it is."""
    if text.isascii():
        return text.upper()
    return "".join(_fold_char(ch) for ch in text)


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch.isascii():
        return ch.upper()
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    nfkc = unicodedata.normalize("NFKC", ch)
    if len(nfkc) == 1 and nfkc.isascii():
        return nfkc.upper()
    return ch


# --------------------------------------------------------------------------- digit runs


def _in_digit_run(offset: int, run: str) -> Iterator[int]:
    """Positions (in the text) to hide in one run of digits, with or without gaps."""
    places = [offset + i for i, ch in enumerate(run) if not _GAP.match(ch)]
    chars = "".join(ch for ch in run if not _GAP.match(ch))
    # Unbroken stretches of 15 or more: masked whatever they look like.
    start = 0
    for piece in _GAP.split(run):
        if not piece:
            continue
        if len(piece) >= 15:
            yield from _middle(places[start : start + len(piece)])
        start += len(piece)
    if len(places) == len(run):
        return
    # Written in groups: only what looks like an ID.
    n = len(chars)
    if n == 18 and chars[:17].isdigit():
        yield from _middle(places)
    elif n == 15 and chars.isdigit() and _real_date("19" + chars[6:12]):
        yield from _middle(places)
    for i in range(n - 17):
        window = chars[i : i + 18]
        if window[:17].isdigit() and _real_date(window[6:14]):
            yield from _middle(places[i : i + 18])


def _real_date(yyyymmdd: str) -> bool:
    try:
        born = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return 1800 <= born.year <= 2099


def _middle(places: list[int]) -> list[int]:
    if len(places) <= _KEEP_HEAD + _KEEP_TAIL:
        return places
    return places[_KEEP_HEAD:-_KEEP_TAIL]


# --------------------------------------------------------------------------- credit codes


def _in_alnum_run(offset: int, run: str) -> Iterator[int]:
    if len(run) == 18:
        if _CREDIT_SHAPE.fullmatch(run):
            yield from _middle(list(range(offset, offset + 18)))
        return
    for i in range(len(run) - 17):
        window = run[i : i + 18]
        if _CREDIT_SHAPE.fullmatch(window) and is_valid_credit_code(window):
            yield from _middle(list(range(offset + i, offset + i + 18)))
