"""What search needs from a document's archived input: names, inspectors, identifiers, amount.

The PDF text gives the words on paper; the input JSON says which of them are an inspected
institution, a person, an inspector, and what a report's violations add up to. Both the
indexer (from the archive) and ``scripts/bench_search`` (from generated input) use this.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from schemas.fields import is_valid_credit_code, is_valid_id_card


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
    """The facts of one document's input ``data`` (tolerant: archived input is never re-validated)."""
    data = data if isinstance(data, dict) else {}
    institutions: list[str] = []
    persons: list[str] = []
    inspectors: list[str] = []
    amount: Decimal | None = None
    if doc_type == "notice":
        persons += [_get(data, "contact", "name"), _get(data, "signer")]
    elif doc_type == "inspection_record":
        subject = data.get("subject") or {}
        if isinstance(subject, dict) and subject.get("kind") == "person":
            persons.append(_text(subject.get("name")))
            institutions.append(_text(subject.get("legal_rep")))  # 工作单位 for a person
        elif isinstance(subject, dict):
            institutions.append(_text(subject.get("name")))
            persons.append(_text(subject.get("legal_rep")))
        persons.append(_get(data, "witness"))
        inspectors += [*_texts(data.get("inspectors")), _get(data, "recorder")]
    elif doc_type == "interview_transcript":
        persons.append(_get(data, "interviewee", "name"))
        inspectors += [*_texts(data.get("interviewers")), _get(data, "recorder")]
    elif doc_type == "inspection_report":
        violations = [v for v in data.get("violations") or [] if isinstance(v, dict)]
        institutions += [_text(v.get("institution")) for v in violations]
        amount = sum((_amount(v.get("amount")) for v in violations), Decimal(0))
    return InputFacts(
        institutions=_unique(institutions),
        persons=_unique(persons),
        inspectors=_unique(inspectors),
        identifiers=tuple(sorted(identifiers_in(data))),
        amount=amount,
    )


def _get(data: dict[str, Any], *path: str) -> str:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return _text(value)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _texts(value: Any) -> list[str]:
    return [_text(v) for v in value] if isinstance(value, list) else []


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)
