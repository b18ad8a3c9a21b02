"""Reading Whoosh posting lists a block at a time, in C where it counts.

Whoosh reads postings one at a time in Python; search and merging here need whole blocks:
all the docnums of a term (for bitsets), one term's postings of a segment being merged, or
the posting of a given document (ranking, phrase checks). On the pinned whoosh-reloaded the
blocks of a ``W3LeafMatcher`` are decoded whole (:mod:`archive.search.whoosh._internals`);
on any other release, and for an inlined posting list, the public matcher API is used
(``is_active``/``id``/``weight``/``value``/``next``/``skip_to``): the same postings, slower.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from whoosh.matching.wrappers import FilterMatcher

from archive.search.whoosh import _internals


def raw_postings(leaf: Any, fieldname: str, term: str | bytes) -> Any:
    """The term's matcher in one segment, deleted documents included."""
    matcher = leaf.postings(fieldname, term)
    return matcher.child if isinstance(matcher, FilterMatcher) else matcher


def posting_ids(leaf: Any, fieldname: str, term: str | bytes) -> list[int]:
    """Every docnum of a term's postings in a segment (deleted ones too)."""
    return [d for ids, _, _ in posting_blocks(leaf, fieldname, term) for d in ids]


def posting_blocks(
    reader: Any, fieldname: str, btext: str | bytes
) -> Iterator[tuple[list[int], list[float], list[Any]]]:
    """A term's postings in a segment as (docnums, weights, values) per block, deleted
    documents included (one "block" of them all through the public API)."""
    matcher = raw_postings(reader, fieldname, btext)
    if _internals.FAST and _internals.has_blocks(matcher):
        yield from _internals.posting_blocks(matcher)
        return
    ids: list[int] = []
    weights: list[float] = []
    values: list[Any] = []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        values.append(matcher.value())
        matcher.next()
    yield ids, weights, values


class BlockCache:
    """Decoded posting blocks (ids, weights, values) by (segment id, offset), LRU.

    A block is one pickle of 128 postings with their positions; decoding it is most of the
    cost of ranking and phrase checks, and the same blocks of common terms come up again
    and again (about 10 KB each: 4,096 blocks ≈ 40 MB).
    """

    def __init__(self, limit: int = 4096) -> None:
        self._items: OrderedDict[tuple[str, int], tuple[Any, Any, Any]] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> tuple[Any, Any, Any] | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, int], value: tuple[Any, Any, Any]) -> None:
        with self._lock:
            self._items[key] = value
            if len(self._items) > self._limit:
                self._items.popitem(last=False)


class Cursor:
    """Random access by ascending docnum into one term's postings in a segment.

    Whoosh's ``skip_to`` walks a block posting by posting in Python; on the pinned release
    this skips whole blocks by their last id and finds the posting in the block with
    ``bisect`` over ids decoded in C (see the module docstring).
    """

    def __init__(self, leaf: Any, fieldname: str, term: str, cache: BlockCache) -> None:
        self.matcher = raw_postings(leaf, fieldname, term)
        self.blocky = _internals.FAST and _internals.has_blocks(self.matcher)
        self.segid = leaf.segment().segment_id()
        self.cache = cache
        self.block: tuple[Any, Any, Any] | None = None

    def _load(self) -> tuple[Any, Any, Any]:
        key = (self.segid, _internals.block_offset(self.matcher))
        block = self.cache.get(key)
        if block is None:
            block = _internals.read_block(self.matcher)
            self.cache.put(key, block)
        return block

    def find(self, docnum: int) -> tuple[float, Any] | None:
        """(weight, value) of the posting for ``docnum``, or None."""
        m = self.matcher
        if not m.is_active():
            return None
        if not self.blocky:
            m.skip_to(docnum)
            if m.is_active() and m.id() == docnum:
                return m.weight(), m.value()
            return None
        if _internals.skip_to_block(m, docnum):
            self.block = None
            if not m.is_active():
                return None
        if self.block is None:
            self.block = self._load()
        ids, weights, values = self.block
        i = bisect_left(ids, docnum)
        if i == len(ids) or ids[i] != docnum:
            return None
        if weights is None:
            weight = 1.0
        elif isinstance(weights, int | float):
            weight = float(weights)
        else:
            weight = weights[i]
        return weight, (values[i] if isinstance(values, tuple) else None)


def phrase_docs(leaf: Any, terms: tuple[str, ...], docs: list[int], cache: BlockCache) -> list[int]:
    """Those of ``docs`` (ascending) holding ``terms`` at consecutive positions in ``body``.

    One skip through each term's postings for all the documents together, positions
    decoded only for candidates (a few µs each, against ~0.2 ms to load a stored text).
    """
    if not docs:
        return []
    decode = leaf.schema["body"].format.decode_positions
    cursors = []
    for term in terms:
        if ("body", term) not in leaf:
            return []
        cursors.append(Cursor(leaf, "body", term, cache))
    out = []
    for d in docs:
        starts: set[int] | None = None
        for offset, cursor in enumerate(cursors):
            found = cursor.find(d)
            if found is None:
                starts = None
                break
            shifted = {p - offset for p in decode(found[1])}
            starts = shifted if starts is None else starts & shifted
            if not starts:
                break
        if starts:
            out.append(d)
    return out
