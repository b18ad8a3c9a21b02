"""The filters of the 文书 list (the page, ``GET /api/v1/documents`` and its spreadsheets):
what they mean, as conditions on the documents query.

Keyword, institution and person come from the search engine (the same words match as on 检索,
in the text and in the facts of the input); type, case, status, dates and the order are the
archive's own columns. The search answers at most :data:`MAX_MATCHES` documents for one list:
beyond that the list asks for a narrower filter rather than showing a part as if it were all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, false
from sqlalchemy.orm import aliased

from archive.errors import ValidationError
from archive.models import Document, Withdrawal
from archive.search.query import MAX_PER_PAGE
from archive.signed_copies import missing_condition
from service.doctypes import HAND_SIGNED
from service.wiring import Wenshu

#: status → its name on the pages
STATUSES = {
    "valid": "有效",
    "withdrawn": "已作废",
    "superseded": "已更正",
    "signed_copy_missing": "待上传签字原件",
}
#: sort → its name (签发时间, newest or oldest first)
SORTS = {"-issued_at": "签发时间（新→旧）", "issued_at": "签发时间（旧→新）"}
MAX_MATCHES = 5000


@dataclass(frozen=True)
class DocumentFilter:
    q: str = ""
    type: str | None = None
    status: str | None = None
    case_no: str | None = None
    institution: str | None = None
    person: str | None = None
    date_from: date | None = None
    """签发 on or after this local day."""
    date_to: date | None = None
    """签发 on or before this local day."""
    sort: str = "-issued_at"

    def __post_init__(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.status is not None and self.status not in STATUSES:
            errors["status"] = ["状态只能是 " + "、".join(STATUSES)]
        if self.sort not in SORTS:
            errors["sort"] = ["排序只能是 issued_at 或 -issued_at"]
        if self.date_from and self.date_to and self.date_from > self.date_to:
            errors["date_to"] = ["截止日期不能早于起始日期"]
        if errors:
            raise ValidationError("筛选条件有误", errors=errors)

    @property
    def searched(self) -> bool:
        return bool(self.q.strip() or self.institution or self.person)

    def used(self) -> dict[str, str]:
        """The filters set, as typed (for the audit event of the read)."""
        out = {k: str(v) for k, v in vars(self).items() if v not in (None, "") and k != "sort"}
        out["sort"] = self.sort
        return out


def restrict(ws: Wenshu, q: Any, flt: DocumentFilter, orgs: list[str] | None) -> Any:
    """``q`` (a select of documents joined to their withdrawal) narrowed by ``flt`` and
    ordered by it; ``orgs`` the caller's scope for the search engine (None: every org)."""
    if flt.type:
        q = q.where(Document.type == flt.type)
    if flt.case_no:
        q = q.where(Document.case_no == flt.case_no)
    later = aliased(Document)
    superseded = exists().where(later.supersedes == Document.id)
    if flt.status == "valid":
        q = q.where(Withdrawal.document_id.is_(None), ~superseded)
    elif flt.status == "withdrawn":
        q = q.where(Withdrawal.document_id.is_not(None))
    elif flt.status == "superseded":
        q = q.where(superseded)
    elif flt.status == "signed_copy_missing":
        q = q.where(missing_condition(HAND_SIGNED), Withdrawal.document_id.is_(None))
    if flt.date_from:
        q = q.where(Document.issued_at >= _utc(ws, flt.date_from))
    if flt.date_to:
        q = q.where(Document.issued_at < _utc(ws, flt.date_to + timedelta(days=1)))
    if flt.searched:
        ids = matching_ids(ws, flt, orgs)
        q = q.where(Document.id.in_(ids) if ids else false())
    if flt.sort == "issued_at":
        return q.order_by(Document.issued_at, Document.id)
    return q.order_by(Document.issued_at.desc(), Document.id.desc())


def _utc(ws: Wenshu, day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ws.tz).astimezone(UTC)


def matching_ids(ws: Wenshu, flt: DocumentFilter, orgs: list[str] | None) -> list[str]:
    """Ids of the documents the search engine finds for the keyword, institution and person."""
    ws.catch_up_index(ws.settings.search.catch_up_seconds)
    ids: list[str] = []
    page = 1
    while True:
        result = ws.index.search(
            flt.q.strip(),
            orgs=orgs,
            page=page,
            per_page=MAX_PER_PAGE,
            sort="newest",
            facets=False,
            institution=flt.institution or None,
            person=flt.person or None,
        )
        if result.total > MAX_MATCHES:
            raise ValidationError(
                f"关键词匹配的文书超过 {MAX_MATCHES} 件，请增加筛选条件",
                errors={"q": [f"匹配超过 {MAX_MATCHES} 件，请缩小范围"]},
            )
        ids += [h.id for h in result.hits]
        if len(ids) >= result.total or not result.hits:
            return ids
        page += 1
