"""A seal before it is taken on: the notice's sample rendered with it, watermarked 草稿."""

from __future__ import annotations

from archive.audit import AuditChain
from archive.blobs import sha256_hex
from service.doctypes import DOCTYPES
from service.wiring import Wenshu
from service.workflows.accounts import Principal, get_org
from service.workflows.files.seals import Seal, check_seal_png
from service.workflows.files.template_preview import sample_request
from service.workflows.issuing import preview


def preview_seal(ws: Wenshu, who: Principal, code: str, data: bytes) -> bytes:
    """The sample of the first sealed type (the notice) with ``data`` as its seal; stores
    nothing but the audit event."""
    check_seal_png(data, ws.settings.limits.max_seal_bytes)
    doctype = next(d for d in DOCTYPES.values() if d.needs_approval)  # sealed after 签发
    with ws.db.read() as s:
        org = get_org(s, code)
    req = sample_request(doctype, org.code)
    digest = sha256_hex(data)
    pdf = preview(ws, req, org, seal=Seal(data, digest, drawn=False))
    with ws.db.write() as s:
        AuditChain.append(
            s,
            actor=who.name,
            action="org.seal_preview",
            org=code,
            object_id=code,
            details={"seal_sha256": digest, "type": doctype.code},
        )
    return pdf
