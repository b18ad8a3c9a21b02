"""Every use of whoosh-reloaded's private API, behind an exact version pin and a version check.

Why they are used at all: Whoosh's public writer and matchers go one posting at a time in
Python, which made indexing ~100 documents/s and counting 60,000 matches take seconds
(``docs/search.md``, "How it is fast enough"). The fast paths need what Whoosh keeps to itself:

* writing (:class:`BulkSegmentWriter`): ``SegmentWriter``'s hooks and state (``_check_state``,
  ``_doc_boost``, ``_field_boost``, ``_check_fields``, ``_added``, ``_tempstorage``,
  ``_flush_segment``, ``_finish``, the pool protocol and ``add_postings_to_pool``), the
  postings writer of codec W3 (``_postwriter``, ``_blocklimit``, ``_ids``, ``_weights``,
  ``_values``, ``_maxweight``, ``_minlength``, ``_maxlength``, ``_write_block``);
* committing segments written in other processes (``_lk``, ``_close_segment``,
  ``_commit_toc``, ``_finalize_segment``), listing an index's segments (``_segments``);
* reading posting blocks of ``W3LeafMatcher`` (``_read_data``, ``_data``, ``_next_block``,
  ``_skip_to_block``, ``_dataoffset``, ``block_max_id``) and a segment's deleted documents
  (``deleted_docs_set``).

They hold for the release they were written against, :data:`PINNED` (``setup.cfg`` pins the
same, exactly). :data:`FAST` is decided once, at import: true only when that release is the one
installed. Otherwise nothing else here is called (:func:`report_fallback` says so in the log
when an index is opened): the other modules of this package take Whoosh's public writer
(``ix.writer()``) and its matcher API instead -- slower, the same documents, order, totals,
facets, scores and snippets (``tests/archive/search/test_whoosh_internals.py`` runs both on one
corpus). Upgrading Whoosh is then: change the pin and :data:`PINNED` together, and run that
test. This module imports nothing but public names at import time, so it loads, and the
fallback works, on any release.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
import uuid
from array import array
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any

import whoosh
from whoosh.writing import SegmentWriter

from archive.search.whoosh.writer import Postings, TermPool, UnitPositions, unit_postings

log = logging.getLogger(__name__)

DISTRIBUTION = "whoosh-reloaded"
PINNED = "2.7.5"
"""The release of :data:`DISTRIBUTION` whose internals this module uses."""


def installed_version() -> str | None:
    """The installed release of :data:`DISTRIBUTION`, or None (e.g. the original Whoosh)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def supported(distribution: str | None, module: Sequence[int]) -> bool:
    """True if the internals may be used: the pinned release is installed, and the ``whoosh``
    module imported is that release (not another distribution's module of the same name)."""
    return distribution == PINNED and ".".join(map(str, module)) == PINNED


FAST: bool = supported(installed_version(), tuple(whoosh.__version__))
"""Use the fast paths below. Decided once; tests set it to False to run the fallback."""


@functools.cache
def report_fallback() -> None:
    """Say once per process, when an index is opened (logging is set up by then), that the
    fallback runs and why: indexing and search are slower until the pin is met again."""
    log.warning(
        "%s %s is installed, the fast search paths need %s: using Whoosh's public writer and "
        "matchers (the same results, slower indexing and search)",
        DISTRIBUTION,
        installed_version(),
        PINNED,
    )


# ---------------------------------------------------------------------- writing


