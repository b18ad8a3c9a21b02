"""Logins against a real app on SQLite and PostgreSQL: throttling by source that nobody can turn
into someone else's lockout, the same answer for unknown and known names, temporary and
expired passwords, idle sessions, and the cookie behind TLS."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archive.models import AuditEvent, UserCredential
from service.workflows.accounts import add_user, set_active
from tests.support.apps import make_app
from tests.support.web import PASSWORD, csrf_field

ATTACKER, CLERK_PC = "127.0.0.2", "127.0.0.1"


@pytest.fixture
def site(tmp_path: Path, converter_dir: dict[str, Any], database_url: str) -> Iterator[Any]:
    app = make_app(tmp_path, converter_dir, DATABASE_URL=database_url)
    ws = app.extensions["wenshu"]
    add_user(ws, name="demo-clerk", role="clerk", org_code="llyb", password=PASSWORD)
    yield app
    ws.close()


def attempt(app: Any, name: str, password: str, source: str) -> Any:
    """One login through the form from ``source``, with a fresh client (no cookie of before)."""
    c = app.test_client()
    c.environ_base = {"REMOTE_ADDR": source}
    token = csrf_field(c.get("/login").get_data(as_text=True))
    r = c.post("/login", data={"name": name, "password": password, "csrf_token": token})
    r.client = c
    return r


def same_page(r: Any, name: str) -> str:
    """The page with the typed name and the session's CSRF token taken out."""
    page = r.get_data(as_text=True)
    return page.replace(csrf_field(page), "TOKEN").replace(name, "NAME")


def test_fifty_wrong_passwords_from_elsewhere_do_not_lock_the_clerk_out(site: Any) -> None:
    statuses = [
        attempt(site, "demo-clerk", f"guess-{i}-wrong", ATTACKER).status_code for i in range(50)
    ]
    assert statuses[:5] == [401] * 5  # the first few are answered
    # then this source waits, a little longer after each guess it gets verified
    assert statuses.count(429) >= 40 and set(statuses) == {401, 429}
    r = attempt(site, "demo-clerk", PASSWORD, ATTACKER)
    assert r.status_code == 429  # even the right password, from there
    start = time.monotonic()
    r = attempt(site, "demo-clerk", PASSWORD, CLERK_PC)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert time.monotonic() - start < 5
    assert r.client.get("/").status_code == 200
    ws = site.extensions["wenshu"]
    with ws.db.read() as s:
        failed = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login_failed")))
    assert len(failed) == 51 and all(e.actor == "anonymous" for e in failed)
    reasons = [json.loads(e.details)["reason"] for e in failed]
    assert reasons.count("bad_password") == statuses.count(401)
    assert reasons.count("throttled") == statuses.count(429) + 1
    assert {e.object_id for e in failed} == {"demo-clerk"}


def test_unknown_and_known_names_get_the_same_answer(site: Any) -> None:
    def answer(name: str, source: str) -> tuple[int, str, float]:
        start = time.perf_counter()
        r = attempt(site, name, "not-the-password", source)
        return r.status_code, same_page(r, name), time.perf_counter() - start

    known = [answer("demo-clerk", f"127.0.1.{i}") for i in range(6)]
    unknown = [answer("nobody-here", f"127.0.2.{i}") for i in range(6)]
    assert {k[0] for k in known} == {u[0] for u in unknown} == {401}
    assert {k[1] for k in known} == {u[1] for u in unknown}  # word for word
    assert "用户名或密码错误" in known[0][1]
    k, u = statistics.median(t for *_, t in known), statistics.median(t for *_, t in unknown)
    assert 1 / 3 < k / u < 3, (k, u)  # both verify an argon2 hash
    # throttled alike too: the sixth try of a pair waits, whether the name exists or not
    throttled = {}
    for name in ("demo-clerk", "nobody-here"):
        for _ in range(5):
            attempt(site, name, "wrong-again-x", "127.0.3.1")
        throttled[name] = attempt(site, name, "x", "127.0.3.1")
    a, b = throttled["demo-clerk"], throttled["nobody-here"]
    assert a.status_code == b.status_code == 429
    assert same_page(a, "demo-clerk") == same_page(b, "nobody-here")


