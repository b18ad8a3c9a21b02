"""The three administrators on the web pages (三员分立): what each does, what none can, and
that each one's actions are in the trail the other two read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archive.models import User
from service.workflows.accounts import add_org, add_user
from tests.support.apps import make_app
from tests.support.web import PASSWORD, csrf_field

ADMINS = ("sysadmin", "secadmin", "auditadmin")


@pytest.fixture
def site(tmp_path: Path, converter_dir: dict[str, Any], database_url: str) -> Iterator[Any]:
    app = make_app(tmp_path, converter_dir, DATABASE_URL=database_url)
    ws = app.extensions["wenshu"]
    add_org(ws, code="tyyb", name="太原市医疗保障局", zihao="并医保发", region="太原市")
    for role in ADMINS:
        add_user(ws, name=f"a-{role}", role=role, org_code="llyb", password=PASSWORD)
    add_user(ws, name="a-clerk", role="clerk", org_code="llyb", password=PASSWORD)
    yield app
    ws.close()


def login(app: Any, name: str, password: str = PASSWORD) -> tuple[Any, str, Any]:
    """A client logged in through the form, its CSRF token and the login's answer."""
    c = app.test_client()
    token = csrf_field(c.get("/login").get_data(as_text=True))
    r = c.post("/login", data={"name": name, "password": password, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return c, csrf_field(c.get("/account").get_data(as_text=True)), r


def user_id(app: Any, name: str) -> int:
    with app.extensions["wenshu"].db.read() as s:
        return int(s.scalars(select(User.id).where(User.name == name)).one())


def trail(client: Any) -> str:
    r = client.get("/admin/trail")
    assert r.status_code == 200
    return str(r.get_data(as_text=True))


def test_the_auditadmin_sees_the_sysadmins_user_change(site: Any) -> None:
    sysadmin, token, _ = login(site, "a-sysadmin")
    victim = user_id(site, "a-clerk")
    r = sysadmin.post(f"/admin/users/{victim}", data={"action": "disable", "csrf_token": token})
    assert r.status_code == 302
    auditadmin, audit_token, _ = login(site, "a-auditadmin")
    page = trail(auditadmin)
    row = next(tr for tr in page.split("<tr>") if "user.update" in tr and "a-clerk" in tr)
    assert "a-sysadmin" in row and "active" in row and "True → False" in row
    # and the auditadmin changes nothing: not users, not orgs, not certificates
    refused = [
        ("/admin/users", {"name": "x-new", "role": "clerk", "org": "llyb"}),
        (f"/admin/users/{victim}", {"action": "enable"}),
        (f"/admin/users/{victim}", {"action": "password"}),
        ("/admin/orgs", {"code": "xx", "name": "某局", "zihao": "某发"}),
        ("/admin/orgs/llyb", {"name": "改名"}),
        ("/admin/orgs/llyb/certificate", {}),
    ]
    for url, form in refused:
        assert auditadmin.post(url, data={**form, "csrf_token": audit_token}).status_code == 403
    assert auditadmin.get("/admin/users").status_code == 403
    # the sysadmin and the secadmin see that the auditadmin read the trail
    for name in ("a-sysadmin", "a-secadmin"):
        reader, _, _ = login(site, name)
        page = trail(reader)
        assert re.search(r"a-auditadmin</td>\s*<td>查阅管理日志", page), name


def test_a_reset_gives_a_temporary_password_that_only_opens_the_change_page(site: Any) -> None:
    secadmin, token, _ = login(site, "a-secadmin")
    clerk = user_id(site, "a-clerk")
    page = secadmin.post(
        f"/admin/users/{clerk}", data={"action": "password", "csrf_token": token}
    ).get_data(as_text=True)
    temporary = re.search(r'id="temporary-password">([^<]+)<', page).group(1)  # type: ignore[union-attr]
    assert temporary not in secadmin.get("/admin/users").get_data(as_text=True)  # shown once
    c, csrf, r = login(site, "a-clerk", temporary)
    for url in ("/", "/documents", "/search"):
        assert c.get(url).headers["Location"] == "/account", url
    assert c.get("/api/v1/documents").status_code == 403
    new = "Lvliang-Xinmima-9"
    form = {"old": temporary, "new": new, "confirm": new, "csrf_token": csrf}
    assert c.post("/account", data=form).status_code == 302
    assert c.get("/documents").status_code == 200
    # the password the person set is theirs alone: the temporary one is gone
    r = site.test_client()
    token = csrf_field(r.get("/login").get_data(as_text=True))
    assert (
        r.post(
            "/login", data={"name": "a-clerk", "password": temporary, "csrf_token": token}
        ).status_code
        == 401
    )
    assert "user.password_reset" in trail(login(site, "a-auditadmin")[0])


def test_no_administrator_resets_or_promotes_an_administrator_on_the_web(site: Any) -> None:
    secadmin, token, _ = login(site, "a-secadmin")
    for other in ("a-sysadmin", "a-auditadmin", "a-secadmin"):
        uid = user_id(site, other)
        r = secadmin.post(f"/admin/users/{uid}", data={"action": "password", "csrf_token": token})
        assert r.status_code == 302
        assert "wenshu user-password" in secadmin.get("/admin/users").get_data(as_text=True)
    clerk = user_id(site, "a-clerk")
    r = secadmin.post(
        f"/admin/users/{clerk}", data={"action": "role", "role": "sysadmin", "csrf_token": token}
    )
    with site.extensions["wenshu"].db.read() as s:
        assert s.scalars(select(User.role).where(User.name == "a-clerk")).one() == "clerk"
    # the sysadmin makes accounts, not roles or passwords
    sysadmin, token, _ = login(site, "a-sysadmin")
    r = sysadmin.post(
        f"/admin/users/{clerk}", data={"action": "role", "role": "auditor", "csrf_token": token}
    )
    assert r.status_code == 403
    r = sysadmin.post(
        "/admin/users",
        data={"name": "x-boss", "role": "secadmin", "org": "llyb", "csrf_token": token},
    )
    assert "只能新建业务角色" in sysadmin.get("/admin/users").get_data(as_text=True)
    with site.extensions["wenshu"].db.read() as s:
        assert s.scalars(select(User).where(User.name == "x-boss")).first() is None


def test_no_administrator_reads_a_document(site: Any) -> None:
    for role in ADMINS:
        c, _, r = login(site, f"a-{role}")
        assert r.headers["Location"] == "/"
        landing = c.get("/").headers["Location"]
        assert landing == ("/admin/trail" if role == "auditadmin" else "/admin/users")
        for url in ("/documents", "/search", "/cases", "/audit", "/api/v1/documents"):
            assert c.get(url).status_code == 403, (role, url)
