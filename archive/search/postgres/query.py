"""A query plan (:mod:`archive.search.query`) as SQL over the PostgreSQL search table.

The table holds, per document, ``tsvector`` columns built from the very terms the Whoosh index
holds (:func:`archive.search.analysis.term_positions`: units and bigrams at sequential positions), so
a plan's terms are looked up as they are: a word is the ``&`` of its bigrams, a lone character
a prefix (``'号':*``), quoted text a chain of ``<->``. Nothing here segments or normalises
again; ``to_tsquery`` is never used (the configuration would re-parse the terms).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from archive.search.docs import FACETS
from archive.search.query import (
    Alternative,
    ParsedQuery,
    SearchFilters,
    TermSet,
    exact_key,
    parse_query,
)

TABLE = "search_docs"
RERANK = 40
"""Candidates scored with ``ts_rank`` per query (the best tier first, newest first within)."""
FIELDS = ("title", "institutions", "persons", "inspectors")
"""Fields whose terms share the one ``terms`` column, as ``field:term`` (a term never holds a
colon): one GIN scan then answers every condition on text at once, and no row's tsvector is
read to test a second column."""
EXACT_COLUMNS = ("wenhao", "archive_no", "case_no")


def lexeme(term: str) -> str:
    """A term quoted for ``tsvector``/``tsquery`` input (taken as is, never normalised)."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def identifier_digest(value: str) -> str:
    """What the table keeps of an ID number or credit code: its hash, never the value."""
    return hashlib.sha256(exact_key(value).encode("utf-8")).hexdigest()


def field_term(fieldname: str, term: str) -> str:
    """The lexeme of ``term`` in ``fieldname`` (body terms are the lexemes themselves)."""
    return term if fieldname == "body" else f"{fieldname}:{term}"


def termset_lexemes(termset: TermSet) -> list[str]:
    """The termset's terms as ``tsquery`` operands (a prefix as ``'号':*``)."""
    f = termset.field
    return [lexeme(field_term(f, t)) for t in termset.terms] + [
        lexeme(field_term(f, p)) + ":*" for p in termset.prefixes
    ]


def termset_query(termset: TermSet) -> str:
    return " & ".join(termset_lexemes(termset))


def phrase_query(terms: tuple[str, ...]) -> str:
    return " <-> ".join(lexeme(t) for t in terms)


@dataclass
class Sql:
    """WHERE conditions and their bound parameters, built up piece by piece."""

    conditions: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    plain_terms: dict[str, str] = field(default_factory=dict)
    """Each plain ``terms @@ q`` condition made by :meth:`terms` and its bound ``q`` (what
    :func:`dated` folds into one ``tsquery``)."""

    def bind(self, value: Any, cast: str | None = None) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"CAST(:{name} AS {cast})" if cast else f":{name}"

    def terms(self, query: str) -> str:
        """The condition that ``terms`` matches the ``tsquery`` text ``query``."""
        bound = self.bind(query, "tsquery")
        condition = f"terms @@ {bound}"
        self.plain_terms[condition] = bound
        return condition

    def plain_query(self, condition: str) -> str | None:
        """The bound ``tsquery`` of ``condition`` if it is a plain terms condition (alone or
        as a requirement's one option, in parentheses), else None."""
        if condition.startswith("(") and condition.endswith(")"):
            condition = condition[1:-1]
        return self.plain_terms.get(condition)

    def where(self, without: frozenset[int] = frozenset()) -> str:
        """The conditions ANDed, less those at the indexes ``without`` (a tier that implies
        them stands in for them, see :class:`Tier`)."""
        kept = [c for n, c in enumerate(self.conditions) if n not in without]
        return " AND ".join(kept) or "TRUE"

    def dates(self) -> str:
        """The conditions on the issue date alone, ANDed (the issue-date index answers them)."""
        return " AND ".join(c for c in self.conditions if c.startswith("issued_at ")) or "TRUE"


