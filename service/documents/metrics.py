"""How wide a line of text prints: the font, size and letter spacing a paragraph style gives
it in the template, and the advance widths of the font file LibreOffice will use for that
font name (found through Wenshu's fontconfig aliases, as the converter finds it).

The 署名 and the seal are centred on the 成文日期 (GB/T 9704-2012 §7.3.5.1), so its printed
width must be known before LibreOffice sets it: a guess (1 em for a Chinese character, ½ for a
digit) is what put the seal 3.5 mm beside the date's centre when the faces changed.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import unicodedata
from dataclasses import dataclass
from typing import Any

from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from PIL import ImageFont

from service.documents.convert.instance import FONTS_CONF

log = logging.getLogger("wenshu.documents")

_UNITS = 1000  # font size in pixels for measuring: advances come out in 1/1000 em


@dataclass(frozen=True)
class RunFont:
    """The character formatting a paragraph style gives its text."""

    family: str
    """The East Asian font name the template asks for, e.g. 仿宋_GB2312."""
    size_pt: float
    """Font size in points (3号 = 16)."""
    tracking_pt: float = 0.0
    """Letter spacing added after each character, in points (negative: closer)."""


def style_font(document: DocxDocument, style_id: str) -> RunFont:
    """The East Asian font, size and letter spacing of paragraph style ``style_id``, following
    its ``basedOn`` chain down to the document defaults, as Word resolves them."""
    styles = document.styles.element
    by_id = {s.get(qn("w:styleId")): s for s in styles.iterfind(qn("w:style"))}
    found: dict[str, str] = {}
    chain: list[Any] = []
    style = by_id.get(style_id)
    while style is not None and len(chain) < 20:
        chain.append(style.find(qn("w:rPr")))
        based = style.find(qn("w:basedOn"))
        style = by_id.get(based.get(qn("w:val"))) if based is not None else None
    defaults = styles.find(qn("w:docDefaults"))
    if defaults is not None:
        chain.append(defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}"))
    for rpr in chain:
        if rpr is None:
            continue
        fonts, size = rpr.find(qn("w:rFonts")), rpr.find(qn("w:sz"))
        spacing = rpr.find(qn("w:spacing"))
        if fonts is not None and fonts.get(qn("w:eastAsia")):
            found.setdefault("family", fonts.get(qn("w:eastAsia")))
        if size is not None:
            found.setdefault("size", size.get(qn("w:val")))
        if spacing is not None:
            found.setdefault("spacing", spacing.get(qn("w:val")))
    return RunFont(
        family=found.get("family", "仿宋_GB2312"),
        size_pt=int(found.get("size", "21")) / 2,  # Word's default: 10.5 pt
        tracking_pt=int(found.get("spacing", "0")) / 20,
    )


def printed_width(text: str, font: RunFont) -> float:
    """Width in points of ``text`` set in ``font`` on one line: the glyphs' advances and the
    letter spacing after each character."""
    face = _face(font.family)
    advances = sum(face.getlength(ch) for ch in text) / _UNITS if face else _em_guess(text)
    return advances * font.size_pt + font.tracking_pt * len(text)


def _em_guess(text: str) -> float:
    """Without a font file: 1 em for a Chinese character, ½ for the rest."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.5 for ch in text)


@functools.lru_cache(maxsize=32)
def _face(family: str) -> ImageFont.FreeTypeFont | None:
    """The font file fontconfig hands LibreOffice for ``family`` under Wenshu's aliases."""
    env = {**os.environ, "FONTCONFIG_FILE": str(FONTS_CONF)}
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}\n%{index}", family],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
            env=env,
        ).stdout.split("\n")
        return ImageFont.truetype(out[0], _UNITS, index=int(out[1] or 0))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        log.warning("no font file for %s (%s): widths are estimated", family, exc)
        return None
