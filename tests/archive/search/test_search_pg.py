"""Search in PostgreSQL: what holds only there -- a table shared by every app server, its writer
lock, rebuilds swapped in whole, very long documents, and the service end to end on it. (The
relevance set and the index semantics run on both backends in test_search_relevance.py and
test_search_index.py.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from archive.db import make_engine
from archive.errors import ValidationError
from archive.search.docs import IndexedDoc
from archive.search.postgres.backend import TABLE, PgSearchIndex
from service.settings import load_settings
from tests.support.apps import fresh_database
from tests.support.search_backends import doc

DOCS = [
    doc("adjacent", "本月将开展专项检查工作。"),
    doc("apart", "本月将开展专项治理和检查。"),
    doc("name", "经查，张三丰于2021年3月在某药店套取医保基金。", org="tyyb"),
]


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def pg_index(pg_url: str) -> Iterator[PgSearchIndex]:
    engine = make_engine(pg_url)
    yield PgSearchIndex(engine)
    engine.dispose()


def found(ix: PgSearchIndex, q: str, **kw: Any) -> set[str]:
    return {h.id for h in ix.search(q, orgs=None, per_page=100, **kw).hits}


def test_the_backend_follows_the_database_unless_configured() -> None:
    assert load_settings({"DATABASE_URL": "sqlite:///x.db"}).search.backend == "whoosh"
    pg = "postgresql+psycopg://u:p@h/db"
    assert load_settings({"DATABASE_URL": pg}).search.backend == "postgresql"
    chosen = load_settings({"DATABASE_URL": pg, "SEARCH_BACKEND": "whoosh"})
    assert chosen.search.backend == "whoosh"
    with pytest.raises(ValueError, match="WENSHU_SEARCH_BACKEND"):
        load_settings({"SEARCH_BACKEND": "elastic"})
    with pytest.raises(ValueError, match="PostgreSQL"):
        PgSearchIndex(make_engine("sqlite://"))


def test_writes_replace_delete_and_rebuild_swap_for_every_handle(pg_url: str) -> None:
    engines = [make_engine(pg_url), make_engine(pg_url)]
    try:
        mine, other_server = (PgSearchIndex(e) for e in engines)
        mine.add(DOCS)
        assert other_server.doc_count() == 3 and found(other_server, "张三丰") == {"name"}
        mine.add([doc("name", "设备编号XYZ789已解封。", org="tyyb")])
        assert other_server.doc_count() == 3
        assert found(other_server, "张三丰") == set() and found(other_server, "xyz789") == {"name"}
        mine.delete(["name", "no-such-id"])
        assert found(other_server, "xyz789") == set()

        progress: list[int] = []
        assert mine.rebuild([doc("only", "唯一的文件")], progress.append) == 1
        assert progress[-1] == 1
        assert other_server.doc_count() == 1 and found(other_server, "唯一") == {"only"}
        assert mine.check() and other_server.check()
    finally:
        for e in engines:
            e.dispose()


def test_a_failed_rebuild_leaves_the_live_table_alone(pg_index: PgSearchIndex) -> None:
    pg_index.add(DOCS)

    def broken() -> Iterator[IndexedDoc]:
        yield doc("first", "第一份")
        raise RuntimeError("archive read failed")

    with pytest.raises(RuntimeError):
        pg_index.rebuild(broken())
    with pytest.raises(ValidationError):
        pg_index.rebuild([doc("twice", "一"), doc("twice", "二")])
    assert pg_index.doc_count() == 3 and found(pg_index, "专项") == {"adjacent", "apart"}
    with pg_index.engine.connect() as conn:
        tables = conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE tablename LIKE :t"), {"t": TABLE + "%"}
        ).all()
    assert tables == [TABLE]  # the half-built ones are gone


def test_a_stale_table_fails_the_check_and_a_rebuild_renews_it(pg_index: PgSearchIndex) -> None:
    pg_index.add(DOCS)
    with pg_index.engine.begin() as conn:
        conn.execute(
            text(f"COMMENT ON TABLE {TABLE} IS 'wenshu search index, analysis v1, table v1'")
        )
    assert not pg_index.check()
    assert pg_index.search("专项", orgs=None).total == 2  # still answers until rebuilt
    pg_index.rebuild(DOCS, procs=2)
    assert pg_index.check()
    assert found(pg_index, '"专项检查"') == {"adjacent"}


def test_one_writer_at_a_time_across_servers(pg_url: str) -> None:
    """The advisory lock every server's indexer takes: never two holders, and a waiter gives
    up in bounded time instead of hanging."""
    engines = [make_engine(pg_url) for _ in range(3)]
    try:
        handles = [PgSearchIndex(e) for e in engines]
        holding: list[int] = []
        overlaps: list[int] = []
        got = []

        def write(n: int) -> None:
            for _ in range(5):
                with handles[n].exclusive(30) as ok:
                    got.append(ok)
                    holding.append(n)
                    overlaps.append(len(holding))
                    time.sleep(0.02)
                    holding.remove(n)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert got == [True] * 15 and max(overlaps) == 1
        with handles[0].exclusive(5) as ok:
            assert ok
            started = time.monotonic()
            with handles[1].exclusive(0.3) as other:
                assert other is False
            assert time.monotonic() - started < 5
        with handles[1].exclusive(1) as ok:
            assert ok  # released when the holder left
    finally:
        for e in engines:
            e.dispose()


def test_phrases_in_very_long_documents(pg_index: PgSearchIndex) -> None:
    """Past PostgreSQL's 16,383 positions a phrase is matched by its terms; before it, exactly."""
    filler = "，".join(f"第{n}条检查意见" for n in range(4000))  # ~24,000 positions
    long_doc = doc("long", filler + "。最后发现虚假住院问题。")
    pg_index.add([*DOCS, long_doc])
    assert found(pg_index, '"虚假住院"') == {"long"}
    assert found(pg_index, "第3999条") == {"long"}
    assert found(pg_index, '"专项检查"') == {"adjacent"}  # short documents stay exact
    assert "long" not in found(pg_index, '"住院虚假"')