def dated(sql: Sql, *extra: str, without: frozenset[int] = frozenset()) -> str:
    """The conditions of ``sql`` (less those at ``without``) and ``extra``, ANDed, as
    PostgreSQL should plan them when the issue date is restricted too.

    The planner multiplies the frequencies of a query's terms as if independent, and takes a
    term missing from its statistics as rare: ``超标 & 标准 & 收费`` looked like 4 rows of
    50,550, so the date range was checked in each of them (25,000 pages read, 140 ms) rather
    than ANDed from the issue-date index as a bitmap (2,200 pages). So every plain terms
    condition goes into one ``tsquery`` asked as ``(SELECT …)``: a value the planner cannot
    see, estimated at its default share of the rows (0.5 %), and the two bitmaps are ANDed."""
    conditions = [c for n, c in enumerate(sql.conditions) if n not in without] + list(extra)
    if sql.dates() == "TRUE" and not any(c.startswith("issued_at ") for c in extra):
        return " AND ".join(conditions) or "TRUE"
    queries, rest = [], []
    for condition in conditions:
        if bound := sql.plain_query(condition):
            queries.append(bound)
        else:
            rest.append(condition)
    if queries:
        rest.append(f"terms @@ (SELECT {' && '.join(queries)})")
    return " AND ".join(rest)


def filter_conditions(sql: Sql, f: SearchFilters) -> None:
    """The filters, each a condition (the org scope among them: counts never leak)."""
    c = sql.conditions
    if f.orgs is not None and len(f.orgs) == 1:  # as a partial index per org would name it
        c.append(f"org = {sql.bind(f.orgs[0])}")
    elif f.orgs is not None:
        c.append(f"org = ANY({sql.bind(list(f.orgs))})")
    if f.type:
        c.append(f"type = {sql.bind(f.type)}")
    if f.status:
        c.append(f"status = {sql.bind(f.status)}")
    for name in EXACT_COLUMNS:
        value = getattr(f, name)
        if value:
            c.append(f"{name} = {sql.bind(exact_key(value))}")
    if f.identifier:
        c.append(f"identifiers @> ARRAY[{sql.bind(identifier_digest(f.identifier))}]")
    for termset in f.name_sets():
        c.append(sql.terms(termset_query(termset)))
    if f.date_from:
        c.append(f"issued_at >= {sql.bind(datetime.combine(f.date_from, clock.min))}")
    if f.date_to:
        end = datetime.combine(f.date_to, clock.min) + timedelta(days=1)
        c.append(f"issued_at < {sql.bind(end)}")
    if f.amount_min is not None:
        c.append(f"amount >= {sql.bind(int(f.amount_min * 100))}")
    if f.amount_max is not None:
        c.append(f"amount <= {sql.bind(int(f.amount_max * 100))}")


def exact_condition(sql: Sql, fieldname: str, key: str) -> str:
    if fieldname == "identifiers":
        return f"identifiers @> ARRAY[{sql.bind(identifier_digest(key))}]"
    if fieldname not in EXACT_COLUMNS:
        raise ValueError(f"not an exact field: {fieldname}")
    return f"{fieldname} = {sql.bind(key)}"


def phrase_condition(sql: Sql, alt: Alternative, phrases: bool = True) -> str:
    """The alternative's terms, and (if ``phrases``) its phrases by position where positions
    were kept. Terms alone are answered by the GIN index; a phrase is checked in each
    candidate's ``tsvector``, which costs a read of it."""
    assert alt.required is not None
    terms = termset_query(alt.required)
    if not alt.phrases or not phrases:
        return sql.terms(terms)
    chained = " & ".join([f"({terms})", *(f"({phrase_query(p)})" for p in alt.phrases)])
    return (
        f"(terms @@ {sql.bind(chained, 'tsquery')}"
        f" OR (approximate AND terms @@ {sql.bind(terms, 'tsquery')}))"
    )


@dataclass(frozen=True)
class Tier:
    """A relevance tier as a condition on the matches. A tier of words stands in for the
    requirements it implies (``replaces``: their indexes in ``Sql.conditions``) as one
    ``tsquery`` holding both: PostgreSQL estimates two ``@@`` on one column as independent,
    so ``terms @@ words AND terms @@ words-side-by-side`` looked like 25 rows of 75,000 and
    a date filter was then checked row by row instead of being ANDed from its index."""

    condition: str
    replaces: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Tiers:
    """Relevance tiers, best first: exact key, title holds every word, the words side by
    side as typed (the bridging bigrams), then the rest."""

    tiers: tuple[Tier, ...]


