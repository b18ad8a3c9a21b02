"""Writing Whoosh segments several times faster than Whoosh's own writer, in the same format.

Profiling ``SearchIndex.rebuild`` on 1,500-character documents (2-core machine) showed Whoosh
itself, not the analysis, at 100 documents/s: per posting it builds a ``Token``, pickles a
position list, appends a 5-tuple to a pool, sorts millions of such tuples at commit, then for
every posting reads the document's length back from disk and checks types in
``add_posting``. This module keeps Whoosh's on-disk format (codec W3, readable by any Whoosh
reader) and replaces those steps:

* :class:`UnitPositions` asks the analyzer for the whole term table of a text at once
  (:func:`archive.search.analysis.term_positions`) and encodes positions with ``array``;
* :class:`BulkSegmentWriter` groups postings by term as they arrive (documents come in
  docnum order, so each term's list is already sorted), and writes each term's postings a
  block at a time with the document lengths read once per segment.

It relies on internals of ``W3PostingsWriter`` (``_ids``, ``_weights``, ``_values``,
``_maxweight``, ``_minlength``, ``_maxlength``, ``_write_block``) of whoosh-reloaded 2.7;
``tests/test_search_index.py`` checks that a segment written here reads back exactly like
one written by Whoosh.
"""

from __future__ import annotations

import os
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from whoosh import formats
from whoosh.system import _INT_SIZE, pack_uint
from whoosh.util import random_name
from whoosh.writing import SegmentWriter

from archive.search.whoosh.postings import posting_blocks

_FLIP = sys.byteorder == "big"  # positions are stored little-endian
_HEADER_ONE = pack_uint(1)


def _encode(poses: list[int]) -> bytes:
    if len(poses) == 1 and not _FLIP:
        return _HEADER_ONE + poses[0].to_bytes(4, "little")
    packed = array("I", poses)
    if _FLIP:
        packed.byteswap()
    return pack_uint(len(poses)) + packed.tobytes()


class UnitPositions(formats.Positions):  # type: ignore[misc]
    """Positions of each term, stored as 4-byte integers after Whoosh's frequency header.

    Pickled into the index schema by reference: renaming it means rebuilding the index.
    """

    def word_values(self, value: Any, analyzer: Any, **kwargs: Any) -> Iterator[Any]:
        table_of = getattr(analyzer, "term_positions", None)
        if table_of is None or not isinstance(value, str):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        boost = self.field_boost
        for term, poses in table_of(value).items():
            yield term, len(poses), len(poses) * boost, _encode(poses)

    def encode(self, poslist: list[int]) -> bytes:
        return _encode(list(poslist))

    def decode_positions(self, valuestring: bytes) -> list[int]:
        packed = array("I")
        packed.frombytes(valuestring[_INT_SIZE:])
        if _FLIP:
            packed.byteswap()
        return packed.tolist()


class _Postings:
    """One term's postings in a segment being written: about 12 bytes a posting."""

    __slots__ = ("docnums", "starts", "positions", "last")

    def __init__(self) -> None:
        self.docnums = array("I")
        self.starts = array("I")  # where each posting's positions begin in ``positions``
        self.positions = array("I")
        self.last = -1  # the last docnum added

    def ends(self) -> list[int]:
        return [*self.starts[1:], len(self.positions)]


