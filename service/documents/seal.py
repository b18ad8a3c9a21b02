"""The red round seal (公章) of an organisation, drawn as a PNG and floated over a DOCX.

The image is what a reader expects on a 红头文件: a red ring, the organisation's name along
the upper arc read clockwise, a five-pointed star in the middle, transparent elsewhere so
the 署名 and 成文日期 show through. It is a picture of a seal, not a signature: the
cryptographic signature is applied to the PDF separately.
"""

from __future__ import annotations

import functools
import io
import logging
import math
import subprocess
from pathlib import Path

from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.shared import Mm
from docx.text.run import Run
from PIL import Image, ImageDraw, ImageFont

from service.documents._internals import run_xml

log = logging.getLogger("wenshu.seal")

SEAL_RED = (230, 0, 18)
SEAL_DIAMETER_MM = 42
_INK_ALPHA = 235  # a little translucent, like ink: text under the seal stays legible
_SUPERSAMPLE = 2
_FALLBACK_FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", "Noto Sans CJK SC"),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", "Noto Serif CJK SC"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
)


@functools.cache
def _font_source() -> tuple[str, int]:
    """Path and face index of Noto Sans CJK SC Bold (a .ttc holds several faces)."""
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}\n%{index}\n%{family}", "Noto Sans CJK SC:bold"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.split("\n")
        if len(out) >= 3 and "Noto Sans CJK SC" in out[2] and Path(out[0]).is_file():
            return out[0], int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.info("fc-match unavailable (%s); trying known font paths", exc)
    for path, family in _FALLBACK_FONTS:
        if not Path(path).is_file():
            continue
        for index in range(10):
            try:
                face = ImageFont.truetype(path, 20, index=index)
            except OSError:
                break
            if face.getname()[0] == family:
                return path, index
    raise RuntimeError("no CJK font for the seal: install fonts-noto-cjk")


def _font(size: int) -> ImageFont.FreeTypeFont:
    path, index = _font_source()
    return ImageFont.truetype(path, size, index=index)


def _glyph(ch: str, size: int, condense: float) -> Image.Image:
    """One character as an 8-bit mask, narrowed like the characters cut into a seal."""
    box = int(size * 1.3)
    img = Image.new("L", (box, box), 0)
    ImageDraw.Draw(img).text((box / 2, box / 2), ch, fill=255, font=_font(size), anchor="mm")
    return img.resize((max(1, int(box * condense)), box), Image.Resampling.LANCZOS)


def _star(cx: float, cy: float, r_outer: float) -> list[tuple[float, float]]:
    r_inner = r_outer * 0.382
    points = []
    for k in range(10):
        r = r_outer if k % 2 == 0 else r_inner
        a = math.radians(-90 + k * 36)
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


@functools.lru_cache(maxsize=64)
def make_seal_png(org_name: str, size_px: int = 600) -> bytes:
    """A red round seal for ``org_name`` as a PNG with a transparent background.

    The name runs clockwise along the upper arc, centred on the top; the more characters,
    the longer the arc (up to 270°) and then the smaller the characters.
    """
    name = "".join(org_name.split())
    s = size_px * _SUPERSAMPLE
    c = s / 2
    ink = Image.new("L", (s, s), 0)
    draw = ImageDraw.Draw(ink)

    r_outer = s / 2 - 2 * _SUPERSAMPLE
    ring = s * 0.036
    draw.ellipse((c - r_outer, c - r_outer, c + r_outer, c + r_outer), fill=255)
    r_in = r_outer - ring
    draw.ellipse((c - r_in, c - r_in, c + r_in, c + r_in), fill=0)

    draw.polygon(_star(c, c, s * 0.155), fill=255)

    if name:
        condense = 0.78
        size = int(s * 0.15)
        n = len(name)
        r_text = r_in - s * 0.02 - size * 0.62
        natural = n * (size * condense * 1.18) / r_text
        span = min(math.radians(270), max(math.radians(150 if n < 6 else 200), natural))
        step = span / n
        fit = step * r_text / (condense * 1.12)
        if fit < size:  # long names: smaller characters, placed a bit further out
            size = int(fit)
            r_text = r_in - s * 0.02 - size * 0.62
            step = span / n
        for i, ch in enumerate(name):
            theta = -span / 2 + step * (i + 0.5)
            glyph = _glyph(ch, size, condense).rotate(
                -math.degrees(theta), resample=Image.Resampling.BICUBIC, expand=True
            )
            x = c + r_text * math.sin(theta) - glyph.width / 2
            y = c - r_text * math.cos(theta) - glyph.height / 2
            ink.paste(255, (round(x), round(y)), glyph)

    ink = ink.resize((size_px, size_px), Image.Resampling.LANCZOS)
    alpha = ink.point(lambda v: v * _INK_ALPHA // 255)
    seal = Image.new("RGBA", (size_px, size_px), (*SEAL_RED, 0))
    seal.putalpha(alpha)
    buf = io.BytesIO()
    seal.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def float_seal(run: Run, png: bytes, *, x_emu: int, y_emu: int, diameter_mm: float = 42) -> None:
    """Add the seal to ``run`` as a floating picture in front of the text.

    ``x_emu`` is measured from the left margin, ``y_emu`` from the top of the run's
    paragraph (negative: above it). python-docx only makes inline pictures, so the inline
    is rewritten as a ``wp:anchor`` with no text wrapping.
    """
    run.add_picture(io.BytesIO(png), width=Mm(diameter_mm), height=Mm(diameter_mm))
    inline = run_xml(run).xpath(".//wp:inline")[-1]
    extent = inline.find(inline.extent.tag)
    doc_pr = inline.docPr
    doc_pr.set("name", "公章")
    doc_pr.set("descr", "公章")
    graphic = inline.graphic
    anchor = parse_xml(
        f'<wp:anchor {nsdecls("wp", "a", "pic", "r")} distT="0" distB="0" distL="0" '
        'distR="0" simplePos="0" relativeHeight="251659264" behindDoc="0" locked="0" '
        'layoutInCell="1" allowOverlap="1">'
        '<wp:simplePos x="0" y="0"/>'
        f'<wp:positionH relativeFrom="margin"><wp:posOffset>{int(x_emu)}</wp:posOffset>'
        "</wp:positionH>"
        f'<wp:positionV relativeFrom="paragraph"><wp:posOffset>{int(y_emu)}</wp:posOffset>'
        "</wp:positionV>"
        "</wp:anchor>"
    )
    anchor.append(extent)
    anchor.append(parse_xml(f'<wp:effectExtent {nsdecls("wp")} l="0" t="0" r="0" b="0"/>'))
    anchor.append(parse_xml(f"<wp:wrapNone {nsdecls('wp')}/>"))
    anchor.append(doc_pr)
    anchor.append(
        parse_xml(
            f"<wp:cNvGraphicFramePr {nsdecls('wp', 'a')}>"
            '<a:graphicFrameLocks noChangeAspect="1"/></wp:cNvGraphicFramePr>'
        )
    )
    anchor.append(graphic)
    inline.getparent().replace(inline, anchor)
