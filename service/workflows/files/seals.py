"""The seal image (公章) each org seals with: uploaded by whoever manages its certificate.

A bureau's registered seal is the PNG its e-seal provider issued (a transparent background, so
the 署名 and 成文日期 show through). It is sniffed and checked (:func:`check_seal_png`), stored
as a blob and recorded (``org_seals``, append-only: the latest is in use) with an audit event.
An org that has none seals with the drawn seal of ``service/documents/seal.py`` — a test seal,
and every page that shows a document or the org says so. ``seal_preview`` renders the
notice's sample with a seal before it is taken on.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import AuditChain
from archive.errors import ValidationError
from archive.models import Org, OrgSeal
from service.documents.seal import make_seal_png
from service.wiring import Wenshu
from service.workflows.accounts import Principal, get_org

FIELD = "file"
MIN_SIDE, MAX_SIDE = 200, 4000
"""Pixels of the seal's sides: a 42 mm seal at 120 dpi is 200 px; 4000 px is 2400 dpi."""
DRAWN_LABEL = "测试用绘制印章"


@dataclass(frozen=True)
class Seal:
    """The seal an org seals with now."""

    png: bytes
    sha256: str
    drawn: bool
    """The drawn test seal (the org has uploaded none)."""


def _refuse(message: str) -> ValidationError:
    return ValidationError(message, errors={FIELD: [message]})


def check_seal_png(data: bytes, max_bytes: int) -> tuple[int, int]:
    """Width and height of a seal image fit to use: a PNG with transparency, of sane size."""
    if not data:
        raise _refuse("请选择印章图片（带透明背景的 PNG）")
    if len(data) > max_bytes:
        raise _refuse(f"印章图片超过 {max_bytes // 1024} KiB 上限")
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise _refuse("印章图片须为 PNG 格式（按文件内容识别）；JPEG 等格式没有透明背景")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))  # the header only: sizes first
            width, height = im.size
            if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
                raise _refuse(
                    f"印章图片尺寸 {width}×{height} 像素不在 {MIN_SIDE}–{MAX_SIDE} 像素之间"
                )
            if max(width, height) > 1.2 * min(width, height):
                raise _refuse(f"印章图片应近似正方形（现为 {width}×{height} 像素）")
            has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
            if not has_alpha:
                raise _refuse("印章图片须有透明背景（PNG 的 alpha 通道），否则会遮住署名和日期")
            rgba = im.convert("RGBA")  # decodes: a truncated file fails here
    except ValidationError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _refuse("印章图片已损坏，无法读取") from exc
    lo, hi = rgba.getchannel("A").getextrema()
    if lo == 255:
        raise _refuse("印章图片没有透明部分：请使用背景透明的 PNG")
    if hi == 0:
        raise _refuse("印章图片完全透明")
    return width, height


def current_seal(ws: Wenshu, s: Session, org: Org) -> Seal:
    """The org's latest uploaded seal, else its drawn test seal."""
    row = s.scalar(
        select(OrgSeal).where(OrgSeal.org_id == org.id).order_by(OrgSeal.id.desc()).limit(1)
    )
    if row is not None:
        return Seal(ws.blobs.get(row.sha256), row.sha256, drawn=False)
    png = make_seal_png(org.seal_text)
    return Seal(png, ws.blobs.put(png), drawn=True)


def seal_history(s: Session, org: Org) -> list[OrgSeal]:
    return list(
        s.scalars(select(OrgSeal).where(OrgSeal.org_id == org.id).order_by(OrgSeal.id.desc()))
    )


def set_seal(ws: Wenshu, who: Principal, code: str, data: bytes) -> str:
    """Take ``data`` on as the org's seal from now on; returns its sha256."""
    width, height = check_seal_png(data, ws.settings.limits.max_seal_bytes)
    sha256 = ws.blobs.put(data)
    with ws.db.write() as s:
        org = get_org(s, code)
        previous = current_seal(ws, s, org) if seal_history(s, org) else None
        s.add(
            OrgSeal(
                org_id=org.id,
                sha256=sha256,
                width=width,
                height=height,
                added_at=ws.now(),
                added_by=who.user_id,
            )
        )
        AuditChain.append(
            s,
            actor=who.name,
            action="org.seal",
            org=code,
            object_id=code,
            details={
                "old_seal_sha256": previous.sha256 if previous else None,
                "new_seal_sha256": sha256,
                "width": width,
                "height": height,
            },
        )
    return sha256
