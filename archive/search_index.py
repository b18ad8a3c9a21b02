"""Full-text search over archived documents (Whoosh), with exact lookup of 文号, 档号 and IDs.

The index is derived data: everything in it comes from the archive, so when it is missing or
damaged the answer is :meth:`SearchIndex.rebuild`, never a repair. On disk::

    <path>/CURRENT        name of the live generation, replaced atomically by rebuild()
    <path>/WRITELOCK      file lock held by add / delete / rebuild
    <path>/gen-<...>/     one complete Whoosh index per generation (live + previous)

Keeping the previous generation lets a process that still has it open finish its search
after another process swapped in a rebuilt one.

Query language, for people not trained in any: words separated by spaces must all occur
(in the title or the body); "quoted text" must occur as written; a whole word or quoted
piece that *is* a 文号, 档号, case number, ID-card number or credit code also matches
that field exactly. Nothing a user types is syntax, so no query can fail to parse.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import time
import unicodedata
import uuid
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh import sorting
from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.util.filelock import FileLock, try_for

from archive.analysis import (
    ANALYSIS_VERSION,
    document_analyzer,
    fold,
    is_cjk,
    phrase_pattern,
    phrase_terms,
    query_words,
)
from archive.errors import ConflictError, IntegrityError, ValidationError

log = logging.getLogger(__name__)

BEIJING = timezone(timedelta(hours=8), "CST")
SORTS = ("relevance", "newest", "oldest")
FACETS = ("type", "org", "year")
MAX_PER_PAGE = 100
MAX_QUERY_CHARS = 256  # longer input is cut: a query is typed, not pasted documents
SNIPPET_CHARS = 160
_TITLE_BOOST = 2.0
# Title and body are indexed together in ``body`` (one term per word to match, not two), the
# title alone in ``title`` for ranking; the separator keeps bigrams from bridging the two.
_TITLE_BODY_SEPARATOR = "\n。\n"
_EXACT_BOOST = 1000.0  # an exact 文号/档号/ID match outranks any text match

_VERSION_FILE = "ANALYSIS_VERSION"
_GEN_RE = re.compile(r"^gen-[0-9a-f]{12,40}$")
_QUOTED_RE = re.compile(r'"([^"]*)"|“([^”]*)”')
_IDENTIFIER_RE = re.compile(
    r"(?<![0-9a-z])(?:[0-9]{17}[0-9x]|[0-9a-hj-npqrtuwxy]{2}[0-9]{6}[0-9a-hj-npqrtuwxy]{10})(?![0-9a-z])"
)
_BRACKETS = str.maketrans({"【": "〔", "】": "〕", "[": "〔", "]": "〕", "〖": "〔", "〗": "〕"})
_YEAR_NUMBER_RE = re.compile(r"[〔(]([0-9]{4})[〕)]第?0*([0-9]+)号$")

SCHEMA = Schema(
    id=ID(stored=True, unique=True),
    type=ID(stored=True, sortable=True),
    org=ID(stored=True, sortable=True),
    case_no=ID,
    wenhao=ID,
    archive_no=ID,
    identifiers=KEYWORD(stored=False, lowercase=False, commas=False, scorable=False),
    title=TEXT(analyzer=document_analyzer(), stored=True),
    body=TEXT(analyzer=document_analyzer(), stored=True),  # indexes title + body, stores body
    issued_at=DATETIME(sortable=True),
    year=ID(sortable=True),
    status=ID(stored=True),
    # As given by the archive, for display; the ID fields above hold normalised keys.
    shown=STORED,
    # fold(body) where it differs from the cheap fold (Traditional text), so snippets of
    # such documents do not pay for OpenCC at query time.
    body_folded=STORED,
)


class IndexBusy(ConflictError):
    """Another writer held the index lock longer than the caller is willing to wait."""

    code = "index_busy"


@dataclass(frozen=True)
class IndexedDoc:
    """What the index needs of one archived document."""

    id: str
    type: str
    org: str
    case_no: str | None
    wenhao: str | None
    archive_no: str | None
    title: str
    body: str
    issued_at: datetime
    """Naive values are Beijing time; aware values are converted to it for filtering."""
    status: str = "issued"
    identifiers: tuple[str, ...] = ()
    """ID-card numbers / credit codes in the document: matched exactly, never stored."""


@dataclass(frozen=True)
class SearchHit:
    id: str
    type: str
    org: str
    title: str
    """Plain text with identifiers masked; escape it when rendering."""
    wenhao: str | None
    archive_no: str | None
    case_no: str | None
    issued_at: datetime
    snippet: str
    """HTML: escaped text, matches in ``<mark>``, identifiers masked."""
    score: float
    status: str = "issued"
    """Withdrawn documents stay findable (it is an archive); show their status."""


@dataclass(frozen=True)
class SearchResult:
    total: int
    page: int
    per_page: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]]
    """Counts over all matches (not just this page), e.g. ``{"type": {"notice": 3}}``."""


def exact_key(text: str) -> str:
    """The normalised form under which 文号, 档号, case numbers and IDs are indexed.

    Width folded, whitespace dropped, 【】/[] brackets (and a bracketed year in ASCII
    parentheses) turned into 〔〕, no leading zeros in the 序号, upper case: so
    ``吕医保发【2021】044号`` and ``吕医保发〔2021〕44号`` are one key.
    """
    key = "".join(unicodedata.normalize("NFKC", text).split()).translate(_BRACKETS)
    return _YEAR_NUMBER_RE.sub(r"〔\1〕\2号", key).upper()


def mask_identifiers(text: str, folded: str | None = None) -> str:
    """Mask every ID-card number / credit code as first 6 + asterisks + last 4."""
    folded = fold(text, simplified=False) if folded is None else folded
    chars = list(text)
    for m in _IDENTIFIER_RE.finditer(folded):
        chars[m.start() + 6 : m.end() - 4] = "*" * (m.end() - m.start() - 10)
    return "".join(chars)


class SearchIndex:
    """One Whoosh index of the archive; see the module docstring for the layout on disk."""

    def __init__(self, path: Path, *, lock_timeout: float = 30.0) -> None:
        """Open the index at ``path``, creating an empty one if there is none.

        A damaged index is left as it is (``check()`` reports it, ``rebuild()`` replaces
        it), so a service can still start and rebuild.
        """
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._ix: Any = None
        self._gen: str | None = None
        self.path.mkdir(parents=True, exist_ok=True)
        if self._fresh():
            with self._write_lock():
                if self._fresh():
                    self._publish(self._create_generation())

    # ------------------------------------------------------------------ writing

    def add(self, docs: Iterable[IndexedDoc]) -> int:
        """Add or replace documents by id in one commit; returns how many were written."""
        batch = {doc.id: doc for doc in docs}  # the last version of an id wins
        if not batch:
            return 0
        with self._write_lock():
            writer = self._writer()
            try:
                for doc in batch.values():
                    writer.update_document(**_fields(doc))
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
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
            writer.commit()

    def rebuild(
        self, docs: Iterable[IndexedDoc], progress: Callable[[int], None] | None = None
    ) -> int:
        """Index ``docs`` into a new generation, then make it live in one atomic rename.

        Searches keep using the old generation until the swap; on failure the old one stays
        live and the half-built one is removed. ``progress`` gets the running count every
        100 documents and at the end. Ids must be unique.
        """
        with self._write_lock():
            previous = self._current()
            gen = self._create_generation()
            try:
                ix = whoosh_index.open_dir(str(self.path / gen))
                count = _fill(ix, docs, progress)
                self._publish(gen)
            except BaseException:
                shutil.rmtree(self.path / gen, ignore_errors=True)
                raise
            self._ix, self._gen = ix, gen
            self._remove_generations(keep={gen, previous})
        log.info("search index rebuilt: %d documents in %s", count, gen)
        return count

    # ------------------------------------------------------------------ reading

    def check(self) -> bool:
        """True if the live index opens and every segment's terms and stored fields read.

        False too when the index was built by another version of the analysis.

        Cheap enough to call before each batch of writes: it touches the start and end of
        each segment, not every posting, so damage in the middle of a file can go unseen
        until a search trips on it (and raises ``IntegrityError``).
        """
        try:
            gen_dir = self.path / self._require_current()
            version = (gen_dir / _VERSION_FILE).read_text(encoding="ascii").strip()
            if version != str(ANALYSIS_VERSION):
                log.warning(
                    "search index built by analysis v%s, now v%s", version, ANALYSIS_VERSION
                )
                return False
            ix = whoosh_index.open_dir(str(gen_dir))
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
            return False
        return True

    def doc_count(self) -> int:
        """Number of live (not deleted) documents."""
        with self._searcher() as searcher:
            return int(searcher.doc_count())

    def search(
        self,
        q: str,
        *,
        orgs: list[str] | None,
        type: str | None = None,
        case_no: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        page: int = 1,
        per_page: int = 20,
        sort: str = "relevance",
    ) -> SearchResult:
        """Search within ``orgs`` (None = every org, for administrators; [] = nothing).

        The org restriction is part of the query itself, so counts and facets never include
        documents of other orgs. An empty ``q`` lists everything that passes the filters,
        newest first unless another order is asked for.
        """
        _validate(page, per_page, sort, date_from, date_to)
        if orgs is not None and not orgs:
            return SearchResult(0, page, per_page, [], {name: {} for name in FACETS})
        filters = _filters(orgs, type, case_no, date_from, date_to)
        groupedby = {name: sorting.FieldFacet(name, maptype=sorting.Count) for name in FACETS}
        with self._searcher() as searcher:
            reader = searcher.reader()
            text_query, highlight = parse_query(q, known=lambda f, key: (f, key) in reader)
            if text_query is None:
                query = wq.And(filters) if filters else wq.Every()
                sort = "newest" if sort == "relevance" else sort
            else:
                query = wq.And([text_query, *filters]) if filters else text_query
            sortedby = None
            if sort != "relevance":
                sortedby = sorting.FieldFacet("issued_at", reverse=sort == "newest")
            try:
                results = searcher.search(
                    query, limit=page * per_page, sortedby=sortedby, groupedby=groupedby
                )
                total = len(results)
                start = (page - 1) * per_page
                hits = [
                    _hit(hit.fields(), hit.score if sortedby is None else 0.0, highlight)
                    for hit in results[start : start + per_page]
                ]
                facets = {name: _ranked(results.groups(name)) for name in FACETS}
            except Exception as exc:
                raise IntegrityError("搜索索引无法读取，请重建索引。") from exc
        return SearchResult(total, page, per_page, hits, facets)

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

    def _fresh(self) -> bool:
        """No pointer and no generation at all: a new index, not a damaged one."""
        return not (self.path / "CURRENT").exists() and not any(self._generations())

    def _generations(self) -> Iterator[Path]:
        return (p for p in self.path.iterdir() if p.is_dir() and _GEN_RE.match(p.name))

    def _current(self) -> str | None:
        try:
            name = (self.path / "CURRENT").read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return name if _GEN_RE.match(name) else None

    def _require_current(self) -> str:
        gen = self._current()
        if gen is None:
            raise IntegrityError("搜索索引缺失或已损坏，请重建索引。")
        return gen

    def _create_generation(self) -> str:
        gen = f"gen-{time.time_ns():x}{uuid.uuid4().hex[:8]}"
        (self.path / gen).mkdir()
        whoosh_index.create_in(str(self.path / gen), SCHEMA)
        (self.path / gen / _VERSION_FILE).write_text(f"{ANALYSIS_VERSION}\n", encoding="ascii")
        return gen

    def _publish(self, gen: str) -> None:
        tmp = self.path / f"CURRENT.{uuid.uuid4().hex}"
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(gen + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / "CURRENT")
        dir_fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _remove_generations(self, keep: set[str | None]) -> None:
        for gen_dir in list(self._generations()):
            if gen_dir.name not in keep:
                shutil.rmtree(gen_dir, ignore_errors=True)

    def _open(self) -> Any:
        """The live generation's Whoosh index, reopened when a rebuild swapped it."""
        gen = self._require_current()
        if gen != self._gen or self._ix is None:
            try:
                self._ix = whoosh_index.open_dir(str(self.path / gen))
            except Exception as exc:
                raise IntegrityError("搜索索引缺失或已损坏，请重建索引。") from exc
            self._gen = gen
        return self._ix

    def _writer(self) -> Any:
        ix = self._open()
        try:
            return ix.writer(timeout=self.lock_timeout, delay=0.05)
        except whoosh_index.LockError as exc:
            raise IndexBusy("搜索索引正在被其他任务更新，请稍后重试。") from exc

    @contextmanager
    def _searcher(self) -> Iterator[Any]:
        ix = self._open()
        try:
            searcher = ix.searcher()
        except Exception as exc:
            raise IntegrityError("搜索索引无法读取，请重建索引。") from exc
        with searcher:
            yield searcher