def test_a_disabled_user_and_a_user_without_password_answer_like_a_wrong_password(
    site: Any,
) -> None:
    ws = site.extensions["wenshu"]
    add_user(ws, name="api-only", role="clerk", org_code="llyb")
    set_active(ws, name="demo-clerk", active=False, actor="cli")
    for name in ("api-only", "demo-clerk"):
        r = attempt(site, name, PASSWORD, "127.0.4.1")
        assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)


def test_an_idle_session_ends(site: Any) -> None:
    r = attempt(site, "demo-clerk", PASSWORD, CLERK_PC)
    c = r.client
    assert c.get("/documents").status_code == 200
    with c.session_transaction() as sess:  # as if the browser sat unused for 31 minutes
        sess["seen"] = sess["seen"] - 31 * 60
    r = c.get("/documents")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_a_session_used_within_the_idle_time_goes_on(site: Any) -> None:
    c = attempt(site, "demo-clerk", PASSWORD, CLERK_PC).client
    with c.session_transaction() as sess:
        sess["seen"] = sess["seen"] - 29 * 60
    assert c.get("/documents").status_code == 200
    with c.session_transaction() as sess:  # the request above counted as use
        assert time.time() - sess["seen"] < 60


def test_an_expired_password_must_be_changed_first(site: Any) -> None:
    ws = site.extensions["wenshu"]
    with ws.db.write() as s:
        cred = s.scalars(select(UserCredential)).one()
        cred.password_changed_at = ws.now().replace(year=ws.now().year - 1)
    c = attempt(site, "demo-clerk", PASSWORD, CLERK_PC).client
    r = c.get("/documents")
    assert r.status_code == 302 and r.headers["Location"] == "/account"
    assert c.get("/api/v1/documents").status_code == 403  # nor the API with this session
    page = c.get("/account").get_data(as_text=True)
    assert "请先设置新密码" in page
    form = {"old": PASSWORD, "csrf_token": csrf_field(page)}
    r = c.post("/account", data={**form, "new": PASSWORD, "confirm": PASSWORD})
    assert r.status_code == 422 and "最近 5 次" in r.get_data(as_text=True)
    r = c.post("/account", data={**form, "new": "Lvliang-2027!", "confirm": "Lvliang-2027!"})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert c.get("/documents").status_code == 200


def test_the_cookie_is_secure_behind_a_tls_proxy(
    tmp_path: Path, converter_dir: dict[str, Any]
) -> None:
    app = make_app(tmp_path, converter_dir, TRUSTED_PROXIES=1)
    ws = app.extensions["wenshu"]
    add_user(ws, name="demo-clerk", role="clerk", org_code="llyb", password=PASSWORD)
    c = app.test_client()
    behind_tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.1.2.3"}
    token = csrf_field(c.get("/login", headers=behind_tls).get_data(as_text=True))
    r = c.post(
        "/login",
        data={"name": "demo-clerk", "password": PASSWORD, "csrf_token": token},
        headers=behind_tls,
    )
    assert r.status_code == 302
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    with ws.db.read() as s:
        login = s.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login")).one()
    assert '"ip":"10.1.2.3"' in login.details.replace(" ", "")  # the client, not the proxy
    plain = make_app(tmp_path / "plain", converter_dir).test_client()
    token = csrf_field(plain.get("/login").get_data(as_text=True))
    r = plain.post("/login", data={"name": "x-y", "password": "z", "csrf_token": token})
    assert "Secure" not in r.headers.get("Set-Cookie", "")
    ws.close()


def test_a_password_typed_as_the_name_is_never_on_record(site: Any) -> None:
    """An unknown name may be a password typed into the wrong box: the failed login is on
    record without it, while a known name that failed is named."""
    ws = site.extensions["wenshu"]
    assert attempt(site, "wenshu2026secret", "x", CLERK_PC).status_code == 401
    assert attempt(site, "demo-clerk", "wrong-password", CLERK_PC).status_code == 401
    with ws.db.read() as s:
        failed = s.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login_failed"))
        rows = [(e.object_id, json.loads(e.details)["reason"]) for e in failed]
        assert rows == [(None, "unknown_user"), ("demo-clerk", "bad_password")]
        assert not any(
            "wenshu2026secret" in (e.details or "") for e in s.scalars(select(AuditEvent))
        )
