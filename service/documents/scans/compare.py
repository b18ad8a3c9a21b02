"""Scanned pages against generated ones: which page is which, and what was changed by hand.

A scanned page is matched with the generated page whose text it shares most (character bigrams,
so OCR's odd misread character barely counts); what remains unmatched is a missing or an extra
page, and matches that do not run in order are pages out of order. Within a matched pair the
texts are compared character by character; a difference is reported when it goes beyond OCR
noise — any changed digit (an amount, a date, a count), or a run of at least
:data:`MIN_CHANGE` characters added, removed or replaced (a sentence added, an answer changed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

MIN_SIMILARITY = 0.35
"""Below this share of common bigrams a scanned page is not taken for a generated one."""
MIN_CHANGE = 4
"""A run of this many characters that differ is more than OCR misreading a character."""
MERGE_GAP = 2
"""Changes this close together are one change (OCR splits an edit into pieces)."""
CONTEXT = 8


@dataclass(frozen=True)
class Difference:
    kind: str
    """``changed``, ``added`` (on the paper, not in the document) or ``missing``."""
    expected: str
    """The generated text (empty when added)."""
    found: str
    """What the scan reads (empty when missing)."""
    before: str
    """The generated text just before it, to find the place."""

    def as_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "expected": self.expected,
            "found": self.found,
            "before": self.before,
        }


@dataclass(frozen=True)
class Alignment:
    matches: list[int | None]
    """For each scanned page (in scan order), the generated page it is (1-based), or None."""
    similarity: list[float]
    missing_pages: list[int]
    extra_pages: list[int]
    """Scanned pages (1-based) that are none of the document's, or a second scan of one."""
    out_of_order: bool


def bigrams(text: str) -> Counter[str]:
    return Counter(text[i : i + 2] for i in range(len(text) - 1))


def similarity(a: str, b: str) -> float:
    """Dice coefficient of character bigrams, 0 … 1."""
    ca, cb = bigrams(a), bigrams(b)
    total = sum(ca.values()) + sum(cb.values())
    return 2 * sum((ca & cb).values()) / total if total else 0.0


def align(generated: Sequence[str], scanned: Sequence[str]) -> Alignment:
    """Match scanned pages with generated ones, best pairs first, each page at most once."""
    grams_g = [bigrams(t) for t in generated]
    grams_s = [bigrams(t) for t in scanned]
    pairs = []
    for i, cs in enumerate(grams_s):
        for j, cg in enumerate(grams_g):
            total = sum(cs.values()) + sum(cg.values())
            sim = 2 * sum((cs & cg).values()) / total if total else 0.0
            if sim >= MIN_SIMILARITY:
                pairs.append((sim, i, j))
    matches: list[int | None] = [None] * len(scanned)
    sims = [0.0] * len(scanned)
    taken: set[int] = set()
    for sim, i, j in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if matches[i] is None and j not in taken:
            matches[i], sims[i] = j + 1, round(sim, 3)
            taken.add(j)
    order = [m for m in matches if m is not None]
    return Alignment(
        matches=matches,
        similarity=sims,
        missing_pages=[j + 1 for j in range(len(generated)) if j not in taken],
        extra_pages=[i + 1 for i, m in enumerate(matches) if m is None],
        out_of_order=any(a > b for a, b in zip(order, order[1:], strict=False)),
    )


def differences(expected: str, found: str) -> list[Difference]:
    """What the scan says otherwise than the document, beyond OCR noise (texts normalised)."""
    ops = [op for op in SequenceMatcher(None, expected, found, autojunk=False).get_opcodes()]
    hunks: list[list[int]] = []  # [i1, i2, j1, j2]
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            continue
        if hunks and i1 - hunks[-1][1] <= MERGE_GAP and j1 - hunks[-1][3] <= MERGE_GAP:
            hunks[-1][1], hunks[-1][3] = i2, j2
        else:
            hunks.append([i1, i2, j1, j2])
    out = []
    for i1, i2, j1, j2 in hunks:
        exp, got = expected[i1:i2], found[j1:j2]
        digits = [c for c in exp if c.isdigit()] != [c for c in got if c.isdigit()]
        if not digits and max(len(exp), len(got)) < MIN_CHANGE:
            continue
        kind = "changed" if exp and got else ("added" if got else "missing")
        out.append(Difference(kind, exp, got, expected[max(0, i1 - CONTEXT) : i1]))
    return out
