"""One archived document as a row of the PostgreSQL search table, and the table itself.

The terms are those of the Whoosh index (:func:`archive.search.analysis.term_positions`), written as
``tsvector`` input with their positions: pre-tokenised lexemes that PostgreSQL keeps as they
are. Everything textual in the record is indexed -- title, body, and any further text field
(a scan's OCR text, say) -- so a new kind of text needs no change here.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import fields as dataclass_fields
from itertools import islice
from typing import Any

from archive.search.analysis import fold, term_positions
from archive.search.docs import BEIJING, IndexedDoc
from archive.search.postgres.query import FIELDS, field_term, identifier_digest, lexeme
from archive.search.query import exact_key

MAX_POSITION = 16383
"""The largest position a ``tsvector`` keeps; later ones are clamped to it."""
MAX_POSITIONS = 256
"""The most positions a ``tsvector`` keeps per lexeme."""
MAX_LEXEME_BYTES = 2046
_POSITION_TEXT = [str(p + 1) for p in range(MAX_POSITION)]  # 0-based position -> stored text

# Title, body and any further text are indexed together; the separator keeps bigrams apart.
_SEPARATOR = "\n。\n"
_NOT_TEXT = {"id", "type", "org", "case_no", "wenhao", "archive_no", "status", "title", "body"}
CASTS = {
    "terms": "tsvector",
    "shown": "jsonb",
}
COLUMNS = (
    "id, type, org, status, issued_at, year, amount, case_no, wenhao, archive_no, identifiers,"
    " terms, approximate,"
    " title, body, body_folded, more_text, shown"
)


def create_sql(name: str) -> str:
    return f"""
    CREATE TABLE IF NOT EXISTS {name} (
        id text PRIMARY KEY,
        type text NOT NULL,
        org text NOT NULL,
        status text NOT NULL,
        issued_at timestamp NOT NULL,  -- Beijing time, as the filters mean it
        year text NOT NULL,
        amount bigint,                 -- 分 (1/100 元)
        case_no text,                  -- exact keys, normalised (archive.search.query.exact_key)
        wenhao text,
        archive_no text,
        identifiers text[] NOT NULL,   -- sha256 of each ID number / credit code key
        terms tsvector NOT NULL,       -- title + body (+ further text), then field:term
        approximate boolean NOT NULL,  -- positions lost: phrases match by their terms
        title text NOT NULL,
        body text NOT NULL,
        body_folded text,
        more_text text,                -- further text of the record (a scan's OCR text)
        shown jsonb NOT NULL
    ) WITH (toast_tuple_target = 256)"""


# Texts and term lists go out of line (TOAST): a count or facet over 60,000 matches reads the
# rows' small columns only, a few dozen rows a page instead of three.


def index_sql(name: str) -> list[str]:
    """GIN over the terms; B-trees for exact keys and dates. No B-tree on ``org``: with four
    orgs it never narrows enough, and the planner would pick it and read every row's
    tsvector; an org's terms have a GIN of their own instead (:func:`org_index_sql`)."""
    out = [
        f"CREATE INDEX IF NOT EXISTS {name}_{c} ON {name} USING gin ({c})"
        for c in ("terms", "identifiers")
    ]
    out += [
        f"CREATE INDEX IF NOT EXISTS {name}_{c} ON {name} ({c})"
        for c in ("wenhao", "archive_no", "case_no", "issued_at", "amount")
    ]
    return out


def org_index_sql(name: str, org: str) -> str:
    """A GIN over one org's terms: a search within that org (``org = :org``) reads only that
    org's posting lists and rows, not those of every org to filter them out afterwards (at
    100,000 documents p95 71 against 92 ms; docs/search.md, "Index choices"). The full GIN
    stays for administrators and for orgs added since the last rebuild."""
    digest = hashlib.sha256(org.encode("utf-8")).hexdigest()[:10]
    literal = org.replace("'", "''")
    return (
        f"CREATE INDEX IF NOT EXISTS {name}_terms_org_{digest} ON {name} "
        f"USING gin (terms) WHERE org = '{literal}'"
    )


def tsvector_text(table: dict[str, list[int]]) -> tuple[str, bool]:
    """``tsvector`` input for terms with 0-based positions, and whether positions were lost.

    Positions are stored 1-based. A document longer than ``MAX_POSITION`` units, or with a
    term more than ``MAX_POSITIONS`` times, loses positions: it is marked ``approximate`` and
    its phrases are then matched by their terms alone (see :func:`phrase_condition`).
    """
    parts = []
    approximate = False
    shown = _POSITION_TEXT
    for term, positions in table.items():
        if (
            positions[-1] < MAX_POSITION
            and len(positions) <= MAX_POSITIONS
            and len(term) < MAX_LEXEME_BYTES // 4
            and "'" not in term
            and "\\" not in term
        ):  # nearly every term: no quoting, positions as they are
            parts.append(f"'{term}':{','.join([shown[p] for p in positions])}")
            continue
        if len(term.encode("utf-8")) > MAX_LEXEME_BYTES:
            continue  # a run of thousands of letters: nobody types it
        if positions[-1] + 1 > MAX_POSITION or len(positions) > MAX_POSITIONS:
            approximate = True
        kept = sorted({min(p + 1, MAX_POSITION) for p in positions})[:MAX_POSITIONS]
        parts.append(lexeme(term) + ":" + ",".join(map(str, kept)))
    return " ".join(parts), approximate


def _positions_lost(table: dict[str, list[int]]) -> bool:
    return any(p[-1] >= MAX_POSITION or len(p) > MAX_POSITIONS for p in table.values())


def more_texts(doc: IndexedDoc) -> list[str]:
    """Every further text of the record beyond title and body (e.g. a scan's OCR text)."""
    return [
        value
        for f in dataclass_fields(doc)
        if f.name not in _NOT_TEXT and isinstance(value := getattr(doc, f.name), str) and value
    ]


def indexed_text(doc: IndexedDoc) -> str:
    """Title, body and every further text, in order, apart (no bigram joins two)."""
    return _SEPARATOR.join([doc.title, doc.body, *more_texts(doc)])


def row(doc: IndexedDoc) -> tuple[Any, ...]:
    """One document as the values of ``COLUMNS``."""
    issued = doc.issued_at
    if issued.tzinfo is not None:
        issued = issued.astimezone(BEIJING).replace(tzinfo=None)
    table = term_positions(indexed_text(doc))
    positions_lost = _positions_lost(table)
    for fieldname in FIELDS:
        value = getattr(doc, fieldname)
        text = value if isinstance(value, str) else _SEPARATOR.join(value)
        for term, positions in term_positions(text).items():
            table[field_term(fieldname, term)] = positions
    terms, _ = tsvector_text(table)
    # PostgreSQL text cannot hold NUL; a space keeps the offsets snippets rely on.
    title, body = doc.title.replace("\x00", " "), doc.body.replace("\x00", " ")
    folded = fold(body)
    shown = {
        "wenhao": doc.wenhao,
        "archive_no": doc.archive_no,
        "case_no": doc.case_no,
        "issued_at": doc.issued_at.isoformat(),
    }
    return (
        doc.id,
        doc.type,
        doc.org,
        doc.status,
        issued,
        str(issued.year),
        int((doc.amount * 100).to_integral_value()) if doc.amount is not None else None,
        exact_key(doc.case_no) if doc.case_no else None,
        exact_key(doc.wenhao) if doc.wenhao else None,
        exact_key(doc.archive_no) if doc.archive_no else None,
        sorted({identifier_digest(v) for v in doc.identifiers}),
        terms,
        positions_lost,
        title,
        body,
        folded if folded != fold(body, simplified=False) else None,
        _SEPARATOR.join(more_texts(doc)).replace("\x00", " ") or None,
        json.dumps(shown, ensure_ascii=False),
    )


def rows(docs: Iterable[IndexedDoc], procs: int) -> Iterator[tuple[Any, ...]]:
    """Rows for COPY, computed here or in ``procs`` forked processes (order kept)."""
    if procs <= 1:
        yield from map(row, docs)
        return
    iterator = iter(docs)
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        while chunk := list(islice(iterator, 200 * procs)):
            yield from pool.imap(row, chunk, chunksize=50)
