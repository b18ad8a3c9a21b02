"""Files appended to a notice as its 附件: checked on upload, laid into the notice's PDF.

The renderer leaves empty pages for a file attachment in the notice itself (the first headed
附件N by the template's own style, every one numbered by the template's footer, the 版记 after
them: ``render_notice.FILE_PAGES``). After conversion, :func:`lay_under` puts each page of the
file *under* those pages: its printed area (what a 50 dpi rendering shows ink on) is scaled
down if need be, never up, to fit the 版心 — below the 附件N line on the first page — and a
landscape page is turned so that its top faces the binding edge, as GB/T 9704-2012 §7.3.7
and §10 want a 横排表格. A page of a Wenshu document keeps only its 版心, so its own page
number gives way to the notice's.

An upload is sniffed from its bytes (``%PDF-`` or a ZIP holding ``word/document.xml`` that
python-docx opens), whole, unencrypted, of sane pages, with every font embedded (the notice
stays PDF/A-2b); every refusal is a :class:`ValidationError` naming ``file``.
"""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
from PIL import Image
from pypdf import PageObject, PdfReader, PdfWriter, Transformation
from pypdf.errors import PdfReadError
from pypdf.generic import ContentStream

from archive.errors import ValidationError
from service.documents.layout import LINE_PT, RenderError
from service.documents.scan import MAX_PAGE_POINTS, refuse

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_EMU_PER_PT = 12700
_INK_DPI = 50
_INK_LEVEL = 245  # a grey level under this is ink
_PAGE_NUMBER = re.compile(r"^\s*[—–-]\s*\d+\s*[—–-]\s*$")


@dataclass(frozen=True)
class TextArea:
    """The 版心 of the notice's pages, in points from the page's top-left corner."""

    left: float
    top: float
    width: float
    height: float
    line: float = LINE_PT


@dataclass(frozen=True)
class AppendedFile:
    """One file attachment as the notice receives it."""

    label: str
    """附件N (附件 when it is the only attachment): its first page's heading."""
    pdf: bytes
    pages: int
    from_wenshu: bool = False
    """A document of this system: only its 版心 is taken (its page numbers give way)."""


def text_area(template: Path | bytes) -> TextArea:
    """The 版心 of a template's first section (page size less margins): a template file, or
    the bytes of an org's own version of it."""
    source = io.BytesIO(template) if isinstance(template, bytes) else str(template)
    section = docx.Document(source).sections[0]

    def pt(v: Any) -> float:
        return float(v or 0) / _EMU_PER_PT

    width = pt(section.page_width) - pt(section.left_margin) - pt(section.right_margin)
    height = pt(section.page_height) - pt(section.top_margin) - pt(section.bottom_margin)
    return TextArea(pt(section.left_margin), pt(section.top_margin), width, height)


def inspect_attachment(data: bytes, max_pages: int) -> str:
    """The media type of an uploaded attachment (PDF or DOCX), or a 422 naming ``file``.

    A PDF is also checked whole here (pages, sizes, embedded fonts); a DOCX is checked once
    converted, by :func:`check_pdf` on the converter's PDF.
    """
    if not data:
        raise refuse("请选择要作为附件的文件（PDF 或 DOCX）")
    if data.startswith(b"%PDF-"):
        check_pdf(data, max_pages)
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                if "word/document.xml" not in z.namelist():
                    raise refuse("该 ZIP 文件不是 Word 文档（DOCX）")
            docx.Document(io.BytesIO(data))
        except ValidationError:
            raise
        except Exception as exc:  # python-docx raises many types on a broken package
            raise refuse("DOCX 文件已损坏，无法读取") from exc
        return DOCX
    raise refuse("附件须为 PDF 或 DOCX 文件（按文件内容识别，不看扩展名）")


def check_pdf(data: bytes, max_pages: int) -> int:
    """Pages of a PDF fit to append: whole, unencrypted, sane page sizes, fonts embedded."""
    if b"%%EOF" not in data[-2048:]:
        raise refuse("PDF 文件不完整（缺少文件结尾），请重新导出后上传")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise refuse("PDF 已加密或设置了密码，无法附在公文之后")
            pages = len(reader.pages)
            if pages == 0:
                raise refuse("PDF 中没有页面")
            if pages > max_pages:
                raise refuse(f"附件超过 {max_pages} 页，请拆分后上传")
            for n, page in enumerate(reader.pages, 1):
                box = page.mediabox
                if not 0 < max(float(box.width), float(box.height)) <= MAX_PAGE_POINTS:
                    raise refuse(f"PDF 第 {n} 页尺寸异常")
                missing = _unembedded_font(page)
                if missing:
                    raise refuse(f"PDF 第 {n} 页的字体 {missing} 未嵌入；请导出 PDF 时选择嵌入字体")
    except ValidationError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise refuse("PDF 文件已损坏，无法读取") from exc
    return pages


def _unembedded_font(page: PageObject) -> str | None:
    """The name of a font the page uses without embedding it (forms one level deep)."""
    resources = [page.get("/Resources")]
    for depth in range(2):
        nested = []
        for res in resources:
            res = res.get_object() if res is not None else None
            if not res:
                continue
            for ref in (res.get("/Font") or {}).values():
                font = ref.get_object()
                fonts = [d.get_object() for d in font.get("/DescendantFonts", [])] or [font]
                for f in fonts:
                    if f.get("/Subtype") == "/Type3":
                        continue
                    desc = f.get("/FontDescriptor")
                    desc = desc.get_object() if desc is not None else {}
                    if not any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                        return str(f.get("/BaseFont", "?")).lstrip("/")
            if depth == 0:
                for ref in (res.get("/XObject") or {}).values():
                    obj = ref.get_object()
                    if obj.get("/Subtype") == "/Form" and obj.get("/Resources") is not None:
                        nested.append(obj.get("/Resources"))
        resources = nested
    return None