def test_every_text_of_the_record_is_indexed_and_a_scan_only_match_says_so(
    pg_index: PgSearchIndex,
) -> None:
    scanned = doc("scanned", "检查记录正文。", scan_text="被检查人手写补充：药房台账缺失。")
    pg_index.add([*DOCS, scanned])
    hit = pg_index.search("药房台账", orgs=None).hits
    assert [h.id for h in hit] == ["scanned"] and hit[0].from_scan
    assert "<mark>药房台账</mark>" in hit[0].snippet
    body_hit = pg_index.search("检查记录", orgs=None).hits
    assert [h.id for h in body_hit] == ["scanned"] and not body_hit[0].from_scan


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
def test_common_phrases_are_checked_in_the_documents_shown(
    pg_index: PgSearchIndex, monkeypatch: pytest.MonkeyPatch, sort: str
) -> None:
    """Past the budget the total counts documents with the phrase's terms, and the documents
    shown are checked by position: one with the terms apart is never shown."""
    import archive.search.postgres.backend

    near = doc("near", "专项检验，检查完毕。", issued_at=datetime(2021, 7, 1))  # 专项 项检 检查
    pg_index.add([*DOCS, near])
    exact = pg_index.search('"专项检查"', orgs=None, sort=sort)
    monkeypatch.setattr(archive.search.postgres.backend, "PHRASE_CHECK_BUDGET", 1)
    checked = pg_index.search('"专项检查"', orgs=None, sort=sort)
    assert [h.id for h in exact.hits] == [h.id for h in checked.hits] == ["adjacent"]
    assert exact.total == checked.total == 1


