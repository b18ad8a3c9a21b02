"""A template version before it is taken on: the type's sample rendered with it, watermarked
草稿, with the org's letterhead, a placeholder number and — when asked — the org's seal (the
layout of an issued document)."""

from __future__ import annotations

from typing import Any

from archive.blobs import sha256_hex
from service.doctypes import DocType
from service.wiring import Wenshu
from service.workflows.accounts import get_org
from service.workflows.files.seals import current_seal
from service.workflows.files.templates import ActiveTemplate, doctype_of, version_bytes
from service.workflows.issuing import IssueRequest, preview


def sample_request(doctype: DocType, org_code: str) -> IssueRequest:
    """The type's sample as a request, its 成文日期 and 印发日期 left to the day (the sample's
    own are of another year, which a numbered document may not carry)."""
    sample: dict[str, Any] = {
        k: v for k, v in doctype.sample_input().items() if k not in ("date", "print_date")
    }
    return IssueRequest(doctype, org_code, doctype.schema().load(sample), sample)


def preview_docx(
    ws: Wenshu, code: str, doctype: DocType, data: bytes, *, sealed: bool = True
) -> bytes:
    """The sample of ``doctype`` rendered from the template ``data`` (checked already); with
    ``sealed``, sealed with the org's seal as an issued one would be."""
    with ws.db.read() as s:
        org = get_org(s, code)
        seal = current_seal(ws, s, org) if sealed else None
    template = ActiveTemplate(data, sha256_hex(data), default=False)
    return preview(ws, sample_request(doctype, org.code), org, seal=seal, template=template)


def preview_version(
    ws: Wenshu, code: str, type_code: str, sha256: str, *, sealed: bool = True
) -> bytes:
    """The preview PDF of one of the org's versions of the type's template."""
    doctype = doctype_of(type_code)
    data = version_bytes(ws, code, type_code, sha256)
    return preview_docx(ws, code, doctype, data, sealed=sealed)