def lay_under(notice: bytes, files: list[AppendedFile], area: TextArea) -> bytes:
    """``notice`` with each file's pages laid under the empty pages left for it."""
    if not files:
        return notice
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(notice)))
    texts = [page.extract_text() or "" for page in writer.pages]
    start = 0
    for f in files:
        first = _placeholder(texts, f, start)
        source = PdfWriter(clone_from=PdfReader(io.BytesIO(f.pdf)))
        for page in source.pages:
            page.transfer_rotation_to_content()
        boxes = _ink_boxes(f.pdf, list(source.pages)[: f.pages])
        for j in range(f.pages):
            page = source.pages[j]
            box = boxes[j]
            if box is None:
                continue
            if f.from_wenshu:
                box = _intersect(box, _area_box(page, area))
                if box is None:
                    continue
            target = writer.pages[first + j]
            top = area.top + (area.line if j == 0 else 0.0)
            _clip(source, page, box)
            target.merge_transformed_page(
                page, _fit(page, box, target, area, top), over=False, expand=False
            )
        start = first + f.pages
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _placeholder(texts: list[str], f: AppendedFile, start: int) -> int:
    """The index of the first of the empty pages left for ``f`` (from ``start`` on)."""
    for i in range(start, len(texts) - f.pages + 1):
        lines = [ln for ln in texts[i].splitlines() if ln.strip()]
        words = ["".join(ln.split()) for ln in lines if not _PAGE_NUMBER.match(ln)]
        if words != [f.label]:
            continue
        rest = texts[i + 1 : i + f.pages]
        if all(all(_PAGE_NUMBER.match(ln) for ln in t.splitlines() if ln.strip()) for t in rest):
            return i
    raise RenderError(f"通知中找不到为{f.label}留出的 {f.pages} 页")


def _ink_boxes(
    pdf: bytes, pages: list[PageObject]
) -> list[tuple[float, float, float, float] | None]:
    """Per page (upright), the box in PDF points of what prints, from a rendering of ``pdf``."""
    out: list[tuple[float, float, float, float] | None] = []
    with tempfile.TemporaryDirectory(prefix="wenshu-attach-") as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", str(_INK_DPI), "-gray", str(src), str(Path(tmp) / "p")],
            capture_output=True,
            timeout=120,
            check=True,
        )
        images = sorted(Path(tmp).glob("p-*.pgm"), key=lambda p: int(p.stem.split("-")[-1]))
        for n, page in enumerate(pages):
            box = page.mediabox
            with Image.open(images[n]) as im:
                ink = im.point(lambda v: 255 if v < _INK_LEVEL else 0).getbbox()
                w, h = im.size
            if ink is None:
                out.append(None)
                continue
            sx, sy = float(box.width) / w, float(box.height) / h
            x0, y0 = float(box.left) + ink[0] * sx, float(box.top) - ink[3] * sy
            x1, y1 = float(box.left) + ink[2] * sx, float(box.top) - ink[1] * sy
            pad = 2.0
            out.append((x0 - pad, y0 - pad, x1 + pad, y1 + pad))
    return out


def _area_box(page: PageObject, area: TextArea) -> tuple[float, float, float, float]:
    box = page.mediabox
    top = float(box.top)
    return (
        float(box.left) + area.left,
        top - area.top - area.height,
        float(box.left) + area.left + area.width,
        top - area.top,
    )


def _intersect(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float]
) -> tuple[float, float, float, float] | None:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def _clip(writer: PdfWriter, page: PageObject, box: tuple[float, float, float, float]) -> None:
    """Nothing of ``page`` outside ``box`` is drawn (another document's page number)."""
    x0, y0, x1, y1 = box
    content = page.get_contents()
    data = content.get_data() if content is not None else b""
    stream = ContentStream(None, writer)
    stream.set_data(
        f"q {x0:.2f} {y0:.2f} {x1 - x0:.2f} {y1 - y0:.2f} re W n\n".encode() + data + b"\nQ"
    )
    page.replace_contents(stream)


def _fit(
    page: PageObject,
    box: tuple[float, float, float, float],
    target: PageObject,
    area: TextArea,
    top: float,
) -> Transformation:
    """Move ``box`` of ``page`` into the 版心 of ``target`` below ``top``: scaled down to fit,
    centred across, from the top; a landscape page turned a quarter anticlockwise."""
    x0, y0, x1, y1 = box
    turn = float(page.mediabox.width) > float(page.mediabox.height)
    t = Transformation()
    if turn:  # (x, y) → (−y, x): the page's top now faces the left, the binding edge
        t = t.rotate(90)
        x0, y0, x1, y1 = -y1, x0, -y0, x1
    bw, bh = x1 - x0, y1 - y0
    room_w = area.width
    room_h = area.top + area.height - top
    scale = min(1.0, room_w / bw, room_h / bh)
    tbox = target.mediabox
    left = float(tbox.left) + area.left + (room_w - bw * scale) / 2
    upper = float(tbox.top) - top
    return t.scale(scale, scale).translate(left - x0 * scale, upper - y1 * scale)
