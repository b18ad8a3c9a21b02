"""How wide a line of text prints: the font, size and letter spacing a paragraph style gives
it in the template, and the advance widths of the font file LibreOffice will use for that
font name (found through Wenshu's fontconfig aliases, as the converter finds it).

The 署名 and the seal are centred on the 成文日期 (GB/T 9704-2012 §7.3.5.1), so its printed
width must be known before LibreOffice sets it: a guess (1 em for a Chinese character, ½ for a
digit) is what put the seal 3.5 mm beside the date's centre when the faces changed.

Where lines break is here too: titles balanced into a 梯形 or 菱形 of whole words (GB/T
9704-2012 §7.3.1) and narrow table cells broken between words, widths counted in characters
(:func:`em_width`). Words are jieba's, less the breaks inside the bureau's trade terms.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import subprocess
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jieba
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


def _style_chain(document: DocxDocument, style_id: str, part: str) -> list[Any]:
    """The ``part`` (``w:rPr`` or ``w:pPr``) of style ``style_id`` and of each style it is
    ``basedOn``, then the document defaults': the order Word resolves a property in."""
    styles = document.styles.element
    by_id = {s.get(qn("w:styleId")): s for s in styles.iterfind(qn("w:style"))}
    chain: list[Any] = []
    style = by_id.get(style_id)
    while style is not None and len(chain) < 20:
        chain.append(style.find(qn(part)))
        based = style.find(qn("w:basedOn"))
        style = by_id.get(based.get(qn("w:val"))) if based is not None else None
    defaults = styles.find(qn("w:docDefaults"))
    if defaults is not None:
        default = "w:rPrDefault" if part == "w:rPr" else "w:pPrDefault"
        chain.append(defaults.find(f"{qn(default)}/{qn(part)}"))
    return [element for element in chain if element is not None]


def style_font(document: DocxDocument, style_id: str) -> RunFont:
    """The East Asian font, size and letter spacing of paragraph style ``style_id``, following
    its ``basedOn`` chain down to the document defaults, as Word resolves them."""
    found: dict[str, str] = {}
    for rpr in _style_chain(document, style_id, "w:rPr"):
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


def named_font(document: DocxDocument, style_id: str) -> str | None:
    """The East Asian font the style (or a style it is based on, or the defaults) names;
    None when nothing names one (Word and LibreOffice would each choose their own)."""
    for rpr in _style_chain(document, style_id, "w:rPr"):
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is not None and fonts.get(qn("w:eastAsia")):
            return str(fonts.get(qn("w:eastAsia")))
    return None


def exact_line_pt(document: DocxDocument, style_id: str) -> float | None:
    """The line pitch of paragraph style ``style_id`` when it is exact (行距 固定值), in points."""
    for ppr in _style_chain(document, style_id, "w:pPr"):
        spacing = ppr.find(qn("w:spacing"))
        if spacing is not None and spacing.get(qn("w:line")):
            if spacing.get(qn("w:lineRule")) != "exact":
                return None
            return int(spacing.get(qn("w:line"))) / 20
    return None


@functools.lru_cache(maxsize=1)
def mapped_font_names() -> frozenset[str]:
    """The font names Wenshu's fontconfig resolves to a face of its own (docs/fonts.md)."""
    try:
        text = FONTS_CONF.read_text(encoding="utf-8")
    except OSError:
        return frozenset()
    aliases = re.findall(r"<alias[^>]*>\s*<family>([^<]+)</family>", text)
    matched = re.findall(r'<test name="family"[^>]*>\s*<string>([^<]+)</string>', text)
    return frozenset(aliases + matched)


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


# ----------------------------------------------------------------------------- line breaks


