"""A notice's file attachments at preview and issue: found, checked, laid into its PDF.

An attachment item naming ``upload_id`` takes an upload of the notice's org; one naming
``document_id`` takes another issued (not withdrawn) document of that org — its signed PDF. A
file of another org is "not found", as if it did not exist. The renderer is told each file's
page count (``render_notice.FILE_PAGES``) and leaves those pages; :func:`lay_into` puts the
files under them after conversion. What was appended is listed on the document
(``Document.attachments``) and named in its issue event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import NotFoundError, ValidationError
from archive.models import Document, Org, Upload, Withdrawal
from service.doctypes import DocType
from service.documents.attach import AppendedFile, lay_under, text_area
from service.documents.render_notice import FILE_PAGES, attachment_label
from service.wiring import Wenshu


@dataclass(frozen=True)
class Attachments:
    """The input as the renderer takes it, the files to lay in, and the document's listing."""

    data: dict[str, Any]
    files: tuple[AppendedFile, ...]
    listing: tuple[dict[str, Any], ...]


def resolve(ws: Wenshu, s: Session, org: Org, data: dict[str, Any]) -> Attachments:
    """Find every file attachment of ``data`` in ``org``; 404/422 naming the item's field."""
    items = list(data.get("attachments") or [])
    if not items:
        return Attachments(data, (), ())
    out_items, files, listing = [], [], []
    for n, item in enumerate(items, start=1):
        entry: dict[str, Any] = {"n": n, "title": item["title"]}
        pdf: bytes | None = None
        if item.get("upload_id"):
            up = s.get(Upload, item["upload_id"])
            if up is None or up.org_id != org.id:
                raise _missing(n - 1, "upload_id", "上传文件不存在")
            pdf, entry["sha256"], entry["pages"] = (
                ws.blobs.get(up.pdf_sha256),
                up.pdf_sha256,
                up.pages,
            )
            entry["upload_id"] = up.id
        elif item.get("document_id"):
            doc = s.get(Document, item["document_id"])
            if doc is None or doc.org_id != org.id:
                raise _missing(n - 1, "document_id", "文书不存在")
            if s.scalar(select(Withdrawal.document_id).where(Withdrawal.document_id == doc.id)):
                raise ValidationError(
                    "已作废的文书不能作为附件",
                    errors={"data": {"attachments": {n - 1: {"document_id": ["该文书已作废"]}}}},
                )
            pdf, entry["sha256"], entry["pages"] = (
                ws.blobs.get(doc.pdf_sha256),
                doc.pdf_sha256,
                doc.page_count,
            )
            entry["document_id"] = doc.id
        if pdf is not None:
            files.append(
                AppendedFile(
                    attachment_label(n, len(items)),
                    pdf,
                    entry["pages"],
                    from_wenshu="document_id" in entry,
                )
            )
            item = {**item, FILE_PAGES: entry["pages"]}
        out_items.append(item)
        listing.append(entry)
    return Attachments({**data, "attachments": out_items}, tuple(files), tuple(listing))


def lay_into(
    doctype: DocType, pdf: bytes, attachments: Attachments, template_docx: bytes | None = None
) -> bytes:
    """The converted notice with its file attachments laid under the pages left for them, in
    the 版心 of the template it was rendered from (``template_docx``: the org's own version)."""
    if not attachments.files:
        return pdf
    area = text_area(template_docx if template_docx is not None else doctype.template.path)
    return lay_under(pdf, list(attachments.files), area)


def _missing(index: int, key: str, message: str) -> NotFoundError:
    return NotFoundError(message, errors={"data": {"attachments": {index: {key: [message]}}}})
