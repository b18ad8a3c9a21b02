"""The web pages in a real browser: headless Chromium (Debian's) driven by Playwright against
the app served on a free port, with the real LibreOffice pool for preview and issue.

Every page visited is saved as a screenshot under tests/output/screens/ (look at them), and
every request any page makes is checked to stay on the service's own origin.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from service.doctypes import DOCTYPES
from service.http.web.formspec import missing_labels
from service.workflows.accounts import add_org, add_user
from tests.support.apps import WenshuCli, make_app
from tests.support.web import (
    PASSWORD,
    TABLET,
    Site,
    csrf_field,
    field,
    login,
    open_page,
    pdf_drawn,
    served,
    shot,
)

pytest.importorskip("playwright.sync_api")


# -- without a browser (first: Playwright's sync API keeps an event loop running in this thread,
# and pyHanko signs with asyncio.run, so an in-process issue cannot run while the browser is open)


def test_user_add_takes_a_password_and_user_password_resets_it(app: Any, ws: Any) -> None:
    from service.workflows.accounts.logins import authenticate

    cli = WenshuCli(ws)
    out = cli.invoke(
        args=["user-add", "cli-clerk", "--role", "clerk", "--org", "llyb", "--password", PASSWORD]
    )
    assert out.exit_code == 0 and len(out.output.strip().splitlines()[-1]) > 30
    assert authenticate(ws, "cli-clerk", PASSWORD, remote_addr=None).principal is not None
    out = cli.invoke(
        args=["user-password", "cli-clerk", "--password", "-"], input="Xin-mima-2021\n"
    )
    assert out.exit_code == 0
    assert authenticate(ws, "cli-clerk", PASSWORD, remote_addr=None).principal is None
    assert authenticate(ws, "cli-clerk", "Xin-mima-2021", remote_addr=None).principal is not None
    weak = cli.invoke(args=["user-password", "cli-clerk", "--password", "123"])
    assert weak.exit_code == 2 and "密码至少 12 位" in weak.output


def csrf_login(client: Any, name: str) -> str:
    """Log ``client`` in through the form; returns the session's CSRF token."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    resp = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_a_clerk_withdraws_a_notice_from_its_page(app: Any, ws: Any, users: Any) -> None:
    from service.workflows.accounts import set_password
    from tests.support import sample

    doc = users["clerk"].post(
        "/api/v1/documents", {"type": "notice", "org": "llyb", "data": sample("notice")}
    )
    assert doc.status_code == 201, doc.get_json()
    doc_id = doc.get_json()["id"]
    for name in ("u-clerk", "u-inspector"):
        set_password(ws, name=name, password=PASSWORD)
    inspector = app.test_client()
    token = csrf_login(inspector, "u-inspector")
    form = {"reason": "文号引用错误", "csrf_token": token}
    assert inspector.post(f"/documents/{doc_id}/withdraw", data=form).status_code == 403
    clerk = app.test_client()
    token = csrf_login(clerk, "u-clerk")
    assert (
        clerk.post(f"/documents/{doc_id}/withdraw", data={"reason": "文号引用错误"}).status_code
        == 400
    )
    resp = clerk.post(
        f"/documents/{doc_id}/withdraw", data={**form, "csrf_token": token}, follow_redirects=True
    )
    page = resp.get_data(as_text=True)
    assert "已作废" in page and "文号引用错误" in page
    assert users["clerk"].get(f"/api/v1/documents/{doc_id}").get_json()["status"] == "withdrawn"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:x"]
)
def test_login_never_sends_the_browser_to_another_site(app: Any, ws: Any, target: str) -> None:
    add_user(ws, name="next-clerk", role="clerk", org_code="llyb", password=PASSWORD)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"name": "next-clerk", "password": PASSWORD, "csrf_token": token, "next": target}
    assert client.post("/login", data=form).headers["Location"] == "/"