def has_phrases(parsed: ParsedQuery) -> bool:
    return any(alt.phrases for alternatives in parsed.requirements for alt in alternatives)


def query_conditions(sql: Sql, parsed: ParsedQuery, phrases: bool = True) -> Tiers:
    """Add the plan's requirements to ``sql`` (phrases by position only if ``phrases``);
    return the relevance tiers."""
    exact: list[str] = []
    required: dict[int, list[str]] = {}  # plain terms requirements: index -> their lexemes
    for alternatives in parsed.requirements:
        options = []
        for alt in alternatives:
            if alt.exact is not None:
                cond = exact_condition(sql, *alt.exact)
                exact.append(cond)
                options.append(cond)
            elif alt.required is not None:
                options.append(phrase_condition(sql, alt, phrases))
        if len(alternatives) == 1 and options and alternatives[0].exact is None:
            alt = alternatives[0]
            lexemes = termset_lexemes(alt.required) if alt.required is not None else []
            if lexemes and (not alt.phrases or not phrases):
                required[len(sql.conditions)] = lexemes
        sql.conditions.append("(" + " OR ".join(options) + ")" if options else "FALSE")
    title = [lexeme(field_term("title", t)) for f, t, _ in parsed.scoring if f == "title"]
    body = [lexeme(t) for f, t, _ in parsed.scoring if f == "body"]
    replaced = frozenset(required)
    implied = [x for lexemes in required.values() for x in lexemes]

    def words(lexemes: list[str]) -> Tier:
        merged = " & ".join(dict.fromkeys([*implied, *lexemes]))
        return Tier(sql.terms(merged), replaced)

    return Tiers(
        (
            Tier("(" + " OR ".join(exact) + ")" if exact else "FALSE"),
            words(title) if title else Tier("TRUE"),
            words(body) if body else Tier("TRUE"),
            Tier("TRUE"),
        )
    )


def score_query(parsed: ParsedQuery) -> str | None:
    """The body's scoring terms as one ``|`` query for ``ts_rank`` within a tier."""
    body = list(dict.fromkeys(t for f, t, _ in parsed.scoring if f == "body"))
    return " | ".join(map(lexeme, body)) or None


def check_phrases(
    conn: Connection, check: Sql, ordered: list[str], total: int, wanted: int
) -> tuple[list[str], int]:
    """Keep the candidates, in order, whose phrases hold, until ``wanted`` are kept; each
    one checked and found wanting comes off the total (which counted every document holding
    the phrase's terms: for phrases this common, nearly the same set)."""
    kept: list[str] = []
    rest = ordered
    while rest and len(kept) < wanted:
        size = wanted - len(kept) + 5
        batch, rest = rest[:size], rest[size:]
        passed = set(
            conn.scalars(
                text(f"SELECT id FROM {TABLE} WHERE id = ANY(:ids) AND {check.where()}"),
                {**check.params, "ids": batch},
            )
        )
        kept += [doc_id for doc_id in batch if doc_id in passed]
        total -= len(batch) - len(passed)
    return kept + rest, total


def parse_with_keys(conn: Connection, q: str) -> ParsedQuery | None:
    """``parse_query`` with the exact keys it asks about looked up in one round trip: which
    keys it asks does not depend on the answers, so a first pass collects them."""
    asked: set[tuple[str, str]] = set()

    def ask(fieldname: str, key: str) -> bool:
        asked.add((fieldname, key))
        return False

    parse_query(q, known=ask)
    if not asked:
        return parse_query(q, known=lambda f, key: False)
    by_field: dict[str, list[str]] = {f: [] for f in ("wenhao", "archive_no", "case_no")}
    digests: dict[str, str] = {}
    for fieldname, key in asked:
        if fieldname == "identifiers":
            digests[identifier_digest(key)] = key
        else:
            by_field[fieldname].append(key)
    selects = [f"SELECT '{f}', {f} FROM {TABLE} WHERE {f} = ANY(:{f})" for f in by_field] + [
        f"SELECT 'identifiers', d FROM {TABLE}, unnest(identifiers) AS d "
        "WHERE identifiers && CAST(:digests AS text[]) AND d = ANY(:digests)"
    ]
    rows = conn.execute(text(" UNION ".join(selects)), {**by_field, "digests": list(digests)}).all()
    found = {(f, digests.get(v, v) if f == "identifiers" else v) for f, v in rows}
    return parse_query(q, known=lambda f, key: (f, key) in found)


