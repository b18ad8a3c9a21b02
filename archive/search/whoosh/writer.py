"""Writing Whoosh segments several times faster than Whoosh's own writer, in the same format.

Profiling ``SearchIndex.rebuild`` on 1,500-character documents (2-core machine) showed Whoosh
itself, not the analysis, at 100 documents/s: per posting it builds a ``Token``, pickles a
position list, appends a 5-tuple to a pool, sorts millions of such tuples at commit, then for
every posting reads the document's length back from disk and checks types in
``add_posting``. This module keeps Whoosh's on-disk format (codec W3, readable by any Whoosh
reader) and replaces those steps:

* :class:`UnitPositions` asks the analyzer for the whole term table of a text at once
  (:func:`archive.search.analysis.term_positions`) and encodes positions with ``array``;
  it is the format of the text fields, so Whoosh's public writer uses it too;
* :class:`TermPool` groups postings by term as they arrive (documents come in docnum order,
  so each term's list is already sorted), ready to be written a block at a time with the
  document lengths read once per segment.

Plugging the pool into Whoosh takes its internals: that writer,
:class:`archive.search.whoosh._internals.BulkSegmentWriter`, lives with every other use of
them, behind the version pin; ``tests/archive/search/test_whoosh_internals.py`` checks that a
segment it writes reads back exactly like one written by Whoosh.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

from whoosh import formats
from whoosh.system import pack_uint

_FLIP = sys.byteorder == "big"  # positions are stored little-endian
_HEADER_ONE = pack_uint(1)
_HEADER_SIZE = len(_HEADER_ONE)  # Whoosh's frequency header, read by Positions.decode_*


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
        packed.frombytes(valuestring[_HEADER_SIZE:])
        if _FLIP:
            packed.byteswap()
        return packed.tolist()


class Postings:
    """One term's postings in a segment being written: about 12 bytes a posting."""

    __slots__ = ("docnums", "starts", "positions", "last")

    def __init__(self) -> None:
        self.docnums = array("I")
        self.starts = array("I")  # where each posting's positions begin in ``positions``
        self.positions = array("I")
        self.last = -1  # the last docnum added

    def ends(self) -> list[int]:
        return [*self.starts[1:], len(self.positions)]


class TermPool:
    """Postings grouped by field and term as documents arrive (in docnum order).

    Replaces Whoosh's ``PostingPool``, which keeps a 5-tuple per posting (~150 bytes) and
    sorts them all at commit. Fields in :class:`UnitPositions` keep positions as integers;
    other fields (IDs, dates, numbers: a few postings a document) keep Whoosh's items.
    ``add``, ``iter_postings`` and ``cleanup`` are what ``SegmentWriter`` asks of its pool
    (an internal protocol: only ``_internals.BulkSegmentWriter`` plugs this pool in).
    """

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.units: dict[str, dict[str, Postings]] = {}
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
                    postings = terms[term] = Postings()
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
            postings = terms[term] = Postings()
        positions, starts = postings.positions, postings.starts
        postings.docnums.extend(docnums)
        for value in values:
            starts.append(len(positions))
            if _FLIP:
                positions.extend(UnitPositions().decode_positions(value))
            else:
                positions.frombytes(value[_HEADER_SIZE:])
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
            if isinstance(postings, Postings):
                boost = self.schema[fieldname].format.field_boost
                docnums, weights, values = unit_postings(postings, boost)
                for item in zip(docnums, weights, values, strict=True):
                    yield (fieldname, btext, *item)
            else:
                for item in postings:
                    yield (fieldname, btext, *item)

    def cleanup(self) -> None:
        self.units.clear()
        self.other.clear()


def unit_postings(postings: Postings, boost: float) -> tuple[Any, list[float], list[bytes]]:
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
