"""Input schemas: one module per document type (``schemas/<code>.py``), the fields they
share (``schemas/fields.py``) and the masking of the identifiers they check
(``schemas/masking.py``).

A type's top-level schema names its type (``doctype = "<code>"``) and :data:`INPUT_SCHEMAS`
collects them from the modules of this package, so that ``archive/`` — which must not import
the service and its registry of types — finds the schema of a stored document by its code,
with no list of types to keep in step: a new type's schema module is found by being here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from types import MappingProxyType

from schemas.fields import WenshuSchema

_found: dict[str, type[WenshuSchema]] = {}
# At import, not in a function: every schema module is loaded once, in a fixed order.
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
    if _info.name in ("fields", "masking") or _info.name.startswith("_"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _value in vars(_module).values():
        if (
            isinstance(_value, type)
            and issubclass(_value, WenshuSchema)
            and _value.__module__ == _module.__name__
            and _value.__dict__.get("doctype")
        ):
            if _value.doctype in _found:
                raise TypeError(f"two input schemas for the type {_value.doctype!r}")
            _found[str(_value.doctype)] = _value

INPUT_SCHEMAS: Mapping[str, type[WenshuSchema]] = MappingProxyType(_found)
"""Type code → the schema of that type's whole input."""

__all__ = ["INPUT_SCHEMAS"]
