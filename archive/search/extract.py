"""What search needs from a document's archived input: names, inspectors, identifiers, amount.

The PDF text gives the words on paper; the input JSON says which of them are an inspected
institution, a person, an inspector, and what a report's violations add up to. Which field is
which is said by the type's schema, not here: a field marked ``metadata={"search": role}``
(``schemas.fields.SEARCH_ROLES``) gives its text to that role, so a new type, or a new field,
is searched by what its schema says. Both the indexer (from the archive) and
``scripts/bench_search`` (from generated input) use this.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from marshmallow import Schema, fields

from schemas import INPUT_SCHEMAS
from schemas.fields import SEARCH_ROLES, is_valid_credit_code, is_valid_id_card


@dataclass(frozen=True)
class InputFacts:
    institutions: tuple[str, ...] = ()
    """Inspected institutions: a record's subject, a report's violators."""
    persons: tuple[str, ...] = ()
    """People concerned: a person subject, legal representative, interviewee, witness, contact."""
    inspectors: tuple[str, ...] = ()
    """Inspectors, interviewers and recorders."""
    identifiers: tuple[str, ...] = ()
    """Valid 身份证号 / 统一社会信用代码 anywhere in the input (upper case)."""
    amount: Decimal | None = None
    """A report's total amount of violations (元); None for other types."""


def identifiers_in(value: Any) -> set[str]:
    """Every valid 身份证号 / 统一社会信用代码 anywhere in the input, for exact-match search."""
    found: set[str] = set()
    if isinstance(value, dict):
        for v in value.values():
            found |= identifiers_in(v)
    elif isinstance(value, list):
        for v in value:
            found |= identifiers_in(v)
    elif isinstance(value, str) and len(value.strip()) == 18:
        s = value.strip().upper()
        if is_valid_id_card(s) or is_valid_credit_code(s):
            found.add(s)
    return found


def input_facts(doc_type: str, data: dict[str, Any] | None) -> InputFacts:
    """The facts of one document's input ``data`` (tolerant: archived input is never
    re-validated), read by the roles its type's schema gives its fields. A type without a
    schema here (an unknown code) has only its identifiers."""
    data = data if isinstance(data, dict) else {}
    schema = INPUT_SCHEMAS.get(doc_type)
    found: dict[str, list[Any]] = {role: [] for role in SEARCH_ROLES}
    if schema is not None:
        _collect(schema, data, found)
    amounts = found["amount"]
    return InputFacts(
        institutions=_unique(found["institution"]),
        persons=_unique(found["person"]),
        inspectors=_unique(found["inspector"]),
        identifiers=tuple(sorted(identifiers_in(data))),
        amount=(
            sum((_amount(v) for v in amounts), Decimal(0))
            if schema is not None and _declares(schema, "amount")
            else None
        ),
    )


def _collect(schema: type[Schema], data: dict[str, Any], found: dict[str, list[Any]]) -> None:
    """Walk ``data`` along ``schema``'s fields in their declared order (the order of the
    facts), into nested objects and lists of them; what is not shaped as the schema says is
    passed over."""
    for name, field in _fields(schema).items():
        value = data.get(field.data_key or name)
        inner = field.inner if isinstance(field, fields.List) else None
        role = _role(field, data)
        if role is not None:
            if inner is None:
                found[role].append(value if role == "amount" else _text(value))
            elif isinstance(value, list):
                found[role].extend(v if role == "amount" else _text(v) for v in value)
        nested = _nested(inner if inner is not None else field)
        if nested is None:
            continue
        if inner is None:
            items = [value]
        else:
            items = value if isinstance(value, list) else []
        for item in items:
            if isinstance(item, dict):
                _collect(nested, item, found)


def _role(field: fields.Field, data: dict[str, Any]) -> str | None:
    """The field's search role; ``search_when`` picks another by a sibling's value."""
    role = field.metadata.get("search")
    for sibling, by_value in (field.metadata.get("search_when") or {}).items():
        value = data.get(sibling)
        if isinstance(value, str) and value in by_value:
            role = by_value[value]
    return role if role in SEARCH_ROLES else None


@cache
def _declares(schema: type[Schema], role: str) -> bool:
    """Whether ``schema`` or a schema nested in it has a field of ``role`` (a report has an
    amount, 0 when it lists no violation; other types have none)."""
    for field in _fields(schema).values():
        inner = field.inner if isinstance(field, fields.List) else field
        if field.metadata.get("search") == role or inner.metadata.get("search") == role:
            return True
        nested = _nested(inner)
        if nested is not None and _declares(nested, role):
            return True
    return False


@cache
def _fields(schema: type[Schema]) -> dict[str, fields.Field]:
    """The schema's fields in declared order (one instance per schema, made once)."""
    return dict(schema().fields)


def _nested(field: fields.Field) -> type[Schema] | None:
    if not isinstance(field, fields.Nested):
        return None
    nested = field.nested
    return nested if isinstance(nested, type) else type(nested)  # type: ignore[return-value]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)
