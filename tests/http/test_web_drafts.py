"""拟稿 → 签发 → 编号发文 in a real browser: autosave to the server, reload and Back restore the
draft from the server, the approver's 待办 and 退回 with a comment, 签发, one number however
often 编号发文 is pressed, nothing of a document left in the browser's storage, and the
field-by-field comparison of two versions. Screenshots go to tests/output/screens/drafts-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from service.doctypes import DOCTYPES
from service.workflows.accounts import add_user
from tests.support.apps import make_app
from tests.support.web import (
    DESKTOP,
    PASSWORD,
    TABLET,
    Site,
    field,
    login,
    open_page,
    served,
    shot,
)

pytest.importorskip("playwright.sync_api")

TITLE = "关于开展医保基金使用专项检查的通知"
BODY = "为加强医疗保障基金监管，决定开展定点医药机构医保基金使用专项检查。"
ADDRESSEE = "各县（市、区）医疗保障局"
COMMENT = "请补充检查时间安排"
SAVED = re.compile(r"已保存（第 \d+ 版，\d\d:\d\d）")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, converter_dir: dict[str, Any]) -> Iterator[Site]:
    app = make_app(tmp_path_factory.mktemp("web-drafts"), converter_dir, APPROVAL="")
    ws = app.extensions["wenshu"]
    for name, role in (
        ("d-clerk", "clerk"),
        ("d-clerk2", "clerk"),
        ("d-inspector", "inspector"),
        ("d-approver", "approver"),
    ):
        add_user(ws, name=name, role=role, org_code="llyb", password=PASSWORD)
    with served(app) as site:
        yield site
    ws.close()


def saved(page: Any, at_least: int = 1) -> int:
    """Wait until the form says it is saved (at least version ``at_least``); the version."""
    status = page.locator("#save-status")
    for _ in range(100):
        m = re.search(r"已保存（第 (\d+) 版", status.inner_text())
        if m and int(m.group(1)) >= at_least:
            assert SAVED.search(status.inner_text())
            return int(m.group(1))
        page.wait_for_timeout(100)
    raise AssertionError(f"not saved: {status.inner_text()!r}")


def state(page: Any, text: str) -> None:
    page.locator("#draft-state").filter(has_text=text).wait_for()


def visible(page: Any, selector: str) -> bool:
    loc = page.locator(selector)
    return loc.count() > 0 and loc.first.is_visible()


def test_a_notice_from_draft_to_one_number(site: Site, browser: Any) -> None:
    clerk = open_page(browser, site)
    login(clerk, site, "d-clerk")
    clerk.goto(site.url + "/documents/new/notice")
    clerk.wait_for_selector('#docform [data-field="body"] li.item')
    assert clerk.locator("#docform").get_attribute("autocomplete") == "off"
    assert clerk.locator("#docform input:not([autocomplete=off])").count() == 0
    assert clerk.locator("#docform textarea:not([autocomplete=off])").count() == 0
    assert clerk.locator("#docform select:not([autocomplete=off])").count() == 0

    # the first change makes the draft on the server; the address becomes the draft's
    field(clerk, "title").locator("input").fill(TITLE)
    clerk.wait_for_url(re.compile(r"/drafts/[0-9a-f]+$"))
    draft_id = clerk.url.rsplit("/", 1)[1]
    saved(clerk)
    field(clerk, "body").locator("li.item textarea").first.fill(BODY)
    field(clerk, "addressees").locator("li.item input").first.fill(ADDRESSEE)
    clerk.locator("body").click()  # leaving the field saves at once
    version = saved(clerk, 2)
    assert clerk.locator("#draft-state").inner_text() == "草稿"
    shot(clerk, "drafts-01-autosaved")

    # reload: the same values, from the server
    clerk.reload()
    state(clerk, "草稿")
    # the form is drawn again from GET /api/v1/drafts/<id>
    for _ in range(50):
        if field(clerk, "title").locator("input").input_value() == TITLE:
            break
        clerk.wait_for_timeout(100)
    assert field(clerk, "title").locator("input").input_value() == TITLE
    assert field(clerk, "body").locator("li.item textarea").first.input_value() == BODY
    assert field(clerk, "addressees").locator("li.item input").first.input_value() == ADDRESSEE
    assert saved(clerk) == version

    clerk.get_by_role("button", name="提交签发").click()
    clerk.locator("dialog[open]").get_by_role("button", name="提交签发").click()
    state(clerk, "待签发")
    assert not visible(clerk, "#btn-submit") and not visible(clerk, "#btn-issue")
    assert field(clerk, "title").locator("input").is_disabled()

    # the approver finds it under 待办 and returns it with a comment
    approver = open_page(browser, site)
    login(approver, site, "d-approver")
    assert "待办" in approver.locator("nav.mainnav").inner_text()
    approver.locator("#summary-todo").filter(has_text="1").wait_for()
    shot(approver, "drafts-02-home-approver")
    approver.get_by_role("link", name="待办", exact=True).click()
    row = approver.locator(f'#rows-todo tr[data-id="{draft_id}"]')
    row.wait_for()
    assert "待签发" in row.inner_text() and "d-clerk" in row.inner_text()
    shot(approver, "drafts-03-todo-approver")
    row.get_by_role("link").click()
    approver.wait_for_url(re.compile(f"/drafts/{draft_id}$"))
    state(approver, "待签发")
    assert field(approver, "title").locator("input").is_disabled()
    assert not visible(approver, "#btn-issue") and not visible(approver, "#btn-save")
    # before deciding, the approver sees the final layout of what it is asked to sign
    approver.get_by_role("button", name="预览").click()
    approver.locator("#preview-frame").wait_for(state="visible", timeout=120_000)
    assert approver.locator("#preview-frame").get_attribute("src").startswith("blob:")
    approver.get_by_role("button", name="退回").click()
    dialog = approver.locator("#return-dialog")
    dialog.get_by_role("button", name="退回").click()  # no comment: refused in the dialog
    assert "请填写退回意见" in dialog.inner_text()
    dialog.locator("textarea").fill(COMMENT)
    shot(approver, "drafts-04-return-dialog", full_page=False)
    dialog.get_by_role("button", name="退回").click()
    state(approver, "已退回")
    assert not visible(approver, "#btn-return")

    # the clerk sees the comment beside the form, edits and submits again
    clerk.goto(site.url + "/drafts")
    row = clerk.locator(f'#rows-todo tr[data-id="{draft_id}"]')
    row.wait_for()
    assert COMMENT in row.inner_text()
    shot(clerk, "drafts-05-todo-clerk")
    row.get_by_role("link").click()
    state(clerk, "已退回")
    note = clerk.locator("#return-note")
    note.wait_for()
    assert COMMENT in note.inner_text() and "d-approver" in note.inner_text()
    body = field(clerk, "body")
    body.get_by_role("button", name="＋ 添加一段").click()
    body.locator("li.item").nth(1).locator("textarea").fill("检查时间为2026年3月1日至3月31日。")
    clerk.locator("body").click()
    saved(clerk, version + 1)
    shot(clerk, "drafts-06-returned-clerk")
    clerk.get_by_role("button", name="提交签发").click()
    clerk.locator("dialog[open]").get_by_role("button", name="提交签发").click()
    state(clerk, "待签发")

    # the approver approves
    approver.reload()
    state(approver, "待签发")
    approver.get_by_role("button", name="签发", exact=True).click()
    approver.locator("#approve-dialog textarea").fill("同意。")
    approver.locator("#approve-dialog").get_by_role("button", name="签发").click()
    state(approver, "已签发")
    assert not visible(approver, "#btn-approve") and not visible(approver, "#btn-issue")
    approver.context.close()

    # the clerk issues: one number; a second tab still showing 编号发文 is opened first
    clerk.reload()
    state(clerk, "已签发")
    stale = clerk.context.new_page()
    stale.goto(clerk.url)
    state(stale, "已签发")
    assert visible(stale, "#btn-issue")
    clerk.get_by_role("button", name="编号发文").click()
    clerk.locator("#confirm-issue").get_by_role("button", name="确认编号发文").click()
    banner = clerk.locator("#draft-issued")
    banner.wait_for(timeout=60_000)
    wenhao = f"吕医保发〔{date.today().year}〕1号"
    assert f"已签发为 {wenhao}" in banner.inner_text()
    assert not visible(clerk, "#btn-issue")
    history = clerk.locator("#history").inner_text()
    assert "退回修改" in history and COMMENT in history and "编号发文" in history
    shot(clerk, "drafts-07-issued")

    # the stale tab presses 编号发文: the same document comes back, no second number
    stale.get_by_role("button", name="编号发文").click()
    stale.locator("#confirm-issue").get_by_role("button", name="确认编号发文").click()
    stale.locator("#draft-issued").wait_for(timeout=60_000)
    assert wenhao in stale.locator("#draft-issued").inner_text()
    assert not visible(stale, "#btn-issue")
    stale.close()

    # to the document and Back: the draft page shows it issued, with no issue control
    clerk.locator("#issued-link").click()
    clerk.wait_for_url(re.compile(r"/documents/[0-9a-f]+"))
    assert clerk.locator("#doc-wenhao").inner_text() == wenhao
    assert clerk.locator("#doc-approver").inner_text().startswith("d-approver，")  # who 签发ed
    doc_id = clerk.url.split("/documents/")[1].split("?")[0]
    assert "issued=1" not in clerk.url  # the banner is shown once, not on every reload
    clerk.reload()
    assert clerk.locator(".issued-banner").count() == 0
    clerk.go_back()
    clerk.wait_for_url(re.compile(f"/drafts/{draft_id}$"))
    state(clerk, "已编号发文")
    clerk.locator("#draft-issued").wait_for()
    assert not visible(clerk, "#btn-issue") and not visible(clerk, "#btn-submit")

    # re-posting the issue (another key) answers with the same document
    token = clerk.locator('meta[name="csrf-token"]').get_attribute("content")
    again = clerk.request.post(
        f"{site.url}/api/v1/drafts/{draft_id}/issue",
        data="{}",
        headers={
            "Content-Type": "application/json",
            "X-CSRF-Token": token,
            "Idempotency-Key": "a-second-press",
        },
    )
    assert again.status in (200, 201), again.text()
    assert again.json()["id"] == doc_id
    docs = clerk.request.get(f"{site.url}/api/v1/documents?type=notice").json()
    assert docs["total"] == 1
    assert [d["wenhao"] for d in docs["items"]] == [wenhao]
    clerk.context.close()


def test_two_versions_compared_field_by_field(site: Site, browser: Any) -> None:
    page = open_page(browser, site)
    login(page, site, "d-clerk2")
    page.goto(site.url + "/documents/new/notice")
    field(page, "title").locator("input").fill("关于报送第一季度基金监管情况的通知")
    page.locator("body").click()
    saved(page, 1)
    field(page, "title").locator("input").fill("关于报送第二季度基金监管情况的通知")
    field(page, "addressees").locator("li.item input").first.fill(ADDRESSEE)
    page.locator("body").click()
    last = saved(page, 2)
    page.locator("#compare-card").wait_for()
    page.locator("#cmp-a").select_option("1")
    page.locator("#cmp-b").select_option(str(last))
    page.get_by_role("button", name="比较").click()
    result = page.locator("#cmp-result table")
    result.wait_for()
    row = result.locator("tr", has_text="标题")
    assert "第一季度" in row.locator("del").inner_text()
    assert "第二季度" in row.locator("ins").inner_text()
    assert ADDRESSEE in result.inner_text()
    page.locator("#compare-card").scroll_into_view_if_needed()
    shot(page, "drafts-08-compare")
    page.context.close()


def test_nothing_of_a_draft_stays_in_the_browser_after_logout(site: Site, browser: Any) -> None:
    page = open_page(browser, site)
    login(page, site, "d-inspector")
    # what an older version of the page left behind
    page.evaluate(
        "localStorage.setItem('wenshu-draft:d-inspector:interview_transcript',"
        " JSON.stringify({data: {location: '旧草稿'}}))"
    )
    page.goto(site.url + "/documents/new/interview_transcript")
    person = field(page, "interviewee")
    person.locator('[data-field="id_number"] input').fill("141102197803150320")
    person.locator('[data-field="name"] input').fill("赵志明")
    page.locator("body").click()
    saved(page)
    stored = page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert "141102197803150320" not in stored and "赵志明" not in stored
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(re.compile("/login"))
    stored = page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert stored == "[[],[]]", stored
    page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["1280", "820"])
def test_every_type_starts_a_draft(site: Site, browser: Any, viewport: dict[str, int]) -> None:
    page = open_page(browser, site, viewport)
    for user in ("d-clerk2", "d-inspector"):
        login(page, site, user)
        page.goto(site.url + "/documents/new")
        codes = [a.get_attribute("href").rsplit("/", 1)[1] for a in page.locator("a.tile").all()]
        assert codes
        for code in codes:
            page.goto(site.url + f"/documents/new/{code}")
            page.get_by_role("button", name="填入示例").click()
            page.wait_for_url(re.compile(r"/drafts/[0-9a-f]+$"))
            saved(page)
            needs = DOCTYPES[code].needs_approval
            assert visible(page, "#btn-submit") == needs
            assert visible(page, "#btn-issue") == (not needs)
            if viewport is TABLET:
                shot(page, f"drafts-09-{code}-820", full_page=False)
        page.goto(site.url + "/drafts#mine")
        page.locator("#rows-mine tr[data-id]").first.wait_for()
        shot(page, f"drafts-10-mine-{user}-{viewport['width']}")
        page.get_by_role("button", name="退出").click()
    page.context.close()
    assert [e for e in site.console_errors if "Content Security Policy" in e] == []
