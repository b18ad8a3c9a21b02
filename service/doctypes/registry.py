"""What a document type is, in one value: :class:`DocType`, declared by the type's module.

Every fact about a type that some part of the service acts on is a field here — who may
issue it, whether it is numbered, its retention, its place in a case, whether it is signed by
hand, its title and computed facts, its renderer and template, the words of its web form —
so that the rest of the code iterates the registry (``service.doctypes.DOCTYPES``) and never
names a type. :func:`build_registry` checks that the declarations fit together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.fields import WenshuSchema
from service.documents.layout import DoctypeRenderer, Letterhead
from service.documents.render import Typeset, render_document, typeset
from service.documents.templates import Template


class OrgNames(Protocol):
    name: str
    region: str


def _no_facts(data: dict[str, Any]) -> dict[str, Any]:
    return {}


def _no_title(data: dict[str, Any], org: OrgNames) -> str:
    return ""


def _prints_no_approver(data: dict[str, Any]) -> str | None:
    return None


def region_of(org: OrgNames) -> str:
    """The region a form's default title starts with: the org's, else its name without
    医疗保障局 (吕梁市医疗保障局 → 吕梁市)."""
    return org.region or org.name.removesuffix("医疗保障局")


@dataclass(frozen=True)
class CaseRole:
    """A type a complete case holds (DOCTYPES.md: a case links the notice, records,
    transcripts and report of one inspection); the case page lists it as one line to do."""

    minimum: int = 1
    """At least this many issued (not withdrawn) documents of the type."""
    label: str = ""
    """The line's name on the case page; empty: the type's label."""


@dataclass(frozen=True)
class FormText:
    """The Chinese words of a type's web form (``service/http/web/formspec.py`` draws it
    from the schema; the words come from here)."""

    description: str
    """One line under the type's name where a user picks what to write."""
    sections: tuple[tuple[str, tuple[str, ...]], ...]
    """The form's sections in order, each a title and the fields it holds; fields not named
    fall into a last section. A title ending in "（可选）" starts folded."""
    labels: Mapping[str, Mapping[str, tuple[str, str]]]
    """Schema class name → field → (label, hint), for the type's schema and those nested in
    it; the form test checks that every field has one."""
    items: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """A list field → what its add button adds, and how an item is numbered ({n} from 1)."""
    choices: Mapping[str, str] = field(default_factory=dict)
    """Display words for coded choices (the stored value stays what the API expects)."""


