"""Full-text search over archived documents (Whoosh), with exact lookup of 文号, 档号 and IDs.

The index is derived data: everything in it comes from the archive, so when it is missing or
damaged the answer is :meth:`SearchIndex.rebuild`, never a repair. On disk::

    <path>/CURRENT        name of the live generation, replaced atomically by rebuild()
    <path>/WRITELOCK      file lock held by add / delete / rebuild
    <path>/gen-<...>/     one complete Whoosh index per generation (live + previous)

Keeping the previous generation lets a process that still has it open finish its search
after another process swapped in a rebuilt one. A drain or rebuild of the indexer holds a
lock around its writes as well (:meth:`SearchIndex.exclusive`).

What a query means and how it runs: :mod:`archive.search.query` (what users type),
:mod:`archive.search.whoosh.engine` (bitsets per segment); how segments are written quickly:
:mod:`archive.search.whoosh.writer` and :mod:`archive.search.whoosh.bulk` (in parallel);
reading posting blocks: :mod:`archive.search.whoosh.postings`; the schema and its analyzer:
:mod:`archive.search.whoosh.schema`, :mod:`archive.search.whoosh.analyzer`; generations on
disk: :mod:`archive.search.whoosh.generations`; snippets and masking:
:mod:`archive.search.snippet`. Whoosh's private API is used in one module,
:mod:`archive.search.whoosh._internals`, and only on the release it is pinned to.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3Codec
from whoosh.util.filelock import FileLock, try_for

from archive import locks
from archive.errors import IntegrityError, ValidationError
from archive.search.analysis import ANALYSIS_VERSION
from archive.search.docs import COUNT_BOUND, FACETS, IndexBusy, IndexedDoc, SearchResult
from archive.search.query import SearchFilters, parse_query, validate
from archive.search.whoosh import _internals
from archive.search.whoosh.bulk import bulk_load, merge_tier, segment_doc_counts, segment_writer
from archive.search.whoosh.engine import Engine
from archive.search.whoosh.generations import VERSION_FILE, Generations
from archive.search.whoosh.schema import document_fields, stored_hit

log = logging.getLogger(__name__)


class _ReadFailed(Exception):
    """A search tripped while reading the index (the cause is chained)."""


_IDLE_SEARCHERS = 2

SEGMENT_POSTINGS = 6_000_000
"""A rebuild starts a new segment after this many postings per indexing process (~6,500
documents of ~1,300 characters; ~280 MB for the process): memory stays bounded and no
segment is ever merged again."""
MERGE_TIERS = (100, 1_000)
MERGE_FANIN = 10
"""After an incremental write, once ten segments of fewer than 100 documents exist, they are
merged (about a second), and likewise ten of 100–1,000 documents (10–20 s, once every ~1,000
documents issued). This happens in a second commit (``compact``), after the new documents are
searchable and marked so in the queue: searches waiting for them do not wait for the merge
(``Indexer.wait_for``); documents issued during a merge wait for it.
Larger segments are left alone: merging costs ~0.25 ms per distinct term, minutes for big
segments; ``wenshu reindex`` lays the whole archive out in large segments again."""


BULK_CODEC = W3Codec(compression=1)
"""zlib level 1 for posting blocks: a third of the level-3 time, a few percent larger."""


ADVISED_MAX = 200_000
"""Past this many documents PostgreSQL is the backend to use: a Whoosh worker's first round of
searches has p95 ~0.5 s at 100,000 documents and 4.9 s at 1,000,000 (it builds each segment's
columns and term bitsets on first use), so about 1 s near here; the opening of a worker logs
a warning beyond it (docs/search.md, "Search at scale")."""


class SearchIndex:
    """One Whoosh index of the archive; see the module docstring for the layout on disk."""

    gather_seconds = 2.0
    """Whoosh's cost is per commit and per merged segment, far less per document: the index
    worker's CPU per issued one-page document is 30 ms committed alone, 9 ms 20 to a commit
    (``scripts/bench_issue_cpu``, docs/performance.md). Every writer of the folder runs on
    this machine, where a waiting search cuts the gathering short (``Indexer.hurry``): a
    search waits for one commit, never for the gathering."""

    def __init__(
        self, path: Path, *, lock_timeout: float = 30.0, count_bound: int = COUNT_BOUND
    ) -> None:
        """Open the index at ``path``, creating an empty one if there is none.

        A damaged index is left as it is (``check()`` reports it, ``rebuild()`` replaces
        it), so a service can still start and rebuild.
        """
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.count_bound = count_bound
        """Totals and facets exact up to this many matches (``SearchResult.total_relation``)."""
        self._gens = Generations(self.path)
        self._ix: Any = None
        self._gen: str | None = None
        self._engine = Engine()
        self._verified: Any = None  # what check() last found good
        self._searchers: list[tuple[str | None, Any]] = []
        self._searchers_lock = threading.Lock()
        if not _internals.FAST:
            _internals.report_fallback()
        self.path.mkdir(parents=True, exist_ok=True)
        if self._gens.fresh():
            with self._write_lock():
                if self._gens.fresh():
                    self._gens.publish(self._gens.create())
        self._advise_on_size()

    def _advise_on_size(self) -> None:
        """Say at start-up when the archive has outgrown this backend (see ``ADVISED_MAX``)."""
        try:
            count = self.doc_count()
        except Exception:  # a damaged index: check() reports it, a rebuild replaces it
            log.debug("index size unknown at start-up", exc_info=True)
            return
        if count > ADVISED_MAX:
            log.warning(
                "the Whoosh search index holds %d documents: past %d the first searches of a "
                "freshly started worker take seconds (p95 4.9 s at 1,000,000); use the "
                "PostgreSQL backend (WENSHU_SEARCH_BACKEND=postgresql, docs/search.md)",
                count,
                ADVISED_MAX,
            )

    # ------------------------------------------------------------------ writing

    def exclusive(self, timeout: float, lock_path: Path) -> AbstractContextManager[bool]:
        """The lock a drain or rebuild holds (yields False if not had within ``timeout``):
        the file lock on ``lock_path``, since every writer of this folder runs on this machine.
        """
        return locks.exclusive(lock_path, timeout)

    def add(self, docs: Iterable[IndexedDoc]) -> int:
        """Add or replace documents by id in one commit; returns how many were written.

        Each commit leaves a small segment: call ``compact`` afterwards (not holding up
        whoever waits for these documents to become searchable)."""
        batch = {doc.id: doc for doc in docs}  # the last version of an id wins
        if not batch:
            return 0
        with self._write_lock():
            writer = self._writer()
            try:
                for doc in batch.values():
                    writer.update_document(**document_fields(doc))
            except BaseException:
                writer.cancel()
                raise
            writer.commit(merge=False)
        return len(batch)

    def delete(self, ids: Iterable[str]) -> None:
        """Remove documents by id (unknown ids are ignored)."""
        ids = list(ids)
        if not ids:
            return
        with self._write_lock():
            writer = self._writer()
            try:
                for doc_id in ids:
                    writer.delete_by_term("id", doc_id)
            except BaseException:
                writer.cancel()
                raise
            writer.commit(merge=False)

    def rebuild(
        self,
        docs: Iterable[IndexedDoc],
        progress: Callable[[int], None] | None = None,
        *,
        procs: int = 1,
    ) -> int:
        """Index ``docs`` into a new generation, then make it live in one atomic rename.

        Searches keep using the old generation until the swap; on failure the old one stays
        live and the half-built one is removed. ``progress`` gets the running count every
        few hundred documents and at the end. Ids must be unique. ``procs`` > 1 indexes in
        that many forked processes (for the command line: not from a threaded server).
        """
        with self._write_lock():
            previous = self._gens.current()
            gen = self._gens.create()
            try:
                ix = self._gens.open(gen)
                count = _fill(ix, docs, progress, procs)
                self._gens.publish(gen)
            except BaseException:
                shutil.rmtree(self.path / gen, ignore_errors=True)
                raise
            self._ix, self._gen = ix, gen
            self._gens.remove_all_but({gen, previous})
        log.info("search index rebuilt: %d documents in %s", count, gen)
        return count

    # ------------------------------------------------------------------ reading

    def check(self) -> bool:
        """True if the live index opens and every segment's terms and stored fields read.

        False too when the index was built by another version of the analysis.

        Cheap enough to call before each batch of writes: it touches the start and end of
        each segment, not every posting, so damage in the middle of a file can go unseen
        until a search trips on it (and raises ``IntegrityError``). Cheaper still when no
        file of the live generation changed (name, size, time) since the last good check.
        """
        try:
            gen = self._gens.require_current()
            state = self._gens.files_state(gen)
            if state == self._verified:
                return True
            version = (self.path / gen / VERSION_FILE).read_text(encoding="ascii").strip()
            if version != str(ANALYSIS_VERSION):
                log.warning(
                    "search index built by analysis v%s, now v%s", version, ANALYSIS_VERSION
                )
                return False
            ix = self._gens.open(gen)
            with ix.searcher() as searcher:
                for leaf, _ in searcher.reader().leaf_readers():
                    count = leaf.doc_count_all()
                    for docnum in {0, count - 1} if count else ():
                        leaf.stored_fields(docnum)
                    for fieldname in ("id", "body"):
                        next(iter(leaf.lexicon(fieldname)), None)
                searcher.search(wq.Every(), limit=1)
        except Exception:
            log.warning("search index at %s is missing or damaged", self.path, exc_info=True)
            self._verified = None
            return False
        self._verified = state
        return True

    def warm(self) -> None:
        """Load what the first query would: per-segment columns (dates, types, orgs, amounts).

        Takes about a second per 100,000 documents; call it when a worker starts so that no
        user's search pays for it.
        """
        with self._searcher() as searcher:
            for leaf, _ in searcher.reader().leaf_readers():
                if leaf.doc_count_all():
                    self._engine.columns(leaf)

    def doc_count(self) -> int:
        """Number of live (not deleted) documents."""
        with self._searcher() as searcher:
            return int(searcher.doc_count())

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
        """Search within ``orgs`` (None = every org, for administrators; [] = nothing).

        ``filters`` are the fields of :class:`SearchFilters` (type, case_no, wenhao,
        archive_no, institution, person, inspector, identifier, date_from, date_to,
        amount_min, amount_max, status). The org restriction is part of the query itself, so
        counts and facets never include documents of other orgs. An empty ``q`` lists
        everything that passes the filters, newest first unless another order is asked for.
        """
        conditions = SearchFilters(orgs=None if orgs is None else tuple(orgs), **filters)
        validate(page, per_page, sort, conditions)
        if orgs is not None and not orgs:
            return SearchResult(0, page, per_page, [], {name: {} for name in FACETS})
        for attempt in range(2):
            try:
                with self._searcher() as searcher:
                    return self._run(searcher, q, conditions, sort, page, per_page, facets)
            except _ReadFailed as failed:
                self._verified = None  # the next check() looks again
                if attempt:
                    raise IntegrityError("搜索索引无法读取，请重建索引。") from failed.__cause__
                # A searcher can trip over files that another process's commit merged away
                # after it was opened: once more, on the generation now live.
                log.warning("search failed, retrying on a fresh reader", exc_info=failed.__cause__)
                self._forget_readers()
        raise AssertionError("unreachable")

    def _run(
        self,
        searcher: Any,
        q: str,
        conditions: SearchFilters,
        sort: str,
        page: int,
        per_page: int,
        facets: bool,
    ) -> SearchResult:
        try:
            reader = searcher.reader()
            parsed = parse_query(q, known=lambda f, key: (f, key) in reader)
            if parsed is None and sort == "relevance":
                sort = "newest"
            outcome = self._engine.run(
                searcher,
                parsed,
                conditions,
                sort=sort,
                page=page,
                per_page=per_page,
                facets=FACETS if facets else (),
                bound=self.count_bound,
            )
            leaves = [leaf for leaf, _ in reader.leaf_readers() if leaf.doc_count_all()]
            highlight = parsed.highlight if parsed else None
            hits = [
                stored_hit(leaves[c.segment].stored_fields(c.docnum), c, highlight, sort)
                for c in outcome.hits
            ]
        except (ValidationError, IndexBusy):
            raise
        except Exception as exc:
            raise _ReadFailed from exc
        return SearchResult(outcome.total, page, per_page, hits, outcome.facets, outcome.relation)

    # ------------------------------------------------------------------ internals

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        lock = FileLock(str(self.path / "WRITELOCK"))
        if not try_for(lock.acquire, timeout=self.lock_timeout, delay=0.05):
            raise IndexBusy("搜索索引正在被其他任务更新，请稍后重试。")
        try:
            yield
        finally:
            lock.release()

    def compact(self) -> None:
        """Merge small segments left by incremental writes (bounded; see MERGE_TIERS)."""
        with self._write_lock():
            self._compact()

    def _compact(self) -> None:
        low = 0
        for high in MERGE_TIERS:
            counts = segment_doc_counts(self._open())
            if sum(low <= n < high for n in counts) >= MERGE_FANIN:
                self._writer().commit(mergetype=merge_tier(low, high, MERGE_FANIN))
            low = high

    def _open(self) -> Any:
        """The live generation's Whoosh index, reopened when a rebuild swapped it."""
        gen = self._gens.require_current()
        if gen != self._gen or self._ix is None:
            try:
                self._ix = self._gens.open(gen)
            except Exception as exc:
                raise IntegrityError("搜索索引缺失或已损坏，请重建索引。") from exc
            self._gen = gen
        return self._ix

    def _writer(self) -> Any:
        ix = self._open()
        try:
            return segment_writer(ix, timeout=self.lock_timeout, delay=0.05, codec=BULK_CODEC)
        except whoosh_index.LockError as exc:
            raise IndexBusy("搜索索引正在被其他任务更新，请稍后重试。") from exc

    def _forget_readers(self) -> None:
        """Drop the idle searchers and the open index, so the next search opens afresh."""
        with self._searchers_lock:
            idle, self._searchers = self._searchers, []
        for _gen, searcher in idle:
            searcher.close()
        self._ix = None

    @contextmanager
    def _searcher(self) -> Iterator[Any]:
        """A searcher of the live generation, reused across queries while the index is
        unchanged: opening one costs tens of ms (every segment's term index). Not
        ``refresh()``: it reuses a segment's reader even when deletions changed. One per
        concurrent query; a few are kept idle."""
        ix = self._open()
        gen = self._gen
        with self._searchers_lock:
            idle = self._searchers.pop() if self._searchers else None
        try:
            if idle is not None and idle[0] == gen and idle[1].up_to_date():
                searcher = idle[1]
            else:
                if idle is not None:
                    idle[1].close()
                searcher = ix.searcher()
        except Exception as exc:
            raise IntegrityError("搜索索引无法读取，请重建索引。") from exc
        try:
            yield searcher
        except BaseException:
            searcher.close()
            raise
        with self._searchers_lock:
            if len(self._searchers) < _IDLE_SEARCHERS:
                self._searchers.append((gen, searcher))
                return
        searcher.close()


def _fill(
    ix: Any, docs: Iterable[IndexedDoc], progress: Callable[[int], None] | None, procs: int
) -> int:
    """Write ``docs`` into the empty index ``ix`` as segments of ~SEGMENT_POSTINGS postings."""
    return bulk_load(
        ix,
        _unique_ids(docs),
        document_fields,
        segment_postings=SEGMENT_POSTINGS,
        procs=procs,
        progress=progress,
        codec=BULK_CODEC,
    )


def _unique_ids(docs: Iterable[IndexedDoc]) -> Iterator[IndexedDoc]:
    seen: set[str] = set()
    for doc in docs:
        if doc.id in seen:
            raise ValidationError(f"重建索引时文档编号重复：{doc.id}")
        seen.add(doc.id)
        yield doc