def test_a_rebuild_indexes_each_orgs_terms_apart(pg_index: PgSearchIndex) -> None:
    """One org's search reads that org's GIN entries only (the partial index); every org's
    search (administrators) still has the full one."""
    pg_index.rebuild(DOCS)
    with pg_index.engine.connect() as conn:
        partial = (
            conn.execute(
                text(
                    "SELECT indexdef FROM pg_indexes WHERE tablename = :t AND indexdef LIKE '%WHERE%'"
                ),
                {"t": TABLE},
            )
            .scalars()
            .all()
        )
        assert sorted(d.split("WHERE")[1].strip() for d in partial) == [
            "(org = 'llyb'::text)",
            "(org = 'tyyb'::text)",
        ]
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(
                text(
                    f"EXPLAIN SELECT count(*) FROM {TABLE} WHERE org = :o "
                    "AND terms @@ CAST(:q AS tsquery)"
                ),
                {"o": "tyyb", "q": "'医保' & '基金'"},
            ).scalars()
        )
    assert "_terms_org_" in plan
    assert found(pg_index, "医保基金") == {"name"}
    assert {h.id for h in pg_index.search("专项", orgs=["llyb"]).hits} == {"adjacent", "apart"}


def test_the_migration_indexes_the_orgs_of_a_table_built_before(pg_url: str) -> None:
    from archive.migrate import upgrade

    engine = make_engine(pg_url)
    try:
        PgSearchIndex(engine).add(DOCS)  # made by the backend: the full GIN only
        upgrade(pg_url)
        with engine.connect() as conn:
            names = (
                conn.execute(
                    text("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%_terms_org_%'")
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert len(names) == 2


def test_past_the_bound_the_newest_rows_give_the_page_the_walk_gives(
    pg_index: PgSearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Matches past the count bound are ranked from the newest rows of the table (a window
    of the issue-date index ANDed with the terms) when the page is found there, else as
    before: either way the page, its order and the total are those of the walk alone. The
    title tier here is common among the newest rows, rare within the date filter."""
    import archive.search.postgres.query as pg_query

    pg_index.count_bound = 5
    start = datetime(2021, 1, 4, 9)
    pg_index.add(
        doc(
            f"v{n:02d}",
            f"经核查，该院存在挂床住院问题，第{n}例。",
            title="挂床住院问题通报" if n % 7 == 0 or n >= 30 else f"文书{n}",
            issued_at=start + timedelta(days=n),
        )
        for n in range(40)
    )
    pg_index.add(doc(f"r{n}", f"串换药品，第{n}例。", issued_at=start) for n in range(20))
    asked = [
        {"q": "挂床住院"},
        {"q": "挂床住院", "page": 2},
        {"q": "住院"},
        {"q": "挂床住院", "date_from": date(2021, 1, 10), "date_to": date(2021, 2, 1)},
        {"q": "挂床住院", "sort": "newest", "page": 2},
        {"q": "挂床住院", "sort": "oldest"},
    ]
    monkeypatch.setattr(pg_query, "RERANK", 4)  # candidates a page of 4 needs
    monkeypatch.setattr(pg_query, "WINDOW", 10**9)  # more rows than the table: no window
    walked = [pg_index.search(orgs=["llyb"], per_page=4, **kw) for kw in asked]
    monkeypatch.setattr(pg_query, "WINDOW", 10)
    pages: list[int] = []
    in_window = pg_query.newest_in_window

    def spy(*args: Any) -> Any:
        rows = in_window(*args)
        pages.append(-1 if rows is None else len(rows))
        return rows

    monkeypatch.setattr(pg_query, "newest_in_window", spy)
    windowed = [pg_index.search(orgs=["llyb"], per_page=4, **kw) for kw in asked]
    assert any(n >= 4 for n in pages)  # pages found among the newest rows
    assert any(0 <= n < 4 for n in pages)  # and tiers that fell back
    for before, after in zip(walked, windowed, strict=True):
        assert [h.id for h in after.hits] == [h.id for h in before.hits]
        assert (after.total, after.total_relation) == (before.total, before.total_relation)
    assert [h.id for h in walked[0].hits] == ["v39", "v38", "v37", "v36"]
    assert walked[0].total_relation == "gte"