def em_width(text: str) -> float:
    """Printed width in characters: CJK, full-width and (in a CJK font) ambiguous characters
    such as “ ” — count 1, the rest about ½."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.5 for ch in text)


_NO_LINE_START = set("，。、；：？！）》」』”’〕】…—·,.;:?!)")
_NO_LINE_END = set("（《「『“‘〔【(")


def _word_boundaries(text: str) -> set[int]:
    """Offsets between words (jieba's dictionary loads once per process, on first use)."""
    jieba.setLogLevel(60)
    cuts, pos = set(), 0
    for word in jieba.cut(text):
        pos += len(word)
        cuts.add(pos)
    return cuts


def wrap_words(text: str, per_line: float) -> list[str]:
    """``text`` in lines of at most ``per_line`` characters (:func:`em_width`), broken only
    between words where it can be: a narrow table cell that LibreOffice would break anywhere
    (拒付（追 / 回）医保基 / 金) gets its line breaks from here instead. Punctuation that may not
    start a line stays with the word before it, an opening bracket with the word after; a
    single word longer than a line is broken where it must."""
    words: list[str] = []
    for word in _words(text):
        if words and (word[0] in _NO_LINE_START or words[-1][-1] in _NO_LINE_END):
            words[-1] += word
        else:
            words.append(word)
    lines = [""]
    for word in words:
        if lines[-1] and em_width(lines[-1] + word) > per_line:
            lines.append("")
        while em_width(word) > per_line:
            room = per_line - em_width(lines[-1])
            cut = max(1, max(i for i in range(len(word) + 1) if em_width(word[:i]) <= room))
            lines[-1] += word[:cut]
            word = word[cut:]
            lines.append("")
        lines[-1] += word
    return [line for line in lines if line]


def _words(text: str) -> list[str]:
    cuts = sorted(_word_boundaries(text))
    return [text[a:b] for a, b in zip([0, *cuts[:-1]], cuts, strict=True) if b > a]


_COMPOUNDS = (
    "定点医药机构",
    "定点医疗机构",
    "定点零售药店",
    "医疗保障局",
    "医疗保险",
    "医疗保障",
    "医保基金",
    "医保经办机构",
    "经办机构",
    "欺诈骗保",
    "专项治理",
    "专项检查",
    "工作方案",
    "实施方案",
    "人民政府",
    "统一社会信用代码",
)
"""Terms of the bureau's trade that jieba cuts into smaller words (定点 / 医药 / 机构): a title
is never broken inside one."""

_SHAPE_LINES = 4
"""Titles of up to this many lines are shaped (every break tried); longer ones only evened."""
_SHORT_BY = 5.0
"""How many characters a line of a shaped title may fall short of the even length."""


def _title_breaks(text: str) -> set[int]:
    """Where a title may break: between jieba's words, not inside a trade term."""
    cuts = _word_boundaries(text)
    for term in _COMPOUNDS:
        at = text.find(term)
        while at >= 0:
            cuts -= set(range(at + 1, at + len(term)))
            at = text.find(term, at + 1)
    return cuts


def _shape_cost(lengths: list[float]) -> float:
    """GB/T 9704-2012 §7.3.1 wants the lines of a title to form a 梯形 (each line longer, or
    each shorter, than the one before) or a 菱形 (the middle longest), not a 长方形 of equal
    lines nor an hourglass. 0 for a good shape."""
    steps = [b - a for a, b in zip(lengths, lengths[1:], strict=False)]
    cost = sum(10.0 for d in steps if abs(d) < 1)  # equal lines: a rectangle
    rising = [d > 0 for d in steps if abs(d) >= 1]
    # 梯形: one direction; 菱形: up, then down. Anything else (down then up) is an hourglass.
    falls_then_rises = any(not a and b for a, b in zip(rising, rising[1:], strict=False))
    return cost + (30.0 if falls_then_rises else 0.0)


def balance_lines(text: str, width_pt: float, size_pt: float) -> str:
    """Break a long title into lines at word boundaries (GB/T 9704-2012 §7.3.1: keep words
    whole, lines of about even length forming a 梯形 or 菱形, never a full line and a stub
    like "…的通\n知", never 定点医药 / 机构). A title the user broke by hand is left as typed."""
    if "\n" in text:
        return text
    per_line = int(width_pt // (size_pt - 0.25))
    width = em_width(text)
    if width <= per_line:
        return text
    lines = math.ceil(width / per_line)
    target = width / lines
    n = len(text)
    words = _title_breaks(text)
    prefix = [0.0]
    for ch in text:
        prefix.append(prefix[-1] + em_width(ch))
    inside_book = [0] * (n + 1)  # inside_book[j]: the break before text[j] is inside 《…》
    depth = 0
    for j, ch in enumerate(text):
        inside_book[j] = depth
        depth += 1 if ch == "《" else -1 if ch == "》" and depth else 0

    def cost(i: int, j: int) -> float:
        length = prefix[j] - prefix[i]
        if length > per_line:
            return math.inf
        c = (length - target) ** 2
        if j < n:
            if text[j] in _NO_LINE_START or text[j - 1] in _NO_LINE_END:
                return math.inf
            if text[j - 1].isascii() and text[j].isascii() and text[j].isalnum():
                return math.inf
            if text[j - 1].isascii() and text[j - 1].isdigit():
                return math.inf  # a number stays with its unit: 2021年, 15人次
            if j not in words:
                c += 40.0
            if inside_book[j]:
                c += 2.0  # a book title whole where it can be
            if text[j] == "《" or text[j - 1] == "》" or text[j : j + 3] == "的通知":
                c -= 2.0
        return c

    if lines <= _SHAPE_LINES:
        found = _best_shaped(n, lines, cost, prefix, words)
        if found is not None:
            return _join_lines(text, found)
    # best[k][j]: least cost of setting text[:j] on k lines.
    best = [[math.inf] * (n + 1) for _ in range(lines + 1)]
    back = [[0] * (n + 1) for _ in range(lines + 1)]
    best[0][0] = 0.0
    for k in range(1, lines + 1):
        for j in range(1, n + 1):
            for i in range(j):
                c = best[k - 1][i] + cost(i, j)
                if c < best[k][j]:
                    best[k][j], back[k][j] = c, i
    if math.isinf(best[lines][n]):
        return text
    cuts, j = [], n
    for k in range(lines, 0, -1):
        cuts.append(j)
        j = back[k][j]
    cuts.reverse()
    return _join_lines(text, cuts)


def _best_shaped(
    n: int, lines: int, cost: Callable[[int, int], float], prefix: list[float], words: set[int]
) -> list[int] | None:
    """The cuts (ends of lines) of least cost plus shape cost, trying every set of breaks at
    word boundaries that leaves no line more than :data:`_SHORT_BY` short of the even length;
    None when there is none (the caller then allows breaks inside words)."""
    target = prefix[n] / lines
    best: tuple[float, list[int]] | None = None

    def walk(start: int, cuts: list[int], total: float) -> None:
        nonlocal best
        if len(cuts) == lines - 1:
            c = cost(start, n)
            if math.isinf(c) or prefix[n] - prefix[start] < target - _SHORT_BY:
                return
            ends = [*cuts, n]
            lengths = [prefix[b] - prefix[a] for a, b in zip([0, *cuts], ends, strict=True)]
            score = total + c + _shape_cost(lengths)
            if best is None or score < best[0]:
                best = (score, ends)
            return
        for j in range(start + 1, n):
            length = prefix[j] - prefix[start]
            if length < target - _SHORT_BY or j not in words:
                continue
            c = cost(start, j)
            if math.isinf(c):
                if length > target:
                    break
                continue
            walk(j, [*cuts, j], total + c)

    walk(0, [], 0.0)
    return best[1] if best is not None else None


def _join_lines(text: str, cuts: list[int]) -> str:
    return "\n".join(text[a:b] for a, b in zip([0, *cuts[:-1]], cuts, strict=True))