def count_matches(
    conn: Connection, sql: Sql, facets: bool, bound: int
) -> tuple[int, str, dict[str, dict[str, int]]]:
    """The total, exact up to ``bound`` (``"eq"``) or ``bound`` as a lower bound (``"gte"``),
    and in the same pass the counts by type, org and year over the same matches.

    The scan stops after ``bound`` + 1 matching rows, so a word in half the archive costs what
    ten thousand rows cost, not what half a million do (as Elasticsearch's
    ``track_total_hits``). Beyond the bound the facets count the first ``bound`` matches the
    scan met: lower bounds too, in the proportions of that sample."""
    matches = (
        f"SELECT type, org, year, row_number() OVER () AS n FROM {TABLE} "
        f"WHERE {dated(sql)} LIMIT :bound_1"
    )
    params = {**sql.params, "bound_1": bound + 1}
    if not facets:
        total = int(conn.scalar(text(f"SELECT count(*) FROM ({matches}) AS m"), params) or 0)
        return (bound, "gte", {}) if total > bound else (total, "eq", {})
    rows = conn.execute(
        text(
            "SELECT GROUPING(type, org, year), type, org, year,"
            " count(*) FILTER (WHERE n <= :bound), count(*) "
            f"FROM ({matches}) AS m GROUP BY GROUPING SETS ((type), (org), (year), ())"
        ),
        {**params, "bound": bound},
    ).all()
    total = 0
    groups: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    for grouping, type_, org, year, counted, n in rows:
        if grouping == 0b111:
            total = int(n)
        elif not counted:
            continue
        elif grouping == 0b011:
            groups["type"][type_] = int(counted)
        elif grouping == 0b101:
            groups["org"][org] = int(counted)
        elif grouping == 0b110:
            groups["year"][year] = int(counted)
    ordered = {
        name: dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
        for name, values in groups.items()
    }
    return (bound, "gte", ordered) if total > bound else (total, "eq", ordered)


WALK_SETTINGS = (
    "SELECT set_config('enable_indexscan', 'on', true),"
    " set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true)"
)
"""For matches past the count bound: read the issue-date index newest first and test each
row until the page is full, instead of fetching every match to sort them (:func:`newest`)."""
_BITMAP_SETTINGS = (
    "SELECT set_config('enable_indexscan', 'off', true),"
    " set_config('enable_bitmapscan', 'on', true), set_config('enable_sort', 'on', true)"
)
COUNT_PROBE = 2_000
"""A relevance tier with at most this many matches is sorted from a bitmap scan; a larger one
is walked in date order (:func:`newest`)."""


WINDOW = 20_000
"""A walk first looks for its page among the newest this many rows of the table, then eight
times as many (:func:`newest`)."""


def newest(
    conn: Connection, sql: Sql, tier: Tier, limit: int, walk: bool, known_large: bool = False
) -> list[tuple[str, datetime]]:
    """The newest ``limit`` matches of ``sql`` that also meet ``tier``, as (id, issued_at).

    Through the GIN bitmap PostgreSQL fetches every match to sort them by date: fine for ten
    thousand, a second for half a million. So with ``walk`` (the matches passed the count
    bound) the page is first looked for among the newest ``WINDOW`` rows
    (:func:`newest_in_window`); failing that (a rarer tier), unless ``known_large`` a bounded
    probe takes up to ``COUNT_PROBE`` matches of the tier, sorted here if that is all of
    them; then eight times the window; only then is the issue-date index read newest first,
    each row tested, until ``limit`` are found."""
    where = dated(sql, tier.condition, without=tier.replaces)
    if walk:
        found = newest_in_window(conn, sql, limit, WINDOW, tier)
        if found is not None and len(found) >= limit:
            return found
        if not known_large:
            probe = list(
                conn.execute(
                    text(f"SELECT id, issued_at FROM {TABLE} WHERE {where} LIMIT :lim"),
                    {**sql.params, "lim": COUNT_PROBE + 1},
                ).all()
            )
            if len(probe) <= COUNT_PROBE:
                probe.sort(key=lambda r: (r[1], r[0]), reverse=True)
                return [(r[0], r[1]) for r in probe[:limit]]
        if found is not None:
            found = newest_in_window(conn, sql, limit, 8 * WINDOW, tier)
            if found is not None and len(found) >= limit:
                return found
        conn.execute(text(WALK_SETTINGS))
    rows = conn.execute(
        text(
            f"SELECT id, issued_at FROM {TABLE} WHERE {where} "
            "ORDER BY issued_at DESC, id DESC LIMIT :lim"
        ),
        {**sql.params, "lim": limit},
    ).all()
    if walk:
        conn.execute(text(_BITMAP_SETTINGS))
    return [(r[0], r[1]) for r in rows]