def _fill(ix: Any, docs: Iterable[IndexedDoc], progress: Callable[[int], None] | None) -> int:
    writer = ix.writer(limitmb=256)
    seen: set[str] = set()
    try:
        for doc in docs:
            if doc.id in seen:
                raise ValidationError(f"重建索引时文档编号重复：{doc.id}")
            seen.add(doc.id)
            writer.add_document(**_fields(doc))
            if progress is not None and len(seen) % 100 == 0:
                progress(len(seen))
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    if progress is not None:
        progress(len(seen))
    return len(seen)


def _fields(doc: IndexedDoc) -> dict[str, Any]:
    indexed = doc.title + _TITLE_BODY_SEPARATOR + doc.body
    issued = doc.issued_at
    if issued.tzinfo is not None:
        issued = issued.astimezone(BEIJING).replace(tzinfo=None)
    fields: dict[str, Any] = {
        "id": doc.id,
        "type": doc.type,
        "org": doc.org,
        "title": doc.title,
        "body": indexed,
        "_stored_body": doc.body,
        "issued_at": issued,
        "year": str(issued.year),
        "status": doc.status,
        "shown": {
            "wenhao": doc.wenhao,
            "archive_no": doc.archive_no,
            "case_no": doc.case_no,
            "issued_at": doc.issued_at.isoformat(),
        },
    }
    for name in ("case_no", "wenhao", "archive_no"):
        value = getattr(doc, name)
        if value:
            fields[name] = exact_key(value)
    if doc.identifiers:
        fields["identifiers"] = " ".join(exact_key(value) for value in doc.identifiers)
    # fold() caches this text, so the analyzer's own fold of it costs nothing more.
    folded = fold(indexed)[len(indexed) - len(doc.body) :]
    if folded != fold(doc.body, simplified=False):
        fields["body_folded"] = folded
    return fields


