"""The template each org renders a document type with: the committed default, or a version
the org uploaded and activated on 机构设置 (``PUT``-like, by whoever manages its seal).

A version is checked against the type's contract before it is kept
(:meth:`~service.documents.templates.Template.problems_of`, the check of ``wenshu template
check``: placeholders, styles, fonts, the GB/T 9704 page), stored as a blob by its sha256 and
recorded (``org_templates``, with a ``template.upload`` event). It is used once activated
(``org_template_activations``, ``template.activate``: the latest activation of an org and type
wins); the versions before stay listed and can be activated again, and so can the default.
Every document records the template it was rendered from (``template_sha256``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import AuditChain
from archive.blobs import sha256_hex
from archive.errors import ConflictError, NotFoundError, ValidationError
from archive.models import Org, OrgTemplate, OrgTemplateActivation, User
from service.doctypes import DOCTYPES, DocType
from service.wiring import Wenshu
from service.workflows.accounts import Principal, get_org

FIELD = "file"
MAX_TEMPLATE_BYTES = 10 * 1024 * 1024
"""A template is text and styles (tens of KiB); pictures in a header may make it larger."""


@dataclass(frozen=True)
class ActiveTemplate:
    """The template a document of one type and org is rendered from."""

    docx: bytes
    sha256: str
    default: bool
    """The committed ``doc_templates/<type>.docx`` (the org activated none of its own)."""


@dataclass(frozen=True)
class TemplateVersion:
    """A version as the 机构设置 page and the API list it."""

    sha256: str
    default: bool
    active: bool
    filename: str = ""
    size: int = 0
    added_at: datetime | None = None
    added_by: str | None = None


def doctype_of(code: str) -> DocType:
    doctype = DOCTYPES.get(code)
    if doctype is None:
        raise NotFoundError(f"未知的文书类型：{code}", errors={"type": ["未知的文书类型"]})
    return doctype


def default_template(doctype: DocType) -> ActiveTemplate:
    data = doctype.template.path.read_bytes()
    return ActiveTemplate(data, sha256_hex(data), default=True)


def _activation(s: Session, org: Org, doctype: DocType) -> OrgTemplateActivation | None:
    return s.scalar(
        select(OrgTemplateActivation)
        .where(OrgTemplateActivation.org_id == org.id, OrgTemplateActivation.type == doctype.code)
        .order_by(OrgTemplateActivation.id.desc())
        .limit(1)
    )


def active_template(ws: Wenshu, s: Session, org: Org, doctype: DocType) -> ActiveTemplate:
    """The org's activated version of the type's template, else the committed default."""
    default = default_template(doctype)
    row = _activation(s, org, doctype)
    if row is None or row.sha256 == default.sha256:
        return default
    return ActiveTemplate(ws.blobs.get(row.sha256), row.sha256, default=False)


def keep(ws: Wenshu, template: ActiveTemplate) -> str:
    """The template stored as a blob (the default too, so a document's ``template_sha256``
    is always in the archive); returns its sha256."""
    if not ws.blobs.exists(template.sha256):
        ws.blobs.put(template.docx)
    return template.sha256


def check_template(doctype: DocType, data: bytes) -> None:
    """Refuse (422 naming ``file``, every problem in Chinese) a file that breaks the contract."""
    if not data:
        raise ValidationError("请选择模板文件（.docx）", errors={FIELD: ["请选择模板文件"]})
    if len(data) > MAX_TEMPLATE_BYTES:
        limit = f"{MAX_TEMPLATE_BYTES // (1024 * 1024)} MiB"
        raise ValidationError(f"模板文件超过 {limit} 上限", errors={FIELD: [f"超过 {limit}"]})
    problems = doctype.template.problems_of(data)
    if problems:
        raise ValidationError(
            f"{doctype.label}模板未通过检查（{len(problems)} 处问题）：" + "；".join(problems),
            errors={FIELD: problems},
        )


def _versions(s: Session, org: Org, doctype: DocType) -> list[tuple[OrgTemplate, str]]:
    return [
        (row, name)
        for row, name in s.execute(
            select(OrgTemplate, User.name)
            .join(User, User.id == OrgTemplate.added_by)
            .where(OrgTemplate.org_id == org.id, OrgTemplate.type == doctype.code)
            .order_by(OrgTemplate.id.desc())
        ).all()
    ]


def list_versions(ws: Wenshu, code: str, type_code: str) -> list[TemplateVersion]:
    """The org's versions of the type's template, newest first, then the committed default."""
    doctype = doctype_of(type_code)
    default = default_template(doctype)
    with ws.db.read() as s:
        org = get_org(s, code)
        active = active_template(ws, s, org, doctype).sha256
        rows = _versions(s, org, doctype)
    seen: set[str] = set()
    out = []
    for row, name in rows:
        if row.sha256 in seen or row.sha256 == default.sha256:
            continue
        seen.add(row.sha256)
        out.append(
            TemplateVersion(
                sha256=row.sha256,
                default=False,
                active=row.sha256 == active,
                filename=row.filename,
                size=row.size,
                added_at=row.added_at,
                added_by=name,
            )
        )
    out.append(
        TemplateVersion(
            sha256=default.sha256,
            default=True,
            active=default.sha256 == active,
            filename=doctype.template.file,
            size=len(default.docx),
        )
    )
    return out


def version_bytes(ws: Wenshu, code: str, type_code: str, sha256: str) -> bytes:
    """The DOCX of a version the org has (an upload of its own, or the default)."""
    doctype = doctype_of(type_code)
    default = default_template(doctype)
    if sha256 == default.sha256:
        return default.docx
    if not any(v.sha256 == sha256 for v in list_versions(ws, code, type_code)):
        raise NotFoundError("没有这个模板版本", errors={"sha256": ["本机构没有这个模板版本"]})
    return ws.blobs.get(sha256)


def upload_template(
    ws: Wenshu, who: Principal, code: str, type_code: str, data: bytes, filename: str = ""
) -> TemplateVersion:
    """Check and keep ``data`` as a version of the org's template of the type (not yet in
    use: :func:`activate_template` takes it on)."""
    doctype = doctype_of(type_code)
    with ws.db.read() as s:
        get_org(s, code)  # an unknown org is a 404 before the file is looked at
    check_template(doctype, data)
    sha256 = ws.blobs.put(data)
    with ws.db.write() as s:
        org = get_org(s, code)
        s.add(
            OrgTemplate(
                org_id=org.id,
                type=doctype.code,
                sha256=sha256,
                size=len(data),
                filename=(filename or f"{doctype.code}.docx")[:255],
                added_at=ws.now(),
                added_by=who.user_id,
            )
        )
        AuditChain.append(
            s,
            actor=who.name,
            action="template.upload",
            org=code,
            object_id=code,
            details={"type": doctype.code, "sha256": sha256, "size": len(data)},
        )
    return next(v for v in list_versions(ws, code, type_code) if v.sha256 == sha256)


def activate_template(
    ws: Wenshu, who: Principal, code: str, type_code: str, sha256: str
) -> TemplateVersion:
    """Render the org's documents of the type with version ``sha256`` from now on (documents
    issued before keep theirs)."""
    doctype = doctype_of(type_code)
    data = version_bytes(ws, code, type_code, sha256)
    problems = doctype.template.problems_of(data)  # the contract may have grown since
    if problems:
        raise ConflictError(
            f"此{doctype.label}模板版本已不符合本类文书的约定，不能启用：" + "；".join(problems)
        )
    if not ws.blobs.exists(sha256):
        ws.blobs.put(data)  # the default, kept so it can be named by documents
    with ws.db.write() as s:
        org = get_org(s, code)
        old = active_template(ws, s, org, doctype).sha256
        s.add(
            OrgTemplateActivation(
                org_id=org.id,
                type=doctype.code,
                sha256=sha256,
                activated_at=ws.now(),
                activated_by=who.user_id,
            )
        )
        AuditChain.append(
            s,
            actor=who.name,
            action="template.activate",
            org=code,
            object_id=code,
            details={
                "type": doctype.code,
                "old_sha256": old,
                "new_sha256": sha256,
                "default": sha256 == default_template(doctype).sha256,
            },
        )
    return next(v for v in list_versions(ws, code, type_code) if v.sha256 == sha256)
