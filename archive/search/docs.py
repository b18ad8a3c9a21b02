"""What both search backends take and give: a document to index, a hit, a page of results.

The Whoosh index (:mod:`archive.search.whoosh.index`) and the PostgreSQL table
(:mod:`archive.search.postgres.backend`) take the same :class:`IndexedDoc` and answer with the same
:class:`SearchResult`, so the API, the search page and the tests do not know which one runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from archive.errors import ConflictError

BEIJING = timezone(timedelta(hours=8), "CST")
FACETS = ("type", "org", "year")
COUNT_BOUND = 10_000
"""Totals and facets are exact up to this many matches; beyond, the total is reported as this
bound with ``total_relation == "gte"`` (as Elasticsearch's ``track_total_hits``): counting the
rest of a word found in half a million documents costs a second and tells nobody anything."""


class IndexBusy(ConflictError):
    """Another writer held the index lock longer than the caller is willing to wait."""

    code = "index_busy"


@dataclass(frozen=True)
class IndexedDoc:
    """What the index needs of one archived document."""

    id: str
    type: str
    org: str
    case_no: str | None
    wenhao: str | None
    archive_no: str | None
    title: str
    body: str
    issued_at: datetime
    """Naive values are Beijing time; aware values are converted to it for filtering."""
    status: str = "issued"
    identifiers: tuple[str, ...] = ()
    """ID-card numbers / credit codes in the document: matched exactly, never stored."""
    institutions: tuple[str, ...] = ()
    """Inspected institutions (see :mod:`archive.search.extract`)."""
    persons: tuple[str, ...] = ()
    """People concerned: subjects, interviewees, legal representatives, witnesses."""
    inspectors: tuple[str, ...] = ()
    """Inspectors, interviewers and recorders."""
    amount: Decimal | None = None
    """A report's total amount (元)."""
    scan_text: str = ""
    """OCR text of the document's hand-signed original (records, transcripts), if recognised."""


@dataclass(frozen=True)
class SearchHit:
    id: str
    type: str
    org: str
    title: str
    """Plain text with identifiers masked; escape it when rendering."""
    wenhao: str | None
    archive_no: str | None
    case_no: str | None
    issued_at: datetime
    snippet: str
    """HTML: escaped text, matches in ``<mark>``, identifiers masked."""
    score: float
    status: str = "issued"
    """Withdrawn documents stay findable (it is an archive); show their status."""
    from_scan: bool = False
    """The words matched only in the recognised text of the signed original (the snippet is
    taken from it)."""


@dataclass(frozen=True)
class SearchResult:
    total: int
    page: int
    per_page: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]]
    """Counts over all matches (not just this page), e.g. ``{"type": {"notice": 3}}``; when
    ``total_relation`` is ``"gte"``, over the first ``COUNT_BOUND`` matches only."""
    total_relation: str = "eq"
    """``"eq"``: ``total`` is exact; ``"gte"``: there are at least ``total`` matches (the
    count stopped at the bound)."""