class BulkSegmentWriter(SegmentWriter):  # type: ignore[misc]
    """A Whoosh ``SegmentWriter`` with a term-grouped pool and block-at-a-time flushing.

    Used exactly like ``ix.writer()``. ``postings`` tells how much the pool holds, so a bulk
    load can commit a segment when it reaches a size (see ``SearchIndex.rebuild``). The pool
    and the positions format are :mod:`archive.search.whoosh.writer`'s.
    """

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        # One file per part, not one compound file per segment: whoosh-reloaded reads a
        # compound file either through an mmap copied into a BytesIO per searcher (the whole
        # segment in memory) or through a Python sub-file wrapper (a call per few bytes).
        kwargs.setdefault("compound", False)
        super().__init__(ix, **kwargs)
        self.pool = TermPool(self.schema)
        # Whoosh names every writer's scratch folder "<index>.tmp" and deletes it when the
        # writer finishes: writers in parallel processes would delete it under each other.
        self._tempstorage = self.storage.temp_storage(f"{self.indexname}.{uuid.uuid4().hex}.tmp")

    @property
    def postings(self) -> int:
        return int(self.pool.postings)

    def _finish(self) -> None:
        super()._finish()
        try:  # the shared folder SegmentWriter.__init__ made; another writer may be using it
            os.rmdir(os.path.join(self.storage.folder, f"{self.indexname}.tmp"))
        except OSError:
            pass

    def add_document(self, **fields: Any) -> None:
        """Whoosh's ``SegmentWriter.add_document``, handing whole term tables to the pool.

        Supports what this project's schema uses: no spelling, no term vectors; per-field
        boosts and ``_stored_<name>`` values as in Whoosh.
        """
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields[fieldname]
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    boost = self._field_boost(fields, fieldname, docboost)
                    runs_of = getattr(field.analyzer, "term_runs", None)
                    if (
                        isinstance(field.format, UnitPositions)
                        and runs_of is not None
                        and isinstance(value, str)
                        and boost == 1.0
                    ):
                        length = self.pool.add_runs(fieldname, docnum, runs_of(value))
                        if not field.scorable:
                            length = 0
                    else:
                        for btext, freq, weight, vbytes in field.index(value):
                            if field.scorable:
                                length += freq
                            self.pool.add((fieldname, btext, docnum, weight * boost, vbytes))
                stored = fields.get(f"_stored_{fieldname}", value)
                perdocwriter.add_field(fieldname, field, stored if field.stored else None, length)
                if field.column_type and stored is not None:
                    perdocwriter.add_column_value(
                        fieldname, field.column_type, field.to_column_value(stored)
                    )
        except BaseException:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def add_postings_to_pool(self, reader: Any, startdoc: int, docmap: Any) -> None:
        """Merging a segment: copy its postings a block at a time (Whoosh: one at a time)."""
        if docmap is not None:  # deletions: renumbered one by one, the generic way
            super().add_postings_to_pool(reader, startdoc, docmap)
            return
        pool = self.pool
        for fieldname in reader.indexed_field_names():
            if fieldname not in self.schema:
                continue
            unit = isinstance(self.schema[fieldname].format, UnitPositions)
            for btext in reader.lexicon(fieldname):
                # No deletions (docmap is None), so the matcher is the segment's own.
                matcher = reader.postings(fieldname, btext)
                if not has_blocks(matcher):  # an inlined posting list: one by one
                    while matcher.is_active():
                        docnum = startdoc + matcher.id()
                        pool.add((fieldname, btext, docnum, matcher.weight(), matcher.value()))
                        matcher.next()
                    continue
                for ids, weights, values in posting_blocks(matcher):
                    docnums = [startdoc + d for d in ids]
                    if unit:
                        pool.add_blocks(fieldname, btext.decode("utf-8"), docnums, values)
                    else:
                        for d, w, v in zip(docnums, weights, values, strict=True):
                            pool.add((fieldname, btext, d, w, v))

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = self._lengths()
        fieldwriter = self.fieldwriter
        current = None
        for fieldname, btext, postings in self.pool.terms():
            if fieldname != current:
                if current is not None:
                    fieldwriter.finish_field()
                field = self.schema[fieldname]
                fieldwriter.start_field(fieldname, field)
                current = fieldname
            if isinstance(postings, Postings):
                docnums, weights, values = unit_postings(postings, field.format.field_boost)
            else:
                docnums = array("I", (p[0] for p in postings))
                weights = [p[1] for p in postings]
                values = [p[2] for p in postings]
            fieldwriter.start_term(btext)
            _write_postings(
                fieldwriter._postwriter, docnums, weights, values, lengths.get(fieldname)
            )
            fieldwriter.finish_term()
        if current is not None:
            fieldwriter.finish_field()
        fieldwriter.close()

    def _lengths(self) -> dict[str, list[int]]:
        """Each scorable field's length per document, as the reader will see it (quantised)."""
        scorable = [name for name in self.pool.fieldnames if self.schema[name].scorable]
        if not scorable or not self.codec.length_stats:
            return {}
        reader = self.per_document_reader()
        try:
            count = self.docnum
            return {
                name: [reader.doc_field_length(d, name) or 0 for d in range(count)]
                for name in scorable
            }
        finally:
            reader.close()


