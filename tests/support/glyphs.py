"""Where every glyph of a PDF is printed (pdfminer.six), for tests that measure the paper:
spacing between characters, the centre of a date, the seal image, the font of a line.

Positions are in PDF points from the page's lower left corner.
"""

from __future__ import annotations

import io
import re
import statistics
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pdfminer.high_level import extract_pages
from pdfminer.layout import LTChar, LTImage

MM = 72 / 25.4


@dataclass(frozen=True)
class Glyph:
    text: str
    x0: float
    x1: float
    """x0 plus the glyph's advance."""
    y0: float
    size: float
    font: str
    """The embedded font's name without its subset tag, e.g. FandolFang-Regular."""


@dataclass(frozen=True)
class Page:
    number: int
    glyphs: list[Glyph]
    """In the order the page draws them (reading order for LibreOffice's output); a typed
    space is a glyph too."""
    images: list[tuple[float, float, float, float]]
    """Bounding boxes (x0, y0, x1, y1) of the pictures."""

    @property
    def text(self) -> str:
        return "".join(g.text for g in self.glyphs)

    def find(self, text: str) -> list[list[Glyph]]:
        """The glyphs of every occurrence of ``text`` (no whitespace inside) on the page."""
        flat = self.text
        return [self.glyphs[m.start() : m.end()] for m in re.finditer(re.escape(text), flat)]


def _walk(element: Any) -> Iterator[Any]:
    yield element
    if hasattr(element, "__iter__"):
        for child in element:
            yield from _walk(child)


def pages(pdf: bytes) -> list[Page]:
    out = []
    for number, layout in enumerate(extract_pages(io.BytesIO(pdf), laparams=None), start=1):
        glyphs, images = [], []
        for el in _walk(layout):
            if isinstance(el, LTChar) and el.get_text() not in ("\n", ""):
                font = el.fontname.split("+", 1)[-1]
                glyphs.append(Glyph(el.get_text(), el.x0, el.x1, el.y0, el.size, font))
            elif isinstance(el, LTImage):
                images.append((el.x0, el.y0, el.x1, el.y1))
        out.append(Page(number, glyphs, images))
    return out


def is_chinese(ch: str) -> bool:
    """A Chinese character (not punctuation, not a full-width digit)."""
    return unicodedata.east_asian_width(ch) in "WF" and unicodedata.category(ch) == "Lo"


def is_digit(ch: str) -> bool:
    return ch.isascii() and ch.isdigit()


@dataclass(frozen=True)
class Boundary:
    page: int
    pair: str
    gap_em: float
    """Space between the two glyphs beyond their advances, in ems of the first."""
    line_em: float
    """The median such space between two Chinese characters of the same line: what
    justification adds to every character of a stretched line (0 on a line set solid)."""
    context: str


def runs(page: Page) -> list[list[Glyph]]:
    """Glyphs set side by side: consecutive on one baseline, each less than ½ em after the
    previous (a table cell, a tab or a distant field starts a new run)."""
    found: list[list[Glyph]] = []
    for g in page.glyphs:
        if found:
            prev = found[-1][-1]
            if abs(g.y0 - prev.y0) < 0.5 and prev.x0 <= g.x0 and g.x0 - prev.x1 < 0.5 * prev.size:
                found[-1].append(g)
                continue
        found.append([g])
    return found


def digit_chinese_boundaries(pdf: bytes) -> list[Boundary]:
    """Every place where a digit and a Chinese character are set next to each other."""
    out = []
    for page in pages(pdf):
        for run in runs(page):
            pairs = list(zip(run, run[1:], strict=False))
            chinese = [
                (b.x0 - a.x1) / a.size
                for a, b in pairs
                if is_chinese(a.text) and is_chinese(b.text)
            ]
            line = statistics.median(chinese) if chinese else 0.0
            text = "".join(g.text for g in run)
            for i, (a, b) in enumerate(pairs):
                if (is_digit(a.text) and is_chinese(b.text)) or (
                    is_chinese(a.text) and is_digit(b.text)
                ):
                    out.append(
                        Boundary(
                            page.number,
                            a.text + b.text,
                            (b.x0 - a.x1) / a.size,
                            line,
                            text[max(0, i - 6) : i + 8],
                        )
                    )
    return out
