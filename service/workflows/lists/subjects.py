"""What tells documents of one type apart: the inspected institution, the person concerned and
the day of the act, read from the archived input by the roles its schema gives its fields
(``archive.search.extract``) — and the title a list shows for them.

Records and transcripts of one case carry the form's printed title (吕梁市定点医疗机构专项治理
检查询问笔录); the list title names the person or institution and the day instead, so ten
transcripts of one case can be told apart. A title the user typed is kept as typed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from archive.models import Document, Org
from archive.search.extract import input_facts
from schemas.masking import mask_identifiers
from service.doctypes import DOCTYPES, HAND_SIGNED
from service.wiring import Wenshu


@dataclass(frozen=True)
class Subjects:
    institution: str | None = None
    """The inspected institution (a record's subject, a report's violator)."""
    person: str | None = None
    """The person concerned (an interviewee, a person inspected) — records and transcripts."""
    on: date | None = None
    """The day of the inspection or interview (its start)."""


def subjects_of(ws: Wenshu, doc: Document) -> Subjects:
    """The document's subjects from its archived input; nothing when the input is unreadable
    (the list still shows the document)."""
    try:
        raw = json.loads(ws.blobs.get(doc.input_sha256))
    except (OSError, ValueError, KeyError):
        return Subjects()
    data = raw.get("data") if isinstance(raw, dict) else None
    data = data if isinstance(data, dict) else {}
    facts = input_facts(doc.type, data)
    person = facts.persons[0] if facts.persons and doc.type in HAND_SIGNED else None
    return Subjects(
        institution=facts.institutions[0] if facts.institutions else None,
        person=person,
        on=_day(data.get("started_at")),
    )


def _day(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None


def chinese_date(day: date) -> str:
    """2021年5月11日 — the date as the pages write it."""
    return f"{day.year}年{day.month}月{day.day}日"


def list_title(doc: Document, org: Org, subjects: Subjects) -> str:
    """The title a list shows (identifiers masked): the stored one, unless it is the printed
    form title every record or transcript of the org shares; then who or what, and the day."""
    title = mask_identifiers(doc.title)
    doctype = DOCTYPES.get(doc.type)
    if doctype is None or doc.type not in HAND_SIGNED:
        return title
    if title != doctype.default_title({}, org):
        return title
    who = subjects.institution or subjects.person  # a transcript names no institution
    if not who:
        return title
    day = f"（{chinese_date(subjects.on)}）" if subjects.on else ""
    return mask_identifiers(f"{who}{doctype.label}{day}")
