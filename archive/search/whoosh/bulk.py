"""Writing a Whoosh index: which writer, loading many documents (segments written in parallel
processes, committed together), and the merge policy of incremental writes.

On the pinned whoosh-reloaded the writer is ``_internals.BulkSegmentWriter`` and a bulk load
commits segments written in several processes at once; on any other release Whoosh's public
writer does it all in one process (the same documents and terms, slower).
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Iterable
from typing import Any

from whoosh.reading import SegmentReader

from archive.search.whoosh import _internals


def segment_writer(ix: Any, *, timeout: float, delay: float, codec: Any) -> Any:
    """A writer of ``ix`` holding Whoosh's lock (``whoosh.index.LockError`` if not had in
    ``timeout``): the fast one on the pinned release, else Whoosh's public ``SegmentWriter``,
    with the same codec and, like the fast one, a file per part rather than a compound file."""
    if _internals.FAST:
        return _internals.BulkSegmentWriter(ix, timeout=timeout, delay=delay, codec=codec)
    return ix.writer(timeout=timeout, delay=delay, codec=codec, compound=False)


def segment_doc_counts(ix: Any) -> list[int]:
    """Live documents per segment of ``ix`` (what the merge policy looks at)."""
    if _internals.FAST:
        return _internals.segment_doc_counts(ix)
    with ix.reader() as reader:
        return [leaf.doc_count() for leaf, _ in reader.leaf_readers() if leaf.doc_count_all()]


def merge_tier(low: int, high: int, fanin: int) -> Callable[[Any, list[Any]], list[Any]]:
    """A merge policy for incremental writes: once ``fanin`` segments hold from ``low`` to
    fewer than ``high`` documents, merge them into one.

    Whoosh's default (``MERGE_SMALL``) eventually merges segments of any size, which would
    hold the index lock for minutes on a large archive; here a merge stays bounded, and
    ``SearchIndex.rebuild`` lays a whole archive out in large segments.
    """

    def policy(writer: Any, segments: list[Any]) -> list[Any]:
        chosen = [s for s in segments if low <= s.doc_count() < high]
        if len(chosen) < fanin:
            return list(segments)
        for segment in chosen:
            reader = SegmentReader(writer.storage, writer.schema, segment)
            try:
                writer.add_reader(reader)
            finally:
                reader.close()
        return [s for s in segments if s not in chosen]

    return policy


def bulk_load(
    ix: Any,
    docs: Iterable[Any],
    to_fields: Callable[[Any], dict[str, Any]],
    *,
    segment_postings: int,
    procs: int = 1,
    progress: Callable[[int], None] | None = None,
    codec: Any = None,
) -> int:
    """Add ``docs`` to ``ix`` (whose write lock the caller holds) in segments; returns the count.

    With ``procs`` > 1 the documents go in batches to that many forked processes, each
    writing its own segments (Whoosh's ``MpWriter`` does the same; its sub-writers use the
    slow pool). The segments become visible together, in one TOC commit, at the end.
    Without the fast writer (another Whoosh release) ``segment_postings`` and ``procs`` are
    not used: Whoosh's public writer loads everything in one process and one segment.
    """
    if not _internals.FAST:
        return _load_public(ix, docs, to_fields, codec, progress)
    procs = max(1, procs)
    if procs == 1:
        segments = _write_segments(ix, docs, to_fields, segment_postings, codec, progress)
    else:
        segments = _write_segments_forked(
            ix, docs, to_fields, segment_postings, codec, progress, procs
        )
    count = sum(segment.doc_count_all() for segment in segments)
    _internals.commit_segments(ix, segments, codec)
    return count


def _load_public(
    ix: Any,
    docs: Iterable[Any],
    to_fields: Callable[[Any], dict[str, Any]],
    codec: Any,
    progress: Callable[[int], None] | None,
) -> int:
    """:func:`bulk_load` through Whoosh's public writer: one process, one commit (its pool
    spills to disk past ``limitmb``, so memory stays bounded)."""
    writer = ix.writer(codec=codec, compound=False)
    count = 0
    try:
        for doc in docs:
            writer.add_document(**to_fields(doc))
            count += 1
            if progress is not None and count % 100 == 0:
                progress(count)
    except BaseException:
        writer.cancel()
        raise
    writer.commit(merge=False)
    if progress is not None:
        progress(count)
    return count


def _write_segments(
    ix: Any,
    docs: Iterable[Any],
    to_fields: Callable[[Any], dict[str, Any]],
    segment_postings: int,
    codec: Any,
    progress: Callable[[int], None] | None,
) -> list[Any]:
    segments = []
    writer = _internals.unlocked_writer(ix, codec)
    count = 0
    try:
        for doc in docs:
            writer.add_document(**to_fields(doc))
            count += 1
            if writer.postings >= segment_postings:
                segments.append(_internals.finish_segment(writer))
                writer = _internals.unlocked_writer(ix, codec)
            if progress is not None and count % 100 == 0:
                progress(count)
    except BaseException:
        writer.cancel()
        raise
    if writer.docnum:
        segments.append(_internals.finish_segment(writer))
    else:
        writer.cancel()
    if progress is not None:
        progress(count)
    return segments


_BATCH = 200


def _write_segments_forked(
    ix: Any,
    docs: Iterable[Any],
    to_fields: Callable[[Any], dict[str, Any]],
    segment_postings: int,
    codec: Any,
    progress: Callable[[int], None] | None,
    procs: int,
) -> list[Any]:
    context = multiprocessing.get_context("fork")
    jobs: Any = context.Queue(maxsize=2 * procs)
    results: Any = context.Queue()
    workers = [
        context.Process(
            target=_segment_worker,
            args=(ix, jobs, results, to_fields, segment_postings, codec),
            daemon=True,
        )
        for _ in range(procs)
    ]
    for worker in workers:
        worker.start()
    try:
        count, batch = 0, []
        for doc in docs:
            batch.append(doc)
            if len(batch) == _BATCH:
                _put(jobs, batch, workers, results)
                count += len(batch)
                batch = []
                if progress is not None:
                    progress(count)
        if batch:
            _put(jobs, batch, workers, results)
            count += len(batch)
        for _ in workers:
            _put(jobs, None, workers, results)
        segments: list[Any] = []
        finished = 0
        while finished < procs:
            try:
                kind, payload = results.get(timeout=1.0)
            except queue.Empty:
                if any(not w.is_alive() and w.exitcode for w in workers):
                    raise RuntimeError("an indexing process died") from None
                continue
            if kind == "error":
                raise RuntimeError(f"an indexing process failed: {payload}")
            if kind == "done":
                finished += 1
            else:
                segments.extend(payload)
        if progress is not None:
            progress(count)
        return segments
    except BaseException:
        jobs.cancel_join_thread()  # else exiting waits for batches nobody will read
        for worker in workers:
            worker.terminate()
        raise
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()


def _put(jobs: Any, item: Any, workers: list[Any], results: Any) -> None:
    while True:
        try:
            jobs.put(item, timeout=1.0)
            return
        except queue.Full:
            if any(not w.is_alive() for w in workers):
                problem = "an indexing process died"
                while True:
                    try:
                        kind, payload = results.get(timeout=0.5)
                    except queue.Empty:
                        break
                    if kind == "error":
                        problem = f"an indexing process failed: {payload}"
                raise RuntimeError(problem) from None


def _segment_worker(
    ix: Any,
    jobs: Any,
    results: Any,
    to_fields: Callable[[Any], dict[str, Any]],
    segment_postings: int,
    codec: Any,
) -> None:
    try:
        writer = _internals.unlocked_writer(ix, codec)
        while (batch := jobs.get()) is not None:
            for doc in batch:
                writer.add_document(**to_fields(doc))
                if writer.postings >= segment_postings:
                    results.put(("segments", [_internals.finish_segment(writer)]))
                    writer = _internals.unlocked_writer(ix, codec)
        if writer.docnum:
            results.put(("segments", [_internals.finish_segment(writer)]))
        else:
            writer.cancel()
        results.put(("done", None))
    except BaseException as exc:  # reported to the parent, which raises
        results.put(("error", f"{type(exc).__name__}: {exc}"))
