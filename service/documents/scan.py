"""Inspecting an uploaded scan before anything is stored: type, size, pages, pixels, structure.

An upload is either one PDF or page images in order (JPEG, PNG, TIFF — a TIFF may hold several
pages). The type is sniffed from the bytes, never taken from the file name or Content-Type.
Images are checked from their headers before any pixel is decoded (a 30,000 × 30,000 PNG is
refused without allocating it), then assembled losslessly into one PDF by ``img2pdf``. Every
refusal is a :class:`ValidationError` naming the ``file`` field; nothing has been written yet.
"""

from __future__ import annotations

import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from archive.errors import ValidationError

MAX_PAGES = 100
"""A transcript or record runs to a few pages; a hundred leaves room for attachments."""
MAX_PIXELS = 80_000_000
"""Per page: an A3 page at 600 dpi is 70 million pixels."""
MAX_PAGE_POINTS = 3_400
"""A PDF page's longer side, in points (A0 is 3,370): OCR renders every page."""
IMG2PDF_TIMEOUT = 120
FIELD = "file"

MAGIC = (
    (b"%PDF-", "pdf"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
LABEL = {"pdf": "PDF", "jpeg": "JPEG", "png": "PNG", "tiff": "TIFF"}
DECLARED = {
    ".pdf": "pdf", ".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".tif": "tiff", ".tiff": "tiff",
    "application/pdf": "pdf", "image/jpeg": "jpeg", "image/png": "png", "image/tiff": "tiff",
}  # fmt: skip
"""What a file name or Content-Type claims; a claim the bytes contradict is refused."""


@dataclass(frozen=True)
class Scan:
    """An upload that passed every check: the scan as one PDF, and its page count."""

    pdf: bytes
    source: str  # pdf | images
    pages: int
    upload_bytes: int


class UploadTooLarge(ValidationError):
    """The upload exceeds ``MAX_UPLOAD_BYTES`` (413)."""

    code = "too_large"


def refuse(message: str) -> ValidationError:
    return ValidationError(message, errors={FIELD: [message]})


def sniff(data: bytes) -> str | None:
    """The file's type from its first bytes (a PDF header may follow a little junk)."""
    for magic, kind in MAGIC:
        if data.startswith(magic):
            return kind
    if b"%PDF-" in data[:1024]:
        return "pdf"
    return None


def inspect_upload(uploads: list[tuple[str, str, bytes]]) -> Scan:
    """Check ``uploads`` (name, declared Content-Type, bytes) as one scan and return it as a
    PDF; refuse with 422."""
    files = [(name, data) for name, _declared, data in uploads if data]
    if not files:
        raise refuse("请选择签字原件的扫描文件（PDF，或按页序的 JPEG/PNG/TIFF 图片）")
    kinds = []
    for n, (name, declared, data) in enumerate((u for u in uploads if u[2]), 1):
        label = f"第 {n} 个文件（{name or '未命名'}）"
        kind = sniff(data)
        if kind is None:
            raise refuse(f"{label}不是 PDF、JPEG、PNG 或 TIFF（按文件内容识别）")
        for claim in (Path(name).suffix.lower(), declared.split(";")[0].strip().lower()):
            if DECLARED.get(claim, kind) != kind:
                raise refuse(
                    f"{label}声明为 {LABEL[DECLARED[claim]]}，内容却是 {LABEL[kind]}；"
                    f"请上传与声明一致的文件"
                )
        kinds.append(kind)
    size = sum(len(data) for _, data in files)
    if "pdf" in kinds:
        if len(files) > 1:
            raise refuse("PDF 须单独上传一个文件；多页图片可按页序一次选择多张")
        return Scan(files[0][1], "pdf", _check_pdf(files[0][1]), size)
    pages = 0
    normalised = []
    for n, ((name, data), kind) in enumerate(zip(files, kinds, strict=True), 1):
        frames, image = _check_image(data, kind, f"第 {n} 个文件（{name or '未命名'}）")
        pages += frames
        if pages > MAX_PAGES:
            raise refuse(f"扫描件超过 {MAX_PAGES} 页，请分开上传或联系管理员")
        normalised.append(image)
    return Scan(_images_to_pdf(normalised), "images", pages, size)


def _check_pdf(data: bytes) -> int:
    """Page count of a PDF that is whole, readable, unencrypted and of sane page sizes."""
    if b"%%EOF" not in data[-2048:]:
        raise refuse("PDF 文件不完整（缺少文件结尾），可能上传中断或文件已损坏，请重新扫描或上传")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise refuse("PDF 已加密或设置了打开密码，无法归档和识别；请上传未加密的扫描件")
            pages = len(reader.pages)
            for n, page in enumerate(reader.pages, 1):
                box = page.mediabox
                longest = max(float(box.width), float(box.height))
                if not 0 < longest <= MAX_PAGE_POINTS:
                    raise refuse(f"PDF 页面尺寸异常（{longest:.0f} 点），请按 A4 或 A3 扫描")
                for width, height in _image_sizes(page):
                    if width * height > MAX_PIXELS:
                        raise refuse(
                            f"PDF 第 {n} 页的图像过大（{width}×{height} 像素，上限 "
                            f"{MAX_PIXELS:,} 像素），请以 200–300 dpi 扫描"
                        )
    except ValidationError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise refuse("PDF 文件已损坏，无法读取，请重新扫描或上传") from exc
    if pages == 0:
        raise refuse("PDF 中没有页面")
    if pages > MAX_PAGES:
        raise refuse(f"扫描件超过 {MAX_PAGES} 页，请分开上传或联系管理员")
    return pages


def _image_sizes(page: Any) -> list[tuple[int, int]]:
    """(width, height) of the page's images, read from their dictionaries, never decoded;
    images inside form XObjects too (one level, as scanners and img2pdf write them)."""
    sizes = []
    resources = page.get("/Resources")
    xobjects = [resources.get_object().get("/XObject")] if resources else []
    for depth in range(2):
        nested = []
        for xobject in xobjects:
            for ref in (xobject.get_object() if xobject else {}).values():
                obj = ref.get_object()
                if obj.get("/Subtype") == "/Image":
                    sizes.append((int(obj.get("/Width", 0)), int(obj.get("/Height", 0))))
                elif obj.get("/Subtype") == "/Form" and depth == 0:
                    inner = obj.get("/Resources")
                    if inner:
                        nested.append(inner.get_object().get("/XObject"))
        xobjects = nested
    return sizes


def _check_image(data: bytes, kind: str, label: str) -> tuple[int, bytes]:
    """Frames in the image, and the image as img2pdf takes it; sizes checked before decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(BytesIO(data))  # reads the header only
            if im.format is None or im.format.lower() not in (kind, "mpo"):
                raise refuse(f"{label} 的内容与其格式不符")
            frames = getattr(im, "n_frames", 1) if kind == "tiff" else 1
            for i in range(frames):
                if i:
                    im.seek(i)
                width, height = im.size
                if width * height > MAX_PIXELS:
                    raise refuse(
                        f"{label} 的图像过大（{width}×{height} 像素，上限 {MAX_PIXELS:,} 像素），"
                        f"请以 200–300 dpi 扫描"
                    )
            im.seek(0)
            im.load()  # now bounded: truncated or corrupt pixel data shows up here
            if frames == 1 and _img2pdf_takes(im):
                return 1, data
            return frames, _reencoded(im, frames)
    except ValidationError:
        raise
    except Image.DecompressionBombError as exc:
        raise refuse(f"{label} 的图像过大，疑似解压炸弹，已拒绝") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise refuse(f"{label} 已损坏或不完整，无法读取，请重新扫描") from exc


def _img2pdf_takes(im: Image.Image) -> bool:
    """img2pdf embeds these as they are (lossless); others are re-encoded first."""
    return im.mode in ("1", "L", "RGB", "CMYK") and "transparency" not in im.info


def _reencoded(im: Image.Image, frames: int) -> bytes:
    """The image (every frame of a TIFF) as an 8-bit TIFF img2pdf takes, losslessly."""
    pages = []
    for i in range(frames):
        im.seek(i)
        frame = im.convert("RGB") if im.mode not in ("1", "L", "RGB") else im.copy()
        pages.append(frame)
    out = BytesIO()
    pages[0].save(
        out, format="TIFF", compression="tiff_deflate", save_all=True, append_images=pages[1:]
    )
    return out.getvalue()


def _images_to_pdf(images: list[bytes]) -> bytes:
    """Page images in order → one PDF, each page fitted into A4 (turned for landscape)."""
    with tempfile.TemporaryDirectory(prefix="wenshu-scan-") as tmp:
        names = []
        for n, data in enumerate(images):
            path = Path(tmp) / f"page-{n:04d}"
            path.write_bytes(data)
            names.append(str(path))
        out = Path(tmp) / "scan.pdf"
        try:
            subprocess.run(
                [
                    "img2pdf",
                    "--pagesize",
                    "A4",
                    "--fit",
                    "into",
                    "--auto-orient",
                    "-o",
                    str(out),
                    *names,
                ],
                capture_output=True,
                timeout=IMG2PDF_TIMEOUT,
                check=True,
            )
        except subprocess.CalledProcessError as exc:
            detail = exc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise refuse(f"图片无法合成 PDF：{detail[0]}") from exc
        return out.read_bytes()
