"""An invisible text layer for one page image: a one-page PDF of recognised lines.

ocrmypdf's "sandwich" renderer grafts such a page over the scanned page. The font is Tesseract's
GlyphLessFont (``pdf.ttf`` in its tessdata, one empty glyph for every code), written as a CID font
with an identity ToUnicode map, so a viewer searches and copies Chinese text; text rendering mode
3 (invisible) — the text is never drawn, the picture of the paper is what one sees.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

GLYPHLESS_FONT = Path("/usr/share/tesseract-ocr/5/tessdata/pdf.ttf")
_CMAP = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
1 beginbfrange
<0000> <FFFF> <0000>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end
"""


@dataclass(frozen=True)
class Line:
    """A recognised line in image pixels (origin top left)."""

    text: str
    box: tuple[float, float, float, float]
    """x0, y0, x1, y1."""


def text_page(lines: Sequence[Line], width_px: int, height_px: int, dpi: float) -> bytes:
    """A PDF page the size of the image at ``dpi``, each line's text stretched over its box."""
    scale = 72.0 / dpi
    width, height = width_px * scale, height_px * scale
    ops = [b"BT", b"3 Tr"]
    for line in lines:
        codes = [ord(c) for c in line.text if 0x20 <= ord(c) <= 0xFFFF and not c.isspace()]
        if not codes:
            continue
        x0, y0, x1, y1 = (v * scale for v in line.box)
        size = max(1.0, y1 - y0)
        natural = len(codes) * size / 2  # every glyph is DW 500 wide
        stretch = 100.0 * max(1.0, x1 - x0) / natural
        hexed = "".join(f"{c:04X}" for c in codes).encode()
        ops.append(
            b"/F1 %.2f Tf %.2f Tz 1 0 0 1 %.2f %.2f Tm <%s> Tj"
            % (size, stretch, x0, height - y1 + size * 0.12, hexed)
        )
    ops.append(b"ET")
    content = zlib.compress(b"\n".join(ops))
    cid_to_gid = zlib.compress(b"\x00\x01" * 65536)
    font = GLYPHLESS_FONT.read_bytes()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.3f %.3f] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>" % (width, height),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H "
        b"/DescendantFonts [6 0 R] /ToUnicode 7 0 R >>",
        _stream(content, b"/Filter /FlateDecode"),
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        b"/FontDescriptor 8 0 R /DW 500 /CIDToGIDMap 9 0 R >>",
        _stream(_CMAP, b""),
        b"<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 5 "
        b"/FontBBox [0 0 500 1000] /ItalicAngle 0 /Ascent 1000 /Descent 0 /CapHeight 1000 "
        b"/StemV 80 /FontFile2 10 0 R >>",
        _stream(cid_to_gid, b"/Filter /FlateDecode"),
        _stream(font, b"/Length1 %d" % len(font)),
    ]
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _stream(data: bytes, extra: bytes) -> bytes:
    return b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"
