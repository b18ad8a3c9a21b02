"""Retention (保管期限), legal holds and the disposition review list.

Each document type has a retention code that is printed in its 档号 (DA/T 22-2015):
``Y`` 永久, ``D30`` 定期30年, ``D10`` 定期10年. A fixed period runs from 1 January of the year
after the document's year, so a D10 document of 2026 is due for review on 2037-01-01.

Nothing here deletes anything. Documents past their period are *listed* for a person to review
(鉴定); a document under legal hold is listed as not disposable, whatever its period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.audit import AuditChain
from archive.errors import ConflictError, ValidationError
from archive.models import Document, LegalHold, Withdrawal

YEARS: dict[str, int | None] = {"Y": None, "D30": 30, "D10": 10}
LABELS = {"Y": "永久", "D30": "30年", "D10": "10年"}
_ALIASES = {
    "永久": "Y",
    "30年": "D30",
    "定期30年": "D30",
    "30": "D30",
    "10年": "D10",
    "定期10年": "D10",
    "10": "D10",
}


def normalise(value: str) -> str:
    """``Y`` / ``D30`` / ``D10`` from a code or its Chinese label; ValidationError otherwise."""
    v = value.strip()
    code = v.upper() if v.upper() in YEARS else _ALIASES.get(v)
    if code is None:
        raise ValidationError(
            f"保管期限 {value!r} 无效：应为 永久/30年/10年（Y/D30/D10）",
            errors={"retention": ["保管期限无效"]},
        )
    return code


def parse_setting(text: str) -> dict[str, str]:
    """``notice=D30,inspection_report=永久`` → ``{"notice": "D30", "inspection_report": "Y"}``."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        doctype, sep, value = item.partition("=")
        if not sep or not doctype.strip():
            raise ValidationError(f"保管期限设置 {item!r} 应为 类型=期限")
        out[doctype.strip()] = normalise(value)
    return out


def due_on(code: str, year: int) -> date | None:
    """The first day the document is past its retention; None for 永久."""
    years = YEARS[normalise(code)]
    return None if years is None else date(year + 1 + years, 1, 1)


def archive_year(doc: Document) -> int:
    """The year in the 档号 ({全宗号}-{年度}-{期限}-{机构}-{件号}), which is the filing year."""
    try:
        return int(doc.archive_no.rsplit("-", 3)[0].rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return doc.issued_at.year


def holds(session: Session, document_ids: list[str]) -> dict[str, LegalHold]:
    """The latest hold row of each document that ever had one."""
    if not document_ids:
        return {}
    latest = (
        select(LegalHold.document_id, func.max(LegalHold.id).label("id"))
        .where(LegalHold.document_id.in_(document_ids))
        .group_by(LegalHold.document_id)
        .subquery()
    )
    rows = session.scalars(select(LegalHold).join(latest, LegalHold.id == latest.c.id))
    return {h.document_id: h for h in rows}


def on_hold(session: Session, document_id: str) -> bool:
    h = holds(session, [document_id]).get(document_id)
    return bool(h and h.placed)


def set_hold(
    session: Session,
    doc: Document,
    *,
    org_code: str,
    placed: bool,
    reason: str,
    user_id: int,
    actor: str,
    at: datetime,
) -> LegalHold:
    """Place or lift a legal hold, on record (a hold row and an audit event, one transaction)."""
    if on_hold(session, doc.id) == placed:
        raise ConflictError("该文书已处于诉讼保留状态" if placed else "该文书未处于诉讼保留状态")
    row = LegalHold(document_id=doc.id, placed=placed, reason=reason, at=at, by_user=user_id)
    session.add(row)
    session.flush()
    AuditChain.append(
        session,
        actor=actor,
        action="document.legal_hold" if placed else "document.legal_hold_release",
        org=org_code,
        object_id=doc.id,
        at=at,
        details={"reason": reason, "archive_no": doc.archive_no, "wenhao": doc.wenhao},
    )
    return row


@dataclass(frozen=True)
class ReviewItem:
    """A document past its retention period, for a person to appraise."""

    doc: Document
    due_on: date
    legal_hold: bool
    withdrawn: bool

    @property
    def disposable(self) -> bool:
        return not self.legal_hold


def review(session: Session, org_id: int, as_of: date) -> list[ReviewItem]:
    """Documents of the org whose retention ran out on or before ``as_of``, oldest first."""
    docs = list(
        session.scalars(
            select(Document)
            .where(Document.org_id == org_id, Document.retention != "Y")
            .order_by(Document.issued_at, Document.id)
        )
    )
    due = [(d, due_on(d.retention, archive_year(d))) for d in docs]
    past = [(d, when) for d, when in due if when is not None and when <= as_of]
    ids = [d.id for d, _ in past]
    hold = holds(session, ids)
    withdrawn = (
        set(session.scalars(select(Withdrawal.document_id).where(Withdrawal.document_id.in_(ids))))
        if ids
        else set()
    )
    return [
        ReviewItem(d, when, bool(hold.get(d.id) and hold[d.id].placed), d.id in withdrawn)
        for d, when in past
    ]


def held_documents(session: Session, org_id: int) -> list[tuple[Document, LegalHold]]:
    """Documents of the org under legal hold now, with the row that placed it."""
    ids = list(session.scalars(select(Document.id).where(Document.org_id == org_id)))
    current = holds(session, ids)
    placed = [h for h in current.values() if h.placed]
    docs = {
        d.id: d
        for d in session.scalars(
            select(Document).where(Document.id.in_([h.document_id for h in placed]))
        )
    }
    return sorted(((docs[h.document_id], h) for h in placed), key=lambda pair: pair[1].at)
