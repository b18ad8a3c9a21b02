"""The Whoosh schema, and a document as Whoosh fields and back as a hit.

Title and body are indexed together in ``body`` (what users search), the title alone in
``title`` (for ranking); names in fields of their own; exact keys (文号, 档号, case numbers)
normalised by :func:`archive.search.query.exact_key`; ID numbers indexed, never stored.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from whoosh.fields import DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from archive.search.analysis import fold
from archive.search.docs import BEIJING, IndexedDoc, SearchHit
from archive.search.query import exact_key
from archive.search.snippet import snippet
from archive.search.whoosh.analyzer import document_analyzer
from archive.search.whoosh.engine import Candidate
from archive.search.whoosh.writer import UnitPositions
from schemas.masking import mask_identifiers

# Title and body are indexed together in ``body`` (one term per word to match, not two), the
# title alone in ``title`` for ranking; the separator keeps bigrams from bridging the two.
_TITLE_BODY_SEPARATOR = "\n。\n"


def _text_field(**kwargs: Any) -> TEXT:
    field = TEXT(analyzer=document_analyzer(), **kwargs)
    field.format = UnitPositions()
    return field


SCHEMA = Schema(
    id=ID(stored=True, unique=True),
    type=ID(stored=True, sortable=True),
    org=ID(stored=True, sortable=True),
    case_no=ID,
    wenhao=ID,
    archive_no=ID,
    identifiers=KEYWORD(stored=False, lowercase=False, commas=False, scorable=False),
    title=_text_field(stored=True),
    body=_text_field(stored=True),  # indexes title + body, stores body
    institutions=_text_field(),
    persons=_text_field(),
    inspectors=_text_field(),
    issued_at=DATETIME(sortable=True),
    year=ID(sortable=True),
    amount=NUMERIC(int, bits=64, sortable=True),  # 分 (1/100 元): exact, and sortable
    status=ID(stored=True),
    # As given by the archive, for display; the ID fields above hold normalised keys.
    shown=STORED,
    # fold(body) where it differs from the cheap fold (Traditional text), so snippets of
    # such documents do not pay for OpenCC at query time.
    body_folded=STORED,
    # The recognised text of the hand-signed original: indexed with the body (so its words
    # find the document), stored apart so a hit can say the match came from the scan.
    scan_text=STORED,
    scan_folded=STORED,
)


_NAME_SEPARATOR = "\n。\n"  # no bigram spans two names


def document_fields(doc: IndexedDoc) -> dict[str, Any]:
    indexed = doc.title + _TITLE_BODY_SEPARATOR + doc.body
    body_start = len(indexed) - len(doc.body)
    if doc.scan_text:
        indexed += _TITLE_BODY_SEPARATOR + doc.scan_text
    issued = doc.issued_at
    if issued.tzinfo is not None:
        issued = issued.astimezone(BEIJING).replace(tzinfo=None)
    fields: dict[str, Any] = {
        "id": doc.id,
        "type": doc.type,
        "org": doc.org,
        "title": doc.title,
        "body": indexed,
        "_stored_body": doc.body,
        "issued_at": issued,
        "year": str(issued.year),
        "status": doc.status,
        "shown": {
            "wenhao": doc.wenhao,
            "archive_no": doc.archive_no,
            "case_no": doc.case_no,
            "issued_at": doc.issued_at.isoformat(),
        },
    }
    for name in ("case_no", "wenhao", "archive_no"):
        value = getattr(doc, name)
        if value:
            fields[name] = exact_key(value)
    if doc.identifiers:
        fields["identifiers"] = " ".join(exact_key(value) for value in doc.identifiers)
    for name in ("institutions", "persons", "inspectors"):
        values = getattr(doc, name)
        if values:
            fields[name] = _NAME_SEPARATOR.join(values)
    if doc.amount is not None:
        fields["amount"] = int((doc.amount * 100).to_integral_value())
    # fold() caches this text, so the analyzer's own fold of it costs nothing more.
    folded_all = fold(indexed)
    folded = folded_all[body_start : body_start + len(doc.body)]
    if folded != fold(doc.body, simplified=False):
        fields["body_folded"] = folded
    if doc.scan_text:
        fields["scan_text"] = doc.scan_text
        scan_folded = folded_all[len(indexed) - len(doc.scan_text) :]
        if scan_folded != fold(doc.scan_text, simplified=False):
            fields["scan_folded"] = scan_folded
    return fields


def stored_hit(
    stored: dict[str, Any], c: Candidate, highlight: re.Pattern[str] | None, sort: str
) -> SearchHit:
    shown = stored.get("shown") or {}
    text, folded = stored.get("body", ""), stored.get("body_folded")
    from_scan = bool(
        highlight
        and stored.get("scan_text")
        and not _matches(highlight, stored.get("title", ""), None)
        and not _matches(highlight, text, folded)
        and _matches(highlight, stored["scan_text"], stored.get("scan_folded"))
    )
    if from_scan:
        text, folded = stored["scan_text"], stored.get("scan_folded")
    return SearchHit(
        id=stored["id"],
        type=stored["type"],
        org=stored["org"],
        title=mask_identifiers(stored.get("title", "")),
        wenhao=shown.get("wenhao"),
        archive_no=shown.get("archive_no"),
        case_no=shown.get("case_no"),
        issued_at=datetime.fromisoformat(shown["issued_at"]),
        snippet=snippet(text, highlight, folded=folded),
        score=round(c.tier * 100 + c.score, 4) if sort == "relevance" else 0.0,
        status=stored.get("status", "issued"),
        from_scan=from_scan,
    )


def _matches(highlight: re.Pattern[str], text: str, folded: str | None) -> bool:
    return bool(text) and highlight.search(folded or fold(text, simplified=False)) is not None