class _TermPool:
    """Postings grouped by field and term as documents arrive (in docnum order).

    Replaces Whoosh's ``PostingPool``, which keeps a 5-tuple per posting (~150 bytes) and
    sorts them all at commit. Fields in :class:`UnitPositions` keep positions as integers;
    other fields (IDs, dates, numbers: a few postings a document) keep Whoosh's items.
    """

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.units: dict[str, dict[str, _Postings]] = {}
        self.other: dict[tuple[str, bytes], list[tuple[int, float, bytes | None]]] = {}
        self.postings = 0
        self.fieldnames: set[str] = set()

    def add_runs(self, fieldname: str, docnum: int, runs: Iterable[tuple[int, list[str]]]) -> int:
        """Add one document's terms (see :func:`archive.search.analysis.term_runs`); returns how
        many there were (the field length). The hot loop of indexing."""
        terms = self.units.get(fieldname)
        if terms is None:
            terms = self.units[fieldname] = {}
            self.fieldnames.add(fieldname)
        length = new = 0
        get = terms.get
        for start, run in runs:
            length += len(run)
            for pos, term in enumerate(run, start):
                postings = get(term)
                if postings is None:
                    postings = terms[term] = _Postings()
                if postings.last != docnum:
                    postings.last = docnum
                    postings.docnums.append(docnum)
                    postings.starts.append(len(postings.positions))
                    new += 1
                postings.positions.append(pos)
        self.postings += new
        return length

    def add_blocks(
        self, fieldname: str, term: str, docnums: list[int], values: list[bytes]
    ) -> None:
        """Postings of one term copied from another segment (docnums already renumbered)."""
        terms = self.units.setdefault(fieldname, {})
        self.fieldnames.add(fieldname)
        postings = terms.get(term)
        if postings is None:
            postings = terms[term] = _Postings()
        positions, starts = postings.positions, postings.starts
        postings.docnums.extend(docnums)
        for value in values:
            starts.append(len(positions))
            if _FLIP:
                positions.extend(UnitPositions().decode_positions(value))
            else:
                positions.frombytes(value[_INT_SIZE:])
        if docnums:
            postings.last = docnums[-1]
        self.postings += len(docnums)

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        """Whoosh's pool protocol: one posting (other fields, and merged segments)."""
        fieldname, btext, docnum, weight, value = item
        if isinstance(self.schema[fieldname].format, UnitPositions):
            self.add_blocks(fieldname, btext.decode("utf-8"), [docnum], [value or b""])
            return
        self.fieldnames.add(fieldname)
        self.other.setdefault((fieldname, btext), []).append((docnum, weight, value))
        self.postings += 1

    def terms(self) -> Iterator[tuple[str, bytes, Any]]:
        """``(field, term bytes, postings)`` sorted as the term index needs them.

        UTF-8 preserves code-point order, so sorting the ``str`` terms sorts their bytes.
        """
        for fieldname in sorted(self.fieldnames):
            if fieldname in self.units:
                terms = self.units[fieldname]
                for term in sorted(terms):
                    yield fieldname, term.encode("utf-8"), terms[term]
            else:
                for key in sorted(k for k in self.other if k[0] == fieldname):
                    yield fieldname, key[1], self.other[key]

    def iter_postings(self) -> Iterator[tuple[str, bytes, int, float, bytes | None]]:
        """Every posting as Whoosh's 5-tuple, in order (for a caller using the protocol)."""
        for fieldname, btext, postings in self.terms():
            if isinstance(postings, _Postings):
                boost = self.schema[fieldname].format.field_boost
                docnums, weights, values = _unit_postings(postings, boost)
                for item in zip(docnums, weights, values, strict=True):
                    yield (fieldname, btext, *item)
            else:
                for item in postings:
                    yield (fieldname, btext, *item)

    def cleanup(self) -> None:
        self.units.clear()
        self.other.clear()


def _unit_postings(postings: _Postings, boost: float) -> tuple[Any, list[float], list[bytes]]:
    """Docnums, weights (frequency × boost) and encoded values of one term's postings."""
    blob = postings.positions.tobytes() if not _FLIP else b""
    start = 0
    weights: list[float] = []
    values: list[bytes] = []
    for end in postings.ends():
        freq = end - start
        weights.append(freq * boost)
        if _FLIP:
            values.append(_encode(postings.positions[start:end].tolist()))
        else:
            values.append(
                (_HEADER_ONE if freq == 1 else pack_uint(freq)) + blob[4 * start : 4 * end]
            )
        start = end
    return postings.docnums, weights, values


class BulkSegmentWriter(SegmentWriter):  # type: ignore[misc]
    """A Whoosh ``SegmentWriter`` with a term-grouped pool and block-at-a-time flushing.

    Used exactly like ``ix.writer()``. ``postings`` tells how much the pool holds, so a bulk
    load can commit a segment when it reaches a size (see ``SearchIndex.rebuild``).
    """

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        # One file per part, not one compound file per segment: whoosh-reloaded reads a
        # compound file either through an mmap copied into a BytesIO per searcher (the whole
        # segment in memory) or through a Python sub-file wrapper (a call per few bytes).
        kwargs.setdefault("compound", False)
        super().__init__(ix, **kwargs)
        self.pool = _TermPool(self.schema)
        # Whoosh names every writer's scratch folder "<index>.tmp" and deletes it when the
        # writer finishes: writers in parallel processes would delete it under each other.
        self._tempstorage = self.storage.temp_storage(f"{self.indexname}.{random_name()}.tmp")

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
                for ids, weights, values in posting_blocks(reader, fieldname, btext):
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
            if isinstance(postings, _Postings):
                docnums, weights, values = _unit_postings(postings, field.format.field_boost)
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
