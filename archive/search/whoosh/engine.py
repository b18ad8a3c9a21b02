"""Running a query plan against a Whoosh index with per-segment bitsets.

Whoosh evaluates queries one matching document at a time in Python (5–30 µs each), so a
query matching 60,000 of 100,000 documents took seconds just to count them and compute
facets. Here each term's documents in a segment become one Python ``int`` used as a bitset
(built once from the posting blocks, then cached: segments never change), and the query is
a few ``&``/``|`` on those ints in C: the total is ``bit_count()``, a facet value's count is
``(matches & value_bits).bit_count()`` (the bitsets and columns:
:mod:`archive.search.whoosh.bitsets`). Python-level work per document remains only for the
page: ranking a bounded set of candidates, checking phrases, building snippets.

Relevance, as inspectors expect it: an exact 文号/档号/ID match first, then documents whose
title holds all the words, then those holding the words side by side as typed; within a
tier, BM25 over the required and bridging terms, computed for the best ``RERANK``
candidates of the tier (chosen newest first). Dates sort by the ``issued_at`` column.
"""

from __future__ import annotations

import heapq
import math
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock
from typing import Any

from archive.search.query import Alternative, ParsedQuery, SearchFilters, TermSet, exact_key
from archive.search.whoosh.bitsets import (
    BitCache,
    Columns,
    bitset,
    deleted,
    members,
    seconds,
)
from archive.search.whoosh.postings import BlockCache, Cursor, phrase_docs, posting_ids

RERANK = 40
"""Candidates scored with BM25 per query (the best tier first, newest first within it)."""
RERANK_TERMS = 2
"""BM25 over the query's rarest terms only (highest idf)."""
PHRASE_CHECK_BUDGET = 600
"""Up to this many candidates per query (shared among segments), quoted phrases are checked
by position in every one, for an exact total; beyond, only the documents shown are checked,
and the total counts documents holding all of the phrase's bigrams (for such common phrases
nearly always the same documents)."""
PREFIX_TERMS = 400
"""A lone character matches terms starting with it: at most this many are expanded."""
_K1, _B = 1.2, 0.75


@dataclass
class Candidate:
    segment: int
    docnum: int
    tier: int
    issued: float
    score: float = 0.0


@dataclass
class Outcome:
    total: int
    """Exact up to the count bound, else the bound (``relation`` ``"gte"``)."""
    facets: dict[str, dict[str, int]]
    hits: list[Candidate]
    """The page's hits in order, with ``segment`` the index into the searcher's leaves."""
    relation: str = "eq"


