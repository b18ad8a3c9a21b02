"""Full-text search of the archive: one interface, two backends.

Callers -- the indexer, the wiring, the search API, scripts and tests -- depend on
:class:`SearchBackend` and on the values it takes and gives (:class:`IndexedDoc` in,
:class:`SearchResult` of :class:`SearchHit` out, :class:`SearchFilters` being what the keyword
filters of ``search`` mean), never on a backend's module. So keeping the Whoosh fork, replacing
it, or sending large archives to PostgreSQL is a change to one subpackage:

* ``archive.search.whoosh`` -- a folder on this machine (``whoosh.index.SearchIndex``); the
  only importer of ``whoosh``; its use of Whoosh's private API sits in ``whoosh._internals``,
  behind an exact version pin, with a fallback to Whoosh's public API on any other release;
* ``archive.search.postgres`` -- a table beside the archive's, shared by every app server
  (``postgres.backend.PgSearchIndex``).

The pure parts both share: ``docs`` (the values), ``query`` (what users type), ``analysis``
(text to terms), ``snippet`` (highlighting and masking), ``extract`` (facts of a document's
input).

Errors a backend raises, all from :mod:`archive.errors`::

    WenshuError
    ├── ValidationError    a query or filter that cannot be run (page, sort, dates, amounts)
    ├── IntegrityError     the index is missing or unreadable: rebuild it
    └── ConflictError
        └── IndexBusy      another writer held the index lock too long
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from archive.search.docs import COUNT_BOUND, IndexBusy, IndexedDoc, SearchHit, SearchResult
from archive.search.postgres.backend import PgSearchIndex
from archive.search.query import SearchFilters
from archive.search.whoosh.index import SearchIndex

__all__ = [
    "COUNT_BOUND",
    "IndexBusy",
    "IndexedDoc",
    "SearchBackend",
    "SearchFilters",
    "SearchHit",
    "SearchResult",
    "open_backend",
]


class SearchBackend(Protocol):
    """What callers ask of a search index, whichever backend holds it.

    The index is derived data: whatever is in it comes from the archive, so a damaged or
    outdated index is rebuilt (``check`` then ``rebuild``), never repaired. Writers hold
    ``exclusive`` around a batch of writes: one writer at a time, across every process
    that can reach the index.
    """

    count_bound: int
    """Totals and facets are exact up to this many matches (``SearchResult.total_relation``)."""

    gather_seconds: float
    """While documents stream in, the background indexer commits no sooner than this after the
    last commit, so that they gather into one commit (``Indexer.drain``): the longer, the fewer
    commits, for a backend whose cost is per commit."""

    def search(
        self,
        q: str,
        *,
        orgs: list[str] | None,
        page: int = 1,
        per_page: int = 20,
        sort: str = "relevance",
        facets: bool = True,
        **filters: Any,
    ) -> SearchResult:
        """Documents matching ``q`` within ``orgs`` (None = every org; [] = nothing).

        ``filters`` are the fields of :class:`SearchFilters`; the org restriction and the
        filters are part of the query, so totals and facets count only what passes them. An
        empty ``q`` lists what passes the filters, newest first unless ``sort`` says otherwise.
        """
        ...

    def add(self, docs: Iterable[IndexedDoc]) -> int:
        """Add or replace documents by id in one commit; returns how many were written."""
        ...

    def delete(self, ids: Iterable[str]) -> None:
        """Remove documents by id (unknown ids are ignored)."""
        ...

    def rebuild(
        self,
        docs: Iterable[IndexedDoc],
        progress: Callable[[int], None] | None = None,
        *,
        procs: int = 1,
    ) -> int:
        """Index ``docs`` (unique ids) anew and swap the result in at once; returns the count.

        Searches see the old index until the swap; on failure it stays. ``progress`` gets the
        running count now and then; ``procs`` > 1 forks that many processes to help.
        """
        ...

    def compact(self) -> None:
        """Tidy up after incremental writes (a bounded merge), after they are searchable."""
        ...

    def check(self) -> bool:
        """True if the index is there, readable, and built by this version of the analysis."""
        ...

    def warm(self) -> None:
        """Load ahead what the first search would, so that no user's search pays for it."""
        ...

    def doc_count(self) -> int:
        """Number of documents in the index."""
        ...

    def exclusive(self, timeout: float, lock_path: Path) -> AbstractContextManager[bool]:
        """The lock a writer holds around a drain or a rebuild; yields False if it was not had
        within ``timeout``.

        ``lock_path`` is a lock file on this machine: the lock of a backend whose writers all
        run here (a Whoosh folder). A backend shared by several servers takes its own instead
        (PostgreSQL: an advisory lock), since a file lock does not reach other machines.
        """
        ...


def open_backend(
    kind: str,
    *,
    index_dir: Path | str | None,
    engine: Engine | None,
    count_bound: int = COUNT_BOUND,
) -> SearchBackend:
    """The search backend ``kind`` (``WENSHU_SEARCH_BACKEND``): ``"whoosh"``, a folder at
    ``index_dir`` (created when missing); ``"postgresql"``, the table in ``engine``'s database
    (created when missing). Each takes only its own argument; the other may be None. Totals
    are exact up to ``count_bound`` matches, a lower bound beyond."""
    if kind == "whoosh":
        if index_dir is None:
            raise ValueError("Whoosh 检索需要索引目录（INDEX_DIR）。")
        return SearchIndex(Path(index_dir), count_bound=count_bound)
    if kind == "postgresql":
        if engine is None:
            raise ValueError("PostgreSQL 检索需要 PostgreSQL 数据库（DATABASE_URL）。")
        return PgSearchIndex(engine, count_bound=count_bound)
    raise ValueError(f"检索后端只能是 whoosh 或 postgresql：{kind!r}")
