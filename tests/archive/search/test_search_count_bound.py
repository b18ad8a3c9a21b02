"""Totals past the count bound: both backends count exactly up to it and then say "at least"
(``total_relation``), facets over the same matches, while the hits shown are still the newest
or best of all the matches. A bound of 5 here stands for the 10,000 of a real archive."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from archive.search import COUNT_BOUND, SearchBackend
from tests.support.search_backends import SEARCH_BACKENDS, doc, open_index

BOUND = 5
TYPES = ("notice", "inspection_record", "inspection_report")


@pytest.fixture(params=SEARCH_BACKENDS)
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchBackend]:
    with open_index(request.param, tmp_path) as ix:
        ix.count_bound = BOUND
        start = datetime(2021, 1, 4, 9)
        ix.add(
            doc(
                f"v{n:02d}",
                f"经核查，该院存在挂床住院问题，第{n}例。",
                type=TYPES[n % 3],
                issued_at=start + timedelta(days=n),
            )
            for n in range(12)
        )
        ix.add(doc(f"r{n}", f"经核查，该院存在串换药品问题，第{n}例。") for n in range(3))
        yield ix


def test_the_default_bound_is_that_of_elasticsearch() -> None:
    assert COUNT_BOUND == 10_000


def test_past_the_bound_the_total_is_a_lower_bound(index: SearchBackend) -> None:
    result = index.search("挂床住院", orgs=["llyb"], per_page=4)
    assert (result.total, result.total_relation) == (BOUND, "gte")
    assert sum(result.facets["type"].values()) == BOUND
    assert sum(result.facets["year"].values()) == BOUND
    assert result.facets["org"] == {"llyb": BOUND}
    # The hits are the best of all twelve, not of the five counted: newest first.
    assert [h.id for h in result.hits] == ["v11", "v10", "v09", "v08"]


def test_pages_past_the_bound_are_still_served(index: SearchBackend) -> None:
    third = index.search("挂床住院", orgs=["llyb"], per_page=4, page=3, sort="newest")
    assert [h.id for h in third.hits] == ["v03", "v02", "v01", "v00"]
    assert third.total_relation == "gte"
    oldest = index.search("", orgs=["llyb"], per_page=3, sort="oldest", facets=False)
    assert (oldest.total, oldest.total_relation, oldest.facets) == (BOUND, "gte", {})
    assert [h.id for h in oldest.hits] == ["v00", "v01", "v02"]


def test_within_the_bound_the_count_is_exact(index: SearchBackend) -> None:
    result = index.search("串换药品", orgs=["llyb"])
    assert (result.total, result.total_relation) == (3, "eq")
    assert result.facets["type"] == {"notice": 3}
    filtered = index.search("挂床住院", orgs=["llyb"], type="inspection_report")
    assert (filtered.total, filtered.total_relation) == (4, "eq")
    assert filtered.facets["type"] == {"inspection_report": 4}
    nothing = index.search("挂床住院", orgs=["tyyb"])
    assert (nothing.total, nothing.total_relation) == (0, "eq")


def test_exactly_the_bound_is_exact(index: SearchBackend) -> None:
    index.count_bound = 15
    result = index.search("", orgs=["llyb"], facets=False)
    assert (result.total, result.total_relation) == (15, "eq")
    index.count_bound = 14
    result = index.search("", orgs=["llyb"])
    assert (result.total, result.total_relation) == (14, "gte")
    assert sum(result.facets["type"].values()) == 14


def test_a_whoosh_index_past_its_size_says_so_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from archive.search.whoosh import index as whoosh_index

    with open_index("whoosh", tmp_path) as ix:
        ix.add(doc(f"n{n}", "医保基金监管") for n in range(3))
    monkeypatch.setattr(whoosh_index, "ADVISED_MAX", 3)
    with caplog.at_level("WARNING", logger=whoosh_index.__name__):
        whoosh_index.SearchIndex(tmp_path / "index")
    assert not caplog.records
    with open_index("whoosh", tmp_path) as ix:
        ix.add([doc("n4", "医保基金监管")])
    with caplog.at_level("WARNING", logger=whoosh_index.__name__):
        whoosh_index.SearchIndex(tmp_path / "index")
    assert "WENSHU_SEARCH_BACKEND=postgresql" in caplog.text
