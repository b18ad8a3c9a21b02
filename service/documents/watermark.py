"""The 草稿 watermark on previews.

A preview shows the final layout, so nobody should mistake it for an issued document: every
page gets a large light-grey 草稿 across its diagonal. The mark is a picture (drawn with
Pillow, so any CJK font works and no font needs embedding) placed *under* the page content,
so the text stays selectable and extractable and the seal stays on top.
"""

from __future__ import annotations

import functools
import io
import math
import zlib

from PIL import Image, ImageDraw, ImageFont
from pypdf import PageObject, PdfReader, PdfWriter, Transformation
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
)

from service.documents._internals import add_pdf_object
from service.documents.seal import _font_source

DRAFT_TEXT = "草稿"
_GREY = 190  # DeviceGray 0–255: light enough that black text over it reads normally
_OPACITY = 0.45
_DPI = 72.0  # pixels per point / 72: the mark is large and soft-edged, 1 px per pt is plenty


def _mask(width_pt: float, height_pt: float, text: str) -> Image.Image:
    """An 8-bit alpha mask of ``text`` along the page diagonal, bottom-left to top-right."""
    scale = _DPI / 72.0
    w, h = max(1, round(width_pt * scale)), max(1, round(height_pt * scale))
    diagonal = math.hypot(w, h)
    path, index = _font_source()
    size = int(diagonal * 0.42 / max(1, len(text)))
    font = ImageFont.truetype(path, size, index=index)
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    label = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(label).text((4 - left, 4 - top), text, fill=round(255 * _OPACITY), font=font)
    label = label.rotate(
        math.degrees(math.atan2(h, w)), expand=True, resample=Image.Resampling.BICUBIC
    )
    mask = Image.new("L", (w, h), 0)
    mask.paste(label, ((w - label.width) // 2, (h - label.height) // 2))
    return mask


def _image_stream(mode_bytes: bytes, w: int, h: int, smask: object | None = None) -> StreamObject:
    stream = DecodedStreamObject()
    stream.set_data(zlib.compress(mode_bytes, 9))
    stream[NameObject("/Type")] = NameObject("/XObject")
    stream[NameObject("/Subtype")] = NameObject("/Image")
    stream[NameObject("/Width")] = NumberObject(w)
    stream[NameObject("/Height")] = NumberObject(h)
    stream[NameObject("/ColorSpace")] = NameObject("/DeviceGray")
    stream[NameObject("/BitsPerComponent")] = NumberObject(8)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    if smask is not None:
        stream[NameObject("/SMask")] = smask  # type: ignore[assignment]
    return stream


@functools.lru_cache(maxsize=8)
def _stamp_pdf(width_pt: float, height_pt: float, text: str) -> bytes:
    """A one-page PDF of the page's size holding only the watermark picture."""
    mask = _mask(width_pt, height_pt, text)
    w, h = mask.size
    writer = PdfWriter()
    page = writer.add_blank_page(width_pt, height_pt)
    alpha = add_pdf_object(writer, _image_stream(mask.tobytes(), w, h))
    grey = add_pdf_object(writer, _image_stream(bytes([_GREY]) * (w * h), w, h, smask=alpha))
    page[NameObject("/Resources")] = DictionaryObject(
        {
            NameObject("/XObject"): DictionaryObject({NameObject("/Draft"): grey}),
            NameObject("/ProcSet"): ArrayObject([NameObject("/PDF"), NameObject("/ImageB")]),
        }
    )
    content = DecodedStreamObject()
    content.set_data(f"q {width_pt:.3f} 0 0 {height_pt:.3f} 0 0 cm /Draft Do Q".encode())
    page[NameObject("/Contents")] = add_pdf_object(writer, content)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def watermark_draft(pdf: bytes, text: str = DRAFT_TEXT) -> bytes:
    """Return ``pdf`` with a light-grey diagonal 草稿 under the content of every page.

    Page sizes, text (extractable, selectable) and document metadata are kept.
    """
    reader = PdfReader(io.BytesIO(pdf))
    writer = PdfWriter(clone_from=reader)
    stamps: dict[tuple[float, float], PageObject] = {}  # one picture per page size, shared
    for page in writer.pages:
        box = page.mediabox
        size = (round(float(box.width), 2), round(float(box.height), 2))
        if size not in stamps:
            stamps[size] = PdfReader(io.BytesIO(_stamp_pdf(*size, text))).pages[0]
        stamp = stamps[size]
        move = Transformation().translate(float(box.left), float(box.bottom))
        page.merge_transformed_page(stamp, move, over=False)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