@dataclass(frozen=True, eq=False)
class DocType:
    """One document type. Its module in ``service/doctypes/`` declares it; see docs/doctypes.md."""

    code: str
    """The API's ``type`` and the stored ``documents.type``; its schema, template and sample
    are named after it."""
    label: str
    """Its Chinese name (通知, 检查记录单 …)."""
    order: int
    """Its place in every list of types (the API's, the menus, a case's checklist)."""
    schema: type[WenshuSchema]
    """The input schema (``schemas/<code>.py``; its ``doctype`` is this code)."""
    issuers: frozenset[str]
    """Roles that may issue it (an administrator may issue everything)."""
    numbered: bool
    """Carries a 发文字号 allocated at issue."""
    retention: str
    """保管期限 by default, as printed in the 档号: Y 永久, D30 定期30年, D10 定期10年
    (``WENSHU_RETENTION`` overrides it per type, see :meth:`retention_in`)."""
    hand_signed: bool
    """Signed by hand on site: its signed original belongs in the archive (a case is not
    complete without it)."""
    case_role: CaseRole | None
    """What a complete case needs of it; None: a case may hold it but need not."""
    renderer: DoctypeRenderer
    """Builds the template's context (from ``service/documents/``)."""
    template: Template
    """The DOCX template, its sample input, and what the renderer needs of the template."""
    form: FormText
    """The words of its web form."""
    default_title: Callable[[dict[str, Any], OrgNames], str] = _no_title
    """The title when the user typed none (seed 002's form titles), for this org."""
    facts: Callable[[dict[str, Any]], dict[str, Any]] = _no_facts
    """Figures computed from the input and stored with the document (the report's totals)."""
    signatures: tuple[str, ...] = ()
    """The labels of the signatures its paper must bear, as printed (``被询问人签名``): the
    scan of a hand-signed original is checked for ink after each, on every page that prints
    it (``service/documents/scans/signatures.py``)."""
    needs_approval: bool = False
    """Numbered only after 签发 by an approver of the org (党政机关公文处理工作条例 第十七条:
    公文应当经本机关负责人审批签发); ``WENSHU_APPROVAL`` overrides it, see
    :meth:`needs_approval_in`. A type that needs none may still be drafted first."""
    approver_field: Callable[[dict[str, Any]], str | None] = _prints_no_approver
    """The field of ``data`` that prints the 签发人's name, if this document prints it (a
    notice: ``signer``, on a 上行文). Issued after 签发 it is filled from the approval, and a
    value typed in the draft is refused; issued without, it must be typed."""

    def title(self, data: dict[str, Any], org: OrgNames) -> str:
        """The title typed by the user, else the type's default for this org (seed 002)."""
        return str(data.get("title") or self.default_title(data, org) or self.label)

    def retention_in(self, overrides: Mapping[str, str]) -> str:
        """The retention to file it under: ``WENSHU_RETENTION``'s for this type (``overrides``,
        from ``Settings.retention``), else the type's default."""
        return overrides.get(self.code, self.retention)

    def needs_approval_in(self, overrides: Mapping[str, bool]) -> bool:
        """Whether it needs 签发: ``WENSHU_APPROVAL``'s word for this type (``overrides``, from
        ``Settings.approval``), else the type's own."""
        return overrides.get(self.code, self.needs_approval)

    def sample_input(self) -> dict[str, Any]:
        """The realistic example input kept next to the template (a fresh copy each call)."""
        return self.template.sample_input()

    def render(
        self,
        data: dict[str, Any],
        *,
        org: Letterhead,
        wenhao: str,
        issue_date: dt.date,
        seal_png: bytes | None = None,
        archive_no: str = "",
        template_docx: bytes | None = None,
    ) -> bytes:
        """The DOCX of ``data`` (the output of :attr:`schema`), from the org's template
        ``template_docx`` or the committed one, see
        :func:`service.documents.render.render_document`."""
        return render_document(
            self.renderer,
            self.template,
            self.code,
            data,
            org=org,
            wenhao=wenhao,
            issue_date=issue_date,
            seal_png=seal_png,
            archive_no=archive_no,
            template_docx=template_docx,
        )

    def typeset(
        self,
        data: dict[str, Any],
        convert: Callable[[bytes], bytes],
        *,
        org: Letterhead,
        wenhao: str,
        issue_date: dt.date,
        seal_png: bytes | None = None,
        archive_no: str = "",
        template_docx: bytes | None = None,
    ) -> Typeset:
        """The DOCX (:meth:`render`), its PDF by ``convert`` and the PDF's pages, laid out to
        end on an even page when the type must (:func:`service.documents.render.typeset`)."""

        def render(d: dict[str, Any]) -> bytes:
            return self.render(
                d,
                org=org,
                wenhao=wenhao,
                issue_date=issue_date,
                seal_png=seal_png,
                archive_no=archive_no,
                template_docx=template_docx,
            )

        return typeset(self.renderer, render, data, convert)


def build_registry(doctypes: Iterable[DocType]) -> dict[str, DocType]:
    """Code → type, in the types' :attr:`~DocType.order`; a declaration that does not fit
    (two types with one code or one place, a schema that says it is another type's) is
    refused here rather than found wanting later."""
    out: dict[str, DocType] = {}
    for doctype in sorted(doctypes, key=lambda d: d.order):
        if doctype.code in out:
            raise ValueError(f"two document types with the code {doctype.code!r}")
        if any(other.order == doctype.order for other in out.values()):
            raise ValueError(f"two document types in the place {doctype.order}")
        if doctype.schema.doctype != doctype.code:
            raise ValueError(
                f"{doctype.code}: its schema {doctype.schema.__name__} says doctype = "
                f"{doctype.schema.doctype!r}"
            )
        out[doctype.code] = doctype
    return out
