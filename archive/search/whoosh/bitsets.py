"""A Whoosh segment's documents as bitsets and columns, built once: segments never change.

A set of documents of one segment is one Python ``int`` with bit d set for docnum d, so that
``&``, ``|`` and ``bit_count()`` run in C (see :mod:`archive.search.whoosh.engine`). A term's
bitset is built from its postings and cached per segment; the columns a query filters and
sorts by (dates, amounts, types, orgs, years) are loaded once per segment. Deletions change
no segment: they are a bitset masked out at query time (:func:`deleted`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from archive.search.whoosh import _internals

_CACHE_BITS = 400_000_000
"""Term bitsets kept per process, in bits (about 50 MB)."""
_EPOCH = datetime(1970, 1, 1)
_NO_AMOUNT = 2**63 - 1  # what Whoosh's NUMERIC(int, bits=64) column holds for "no value"


class BitCache:
    """Term bitsets per (segment id, field, term), least recently used dropped first."""

    def __init__(self, limit_bits: int = _CACHE_BITS) -> None:
        self._items: OrderedDict[tuple[str, str, str], int] = OrderedDict()
        self._bits = 0
        self._limit = limit_bits
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> int | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, str, str], value: int, size: int) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._bits += size
            while self._bits > self._limit and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bits -= max(old.bit_length(), 1)


class Columns:
    """One segment's per-document values, loaded once: segments never change."""

    def __init__(self, leaf: Any) -> None:
        count = leaf.doc_count_all()
        self.count = count
        self.issued = [seconds(v) for v in _column(leaf, "issued_at", count)]
        self.by_date = sorted(range(count), key=self.issued.__getitem__)
        self.dates_sorted = [self.issued[d] for d in self.by_date]
        amounts = [
            (v, d)
            for d, v in enumerate(_column(leaf, "amount", count))
            if v is not None and v != _NO_AMOUNT
        ]
        amounts.sort()
        self.amounts = [a for a, _ in amounts]
        self.by_amount = [d for _, d in amounts]
        self.values: dict[str, dict[str, int]] = {}
        for name in ("type", "org", "year"):
            groups: dict[str, list[int]] = {}
            for d, v in enumerate(_column(leaf, name, count)):
                if v:
                    groups.setdefault(v, []).append(d)
            self.values[name] = {v: bitset(ds) for v, ds in groups.items()}


def _column(leaf: Any, name: str, count: int) -> list[Any]:
    if not leaf.has_column(name):
        return [None] * count
    return list(leaf.column_reader(name))


def seconds(value: Any) -> float:
    """A column's naive datetime as seconds since 1970, for sorting and ranges (0: none)."""
    if isinstance(value, datetime):
        return (value - _EPOCH).total_seconds()
    return 0.0


def bitset(docnums: Iterable[int]) -> int:
    """A bitset (bit d set for each docnum d) built in C from a bytearray."""
    docnums = list(docnums)
    if not docnums:
        return 0
    buf = bytearray((max(docnums) >> 3) + 1)
    for d in docnums:
        buf[d >> 3] |= 1 << (d & 7)
    return int.from_bytes(buf, "little")


_BYTE_BITS = [tuple(j for j in range(8) if b >> j & 1) for b in range(256)]


def members(bits: int) -> list[int]:
    """The docnums in a bitset, ascending."""
    out: list[int] = []
    raw = bits.to_bytes((bits.bit_length() + 7) >> 3, "little")
    for i, byte in enumerate(raw):
        if byte:
            out.extend(map((i << 3).__add__, _BYTE_BITS[byte]))
    return out


def deleted(leaf: Any, count: int) -> Iterable[int]:
    """A segment's deleted docnums: the reader's cached set on the pinned release, else
    asked document by document (public API)."""
    if _internals.FAST:
        return _internals.deleted_docs(leaf)
    return [d for d in range(count) if leaf.is_deleted(d)]