def _validate(
    page: int, per_page: int, sort: str, date_from: date | None, date_to: date | None
) -> None:
    errors = {}
    if page < 1:
        errors["page"] = "页码必须从 1 开始。"
    if not 1 <= per_page <= MAX_PER_PAGE:
        errors["per_page"] = f"每页条数必须在 1 到 {MAX_PER_PAGE} 之间。"
    if sort not in SORTS:
        errors["sort"] = "排序方式只能是 relevance、newest 或 oldest。"
    if date_from and date_to and date_from > date_to:
        errors["date_from"] = "开始日期不能晚于结束日期。"
    if errors:
        raise ValidationError("搜索参数有误。", errors=errors)


def _filters(
    orgs: list[str] | None,
    doc_type: str | None,
    case_no: str | None,
    date_from: date | None,
    date_to: date | None,
) -> list[Any]:
    filters: list[Any] = []
    if orgs is not None:
        filters.append(wq.Or([wq.Term("org", org) for org in orgs]))
    if doc_type:
        filters.append(wq.Term("type", doc_type))
    if case_no:
        filters.append(wq.Term("case_no", exact_key(case_no)))
    if date_from or date_to:
        start = datetime.combine(date_from, clock.min) if date_from else None
        end = datetime.combine(date_to, clock.max) if date_to else None
        filters.append(wq.DateRange("issued_at", start, end))
    return filters