@pytest.mark.parametrize("code", sorted(DOCTYPES))
def test_every_form_field_has_a_chinese_label(code: str) -> None:
    assert missing_labels(DOCTYPES[code].schema) == []


def test_the_api_takes_the_session_but_unsafe_calls_need_the_csrf_token(app: Any, ws: Any) -> None:
    add_user(ws, name="api-clerk", role="clerk", org_code="llyb", password=PASSWORD)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert (
        client.post("/login", data={"name": "api-clerk", "password": PASSWORD}).status_code == 400
    )
    resp = client.post(
        "/login", data={"name": "api-clerk", "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 302
    assert client.get("/api/v1/doctypes").status_code == 200
    body = {"type": "notice", "org": "llyb", "data": {}}
    assert client.post("/api/v1/documents/preview", json=body).status_code == 403
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    resp = client.post("/api/v1/documents/preview", json=body, headers={"X-CSRF-Token": token})
    assert resp.status_code == 422 and "data.title" in resp.get_json()["errors"]
    anonymous = app.test_client()
    assert anonymous.get("/api/v1/doctypes").status_code == 401


# -- the service and the browser ---------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, converter_dir: dict[str, Any]) -> Iterator[Site]:
    app = make_app(tmp_path_factory.mktemp("web"), converter_dir, APPROVAL="")  # types' own rule
    ws = app.extensions["wenshu"]
    add_org(ws, code="tyyb", name="太原市医疗保障局", zihao="并医保发", region="太原市")
    for role in ("clerk", "inspector", "approver", "auditor", "sysadmin", "auditadmin"):
        add_user(ws, name=f"web-{role}", role=role, org_code="llyb", password=PASSWORD)
    add_user(ws, name="web-target", role="clerk", org_code="llyb", password=PASSWORD)
    with served(app) as site:
        yield site
    ws.close()


# -- one clerk, one inspector: the documents the later tests look at ----------------------


@pytest.fixture(scope="module")
def notice(site: Site, browser: Any) -> dict[str, Any]:
    """A clerk fills, previews and issues a notice in the browser, then downloads its PDF."""
    page = open_page(browser, site)
    page.goto(site.url + "/documents/new")
    page.wait_for_url(re.compile(r"/login\?next="))
    shot(page, "01-login")
    page.get_by_label("用户名").fill("web-clerk")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(site.url + "/documents/new")
    shot(page, "03-new-choose-clerk")
    page.get_by_role("link", name=re.compile("^通知")).click()
    page.wait_for_selector('#docform [data-field="body"] li.item')

    field(page, "title").locator("input").fill("关于开展定点医药机构医保基金使用专项检查的通知")
    body = field(page, "body")
    body.locator("li.item textarea").first.fill(
        "为加强医疗保障基金监管，决定在全市开展定点医药机构医保基金使用专项检查。"
    )
    body.get_by_role("button", name="＋ 添加一段").click()
    second = body.locator("li.item").nth(1)
    second.locator("select.block-kind").select_option("1")
    second.locator(".field-heading input").fill("检查范围")
    body.get_by_role("button", name="＋ 添加一段").click()
    body.locator("li.item").nth(2).locator("textarea").fill(
        "全市各级定点医疗机构和定点零售药店，重点检查挂床住院、串换药品等问题。"
    )
    # no 主送机关 yet: the API's field error appears next to the list, in Chinese
    page.get_by_role("button", name="预览").click()
    error = field(page, "addressees").locator(":scope > .error-text")
    error.wait_for()
    assert "至少填写一个主送机关" in error.inner_text()
    shot(page, "04-notice-inline-errors")

    field(page, "addressees").locator("li.item input").first.fill("各县（市、区）医疗保障局")
    page.get_by_role("button", name="预览").click()
    page.locator("#busy").wait_for(state="hidden")
    page.locator("#preview-frame").wait_for(state="visible")
    assert page.locator("#form-errors").is_hidden()
    assert page.locator("#preview-frame").get_attribute("src").startswith("blob:")
    pdf_drawn(page)
    shot(page, "05-notice-preview")

    # a notice needs 签发: submitted, approved by the org's approver, then numbered
    page.get_by_role("button", name="提交签发").click()
    page.locator("dialog[open]").get_by_role("button", name="提交签发").click()
    page.locator("#draft-state").filter(has_text="待签发").wait_for()
    approver = open_page(browser, site)
    login(approver, site, "web-approver")
    approver.goto(page.url)
    approver.get_by_role("button", name="签发", exact=True).click()
    approver.locator("#approve-dialog").get_by_role("button", name="签发").click()
    approver.locator("#draft-state").filter(has_text="已签发").wait_for()
    approver.context.close()

    page.reload()
    page.get_by_role("button", name="编号发文").click()
    dialog = page.locator("#confirm-issue")
    dialog.wait_for(state="visible")
    assert "专项检查的通知" in dialog.inner_text()
    shot(page, "06-notice-confirm", full_page=False)
    dialog.get_by_role("button", name="确认编号发文").click()
    page.locator("#draft-issued").wait_for(timeout=60_000)
    page.locator("#issued-link").click()
    page.wait_for_url(re.compile(r"/documents/[0-9a-f]+"), timeout=60_000)
    wenhao = page.locator("#doc-wenhao").inner_text()
    page.locator("#verify-status.ok").wait_for()
    pdf_drawn(page)
    shot(page, "07-notice-issued")

    with page.expect_download() as info:
        page.locator("#download-pdf").click()
    pdf = Path(info.value.path()).read_bytes()
    result = {
        "id": page.url.split("/documents/")[1].split("?")[0],
        "wenhao": wenhao,
        "banner": page.locator(".issued-banner").inner_text(),
        "verify": page.locator("#verify-status").inner_text(),
        "facts": page.locator("#verify-facts").inner_text(),
        "sha": page.locator("#doc-sha").inner_text().strip(),
        "pdf": pdf,
        "download_name": info.value.suggested_filename,
    }
    page.context.close()
    return result


@pytest.fixture(scope="module")
def transcript(site: Site, browser: Any) -> dict[str, Any]:
    """An inspector opens a case, fills an interview transcript with three Q&A and issues it."""
    page = open_page(browser, site)
    login(page, site, "web-inspector")
    shot(page, "08-home-inspector")
    page.get_by_role("link", name="案件", exact=True).click()
    page.get_by_label("案件编号").fill("LL-2021-017")
    page.get_by_label("案件名称").fill("离石区康宁医院专项检查")
    page.get_by_role("button", name="新建案件").click()
    page.wait_for_url(re.compile("/cases/LL-2021-017"))

    page.goto(site.url + "/documents/new/interview_transcript?case_no=LL-2021-017")
    page.wait_for_selector('#docform [data-field="qa"] li.item')
    field(page, "location").locator("input").fill("吕梁市离石区康宁医院行政楼二楼会议室")
    field(page, "started_at").locator("input").fill("2021-05-11T14:30")
    field(page, "ended_at").locator("input").fill("2021-05-11T15:45")
    field(page, "matter").locator("input").fill("吕梁市离石区康宁医院涉嫌挂床住院、串换药品")
    person = field(page, "interviewee")
    person.locator('[data-field="name"] input').fill("赵志明")
    person.locator('[data-field="gender"] select').select_option("男")
    person.locator('[data-field="id_number"] input').fill("141102197803150320")
    names = field(page, "interviewers").locator("li.item input")
    names.nth(0).fill("张建国")
    names.nth(1).fill("李晓燕")
    field(page, "recorder").locator("input").fill("刘芳")
    qa = field(page, "qa")
    pairs = [
        ("以上告知的权利和义务你是否听清楚了？", "听清楚了。"),
        (
            "请介绍一下你的基本情况和工作职责。",
            "我叫赵志明，身份证号141102197803150320，任医保办主任。",
        ),
        ("不在床的15名患者为何没有请假记录？", "科室没有严格执行请假制度，这是管理上的问题。"),
    ]
    for i, (q, a) in enumerate(pairs):
        if i:
            qa.get_by_role("button", name="＋ 添加一组问答").click()
        item = qa.locator("li.item").nth(i)
        item.locator('[data-field="q"] textarea').fill(q)
        item.locator('[data-field="a"] textarea').fill(a)
    assert page.locator("#f-case").input_value() == "LL-2021-017"
    shot(page, "09-transcript-form")

    page.get_by_role("button", name="签发", exact=True).click()
    page.locator("#confirm-issue").get_by_role("button", name="确认签发").click()
    page.locator("#draft-issued").wait_for(timeout=60_000)  # records issue without 签发
    page.locator("#issued-link").click()
    page.wait_for_url(re.compile(r"/documents/[0-9a-f]+"), timeout=60_000)
    page.locator("#verify-status.ok").wait_for()
    shot(page, "10-transcript-issued")
    doc_id = page.url.split("/documents/")[1].split("?")[0]

    page.goto(site.url + "/cases/LL-2021-017")
    lacking = page.locator(".verify-status.bad").inner_text()
    shot(page, "11-case")
    page.context.close()
    return {"id": doc_id, "lacking": lacking}


# -- what the users see --------------------------------------------------------------------


def test_clerk_issues_a_notice_and_downloads_its_pdf(notice: dict[str, Any]) -> None:
    year = date.today().year
    assert notice["wenhao"] == f"吕医保发〔{year}〕1号"
    assert notice["wenhao"] in notice["banner"]
    assert "验证通过" in notice["verify"]
    # "trusted" is this system's word, and the page says what an outside verifier will say
    assert "本系统登记的本机构证书" in notice["facts"] and "签发者未知" in notice["facts"]
    assert notice["pdf"].startswith(b"%PDF")
    assert hashlib.sha256(notice["pdf"]).hexdigest() == notice["sha"]
    assert notice["download_name"] == f"{notice['wenhao']}.pdf"


def test_inspector_issues_a_transcript_then_finds_and_opens_the_notice(
    site: Site, browser: Any, notice: dict[str, Any], transcript: dict[str, Any]
) -> None:
    lacking = transcript["lacking"].removeprefix("尚缺：").split("、")
    assert "检查记录单" in lacking and "询问笔录" not in lacking
    assert any(item.startswith("询问笔录签字原件") for item in lacking)
    page = open_page(browser, site)
    login(page, site, "web-inspector")
    page.get_by_role("link", name="检索").click()
    page.get_by_label("关键词").fill("专项检查")
    page.get_by_role("button", name="检索", exact=True).click()
    page.locator("#search-status").filter(has_text="“专项检查”").wait_for()
    hit = page.locator("li.hit").filter(has_text=notice["wenhao"])
    hit.wait_for()
    assert hit.locator("mark").count() >= 1
    shot(page, "12-search-results")

    # the transcript's ID number is masked in its snippet
    page.get_by_label("关键词").fill("赵志明")
    page.get_by_role("button", name="检索", exact=True).click()
    page.locator("#search-status").filter(has_text="“赵志明”").wait_for()
    assert "141102197803150320" not in page.locator("#hits").inner_text()
    shot(page, "13-search-masked")

    page.get_by_label("关键词").fill("专项检查")
    page.get_by_label("类型").select_option("notice")
    page.get_by_role("button", name="检索", exact=True).click()
    page.locator("#search-status").filter(has_text="“专项检查”").wait_for()
    page.locator("li.hit").filter(has_text=notice["wenhao"]).locator("a.hit-title").click()
    page.wait_for_url(re.compile(f"/documents/{notice['id']}$"))
    assert page.locator("#doc-wenhao").inner_text() == notice["wenhao"]
    page.locator("#verify-status.ok").wait_for()
    shot(page, "14-notice-opened-by-inspector")
    page.context.close()


def test_inspector_is_refused_the_notice_form_and_the_audit_pages(site: Site, browser: Any) -> None:
    page = open_page(browser, site)
    login(page, site, "web-inspector")
    nav = page.locator("nav.mainnav").inner_text()
    assert "审计" not in nav and "管理" not in nav and "新建文书" in nav
    page.goto(site.url + "/documents/new")
    assert page.get_by_role("link", name=re.compile("^通知")).count() == 0
    for path, name in (("/documents/new/notice", "15-403-notice-form"), ("/audit", "16-403-audit")):
        response = page.goto(site.url + path)
        assert response.status == 403
        assert "无权访问" in page.locator("h1").inner_text()
        shot(page, name)
    assert page.goto(site.url + "/api/v1/audit/events").status == 403
    assert page.goto(site.url + "/no-such-page").status == 404
    shot(page, "17-404")
    page.goto(site.url + "/account")
    shot(page, "18-account")
    page.context.close()


def test_auditor_sees_both_issue_events_and_a_verified_chain(
    site: Site, browser: Any, notice: dict[str, Any], transcript: dict[str, Any]
) -> None:
    page = open_page(browser, site)
    login(page, site, "web-auditor")
    assert "新建文书" not in page.locator("nav.mainnav").inner_text()
    page.get_by_role("link", name="审计").click()
    page.locator("#chain-status.ok").wait_for()
    assert "审计链完整" in page.locator("#chain-status").inner_text()
    assert re.search(r"[0-9a-f]{64}", page.locator("#chain-facts").inner_text())
    page.locator("#gaps-result .verify-status.ok").wait_for()

    page.locator("#events-form select[name=action]").select_option("document.issue")
    page.locator("#events-form").get_by_role("button", name="筛选").click()
    page.locator("#events-status").filter(has_text="共 2 条").wait_for()
    rows = page.locator("#events-body").inner_text()
    assert notice["id"] in rows and transcript["id"] in rows

    page.get_by_role("button", name="立即检查").click()
    page.locator("#fixity-result .verify-status.ok").wait_for(timeout=60_000)
    shot(page, "19-audit")

    page.get_by_role("link", name="案件", exact=True).click()
    shot(page, "20-cases")
    page.get_by_role("link", name="文书", exact=True).click()
    assert page.locator("table.table tbody tr").count() == 2
    shot(page, "21-documents")
    page.context.close()


def test_wrong_passwords_from_elsewhere_lock_nobody_out(site: Site, browser: Any) -> None:
    """Fifty wrong passwords for web-target from 127.0.0.2 slow down only that source: the
    person logs in from this browser (127.0.0.1) at once."""
    attacker = site.app.test_client()
    attacker.environ_base = {"REMOTE_ADDR": "127.0.0.2"}
    for i in range(50):
        token = csrf_field(attacker.get("/login").get_data(as_text=True))
        form = {"name": "web-target", "password": f"guess-{i}", "csrf_token": token}
        assert attacker.post("/login", data=form).status_code in (401, 429)
    page = open_page(browser, site)
    page.goto(site.url + "/login")
    page.get_by_label("用户名").fill("web-target")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    assert "用户名或密码错误" in page.locator(".flash-error").inner_text()
    shot(page, "02-login-failed")
    login(page, site, "web-target")
    failed = [e for e in site.events("auth.login_failed") if e.object_id == "web-target"]
    assert len(failed) == 51
    assert any(e.actor == "web-target" for e in site.events("auth.login"))
    page.context.close()


def test_logout_ends_the_session_even_for_a_copied_cookie(site: Site, browser: Any) -> None:
    page = open_page(browser, site)
    login(page, site, "web-clerk")
    cookies = page.context.cookies()
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(re.compile("/login"))
    assert "已退出" in page.locator(".flash-ok").inner_text()
    replay = open_page(browser, site)
    replay.context.add_cookies(cookies)
    replay.goto(site.url + "/documents")
    assert "/login" in replay.url
    page.context.close()
    replay.context.close()


def test_the_sysadmin_manages_users_and_orgs_and_the_auditadmin_sees_it(
    site: Site, browser: Any
) -> None:
    page = open_page(browser, site)
    login(page, site, "web-sysadmin", lands="/admin/users")
    form = page.locator("form[action='/admin/users']")
    form.get_by_label(re.compile("^用户名")).fill("web-new-inspector")
    form.get_by_label("姓名").fill("孙丽")
    form.get_by_label("角色").select_option("inspector")
    form.get_by_role("button", name="新建").click()
    temporary = page.locator("#temporary-password").inner_text().strip()
    assert len(temporary) >= 12
    shot(page, "22-admin-users")
    page.get_by_role("link", name="机构设置").click()
    page.get_by_role("link", name=re.compile("太原市医疗保障局")).click()
    page.get_by_label("印章文字").fill("太原市医疗保障局（测试）")
    page.get_by_role("button", name="保存").click()
    assert "已保存" in page.locator(".flash-ok").inner_text()
    for _ in range(50):  # the seal is drawn on request (wait_for_function would need eval)
        if page.locator(".seal-preview img").evaluate("img => img.naturalWidth") > 0:
            break
        page.wait_for_timeout(100)
    shot(page, "23-admin-org")
    assert site.events("org.update")
    page.context.close()

    newcomer = open_page(browser, site)  # the temporary password only sets one's own
    login(newcomer, site, "web-new-inspector", temporary, lands="/account")
    newcomer.locator("input[name=old]").fill(temporary)
    newcomer.locator("input[name=new]").fill("Sunli-Jiancha-7")
    newcomer.locator("input[name=confirm]").fill("Sunli-Jiancha-7")
    newcomer.get_by_role("button", name="保存新密码").click()
    newcomer.wait_for_url(site.url + "/")
    newcomer.context.close()

    auditadmin = open_page(browser, site)
    login(auditadmin, site, "web-auditadmin", lands="/admin/trail")
    rows = auditadmin.locator("table.trail tbody").inner_text()
    assert "web-sysadmin" in rows and "新建用户" in rows and "web-new-inspector" in rows
    assert "修改机构设置" in rows and "设置密码" in rows
    assert auditadmin.get_by_role("link", name="文书", exact=True).count() == 0
    shot(auditadmin, "27-admin-trail")
    auditadmin.context.close()


def test_tablet_layout_of_the_form_and_the_search(site: Site, browser: Any) -> None:
    page = open_page(browser, site, TABLET)
    login(page, site, "web-inspector")
    page.goto(site.url + "/documents/new/inspection_report")
    page.get_by_role("button", name="填入示例").click()
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "24-tablet-report-form", full_page=False)
    page.locator('#docform [data-field="violations"]').scroll_into_view_if_needed()
    shot(page, "25-tablet-report-violations", full_page=False)
    page.goto(site.url + "/search?q=%E6%A3%80%E6%9F%A5")
    page.locator("li.hit").first.wait_for()
    shot(page, "26-tablet-search", full_page=False)
    page.context.close()


def test_no_page_requested_another_origin(site: Site) -> None:
    """Runs last in this module: every request of every page above stayed on the service."""
    if not site.requests:
        pytest.skip("no browser test ran before this one")
    # blob: (the preview), data:, and chrome:// / chrome-extension:// (the browser's own PDF
    # viewer drawing from inside the browser) never leave the machine; network requests must
    # all go to the service.
    network = {u for u in site.requests if u.split(":", 1)[0] in ("http", "https", "ws", "wss")}
    assert sorted(u for u in network if not u.startswith(site.url + "/")) == []
    assert [e for e in site.console_errors if "Content Security Policy" in e] == []
