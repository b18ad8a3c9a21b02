"""Full-text search in PostgreSQL: the same queries, answers and JSON as the Whoosh index.

For several app servers on one PostgreSQL (``WENSHU_SEARCH_BACKEND=postgresql``): the index is
a table beside the archive's, so every server searches and writes the same one.

Each document is one row of ``search_docs``. Its text is cut exactly as for Whoosh
(:mod:`archive.search.analysis`: one CJK character or one run of letters/digits per position, the
bigram with the next unit, lone units at the ends of runs and for numbers) and the terms go
into ``tsvector`` columns as pre-tokenised lexemes with their positions -- not through
``to_tsvector``, whose parser keeps a whole CJK run as one word. So ``4号`` never matches
``44号``, unsegmented names are found, Traditional text is folded, and quoted phrases are
``<->`` chains. A GIN index answers the terms; exact keys (文号, 档号, case numbers) have
B-tree indexes, ID numbers are kept only as hashes (GIN over an array). Why not jieba's words
in the ``simple`` configuration: ``docs/scale-out.md``.

The table is derived data, like the Whoosh folder: created here when missing (not by a
migration), rebuilt from the archive by ``wenshu reindex`` -- into a new table swapped in by
one rename, so searches never see a half-built index. Writers on every server take one
PostgreSQL advisory lock (:meth:`PgSearchIndex.exclusive`), which dies with its connection.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from archive.errors import IntegrityError, ValidationError
from archive.search.analysis import ANALYSIS_VERSION, fold
from archive.search.docs import COUNT_BOUND, FACETS, IndexedDoc, SearchHit, SearchResult
from archive.search.postgres.query import (
    TABLE,
    WALK_SETTINGS,
    WINDOW,
    Sql,
    check_phrases,
    count_matches,
    filter_conditions,
    has_phrases,
    newest_in_window,
    parse_with_keys,
    query_conditions,
    rank_candidates,
    score_query,
)
from archive.search.postgres.rows import (
    CASTS,
    COLUMNS,
    create_sql,
    index_sql,
    org_index_sql,
    row,
    rows,
)
from archive.search.query import SearchFilters, validate
from archive.search.snippet import snippet
from schemas.masking import mask_identifiers

log = logging.getLogger(__name__)

PHRASE_CHECK_BUDGET = 600
"""Up to this many documents holding a quoted phrase's terms, every one is checked by
position (exact total); beyond, only the documents shown are (as in the Whoosh engine)."""
WRITER_LOCK = 0x57454E5348550001
"""The advisory-lock key every server's index writer takes (``WENSHU`` + 1)."""
COPY_BATCH = 500
_SEARCH_SETTINGS = (
    "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true),"
    " set_config('jit', 'off', true), set_config('work_mem', '32MB', true)"  # exact bitmaps
)
TABLE_VERSION = 1
"""Bump when the columns change: a table of another version fails ``check()`` and is rebuilt."""


def _version_comment() -> str:
    return f"wenshu search index, analysis v{ANALYSIS_VERSION}, table v{TABLE_VERSION}"