def newest_in_window(
    conn: Connection, sql: Sql, limit: int, rows_back: int, tier: Tier = Tier("TRUE")
) -> list[tuple[str, datetime]] | None:
    """The newest ``limit`` matches of ``sql`` and ``tier`` issued no earlier than the
    ``rows_back``-th newest row (of the date filters); None if there are not that many rows.

    Walking the issue-date index tests each row's terms, a read of its ``tsvector`` from
    TOAST: 6,000 rows, 300 ms, for a tier one row in thirty meets. Here the cut-off date
    comes from that index alone, and the terms' bitmap is ANDed with the index's range, so
    only the rows meeting both are read. Every match left out is older than the cut-off, so
    a full page found is the page the walk would have found."""
    conn.execute(text("SELECT set_config('enable_indexscan', 'on', true)"))  # index only
    cut = conn.scalar(
        text(
            f"SELECT issued_at FROM {TABLE} WHERE {sql.dates()} "
            "ORDER BY issued_at DESC OFFSET :back LIMIT 1"
        ),
        {**sql.params, "back": rows_back - 1},
    )
    conn.execute(text("SELECT set_config('enable_indexscan', 'off', true)"))
    if cut is None:
        return None
    recent = dated(sql, tier.condition, "issued_at >= :cut", without=tier.replaces)
    rows = conn.execute(
        text(
            f"SELECT id, issued_at FROM {TABLE} WHERE {recent} "
            "ORDER BY issued_at DESC, id DESC LIMIT :lim"
        ),
        {**sql.params, "cut": cut, "lim": limit},
    ).all()
    return [(r[0], r[1]) for r in rows]


def rank_candidates(
    conn: Connection,
    sql: Sql,
    tiers: tuple[Tier, ...],
    scoring: str | None,
    wanted: int,
    walk: bool = False,
) -> list[tuple[str, int, float]]:
    """The best ``max(RERANK, wanted)`` matches: by tier then newest, then re-ordered within
    each tier by ``ts_rank`` of the query's terms. One index-backed query per tier.

    ``walk``: there are more matches than the count bound (see :func:`newest`)."""
    limit = max(RERANK, wanted)
    taken: dict[str, tuple[int, datetime]] = {}
    for level, tier in enumerate(tiers):
        if tier.condition == "FALSE":
            continue
        every = tier.condition == "TRUE"
        rows = newest(conn, sql, tier, limit + len(taken), walk, known_large=every)
        for doc_id, issued in rows:
            if doc_id not in taken and len(taken) < limit:
                taken[doc_id] = (len(tiers) - 1 - level, issued)
        if len(taken) >= limit or every:
            break
    scores: dict[str, float] = {}
    if scoring and taken:
        scores = dict(
            conn.execute(
                text(
                    f"SELECT id, ts_rank(terms, CAST(:q AS tsquery), 1) FROM {TABLE} "
                    "WHERE id = ANY(:ids)"
                ),
                {"q": scoring, "ids": list(taken)},
            ).all()
        )
    ordered = sorted(
        taken.items(),
        key=lambda kv: (kv[1][0], scores.get(kv[0], 0.0), kv[1][1], kv[0]),
        reverse=True,
    )
    return [(doc_id, tier, float(scores.get(doc_id, 0.0))) for doc_id, (tier, _) in ordered]
