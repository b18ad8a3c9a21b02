"""The search page past the count bound, in a real browser (Debian's Chromium via Playwright):
an archive with more matches than 10,000 shows 「约 10,000+ 件」 and pages on; one within it
shows the exact count. The API answer carries ``total_relation`` for both.

The 10,001 documents go straight into the search index (not through issue: LibreOffice would
take an hour for them); the hits link to documents that do not exist, which nothing here opens.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from archive.search import COUNT_BOUND, IndexedDoc
from service.workflows.accounts import add_user
from tests.support.apps import Client, make_app
from tests.support.web import (
    PASSWORD,
    Site,
    login,
    open_page,
    served,
    shot,
)

pytest.importorskip("playwright.sync_api")


def filler(n: int, body: str) -> IndexedDoc:
    return IndexedDoc(
        id=f"bulk{n:05d}",
        type="inspection_record",
        org="llyb",
        case_no=None,
        wenhao=None,
        archive_no=f"J041-2021-D30-JGK-{n:05d}",
        title=f"检查记录{n}",
        body=body,
        issued_at=datetime(2021, 1, 1, 9) + timedelta(minutes=n),
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, converter_dir: dict[str, Any]) -> Iterator[Site]:
    app = make_app(tmp_path_factory.mktemp("web-count"), converter_dir)
    ws = app.extensions["wenshu"]
    add_user(ws, name="c-inspector", role="inspector", org_code="llyb", password=PASSWORD)
    ws.index.add(filler(n, f"经核查存在挂床住院问题，第{n}例。") for n in range(COUNT_BOUND + 1))
    ws.index.add(filler(COUNT_BOUND + 1 + n, "经核查存在串换药品问题。") for n in range(3))
    with served(app) as site:
        yield site
    ws.close()


def test_the_api_says_whether_the_total_is_exact(site: Site) -> None:
    api = Client(site.app, add_user(site.ws, name="c-api", role="inspector", org_code="llyb"))
    many = api.get("/api/v1/search?q=挂床住院&per_page=5").get_json()
    assert (many["total"], many["total_relation"]) == (10_000, "gte")
    assert sum(many["facets"]["type"].values()) == 10_000
    assert [h["id"] for h in many["hits"]] == [f"bulk{n:05d}" for n in range(10_000, 9_995, -1)]
    few = api.get("/api/v1/search?q=串换药品").get_json()
    assert (few["total"], few["total_relation"]) == (3, "eq")


def test_the_page_says_more_than_ten_thousand(site: Site, browser: Any) -> None:
    page = open_page(browser, site)
    login(page, site, "c-inspector")
    page.goto(site.url + "/search?q=%E6%8C%82%E5%BA%8A%E4%BD%8F%E9%99%A2")  # 挂床住院
    status = page.locator("#search-status")
    status.filter(has_text="“挂床住院”").wait_for()
    assert "约 10,000+ 件" in status.inner_text()
    assert "1,000+ 页" in page.locator("#search-pager").inner_text()
    assert "10,000+" in page.locator("#facets").inner_text()  # a lower bound too
    shot(page, "30-search-past-the-count-bound")
    page.get_by_role("link", name="下一页 ›").click()
    page.locator("#search-status").filter(has_text="第 2 页").wait_for()
    page.goto(site.url + "/search?q=%E4%B8%B2%E6%8D%A2%E8%8D%AF%E5%93%81")  # 串换药品
    status.filter(has_text="“串换药品”").wait_for()
    assert "共 3 件" in status.inner_text()
    assert "+" not in status.inner_text()