def parse_query(
    q: str, known: Callable[[str, str], bool] | None = None
) -> tuple[Any | None, re.Pattern[str] | None]:
    """Turn what a user typed into a Whoosh query and a pattern to highlight its matches.

    Returns ``(None, None)`` when nothing in ``q`` is searchable (empty, only punctuation,
    ``*``): the caller then lists by the filters alone. ``known(field, key)`` says whether an
    exact key is in the index, so exact alternatives that cannot match stay out of the query.
    """
    q = fold(q[:MAX_QUERY_CHARS], simplified=False)
    requirements: list[Any] = []
    patterns: list[str] = []
    pieces: list[tuple[str, bool]] = []  # (text, quoted)
    last = 0
    for m in _QUOTED_RE.finditer(q):
        pieces.append((q[last : m.start()], False))
        pieces.append((m.group(1) if m.group(1) is not None else m.group(2), True))
        last = m.end()
    pieces.append((q[last:].replace('"', " "), False))
    chunks = [(t, True) for t, quoted in pieces if quoted] + [
        (chunk, False) for t, quoted in pieces if not quoted for chunk in t.split()
    ]
    for chunk, quoted in chunks:
        words = [fold(chunk)] if quoted else query_words(chunk)
        loose = [] if quoted else [w for w in words if w.isalnum()]
        parts = [_phrase_query(w) for w in words if w not in loose]
        if loose:
            parts.append(_words_query(chunk, loose))
        alternatives = _exact_queries(chunk, known)
        if parts and None not in parts:
            alternatives.insert(0, parts[0] if len(parts) == 1 else wq.And(parts))
            patterns.extend(p for p in map(phrase_pattern, {chunk, *words}) if p)
        if alternatives:
            requirements.append(alternatives[0] if len(alternatives) == 1 else wq.Or(alternatives))
    if not requirements:
        return None, None
    query = requirements[0] if len(requirements) == 1 else wq.And(requirements)
    if len(chunks) > 1 and (whole := _exact_queries(q, known)):
        query = wq.Or([query, *whole])
    patterns.sort(key=len, reverse=True)
    return query, re.compile("|".join(patterns)) if patterns else None


