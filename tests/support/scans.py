"""Scans of printed documents as tests need them: pages as images, and what a hand does to paper
(a signature, a pasted slip with other words, a typed note).

Positions come from the generated PDF's own text (``pdftotext -bbox-layout`` through
``service.documents.scans.pages``), never from layout constants, so a change of layout moves
them along.
"""

from __future__ import annotations

import subprocess
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from service.documents.scans.pages import PageLine, normalise, text_lines

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
HAND = "/usr/share/fonts/truetype/arphic/ukai.ttc"


def page_images(pdf: bytes, tmp: Path, dpi: int = 150) -> list[Image.Image]:
    """The PDF's pages as RGB pictures, as a scanner hands them over."""
    (tmp / "doc.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(tmp / "doc.pdf"), str(tmp / "page")],
        check=True,
        timeout=120,
    )
    paths = sorted(tmp.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1]))
    return [Image.open(p).convert("RGB") for p in paths]


def png(im: Image.Image, dpi: int = 150) -> bytes:
    out = BytesIO()
    im.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def lines_of(pdf: bytes) -> list[list[PageLine]]:
    return text_lines(pdf)


def label_boxes(lines: list[PageLine], label: str) -> list[tuple[float, float, float, float]]:
    """Where ``label`` (e.g. 被询问人签名) is printed on a page, as fractions."""
    return [w.box for ln in lines for w in ln.words if normalise(w.text).startswith(label)]


def sign_after(
    im: Image.Image, box: tuple[float, float, float, float], name: str = "赵志明"
) -> None:
    """Write a name in a brush hand, with a flourish, just right of a printed label."""
    w, h = im.size
    x, y0, y1 = int(box[2] * w) + 12, int(box[1] * h), int(box[3] * h)
    size = int((y1 - y0) * 1.3)
    draw = ImageDraw.Draw(im)
    draw.text((x, y0 - size // 3), name, fill=(25, 25, 70), font=ImageFont.truetype(HAND, size))
    draw.line(
        [(x, y1), (x + size, y1 - 6), (x + 2 * size, y1 + 2), (x + 3 * size, y1 - 4)],
        fill=(25, 25, 70),
        width=3,
    )


def paste_over(im: Image.Image, box: tuple[float, float, float, float], text: str) -> None:
    """A slip of paper pasted over a printed line, with other words on it."""
    w, h = im.size
    x0, y0, x1, y1 = int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)
    draw = ImageDraw.Draw(im)
    draw.rectangle((x0 - 4, y0 - 4, x1 + 4, y1 + 4), fill="white")
    size = max(10, int((y1 - y0) * 0.8))
    draw.text((x0, y0), text, fill="black", font=ImageFont.truetype(FONT, size))


def type_line(im: Image.Image, text: str, at: float, size: int = 40) -> None:
    """A clean typed line across the page at ``at`` of its height."""
    draw = ImageDraw.Draw(im)
    draw.text(
        (int(im.width * 0.13), int(im.height * at)),
        text,
        fill="black",
        font=ImageFont.truetype(FONT, size),
    )