class PgSearchIndex:
    """The search index as a PostgreSQL table: a ``SearchBackend``, like ``SearchIndex``."""

    gather_seconds = 0.5
    """Rows cost much the same one or twenty to a commit (≈ 14 against 8 ms of the index
    worker's CPU per document), and a search on another server cannot cut the gathering short
    (``Indexer.hurry`` is a file of this machine): it would wait for the gathering."""

    def __init__(self, engine: Engine, *, count_bound: int = COUNT_BOUND) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("PostgreSQL 检索需要 PostgreSQL 数据库（DATABASE_URL）。")
        self.engine = engine
        self.count_bound = count_bound
        """Totals and facets exact up to this many matches (``SearchResult.total_relation``)."""
        with engine.begin() as conn:
            # Several workers start at once: one creates, the others find it made.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITER_LOCK + 1})
            if conn.scalar(text("SELECT to_regclass(:t)"), {"t": TABLE}) is None:
                conn.execute(text(create_sql(TABLE)))
                for stmt in index_sql(TABLE):
                    conn.execute(text(stmt))
                conn.execute(text(f"COMMENT ON TABLE {TABLE} IS '{_version_comment()}'"))

    # ------------------------------------------------------------------ writing

    @contextmanager
    def exclusive(self, timeout: float, lock_path: Path | None = None) -> Iterator[bool]:
        """Hold the writer lock shared by every server; yields False if not had in time.

        ``lock_path`` (a lock file of this machine, see ``SearchBackend.exclusive``) is not
        used: a file lock does not reach the other servers writing this table."""
        with self.engine.connect() as conn:
            deadline = time.monotonic() + timeout
            while not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": WRITER_LOCK}):
                conn.rollback()
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.05)
            conn.commit()
            try:
                yield True
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": WRITER_LOCK})
                conn.commit()

    def add(self, docs: Iterable[IndexedDoc]) -> int:
        """Add or replace documents by id in one transaction; returns how many."""
        batch = {doc.id: doc for doc in docs}
        if not batch:
            return 0
        names = [c.strip() for c in COLUMNS.split(",")]
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c != "id")
        values = ", ".join(f"CAST(:{c} AS {CASTS[c]})" if c in CASTS else f":{c}" for c in names)
        stmt = text(
            f"INSERT INTO {TABLE} ({COLUMNS}) VALUES ({values}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}"
        )
        rows = [dict(zip(names, row(doc), strict=True)) for doc in batch.values()]
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)
        return len(batch)

    def compact(self) -> None:
        """Nothing to merge: PostgreSQL keeps the GIN index up to date itself."""

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            with self.engine.begin() as conn:
                conn.execute(text(f"DELETE FROM {TABLE} WHERE id = ANY(:ids)"), {"ids": ids})

    def rebuild(
        self,
        docs: Iterable[IndexedDoc],
        progress: Callable[[int], None] | None = None,
        *,
        procs: int = 1,
    ) -> int:
        """Load ``docs`` into a new table with COPY, index it, then swap it in by a rename.

        Searches use the old table until the swap; on failure it stays and the new one is
        dropped. ``procs`` > 1 turns documents into rows in that many forked processes.
        """
        build = f"{TABLE}_{uuid.uuid4().hex[:12]}"
        with self.engine.begin() as conn:
            conn.execute(text(create_sql(build)))
        try:
            count, orgs = self._copy(build, docs, progress, procs)
            with self.engine.begin() as conn:
                conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
                for stmt in [*index_sql(build), *(org_index_sql(build, o) for o in sorted(orgs))]:
                    conn.execute(text(stmt))
                conn.execute(text(f"ANALYZE {build}"))
            with self.engine.begin() as conn:
                conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
                conn.execute(text(f"ALTER TABLE {build} RENAME TO {TABLE}"))
                conn.execute(text(f"COMMENT ON TABLE {TABLE} IS '{_version_comment()}'"))
        except BaseException:
            with self.engine.begin() as conn:
                conn.execute(text(f"DROP TABLE IF EXISTS {build}"))
            raise
        log.info("search table rebuilt: %d documents", count)
        return count

    def _copy(
        self,
        table: str,
        docs: Iterable[IndexedDoc],
        progress: Callable[[int], None] | None,
        procs: int,
    ) -> tuple[int, set[str]]:
        """COPY the rows; returns how many and the orgs they belong to."""
        seen: set[str] = set()
        orgs: set[str] = set()
        count = 0
        with self.engine.connect() as conn:
            raw: Any = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy:
                for values in rows(docs, procs):
                    if values[0] in seen:
                        raise ValidationError(f"重建索引时文档编号重复：{values[0]}")
                    seen.add(values[0])
                    orgs.add(values[2])
                    copy.write_row(values)
                    count += 1
                    if progress and count % COPY_BATCH == 0:
                        progress(count)
            raw.commit()
        if progress:
            progress(count)
        return count, orgs

    # ------------------------------------------------------------------ reading

    def check(self) -> bool:
        """True if the table exists and was built by this version of the analysis."""
        try:
            with self.engine.connect() as conn:
                comment = conn.scalar(
                    text("SELECT obj_description(to_regclass(:t), 'pg_class')"), {"t": TABLE}
                )
        except DBAPIError:
            log.warning("search table cannot be read", exc_info=True)
            return False
        if comment != _version_comment():
            log.warning("search table missing or built by another analysis: %r", comment)
            return False
        return True

    def warm(self) -> None:
        """Nothing to load ahead: PostgreSQL keeps its own caches."""

    def doc_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(text(f"SELECT count(*) FROM {TABLE}")) or 0)

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
        """Search within ``orgs`` (None = every org; [] = nothing); see ``SearchIndex.search``."""
        # PostgreSQL text cannot hold NUL; it is no character anybody searches for.
        q = q.replace("\x00", " ")
        filters = {
            k: v.replace("\x00", " ") if isinstance(v, str) else v for k, v in filters.items()
        }
        conditions = SearchFilters(orgs=None if orgs is None else tuple(orgs), **filters)
        validate(page, per_page, sort, conditions)
        if orgs is not None and not orgs:
            return SearchResult(0, page, per_page, [], {name: {} for name in FACETS})
        try:
            with self.engine.connect() as conn:
                return self._search(conn, q, conditions, page, per_page, sort, facets)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == "42P01":  # undefined table
                raise IntegrityError("搜索索引缺失，请重建索引。") from exc
            raise

    def _search(
        self,
        conn: Connection,
        q: str,
        conditions: SearchFilters,
        page: int,
        per_page: int,
        sort: str,
        facets: bool,
    ) -> SearchResult:
        # Terms are answered by GIN bitmaps. The planner thinks testing a tsvector costs
        # nothing, but each test reads it from TOAST: never filter rows by their terms (a
        # sequential scan, a B-tree scan in date order) when the GIN index can answer.
        # (With those plans priced out, JIT would compile every query: 250 ms for nothing.)
        conn.execute(text(_SEARCH_SETTINGS))
        parsed = parse_with_keys(conn, q)
        if parsed is None and sort == "relevance":
            sort = "newest"
        sql = Sql()
        filter_conditions(sql, conditions)
        tiers = query_conditions(sql, parsed, phrases=False) if parsed is not None else None
        bound = self.count_bound
        total, relation, counts = count_matches(conn, sql, facets, bound)
        if not total:
            return SearchResult(0, page, per_page, [], {n: {} for n in FACETS} if facets else {})
        check: Sql | None = None  # phrases still to check in the documents shown
        if parsed is not None and has_phrases(parsed):
            exact = Sql()
            filter_conditions(exact, conditions)
            exact_tiers = query_conditions(exact, parsed)
            if total <= PHRASE_CHECK_BUDGET:  # check them all: exact total and facets
                sql, tiers = exact, exact_tiers
                total, relation, counts = count_matches(conn, sql, facets, bound)
            else:
                check = exact
        wanted = page * per_page
        start = (page - 1) * per_page
        scores: dict[str, tuple[int, float]] = {}
        if sort == "relevance" and parsed is not None and tiers is not None:
            ranked = rank_candidates(
                conn, sql, tiers.tiers, score_query(parsed), wanted, relation == "gte"
            )
            scores = {doc_id: (tier, score) for doc_id, tier, score in ranked}
            ordered = [doc_id for doc_id, _, _ in ranked]
        else:
            order = "DESC" if sort != "oldest" else "ASC"
            limit, offset = (per_page, start) if check is None else (2 * wanted + 20, 0)
            recent: list[str] | None = None  # the page, found among the newest rows
            if "terms @@" not in sql.where():
                # No terms to read from TOAST: walk the issue-date index and stop at the page.
                # (Browsing 400,000 documents of an org sorted them all: 3.2 s.)
                conn.execute(text("SELECT set_config('enable_indexscan', 'on', true)"))
            elif relation == "gte" and order == "DESC":  # the page is near the newest rows
                window = newest_in_window(conn, sql, offset + limit, WINDOW)
                if window is not None and len(window) >= offset + limit:
                    recent = [doc_id for doc_id, _ in window[offset:]]
                else:
                    conn.execute(text(WALK_SETTINGS))
            elif relation == "gte":
                conn.execute(text(WALK_SETTINGS))
            ordered = recent or list(
                conn.scalars(
                    text(
                        f"SELECT id FROM {TABLE} WHERE {sql.where()} "
                        f"ORDER BY issued_at {order}, id {order} LIMIT :lim OFFSET :off"
                    ),
                    {**sql.params, "lim": limit, "off": offset},
                )
            )
            start -= offset
        if check is not None:
            ordered, checked = check_phrases(conn, check, ordered, total, wanted)
            total = total if relation == "gte" else checked  # a lower bound stays one
        page_ids = ordered[start : start + per_page]
        hits = _hits(conn, page_ids, parsed.highlight if parsed else None, scores)
        facet_view = {name: counts.get(name, {}) for name in FACETS} if facets else {}
        return SearchResult(total, page, per_page, hits, facet_view, relation)