def _phrase_query(text: str) -> Any | None:
    """``text`` exactly as written; in the title too ranks higher.

    Whoosh checks phrases position by position in Python (~0.3 ms per candidate document),
    so this is reserved for quoted text and pieces with separators inside (文号, e-mail).
    """
    terms = phrase_terms(text)
    if len(terms) <= 1:
        return _words_query(text, [text]) if terms else None
    return wq.AndMaybe(wq.Phrase("body", terms), wq.Phrase("title", terms, boost=_TITLE_BOOST))


def _words_query(chunk: str, words: list[str]) -> Any:
    """Every word of ``chunk`` must occur; in the title, or side by side as typed, ranks higher.

    A word is required as the set of its terms (``医疗保障`` -> 医疗, 疗保, 保障), which is
    nearly always the word itself and costs no position checks. The optional part scores
    title matches, the bigrams bridging two words (``保基`` of ``医保基金``) and whole jieba
    words of 3+ units.
    """
    required = list(dict.fromkeys(t for w in words for t in phrase_terms(w)))
    bridges = [t for t in phrase_terms(chunk) if t not in required]
    bridges += [w for w in words if len(phrase_terms(w)) >= 2]
    query: Any = wq.And([_term("body", t) for t in required])
    optional = [_term("title", t, _TITLE_BOOST) for t in required]
    optional += [_term("body", t) for t in bridges]
    return wq.AndMaybe(query, wq.Or(optional))


