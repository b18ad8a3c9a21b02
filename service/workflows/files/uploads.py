"""``POST /api/v1/uploads``: a PDF or DOCX an org will attach to its notices.

The file is sniffed and checked (:mod:`service.documents.attach`), a DOCX converted to PDF by
the converter (so its pages can be counted and appended), both stored as blobs, and the upload
recorded with an audit event. It belongs to the uploader's org and is read only there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from archive.audit import AuditChain
from archive.errors import NotFoundError
from archive.models import Org, Upload, new_id
from service.documents.attach import DOCX, check_pdf, inspect_attachment
from service.wiring import Wenshu
from service.workflows.accounts import Principal


@dataclass(frozen=True)
class UploadView:
    upload: Upload
    org_code: str


def to_json(v: UploadView) -> dict[str, object]:
    u = v.upload
    return {
        "id": u.id,
        "sha256": u.sha256,
        "media_type": u.media_type,
        "pages": u.pages,
        "pdf_sha256": u.pdf_sha256,
        "size": u.size,
        "filename": u.filename,
        "org": v.org_code,
        "links": {"self": f"/api/v1/uploads/{u.id}", "pdf": f"/api/v1/uploads/{u.id}/pdf"},
    }


def upload(ws: Wenshu, who: Principal, filename: str, data: bytes) -> UploadView:
    """Check, convert (a DOCX), store and record one file of ``who``'s org."""
    limits = ws.settings.limits
    media_type = inspect_attachment(data, limits.max_attachment_pages)
    pdf = ws.converter.to_pdf(data, pdfa=True) if media_type == DOCX else data
    pages = check_pdf(pdf, limits.max_attachment_pages)
    sha256 = ws.blobs.put(data)
    pdf_sha256 = ws.blobs.put(pdf) if pdf is not data else sha256
    name = PurePath(filename.replace("\\", "/")).name[:255] if filename else ""
    with ws.db.write() as s:
        row = Upload(
            id=new_id(),
            org_id=who.org_id,
            sha256=sha256,
            media_type=media_type,
            pdf_sha256=pdf_sha256,
            pages=pages,
            size=len(data),
            filename=name,
            uploaded_at=ws.now(),
            uploaded_by=who.user_id,
        )
        s.add(row)
        s.flush()
        AuditChain.append(
            s,
            actor=who.name,
            action="upload.create",
            org=who.org_code,
            object_id=row.id,
            details={
                "sha256": sha256,
                "pdf_sha256": pdf_sha256,
                "media_type": media_type,
                "pages": pages,
                "size": len(data),
                "filename": name,
            },
        )
    return UploadView(row, who.org_code)


def load(ws: Wenshu, who: Principal, upload_id: str, org_code: str | None = None) -> UploadView:
    """The upload, if it belongs to ``org_code`` (default: the caller's org) and the caller may
    see that org; 404 otherwise (no existence leak)."""
    org = org_code or who.org_code
    with ws.db.read() as s:
        row = s.get(Upload, upload_id)
        owner = s.get(Org, row.org_id) if row is not None else None
        owner_code = owner.code if owner is not None else None
    if row is None or owner_code != org or not who.may_see_org(org):
        raise NotFoundError("上传文件不存在", errors={"upload_id": ["上传文件不存在"]})
    return UploadView(row, org)


def record_read(ws: Wenshu, who: Principal, v: UploadView, action: str) -> None:
    with ws.db.write() as s:
        AuditChain.append(
            s,
            actor=who.name,
            action=action,
            org=v.org_code,
            object_id=v.upload.id,
            details={"sha256": v.upload.pdf_sha256},
        )