class Engine:
    """Per-process state for searching one index: cached bitsets and columns by segment."""

    def __init__(self) -> None:
        self.bits = BitCache()
        self.blocks = BlockCache()
        self._columns: dict[str, Columns] = {}
        self._lock = threading.Lock()

    def columns(self, leaf: Any) -> Columns:
        segid = leaf.segment().segment_id()
        cols = self._columns.get(segid)
        if cols is None:
            cols = Columns(leaf)
            with self._lock:
                self._columns[segid] = cols
        return cols

    def forget(self, live_segments: set[str]) -> None:
        """Drop columns of segments no longer in the index (after a merge or rebuild)."""
        with self._lock:
            for segid in [s for s in self._columns if s not in live_segments]:
                del self._columns[segid]

    def term_bits(self, leaf: Any, fieldname: str, term: str) -> int:
        segid = leaf.segment().segment_id()
        key = (segid, fieldname, term)
        cached = self.bits.get(key)
        if cached is not None:
            return cached
        if term.endswith("*"):  # a prefix (see TermSet.prefixes)
            bits = 0
            for n, expanded in enumerate(leaf.expand_prefix(fieldname, term[:-1])):
                if n >= PREFIX_TERMS:
                    break
                bits |= bitset(posting_ids(leaf, fieldname, _text(expanded)))
        elif (fieldname, term) in leaf:
            bits = bitset(posting_ids(leaf, fieldname, term))
        else:
            bits = 0
        self.bits.put(key, bits, max(bits.bit_length(), 1))
        return bits

    def termset_bits(self, leaf: Any, termset: TermSet, within: int) -> int:
        """Documents of ``within`` holding every term of ``termset`` (rarest first)."""
        bits = within
        for term in (*termset.terms, *(p + "*" for p in termset.prefixes)):
            if not bits:
                return 0
            bits &= self.term_bits(leaf, termset.field, term)
        return bits

    # ----------------------------------------------------------------- the query

    def run(
        self,
        searcher: Any,
        parsed: ParsedQuery | None,
        filters: SearchFilters,
        *,
        sort: str,
        page: int,
        per_page: int,
        facets: tuple[str, ...],
        bound: int,
    ) -> Outcome:
        """Totals and facets exact up to ``bound`` matches; beyond, the total is ``bound``
        (``"gte"``) and the facets count the first ``bound`` matches in index order -- the
        contract of the PostgreSQL backend, whose scan stops there (the bitsets here would
        count everything as cheaply)."""
        leaves = [leaf for leaf, _ in searcher.reader().leaf_readers() if leaf.doc_count_all()]
        self.forget({leaf.segment().segment_id() for leaf in leaves})
        wanted = page * per_page
        total = 0
        counts: dict[str, dict[str, int]] = {name: {} for name in facets}
        pool: list[Candidate] = []
        approximate: list[tuple[int, int, tuple[Any, ...]]] = []  # (leaf, bits, phrases)
        phrase_limit = PHRASE_CHECK_BUDGET // max(1, len(leaves))
        for n, leaf in enumerate(leaves):
            cols = self.columns(leaf)
            bits = self._filtered(leaf, cols, filters)
            tiers: list[int] = []
            if parsed is not None and bits:
                bits, tiers, unchecked = self._matching(leaf, parsed, bits, phrase_limit)
                if unchecked:
                    approximate.append((n, bits, unchecked))
            if not bits:
                continue
            found = bits.bit_count()
            counted = bits if total + found <= bound else _first(bits, max(0, bound - total))
            total += found
            for name in facets:
                if not counted:
                    break
                for value, value_bits in cols.values.get(name, {}).items():
                    count = (counted & value_bits).bit_count()
                    if count:
                        counts[name][value] = counts[name].get(value, 0) + count
            pool.extend(self._best(n, cols, bits, tiers, sort, wanted))
        if sort == "relevance" and parsed is not None:
            pool = self._rerank(searcher, leaves, parsed, pool, wanted)
        else:
            pool.sort(key=lambda c: c.issued, reverse=sort != "oldest")
        over = total > bound  # a lower bound stays one, whatever the phrase checks take off
        if approximate:
            pool, total = self._check_shown(leaves, pool, approximate, total, wanted)
        start = (page - 1) * per_page
        facet_view = {name: _ranked(values) for name, values in counts.items()}
        if over:
            return Outcome(bound, facet_view, pool[start : start + per_page], "gte")
        return Outcome(total, facet_view, pool[start : start + per_page])

    def _filtered(self, leaf: Any, cols: Columns, f: SearchFilters) -> int:
        count = cols.count
        bits = (1 << count) - 1
        if leaf.has_deletions():
            bits &= ~bitset(deleted(leaf, count))
        if f.orgs is not None:
            orgs = 0
            for org in f.orgs:
                orgs |= cols.values["org"].get(org, 0)
            bits &= orgs
        if f.type:
            bits &= cols.values["type"].get(f.type, 0)
        if f.status:
            bits &= self.term_bits(leaf, "status", f.status)
        for name in ("case_no", "wenhao", "archive_no"):
            value = getattr(f, name)
            if value:
                bits &= self.term_bits(leaf, name, exact_key(value))
        if f.identifier:
            bits &= self.term_bits(leaf, "identifiers", exact_key(f.identifier))
        for termset in f.name_sets():
            bits = self.termset_bits(leaf, termset, bits)
        if f.date_from or f.date_to:
            low = seconds(datetime.combine(f.date_from, clock.min)) if f.date_from else -math.inf
            high = (
                seconds(datetime.combine(f.date_to, clock.min) + timedelta(days=1))
                if f.date_to
                else math.inf
            )
            a, b = bisect_left(cols.dates_sorted, low), bisect_left(cols.dates_sorted, high)
            bits &= bitset(cols.by_date[a:b])
        if f.amount_min is not None or f.amount_max is not None:
            low = int(f.amount_min * 100) if f.amount_min is not None else -math.inf
            high = int(f.amount_max * 100) if f.amount_max is not None else math.inf
            a, b = bisect_left(cols.amounts, low), bisect_right(cols.amounts, high)
            bits &= bitset(cols.by_amount[a:b])
        return bits

    def _matching(
        self, leaf: Any, parsed: ParsedQuery, bits: int, phrase_limit: int
    ) -> tuple[int, list[int], tuple[Any, ...]]:
        """Documents meeting every requirement; relevance tiers; phrases left unchecked."""
        exact_hits = 0
        unchecked: list[Any] = []
        for alternatives in parsed.requirements:
            met = 0
            for alt in alternatives:
                if alt.exact is not None:
                    found = bits & self.term_bits(leaf, *alt.exact)
                    exact_hits |= found
                    met |= found
                elif alt.required is not None:
                    found = self.termset_bits(leaf, alt.required, bits)
                    if found and alt.phrases:
                        if found.bit_count() <= phrase_limit:
                            docs = members(found)
                            for phrase in alt.phrases:
                                docs = phrase_docs(leaf, phrase, docs, self.blocks)
                            found = bitset(docs)
                        else:
                            unchecked.extend(alt.phrases)
                    met |= found
            bits &= met
            if not bits:
                return 0, [], ()
        title = bits
        bridges = bits
        for fieldname, term, _ in parsed.scoring:
            if fieldname == "title":
                title &= self.term_bits(leaf, "title", term)
            else:
                bridges &= self.term_bits(leaf, "body", term)
        tiers = [bits & exact_hits, title, bridges]
        return bits, tiers, tuple(dict.fromkeys(unchecked))

    def _best(
        self, n: int, cols: Columns, bits: int, tiers: list[int], sort: str, wanted: int
    ) -> list[Candidate]:
        """The segment's best candidates: by tier then date (relevance), or by date."""
        limit = max(RERANK, wanted) if sort == "relevance" and tiers else wanted
        out: list[Candidate] = []
        taken = 0
        levels = [*tiers, bits] if sort == "relevance" else [bits]
        for level, tier_bits in enumerate(levels):
            tier_bits &= ~taken
            if not tier_bits:
                continue
            taken |= tier_bits
            for d in _by_date(cols, tier_bits, limit - len(out), sort != "oldest"):
                out.append(Candidate(n, d, len(levels) - 1 - level, cols.issued[d]))
            if len(out) >= limit:
                break
        return out

    def _rerank(
        self,
        searcher: Any,
        leaves: list[Any],
        parsed: ParsedQuery,
        pool: list[Candidate],
        wanted: int,
    ) -> list[Candidate]:
        pool.sort(key=lambda c: (c.tier, c.issued), reverse=True)
        pool = pool[: max(RERANK, wanted)]
        by_leaf: dict[int, list[Candidate]] = {}
        for c in pool:
            by_leaf.setdefault(c.segment, []).append(c)
        doc_count = max(searcher.doc_count_all(), 1)
        weighted = []
        for fieldname, term, boost in parsed.scoring:
            if fieldname != "body":  # title matches already make a tier
                continue
            df = searcher.doc_frequency(fieldname, term)
            if df:
                weighted.append((math.log(1 + (doc_count - df + 0.5) / (df + 0.5)), term, boost))
        average = searcher.field_length("body") / doc_count or 1.0
        # The rarest terms decide the order; common ones (医保, 检查) add nearly the same
        # to every candidate and would cost a block read per candidate each.
        for idf, term, boost in sorted(weighted, reverse=True)[:RERANK_TERMS]:
            for n, cands in by_leaf.items():
                leaf = leaves[n]
                if ("body", term) not in leaf:
                    continue
                cursor = Cursor(leaf, "body", term, self.blocks)
                for c in sorted(cands, key=lambda c: c.docnum):
                    found = cursor.find(c.docnum)
                    if found is not None:
                        tf = found[0]
                        length = leaf.doc_field_length(c.docnum, "body", 1) or 1
                        norm = tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * length / average))
                        c.score += boost * idf * norm
        pool.sort(key=lambda c: (c.tier, c.score, c.issued), reverse=True)
        return pool

    def _check_shown(
        self,
        leaves: list[Any],
        pool: list[Candidate],
        approximate: list[tuple[int, int, tuple[Any, ...]]],
        total: int,
        wanted: int,
    ) -> tuple[list[Candidate], int]:
        """Check the unchecked phrases of the documents that will be shown, dropping misses
        (in batches, one pass through each term's postings per segment and batch)."""
        unchecked = {n: (bits, phrases) for n, bits, phrases in approximate}
        kept: list[Candidate] = []
        rest = pool
        while rest and len(kept) < wanted:
            batch, rest = rest[: wanted - len(kept) + 5], rest[wanted - len(kept) + 5 :]
            by_leaf: dict[int, list[int]] = {}
            for c in batch:
                entry = unchecked.get(c.segment)
                if entry and entry[0] >> c.docnum & 1:
                    by_leaf.setdefault(c.segment, []).append(c.docnum)
            passed: set[tuple[int, int]] = set()
            for n, docs in by_leaf.items():
                docs = sorted(docs)
                for phrase in unchecked[n][1]:
                    docs = phrase_docs(leaves[n], phrase, docs, self.blocks)
                passed.update((n, d) for d in docs)
            for c in batch:
                if c.segment in by_leaf and c.docnum in by_leaf[c.segment]:
                    if (c.segment, c.docnum) not in passed:
                        total -= 1
                        continue
                kept.append(c)
        return kept + rest, total


