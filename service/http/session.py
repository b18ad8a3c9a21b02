"""The browser's login session: a signed cookie, its CSRF token, and the principal it carries.

API clients keep their Bearer tokens; people in a browser log in with a name and a password
(``service/workflows/accounts/logins.py``) and carry a signed session cookie. The cookie holds
the user id and a nonce copied from the user's credential row: logging out, setting a new
password or being disabled changes the nonce, which ends every session of that user, so a
copied cookie dies with the logout. A session unused for ``WENSHU_SESSION_IDLE_MINUTES`` ends
too, and one lasts a working day at most. A user whose password is temporary or too old
(``logins.must_change``) gets a session that opens only the change-password page.

The cookie is ``Secure`` when ``WENSHU_COOKIE_SECURE`` says so or the request came over HTTPS
(behind a trusted TLS proxy: ``WENSHU_TRUSTED_PROXIES``).

Every unsafe request made with a session (a form post, or a ``fetch`` to the JSON API) must
carry the session's CSRF token, in the ``csrf_token`` form field or the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import replace
from datetime import timedelta

from flask import Flask, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from archive.audit import AuditChain
from archive.models import Org, User, UserCredential
from service.wiring import Wenshu
from service.workflows.accounts import Principal
from service.workflows.accounts.logins import LoginResult, must_change

SESSION_LIFETIME = timedelta(hours=8)
"""A login lasts one working day at most."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def start_session(result: LoginResult) -> None:
    """A fresh session for the user who just logged in (no id survives from before login)."""
    assert result.principal is not None and result.nonce is not None
    session.clear()
    session.permanent = True
    session["uid"] = result.principal.user_id
    session["nonce"] = result.nonce
    session["at"] = session["seen"] = int(time.time())
    session["csrf"] = secrets.token_urlsafe(32)


def renew_session(ws: Wenshu, who: Principal) -> None:
    """Start a fresh session for ``who`` after the user's own password change ended the old."""
    with ws.db.read() as s:
        cred = s.get(UserCredential, who.user_id)
        nonce = cred.session_nonce if cred is not None else None
    start_session(LoginResult(who, nonce=nonce))


def end_session(ws: Wenshu) -> None:
    """Log out: this browser's cookie is cleared and every session of the user ends."""
    who = session_principal(ws)
    session.clear()
    if who is None:
        return
    with ws.db.write() as s:
        cred = s.get(UserCredential, who.user_id)
        if cred is not None:
            cred.session_nonce = secrets.token_hex(16)
        AuditChain.append(s, actor=who.name, action="auth.logout", org=who.org_code)


def session_principal(ws: Wenshu) -> Principal | None:
    """The user of this request's login session, or None (cached for the request)."""
    if "web_principal" in g:
        return g.web_principal  # type: ignore[no-any-return]
    who = _load_session(ws)
    g.web_principal = who
    return who


def _load_session(ws: Wenshu) -> Principal | None:
    uid, nonce, at = session.get("uid"), session.get("nonce"), session.get("at")
    seen = session.get("seen")
    if not isinstance(uid, int) or not isinstance(nonce, str) or not isinstance(at, int):
        return None
    if not isinstance(seen, int):
        seen = at
    now = time.time()
    idle = ws.settings.accounts.session_idle_minutes * 60
    if now - at > SESSION_LIFETIME.total_seconds() or now - seen > idle:
        return None
    with ws.db.read() as s:
        row = s.execute(
            select(User, Org.code, UserCredential)
            .join(Org, User.org_id == Org.id)
            .join(UserCredential, UserCredential.user_id == User.id)
            .where(User.id == uid, UserCredential.session_nonce == nonce)
        ).first()
    if row is None or not row[0].active:
        return None
    user, org_code, cred = row
    if now - seen >= 30:  # a minute's precision is plenty; not a new cookie every request
        session["seen"] = int(now)
    who = Principal(user.id, user.name, user.role, user.org_id, org_code)
    if must_change(ws, cred, ws.now()):
        who = replace(who, must_change_password=True)
    return who


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, ``Secure`` also when this request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()


def csrf_token() -> str:
    """This session's CSRF token (made on first use, so the login form has one too)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok() -> bool:
    """Whether this unsafe request carries the session's token (form field or header)."""
    expected = session.get("csrf")
    supplied = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    return isinstance(expected, str) and hmac.compare_digest(expected, supplied)