def _write_postings(
    writer: Any,
    docnums: Any,
    weights: list[float],
    values: Sequence[bytes | None],
    lengths: list[int] | None,
) -> None:
    """What ``add_posting`` per posting does, a block at a time (see W3PostingsWriter)."""
    limit = writer._blocklimit
    count = len(docnums)
    for first in range(0, count, limit):
        last = min(first + limit, count)
        ids = docnums[first:last]
        block_weights = weights[first:last]
        writer._ids = ids if isinstance(ids, array) else array("I", ids)
        writer._weights = array("f", block_weights)
        writer._values = [v for v in values[first:last] if v]
        writer._maxweight = max(0, *block_weights)
        if lengths is not None:
            block_lengths = [length for length in map(lengths.__getitem__, ids) if length]
            writer._minlength = min(block_lengths) if block_lengths else None
            writer._maxlength = max(block_lengths) if block_lengths else 0
        if last < count:  # the last block stays buffered: finish_postings may inline it
            writer._write_block()


def unlocked_writer(ix: Any, codec: Any) -> BulkSegmentWriter:
    """A writer that does not take Whoosh's lock: for a bulk load, whose caller holds the
    index's lock and whose writers in parallel processes each write segments of their own."""
    return BulkSegmentWriter(ix, _lk=False, codec=codec)


def finish_segment(writer: BulkSegmentWriter) -> Any:
    """Write out the writer's segment without committing it; returns the segment."""
    segment = writer._finalize_segment()
    writer._finish()
    return segment


def commit_segments(ix: Any, segments: list[Any], codec: Any) -> None:
    """Make segments written by :func:`finish_segment` (in any process) live, in one commit."""
    committer = unlocked_writer(ix, codec)
    committer._close_segment()
    committer._commit_toc(committer.segments + segments)
    committer._finish()


def segment_doc_counts(ix: Any) -> list[int]:
    """Live documents per segment, from the table of contents (no reader opened)."""
    return [segment.doc_count() for segment in ix._segments()]


# ---------------------------------------------------------------------- reading


def deleted_docs(leaf: Any) -> frozenset[int]:
    """A segment reader's deleted docnums (cached by the reader)."""
    return frozenset(leaf.deleted_docs_set)


def has_blocks(matcher: Any) -> bool:
    """True for a matcher reading posting blocks from disk (not an inlined posting list)."""
    return hasattr(matcher, "_read_data")


def posting_blocks(matcher: Any) -> Iterator[tuple[list[int], list[float], list[Any]]]:
    """A term's postings as (docnums, weights, values) per block, decoded with C-level calls.

    ``matcher`` must be raw (deleted documents included) and :func:`has_blocks`.
    """
    values: list[Any]
    while matcher.is_active():
        if matcher._data is None:
            matcher._read_data()
        raw_ids, raw_weights, raw_values = matcher._data
        ids = list(accumulate(raw_ids))
        count = len(ids)
        if raw_weights is None:
            weights = [1.0] * count
        elif isinstance(raw_weights, (int, float)):
            weights = [float(raw_weights)] * count
        else:
            weights = list(raw_weights)
        if raw_values is None:
            values = [None] * count
        elif isinstance(raw_values, bytes):  # fixed-size values joined
            size = len(raw_values) // count
            values = [raw_values[i * size : (i + 1) * size] for i in range(count)]
        else:
            values = list(raw_values)
        yield ids, weights, values
        matcher._next_block()


def block_offset(matcher: Any) -> int:
    """Where the current block's data starts in the postings file (a cache key)."""
    return int(matcher._dataoffset)


def read_block(matcher: Any) -> tuple[list[int], Any, Any]:
    """The current block as (docnums, weights, values), weights and values as Whoosh holds
    them (None, one number for all, or one per posting)."""
    if matcher._data is None:
        matcher._read_data()
    ids, weights, values = matcher._data
    return list(accumulate(ids)), weights, values


def skip_to_block(matcher: Any, docnum: int) -> bool:
    """Move to the block that may hold ``docnum`` without decoding the ones before it;
    returns whether the matcher moved (its current block is then another)."""
    if docnum <= matcher.block_max_id():
        return False
    matcher._skip_to_block(lambda: docnum > matcher.block_max_id())
    return True
