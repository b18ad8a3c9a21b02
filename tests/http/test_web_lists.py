"""The 文书 list and the 发文登记簿 in a real browser (Debian's Chromium via Playwright), at
1280×800 and 820×1180: filtering by person and by date finds exactly the expected documents,
签发时间 sorts both ways and the order lives in the address, the register downloads as an
``.xlsx`` that reads back with every number of the year in order, and no table is wider than
the window. Screenshots go to tests/output/screens/.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from openpyxl import load_workbook

from service.workflows.accounts import add_user
from tests.support import sample
from tests.support.apps import Client, make_app
from tests.support.web import (
    DESKTOP,
    PASSWORD,
    TABLET,
    Site,
    login,
    open_page,
    served,
    shot,
)

pytest.importorskip("playwright.sync_api")


def transcript(name: str, start: str) -> dict[str, Any]:
    data = sample("interview_transcript")
    data["interviewee"] = dict(data["interviewee"], name=name)
    data["started_at"], data["ended_at"] = f"{start}T09:00:00", f"{start}T10:00:00"
    return {"type": "interview_transcript", "org": "llyb", "case_no": "LL-2026-009", "data": data}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, converter_dir: dict[str, Any]) -> Iterator[Site]:
    app = make_app(tmp_path_factory.mktemp("web-lists"), converter_dir)
    ws = app.extensions["wenshu"]
    add_user(ws, name="w-clerk", role="clerk", org_code="llyb", password=PASSWORD)
    add_user(ws, name="w-auditor", role="auditor", org_code="llyb", password=PASSWORD)
    inspector = Client(app, add_user(ws, name="w-inspector", role="inspector", org_code="llyb"))
    clerk = Client(app, add_user(ws, name="w-api-clerk", role="clerk", org_code="llyb"))
    r = inspector.post(
        "/api/v1/cases", {"case_no": "LL-2026-009", "title": "康宁医院专项检查", "org": "llyb"}
    )
    assert r.status_code == 201, r.get_json()
    with served(app) as site:
        for key, name, day in (
            ("zhao", "赵志明", "2021-05-11"),
            ("qian", "钱立新", "2021-05-12"),
            ("sun", "孙海燕", "2021-05-13"),
        ):
            r = inspector.post("/api/v1/documents", transcript(name, day))
            assert r.status_code == 201, r.get_json()
            site.issued[key] = r.get_json()
        notice = sample("notice")
        for k in ("date", "print_date"):
            notice.pop(k)
        for key, title in (("n1", "关于开展自查自纠的通知"), ("n2", "关于报送季度报表的通知")):
            body = {"type": "notice", "org": "llyb", "data": dict(notice, title=title)}
            site.issued[key] = clerk.post("/api/v1/documents", body).get_json()
        r = clerk.post(f"/api/v1/documents/{site.issued['n1']['id']}/withdraw", {"reason": "重发"})
        assert r.status_code == 200
        yield site
    ws.close()


def listed(page: Any) -> list[str]:
    return page.locator(".doc-table tbody td.col-title a").all_inner_texts()


def widest_table(page: Any) -> tuple[int, int]:
    """The widest table's right edge and the window's width, in CSS pixels."""
    return page.evaluate(
        "() => [Math.max(...[...document.querySelectorAll('table')]"
        ".map(t => Math.ceil(t.getBoundingClientRect().right))),"
        " document.documentElement.clientWidth]"
    )


@pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["1280", "820"])
def test_filter_sort_and_register_download(site: Site, browser: Any, viewport: Any) -> None:
    tag = viewport["width"]
    page = open_page(browser, site, viewport)
    login(page, site, "w-clerk")
    right, width = widest_table(page)  # 工作台: the recent documents
    assert right <= width, f"工作台 table {right}px in a {width}px window"
    shot(page, f"lists-home-{tag}")
    page.goto(site.url + "/documents")
    assert page.locator(".doc-table tbody tr").count() == 5
    right, width = widest_table(page)
    assert right <= width, f"文书 table {right}px in a {width}px window"
    assert page.locator(".doc-table tbody .col-status").first.is_visible()
    assert page.locator(".doc-table .badge-bad", has_text="已作废").is_visible()
    shot(page, f"lists-documents-{tag}")

    page.get_by_label("当事人").fill("钱立新")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**person=*")
    assert listed(page) == ["钱立新询问笔录（2021年5月12日）"]
    assert "共 1 件" in page.locator("#doc-total").inner_text()
    shot(page, f"lists-documents-person-{tag}")

    ws = site.ws
    today = ws.local_date(ws.now()).isoformat()
    page.goto(site.url + f"/documents?type=interview_transcript&date_from={today}&date_to={today}")
    assert sorted(listed(page)) == sorted(
        [
            "赵志明询问笔录（2021年5月11日）",
            "钱立新询问笔录（2021年5月12日）",
            "孙海燕询问笔录（2021年5月13日）",
        ]
    )
    assert page.locator(".doc-table td.col-who").first.inner_text().strip() in (
        "赵志明",
        "钱立新",
        "孙海燕",
    )
    newest_first = listed(page)
    assert newest_first[0].startswith("孙海燕")
    page.get_by_role("link", name="签发时间").click()
    page.wait_for_url("**sort=issued_at*")
    assert listed(page) == list(reversed(newest_first))
    page.get_by_role("link", name="签发时间").click()
    page.wait_for_url("**sort=-issued_at*")
    assert listed(page) == newest_first
    page.goto(site.url + "/documents?date_from=2999-01-02&date_to=2999-01-01")
    assert page.locator("#filter-errors").is_visible()
    assert "截止日期不能早于起始日期" in page.locator("#filter-errors").inner_text()
    assert page.locator(".doc-table").count() == 0  # no stale rows under the error
    shot(page, f"lists-documents-error-{tag}")

    page.goto(site.url + "/registers/dispatch")
    right, width = widest_table(page)
    assert right <= width, f"发文登记簿 table {right}px in a {width}px window"
    rows = page.locator("#dispatch-register tbody tr")
    assert rows.count() == 2
    shot(page, f"lists-register-{tag}")
    with page.expect_download() as info:
        page.locator("#register-xlsx").click()
    sheet = load_workbook(io.BytesIO(open(info.value.path(), "rb").read())).active
    values = list(sheet.iter_rows(values_only=True))
    assert [v[1] for v in values[1:]] == [site.issued[k]["wenhao"] for k in ("n1", "n2")]
    assert values[1][9] == "已作废" and values[2][9] == "有效"
    page.context.close()


def test_case_timeline_names_the_person(site: Site, browser: Any) -> None:
    page = open_page(browser, site, TABLET)
    login(page, site, "w-clerk")
    page.goto(site.url + "/cases/LL-2026-009")
    text = page.locator(".timeline").inner_text()
    for name in ("赵志明", "钱立新", "孙海燕"):
        assert f"{name}询问笔录" in text
    shot(page, "lists-case-820")
    page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["1280", "820"])
def test_auditor_finds_a_documents_events_by_its_wenhao(
    site: Site, browser: Any, viewport: Any
) -> None:
    page = open_page(browser, site, viewport)
    login(page, site, "w-auditor")
    page.goto(site.url + "/audit")
    status = page.locator("#events-status")
    status.filter(has_text="新的在前").wait_for()
    assert "本机构（吕梁市医疗保障局）" in status.inner_text()
    seqs = [int(t) for t in page.locator("#events-body td.num").all_inner_texts()]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) > 1
    n1 = site.issued["n1"]
    page.get_by_label("文书（文号、档号或标题）").fill(n1["wenhao"])
    page.get_by_role("button", name="筛选").last.click()
    status.filter(has_text="共 2 条").wait_for()  # its issue and its withdrawal
    actions = page.locator("#events-body td .badge").all_inner_texts()
    assert actions == ["作废", "签发"]
    details = page.locator("#events-body .event-details").first.inner_text()
    assert "原因" in details and "重发" in details and "{" not in details
    shot(page, f"lists-audit-{viewport['width']}")
    page.context.close()


def test_repeatable_rows_put_the_input_first_and_undo_a_removal(site: Site, browser: Any) -> None:
    page = open_page(browser, site, TABLET)
    login(page, site, "w-clerk")
    page.goto(site.url + "/documents/new/notice")
    body = page.locator('#docform [data-field="body"]').first
    body.locator(".item").first.wait_for()
    before = body.locator(":scope > ol > li.item, :scope > ul > li.item").count()
    order = body.locator(".item").first.evaluate(
        "li => [...li.querySelectorAll('input, textarea, select, button')]"
        ".filter(e => !e.disabled && e.offsetParent !== null).map(e => e.tagName)"
    )
    assert order[0] != "BUTTON" and order[-1] == "BUTTON", order
    body.locator(".item").first.get_by_role("button", name="删除").click()
    removed = body.locator(".item-removed")
    assert removed.is_visible() and "已删除" in removed.inner_text()
    shot(page, "lists-form-undo-820", full_page=False)
    removed.get_by_role("button", name="撤销").click()
    assert body.locator(".item-removed").count() == 0
    assert body.locator(":scope > ol > li.item, :scope > ul > li.item").count() == before
    page.context.close()


def test_a_search_with_a_backwards_date_range_clears_the_old_results(
    site: Site, browser: Any
) -> None:
    page = open_page(browser, site, TABLET)
    login(page, site, "w-clerk")
    page.goto(site.url + "/search?q=询问笔录")
    status = page.locator("#search-status")
    status.filter(has_text="共").wait_for()
    assert page.locator("#hits > li").count() >= 3  # the transcripts, and whatever quotes them
    page.locator('#search-form [name="date_from"]').fill("2026-03-02")
    page.locator('#search-form [name="date_to"]').fill("2026-03-01")
    page.locator("#search-form").evaluate("f => f.requestSubmit()")
    page.locator("#search-status.flash-error").wait_for()
    text = status.inner_text()
    assert "日期" in text and "。：" not in text
    assert page.locator("#hits > li").count() == 0
    assert page.locator("#facets > *").count() == 0 and page.locator("#search-pager").is_hidden()
    shot(page, "lists-search-error-820")
    page.context.close()


def test_a_page_past_the_end_says_so_and_the_first_tab_skips_to_the_content(
    site: Site, browser: Any
) -> None:
    page = open_page(browser, site, DESKTOP)
    login(page, site, "w-clerk")
    page.goto(site.url + "/documents?per_page=20&page=99999")
    beyond = page.locator("#pager-beyond").inner_text()
    assert beyond.startswith("第 99999 页超出范围（共 ") and not listed(page)
    page.locator("#pager-beyond + a").click()
    assert listed(page)  # the last page that exists, with its documents
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert skip.evaluate("el => el === document.activeElement") and skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.context.close()
