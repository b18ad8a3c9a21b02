"""Web helpers: the demo password, the CSRF token of a page, a PKCS#12 upload, the app served
to a real browser and what the browser tests share (login, screenshots, the form's fields)."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from werkzeug.serving import make_server

from archive.models import AuditEvent
from service.workflows.accounts import add_user
from tests.support import ROOT

PASSWORD = "Juzhen-2026!"


def csrf_field(html: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def pkcs12_upload(app: Any, ws: Any, data: bytes) -> tuple[int, str]:
    """The security administrator's certificate upload (the one file upload that takes
    PKCS#12), to the demo org (a test org)."""

    add_user(ws, name="h-secadmin", role="secadmin", org_code="llyb", password=PASSWORD)
    c = app.test_client()
    token = csrf_field(c.get("/login").get_data(as_text=True))
    c.post("/login", data={"name": "h-secadmin", "password": PASSWORD, "csrf_token": token})
    token = csrf_field(c.get("/admin/orgs").get_data(as_text=True))
    r = c.post(
        "/admin/orgs/llyb/certificate",
        data={"csrf_token": token, "password": "x", "p12": (io.BytesIO(data), "bureau.p12")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    return r.status_code, r.get_data(as_text=True)


# -- the pages in a real browser (Debian's Chromium driven by Playwright) -----------------

CHROMIUM = Path("/usr/bin/chromium")
SCREENS = ROOT / "tests" / "output" / "screens"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}


class Site:
    """The app served on a free port, and what its pages asked for."""

    def __init__(self, app: Any, url: str) -> None:
        self.app, self.url, self.ws = app, url, app.extensions["wenshu"]
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.issued: dict[str, dict[str, str]] = {}

    def events(self, action: str) -> list[AuditEvent]:
        with self.ws.db.read() as s:
            return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@contextmanager
def served(app: Any) -> Iterator[Site]:
    """``app`` served by werkzeug (threaded) on a free port of 127.0.0.1 while the block runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(5)


def open_page(browser: Any, site: Site, viewport: dict[str, int] = DESKTOP) -> Any:
    """A page in a fresh browser context (no cookies, no storage), recording its requests."""
    context = browser.new_context(
        viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", accept_downloads=True
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    watch(page, site)
    return page


def watch(page: Any, site: Site) -> None:
    page.on("request", lambda r: site.requests.append(r.url))
    page.on("console", lambda m: site.console_errors.append(m.text) if m.type == "error" else None)


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save the page; a full page is taken from the top, where sticky panels belong."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    if full_page:
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=full_page)


def pdf_drawn(page: Any) -> None:
    """Give Chromium's PDF viewer time to draw the embedded PDF before a screenshot."""
    page.wait_for_timeout(3500)


def login(page: Any, site: Site, name: str, password: str = PASSWORD, lands: str = "/") -> None:
    page.goto(site.url + "/")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(site.url + lands)


def field(page: Any, name: str) -> Any:
    """A top-level field of the document form, by its schema name."""
    return page.locator(f'#docform [data-field="{name}"]').first
