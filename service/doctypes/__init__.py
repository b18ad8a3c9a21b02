"""The registry of document types: one module per type here, each declaring its ``DOCTYPE``.

A module of this package that declares ``DOCTYPE`` is a type (its file named by the type's
code); the registry is built from them at import, so a new type is a new module (with its
schema, template and sample, see docs/doctypes.md) and no list elsewhere. Everything else asks
the registry: :data:`DOCTYPES` in the types' order, :func:`get_doctype`, :data:`HAND_SIGNED`.

The layers below this one (``service/documents``, ``service/settings.py``) name no type: a
renderer and a template are handed to them. For whoever holds only a code (the template tools,
tests, benchmarks) :func:`render_docx`, :func:`template_path` and :func:`sample_input` answer
from the registry.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

from archive.errors import NotFoundError, ValidationError
from service.doctypes.registry import CaseRole, DocType, FormText, OrgNames, build_registry
from service.documents.render import Letterhead

__all__ = [
    "DOCTYPES",
    "HAND_SIGNED",
    "CaseRole",
    "DocType",
    "FormText",
    "OrgNames",
    "get_doctype",
    "render_docx",
    "sample_input",
    "template_path",
]

_declared: list[DocType] = []
# At import, not in a function: every type module is loaded once, in a fixed order.
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    _doctype = getattr(_module, "DOCTYPE", None)
    if isinstance(_doctype, DocType):
        if _doctype.code != _info.name:
            raise ValueError(f"{_module.__name__} declares the type {_doctype.code!r}")
        _declared.append(_doctype)

DOCTYPES: dict[str, DocType] = build_registry(_declared)
"""Code → type, in the order types are listed everywhere."""

HAND_SIGNED: frozenset[str] = frozenset(c for c, d in DOCTYPES.items() if d.hand_signed)
"""Codes of the types signed by hand on site, whose signed originals belong in the archive."""


def get_doctype(code: str) -> DocType | None:
    return DOCTYPES.get(code)


def _by_code(code: str) -> DocType:
    doctype = DOCTYPES.get(code) if re.fullmatch(r"[a-z][a-z0-9_]*", code) else None
    if doctype is None:
        raise NotFoundError(f"未知的文书类型：{code}")
    return doctype


def template_path(code: str) -> Path:
    """The template file of the type ``code``, e.g. ``doc_templates/notice.docx``."""
    return _by_code(code).template.path


def sample_input(code: str) -> dict[str, Any]:
    """The realistic example input kept next to the type's template (a fresh copy each call)."""
    return _by_code(code).sample_input()


def render_docx(
    code: str,
    data: dict[str, Any],
    *,
    org: Letterhead,
    wenhao: str,
    issue_date: dt.date,
    seal_png: bytes | None = None,
    archive_no: str = "",
) -> bytes:
    """:meth:`DocType.render` for the type ``code``."""
    doctype = DOCTYPES.get(code)
    if doctype is None:
        raise ValidationError(
            f"未知的文书类型：{code}", errors={"type": [f"未知的文书类型：{code}"]}
        )
    return doctype.render(
        data,
        org=org,
        wenhao=wenhao,
        issue_date=issue_date,
        seal_png=seal_png,
        archive_no=archive_no,
    )
