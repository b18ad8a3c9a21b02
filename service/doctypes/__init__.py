"""The registry of document types: one module per type here, each declaring its ``DOCTYPE``.

A module of this package that declares ``DOCTYPE`` is a type (its file named by the type's
code); the registry is built from them at import, so a new type is a new module (with its
schema, template and sample, see docs/doctypes.md) and no list elsewhere. Everything else asks
the registry: :data:`DOCTYPES` in the types' order, :func:`get_doctype`, :data:`HAND_SIGNED`.

The layers below this one (``service/documents``, ``service/settings.py``) name no type;
``service/wiring.py`` declares every type of the registry to the lookups they answer by code.
"""

from __future__ import annotations

import importlib
import pkgutil

from service.doctypes.registry import CaseRole, DocType, FormText, OrgNames, build_registry

__all__ = [
    "DOCTYPES",
    "HAND_SIGNED",
    "CaseRole",
    "DocType",
    "FormText",
    "OrgNames",
    "get_doctype",
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