def _hits(
    conn: Connection,
    ids: list[str],
    highlight: re.Pattern[str] | None,
    scores: dict[str, tuple[int, float]],
) -> list[SearchHit]:
    if not ids:
        return []
    rows = {
        r.id: r
        for r in conn.execute(
            text(
                f"SELECT id, type, org, title, body, body_folded, more_text, shown, status "
                f"FROM {TABLE} "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        )
    }
    hits = []
    for doc_id in ids:
        r = rows[doc_id]
        tier, score = scores.get(doc_id, (0, 0.0))
        shown_text, folded, from_scan = r.body, r.body_folded, False
        if (
            highlight is not None
            and r.more_text
            and not _found(highlight, r.title)
            and not _found(highlight, r.body, r.body_folded)
        ):
            more_folded = fold(r.more_text)
            if highlight.search(more_folded):  # the words are only in the scan's text
                shown_text, folded, from_scan = r.more_text, more_folded, True
        hits.append(
            SearchHit(
                id=r.id,
                type=r.type,
                org=r.org,
                title=mask_identifiers(r.title),
                wenhao=r.shown.get("wenhao"),
                archive_no=r.shown.get("archive_no"),
                case_no=r.shown.get("case_no"),
                issued_at=datetime.fromisoformat(r.shown["issued_at"]),
                snippet=snippet(shown_text, highlight, folded=folded),
                score=round(tier * 100 + score, 4) if doc_id in scores else 0.0,
                status=r.status,
                from_scan=from_scan,
            )
        )
    return hits


def _found(highlight: re.Pattern[str], text: str, folded: str | None = None) -> bool:
    return bool(text) and highlight.search(folded or fold(text, simplified=False)) is not None