def _term(fieldname: str, term: str, boost: float = 1.0) -> Any:
    """One term; a lone CJK character also as the start of a bigram.

    The index keeps a CJK character alone only where no bigram starts with it (before a
    separator), so ``号`` elsewhere is found through ``号*``.
    """
    query = wq.Term(fieldname, term, boost=boost)
    if len(term) == 1 and is_cjk(term):
        return wq.Or([query, wq.Prefix(fieldname, term, boost=boost)])
    return query


def _exact_queries(text: str, known: Callable[[str, str], bool] | None) -> list[Any]:
    key = exact_key(text)
    if not any(ch.isalnum() for ch in key):
        return []
    names = ["wenhao", "archive_no", "case_no"]
    if _IDENTIFIER_RE.fullmatch(key.lower()):
        names.append("identifiers")
    return [
        wq.Term(name, key, boost=_EXACT_BOOST)
        for name in names
        if known is None or known(name, key)
    ]


def _hit(stored: dict[str, Any], score: Any, highlight: re.Pattern[str] | None) -> SearchHit:
    shown = stored.get("shown") or {}
    return SearchHit(
        id=stored["id"],
        type=stored["type"],
        org=stored["org"],
        title=mask_identifiers(stored.get("title", "")),
        wenhao=shown.get("wenhao"),
        archive_no=shown.get("archive_no"),
        case_no=shown.get("case_no"),
        issued_at=datetime.fromisoformat(shown["issued_at"]),
        snippet=snippet(stored.get("body", ""), highlight, folded=stored.get("body_folded")),
        score=float(score) if isinstance(score, int | float) else 0.0,
        status=stored.get("status", "issued"),
    )


def snippet(
    body: str,
    highlight: re.Pattern[str] | None,
    *,
    folded: str | None = None,
    width: int = SNIPPET_CHARS,
) -> str:
    """The stretch of ``body`` with the most matches, as HTML with ``<mark>`` around them.

    ``highlight`` runs on the folded body (same length as the body), so matches found in
    folded text are cut out of the original. Identifiers are masked before escaping.
    """
    folded = fold(body, simplified=False) if folded is None else folded
    spans = [m.span() for m in highlight.finditer(folded)] if highlight else []
    spans = [(a, b) for a, b in spans if b > a]
    start = 0
    if spans:
        starts = [a for a, _ in spans]
        best = max(
            range(len(spans)), key=lambda i: (bisect_left(starts, starts[i] + width) - i, -i)
        )
        start = max(0, starts[best] - width // 5)
    end = min(len(body), start + width)
    for a, b in spans:  # never cut a match in two
        if a < start < b:
            start = a
        if a < end < b:
            end = b
    text = mask_identifiers(body, folded)
    marks: list[list[int]] = []
    for a, b in spans:
        if b > start and a < end:
            if marks and a <= marks[-1][1]:  # adjacent words make one mark
                marks[-1][1] = max(b, marks[-1][1])
            else:
                marks.append([a, b])
    out, cursor = [], start
    for a, b in marks:
        out.append(_plain(text[cursor:a]))
        out.append(f"<mark>{_plain(text[a:b])}</mark>")
        cursor = b
    out.append(_plain(text[cursor:end]))
    result = "".join(out).strip()
    return ("…" if start > 0 else "") + result + ("…" if end < len(body) else "")


def _plain(text: str) -> str:
    return html.escape(re.sub(r"\s+", " ", text), quote=False)


def _ranked(groups: dict[Any, int]) -> dict[str, int]:
    """Facet counts, largest first, with string keys (they end up as JSON object keys)."""
    items = sorted(
        ((str(k), v) for k, v in groups.items() if k is not None), key=lambda kv: (-kv[1], kv[0])
    )
    return dict(items)
