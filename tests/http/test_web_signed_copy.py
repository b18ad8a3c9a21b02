"""The 签字原件 card of the document page in a real browser (Debian's Chromium via Playwright):
status, upload with its progress bar, a refused file, and the page following recognition.

Screenshots go to tests/output/screens/ like the other web tests'.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from service.workers.ocr import Recogniser
from service.workflows.accounts import add_user
from tests.support import ROOT, sample
from tests.support.apps import Client, make_app

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
SCREENS = ROOT / "tests" / "output" / "screens"
PASSWORD = "Lvliang-2021!"


class Site:
    def __init__(self, app: Any, url: str) -> None:
        self.app, self.url, self.ws = app, url, app.extensions["wenshu"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, converter_dir: dict[str, Any]) -> Iterator[Site]:
    app = make_app(tmp_path_factory.mktemp("web-signed"), converter_dir)
    ws = app.extensions["wenshu"]
    add_user(ws, name="web-inspector", role="inspector", org_code="llyb", password=PASSWORD)
    add_user(ws, name="web-auditor", role="auditor", org_code="llyb", password=PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(app, f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    thread.join(5)
    ws.close()


@pytest.fixture(scope="module")
def scanned(site: Site, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A transcript issued through the API (before any browser opens) and its page images."""
    token = add_user(site.ws, name="api-inspector", role="inspector", org_code="llyb")
    client = Client(site.app, token)
    body = {"type": "interview_transcript", "org": "llyb", "data": sample("interview_transcript")}
    doc = client.post("/api/v1/documents", body).get_json()
    tmp = tmp_path_factory.mktemp("scan")
    (tmp / "doc.pdf").write_bytes(client.get(f"/api/v1/documents/{doc['id']}/pdf").data)
    subprocess.run(
        ["pdftoppm", "-r", "100", "-png", str(tmp / "doc.pdf"), str(tmp / "page")],
        check=True,
        timeout=120,
    )
    (tmp / "bogus.png").write_text("<html>not an image</html>", encoding="utf-8")
    return {"doc": doc, "pages": sorted(tmp.glob("page-*.png")), "bogus": tmp / "bogus.png"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    SCREENS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield b
        b.close()


def open_page(browser: Any, site: Site, name: str) -> Any:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(site.url + "/")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(site.url + "/")
    page.console_errors = errors
    return page


def test_inspector_uploads_the_signed_scan_and_sees_it_recognised(
    site: Site, scanned: dict[str, Any], browser: Any
) -> None:
    doc_id = scanned["doc"]["id"]
    page = open_page(browser, site, "web-inspector")
    page.goto(f"{site.url}/documents?signed_copy=missing")
    owed = page.locator(f'a[href="/documents/{doc_id}"]')
    assert owed.count() >= 1
    assert page.locator(".badge-warn", has_text="待上传签字原件").count() == 1
    page.screenshot(path=str(SCREENS / "signed-copy-owed.png"), full_page=True)
    owed.first.click()
    page.wait_for_url(f"{site.url}/documents/{doc_id}")
    status = page.locator("#signed-copy-status")
    assert status.inner_text() == "待上传签字原件"

    page.locator("#signed-copy-file").set_input_files(str(scanned["bogus"]))
    page.locator("#signed-copy-submit").click()
    message = page.locator("#signed-copy-message.bad")
    message.wait_for()
    assert "不是 PDF、JPEG、PNG 或 TIFF" in message.inner_text()
    page.screenshot(path=str(SCREENS / "signed-copy-refused.png"), full_page=True)

    page.locator("#signed-copy-file").set_input_files([str(p) for p in scanned["pages"]])
    with page.expect_navigation():
        page.locator("#signed-copy-submit").click()
    assert page.locator("#signed-copy-status").inner_text() == "已归档签字原件"
    assert page.locator("#signed-copy-ocr").inner_text().startswith("正在识别")
    pages = len(scanned["pages"])
    assert page.locator("#signed-copy-pages").inner_text().startswith(f"扫描件 {pages} 页")
    assert page.locator("#signed-copy-mismatch").count() == 0
    assert page.locator(".badge-warn", has_text="待上传签字原件").count() == 0
    page.screenshot(path=str(SCREENS / "signed-copy-uploaded.png"), full_page=True)

    assert Recogniser(site.ws).drain(timeout=600) == 1  # `wenshu serve` runs this itself
    page.locator("#signed-copy-ocr", has_text="已识别").wait_for(timeout=60_000)  # page polls
    # nobody signed this paper: every page is reported without its 被询问人签名
    unsigned = "、".join(str(n) for n in range(1, pages + 1))
    assert page.locator("#scan-check-status").inner_text() == "有出入"
    assert page.locator("#scan-check-signatures").inner_text() == f"扫描件第 {unsigned} 页缺少签名"
    assert page.locator("#scan-check-pages tbody .badge-bad", has_text="缺").count() == pages
    assert page.locator("#scan-review-form").count() == 1  # an inspector may confirm
    page.screenshot(path=str(SCREENS / "signed-copy-recognised.png"), full_page=True)
    refused = "status of 422"  # the browser's own note on the refused file above
    assert [e for e in page.console_errors if refused not in e] == []
    page.context.close()


def test_auditor_sees_the_status_but_no_upload_control(
    site: Site, scanned: dict[str, Any], browser: Any
) -> None:
    page = open_page(browser, site, "web-auditor")
    page.goto(f"{site.url}/documents/{scanned['doc']['id']}")
    assert page.locator("#signed-copy").count() == 1
    assert page.locator("#signed-copy-form").count() == 0
    assert page.locator("#signed-copy-again").count() == 0
    page.context.close()


def test_auditor_confirms_a_missing_signature_with_its_reason(
    site: Site, scanned: dict[str, Any], browser: Any
) -> None:
    page = open_page(browser, site, "web-auditor")
    page.goto(f"{site.url}/documents/{scanned['doc']['id']}")
    page.locator("#scan-review-kind").select_option("signature")
    page.locator("#scan-review-page").select_option("1")
    page.locator("#scan-review-reason").fill("被询问人当场拒绝签名，承办人已注明")
    with page.expect_navigation():
        page.locator("#scan-review-submit").click()
    confirmed = page.locator("#signed-copy-comparison p", has_text="扫描件第 1 页确无签名")
    assert "被询问人当场拒绝签名" in confirmed.inner_text()
    page.screenshot(path=str(SCREENS / "signed-copy-confirmed.png"), full_page=True)
    assert page.console_errors == []
    page.context.close()


def test_inspector_recognises_the_scan_again_and_sees_its_progress(
    site: Site, scanned: dict[str, Any], browser: Any
) -> None:
    page = open_page(browser, site, "web-inspector")
    page.goto(f"{site.url}/documents/{scanned['doc']['id']}")
    with page.expect_navigation():
        page.locator("#signed-copy-again").click()
    pages = len(scanned["pages"])
    assert page.locator("#signed-copy-ocr-pages").inner_text() == f"已识别 0 / {pages} 页"
    assert page.locator("#signed-copy-again").count() == 0  # one run at a time
    assert page.console_errors == []
    page.context.close()
