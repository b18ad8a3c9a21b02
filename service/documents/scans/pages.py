"""The pages of a PDF as the checks need them: lines of text with their boxes, and pictures.

Read with poppler (``pdftotext -bbox-layout``, ``pdftoppm``) in processes of their own with time
limits — a scan came from a user. Boxes are fractions of the page's width and height (origin top
left), so the generated page (points) and a scanned one (pixels at any resolution) compare.
"""

from __future__ import annotations

import html
import re
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)
_LINE = re.compile(
    r'<line xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</line>', re.S
)
_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', re.S
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Word:
    text: str
    box: tuple[float, float, float, float]
    """x0, y0, x1, y1 as fractions of the page."""


@dataclass(frozen=True)
class PageLine:
    text: str
    box: tuple[float, float, float, float]
    words: tuple[Word, ...]


def normalise(text: str) -> str:
    """What two readings of the same print share: NFKC (full-width forms folded), no spaces."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def text_lines(pdf: bytes) -> list[list[PageLine]]:
    """Each page's lines of text with their words, in the order poppler reads them."""
    with tempfile.TemporaryDirectory(prefix="wenshu-pages-") as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(pdf)
        out = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-bbox-layout", str(src), "-"],
            capture_output=True,
            timeout=120,
            check=True,
        ).stdout.decode("utf-8", "replace")
    pages = []
    for width, height, body in _PAGE.findall(out):
        w, h = float(width), float(height)
        lines = []
        for x0, y0, x1, y1, inner in _LINE.findall(body):
            words = tuple(
                Word(html.unescape(t), (float(a) / w, float(b) / h, float(c) / w, float(d) / h))
                for a, b, c, d, t in _WORD.findall(inner)
            )
            text = "".join(word.text for word in words)
            box = (float(x0) / w, float(y0) / h, float(x1) / w, float(y1) / h)
            lines.append(PageLine(text, box, words))
        pages.append(lines)
    return pages


def render_grey(pdf: bytes, dpi: int = 100) -> list[Image.Image]:
    """Every page as a greyscale picture, turned as the page says (``/Rotate``)."""
    with tempfile.TemporaryDirectory(prefix="wenshu-pages-") as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-gray", "-r", str(dpi), str(src), str(Path(tmp) / "p")],
            capture_output=True,
            timeout=60 + 30 * 100,
            check=True,
        )
        images = []
        for path in sorted(Path(tmp).glob("p-*.pgm"), key=lambda p: int(p.stem.split("-")[1])):
            with Image.open(path) as im:
                images.append(im.convert("L").copy())
        return images