def _first(bits: int, n: int) -> int:
    """The lowest ``n`` set bits of ``bits`` (a binary search on the cut: ~20 masks in C)."""
    if n <= 0:
        return 0
    low, high = 0, bits.bit_length()  # the cut: the smallest width holding n bits
    while low < high:
        mid = (low + high) // 2
        if (bits & ((1 << mid) - 1)).bit_count() >= n:
            high = mid
        else:
            low = mid + 1
    return bits & ((1 << low) - 1)


def _by_date(cols: Columns, bits: int, limit: int, newest: bool) -> list[int]:
    if limit <= 0:
        return []
    count = bits.bit_count()
    if count <= 8 * limit or count * 32 <= cols.count:
        docs = members(bits)
        key = cols.issued.__getitem__
        return (
            heapq.nlargest(limit, docs, key=key)
            if newest
            else heapq.nsmallest(limit, docs, key=key)
        )
    order = reversed(cols.by_date) if newest else iter(cols.by_date)
    out = []
    for d in order:  # dense: the next documents by date are likely matches
        if bits >> d & 1:
            out.append(d)
            if len(out) == limit:
                break
    return out


def _text(term: Any) -> str:
    return term.decode("utf-8") if isinstance(term, bytes) else str(term)


def _ranked(groups: dict[Any, int]) -> dict[str, int]:
    """Facet counts, largest first, with string keys (they end up as JSON object keys)."""
    items = sorted(((str(k), v) for k, v in groups.items() if k), key=lambda kv: (-kv[1], kv[0]))
    return dict(items)


__all__ = ["Alternative", "Candidate", "Engine", "Outcome", "members"]
