"""What a hit shows: the best stretch of the body, matches marked, identifiers masked."""

from __future__ import annotations

import html
import re
from bisect import bisect_left

from archive.search.analysis import fold
from schemas.masking import mask_identifiers

SNIPPET_CHARS = 160
_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
_WRAP = re.compile(rf"(?<=[{_CJK}])[ \t]*\n[ \t]*(?=[{_CJK}])")
"""A line break of the printed page inside Chinese text: no space when lines are joined."""
_JOINED = "\x00"
_MASK_MARGIN = 80
"""Text masked on either side of the window: an ID written in groups (``1411 0219 …``, three
separators at most between digits) is at most 70 characters, so one that shows in the window
is masked whole."""


def snippet(
    body: str,
    highlight: re.Pattern[str] | None,
    *,
    folded: str | None = None,
    width: int = SNIPPET_CHARS,
) -> str:
    """The stretch of ``body`` with the most matches, as HTML with ``<mark>`` around them.

    ``highlight`` runs on the folded body (same length as the body), so matches found in
    folded text are cut out of the original. Identifiers are masked before escaping.
    """
    folded = fold(body, simplified=False) if folded is None else folded
    spans = [m.span() for m in highlight.finditer(folded)] if highlight else []
    spans = [(a, b) for a, b in spans if b > a]
    start = 0
    if spans:
        starts = [a for a, _ in spans]
        best = max(
            range(len(spans)), key=lambda i: (bisect_left(starts, starts[i] + width) - i, -i)
        )
        start = max(0, starts[best] - width // 5)
    end = min(len(body), start + width)
    for a, b in spans:  # never cut a match in two
        if a < start < b:
            start = a
        if a < end < b:
            end = b
    # Mask around the window only: bodies run to pages.
    low, high = max(0, start - _MASK_MARGIN), min(len(body), end + _MASK_MARGIN)
    window = mask_identifiers(body[low:high])
    # Same length, so the spans still fit: wraps inside Chinese text vanish in _plain.
    window = _WRAP.sub(lambda m: _JOINED * len(m.group()), window)
    text = body[:low] + window + body[high:]
    marks: list[list[int]] = []
    for a, b in spans:
        if b > start and a < end:
            if marks and a <= marks[-1][1]:  # adjacent words make one mark
                marks[-1][1] = max(b, marks[-1][1])
            else:
                marks.append([a, b])
    out, cursor = [], start
    for a, b in marks:
        out.append(_plain(text[cursor:a]))
        out.append(f"<mark>{_plain(text[a:b])}</mark>")
        cursor = b
    out.append(_plain(text[cursor:end]))
    result = "".join(out).strip()
    return ("…" if start > 0 else "") + result + ("…" if end < len(body) else "")


def _plain(text: str) -> str:
    return html.escape(re.sub(r"\s+", " ", text.replace(_JOINED, "")), quote=False)
