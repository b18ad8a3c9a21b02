"""Web login: argon2id password hashes, lockout after repeated failures, the session principal.

API clients keep their Bearer tokens; people in a browser log in with a name and a password
and carry a signed session cookie. The cookie holds the user id and a nonce copied from the
user's credential row: logging out or setting a new password changes the nonce, which ends
every session of that user, so a copied cookie dies with the logout.

Every unsafe request made with a session (a form post, or a ``fetch`` to the JSON API) must
carry the session's CSRF token, in the ``csrf_token`` form field or the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import g, request, session
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import AuditChain
from archive.errors import NotFoundError, ValidationError
from archive.models import Org, User, UserCredential
from service.accounts import ROLES, Principal
from service.core import Wenshu

log = logging.getLogger(__name__)

MAX_FAILURES = 5
"""Consecutive wrong passwords after which the account locks."""
LOCKOUT = timedelta(minutes=15)
"""How long a locked account stays locked (an administrator can unlock it sooner)."""
SESSION_LIFETIME = timedelta(hours=8)
"""A login lasts one working day at most."""
MIN_PASSWORD_LENGTH = 8
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

BAD_LOGIN = "用户名或密码错误"
LOCKED = "登录失败次数过多，账户已暂时锁定，请 {minutes} 分钟后再试，或请管理员解锁"

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def _aware(at: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    if at is not None and at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at


def password_problem(password: str, name: str = "") -> str | None:
    """A Chinese message saying what is wrong with a new password, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"密码至少 {MIN_PASSWORD_LENGTH} 位"
    if len(password) > 256:
        return "密码过长（最多 256 位）"
    if name and password.lower() == name.lower():
        return "密码不能与用户名相同"
    if len(set(password)) < 4:
        return "密码过于简单"
    return None


def store_password(session: Session, user: User, password: str, now: datetime) -> None:
    """Hash and store ``password`` for ``user`` (in the caller's write transaction).

    Ends the user's open sessions and clears any lockout.
    """
    problem = password_problem(password, user.name)
    if problem:
        raise ValidationError(problem, errors={"password": [problem]})
    cred = session.get(UserCredential, user.id)
    if cred is None:
        cred = UserCredential(user_id=user.id, failed_logins=0)
        session.add(cred)
    cred.password_hash = _hasher.hash(password)
    cred.failed_logins = 0
    cred.locked_until = None
    cred.session_nonce = secrets.token_hex(16)
    cred.password_changed_at = now


@dataclass(frozen=True)
class LoginResult:
    principal: Principal | None
    nonce: str | None = None
    error: str | None = None


def authenticate(ws: Wenshu, name: str, password: str, *, remote_addr: str | None) -> LoginResult:
    """Check a name and password; count failures and lock; record the attempt either way."""
    name = name.strip()[:100]
    now = ws.now()
    with ws.db.write() as s:
        row = s.execute(
            select(User, Org.code, UserCredential)
            .join(Org, User.org_id == Org.id)
            .outerjoin(UserCredential, UserCredential.user_id == User.id)
            .where(User.name == name)
        ).first()
        details: dict[str, object] = {"ip": remote_addr}
        if row is None or row[2] is None or not row[0].active:
            try:
                _hasher.verify(_DUMMY_HASH, password)
            except VerificationError:
                pass
            details["reason"] = (
                "unknown_user" if row is None else "no_password" if row[2] is None else "inactive"
            )
            _failed(s, name if row else "anonymous", row[1] if row else None, name, details)
            return LoginResult(None, error=BAD_LOGIN)
        user, org_code, cred = row
        locked_until = _aware(cred.locked_until)
        if locked_until is not None and locked_until > now:
            details["reason"] = "locked"
            _failed(s, name, org_code, name, details)
            return LoginResult(None, error=LOCKED.format(minutes=_minutes(locked_until - now)))
        try:
            _hasher.verify(cred.password_hash, password)
        except (VerifyMismatchError, InvalidHashError, VerificationError):
            cred.failed_logins += 1
            locked = cred.failed_logins >= MAX_FAILURES
            details.update(reason="bad_password", failures=cred.failed_logins, locked=locked)
            if locked:
                cred.locked_until = now + LOCKOUT
                cred.failed_logins = 0
            _failed(s, name, org_code, name, details)
            if locked:
                return LoginResult(None, error=LOCKED.format(minutes=_minutes(LOCKOUT)))
            return LoginResult(None, error=BAD_LOGIN)
        if _hasher.check_needs_rehash(cred.password_hash):
            cred.password_hash = _hasher.hash(password)
        cred.failed_logins = 0
        cred.locked_until = None
        cred.last_login_at = now
        AuditChain.append(
            s,
            actor=user.name,
            action="auth.login",
            org=org_code,
            object_id=user.name,
            at=now,
            details={"ip": remote_addr},
        )
        who = Principal(user.id, user.name, user.role, user.org_id, org_code)
        return LoginResult(who, nonce=cred.session_nonce)


def _failed(s: Session, actor: str, org: str | None, name: str, details: dict[str, object]) -> None:
    AuditChain.append(
        s, actor=actor, action="auth.login_failed", org=org, object_id=name or None, details=details
    )


def _minutes(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 59) // 60)


# -- the session --------------------------------------------------------------------------


def start_session(result: LoginResult) -> None:
    """A fresh session for the user who just logged in (no id survives from before login)."""
    assert result.principal is not None and result.nonce is not None
    session.clear()
    session.permanent = True
    session["uid"] = result.principal.user_id
    session["nonce"] = result.nonce
    session["at"] = int(time.time())
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
    if not isinstance(uid, int) or not isinstance(nonce, str) or not isinstance(at, int):
        return None
    if time.time() - at > SESSION_LIFETIME.total_seconds():
        return None
    with ws.db.read() as s:
        row = s.execute(
            select(User, Org.code)
            .join(Org, User.org_id == Org.id)
            .join(UserCredential, UserCredential.user_id == User.id)
            .where(User.id == uid, UserCredential.session_nonce == nonce)
        ).first()
    if row is None or not row[0].active:
        return None
    user, org_code = row
    return Principal(user.id, user.name, user.role, user.org_id, org_code)


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


# -- administration -----------------------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: str
    org: str
    active: bool
    has_password: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime


def list_users(ws: Wenshu, who: Principal) -> list[UserRow]:
    q = (
        select(User, Org.code, UserCredential)
        .join(Org, User.org_id == Org.id)
        .outerjoin(UserCredential, UserCredential.user_id == User.id)
        .order_by(Org.code, User.name)
    )
    if who.role != "admin":
        q = q.where(Org.code == who.org_code)
    now = ws.now()
    with ws.db.read() as s:
        rows = s.execute(q).all()
    out = []
    for user, org, cred in rows:
        locked = _aware(cred.locked_until) if cred else None
        out.append(
            UserRow(
                user.id,
                user.name,
                user.role,
                org,
                user.active,
                cred is not None,
                locked if locked and locked > now else None,
                _aware(cred.last_login_at) if cred else None,
                _aware(user.created_at) or now,
            )
        )
    return out


def update_user(
    ws: Wenshu,
    who: Principal,
    name: str,
    *,
    role: str | None = None,
    active: bool | None = None,
    unlock: bool = False,
) -> None:
    """Change a user's role or active flag, or lift a lockout; on record."""
    if role is not None and role not in ROLES:
        raise ValidationError("未知角色", errors={"role": ["未知角色"]})
    with ws.db.write() as s:
        row = s.execute(select(User, Org.code).join(Org).where(User.name == name)).first()
        if row is None:
            raise NotFoundError(f"用户 {name} 不存在")
        user, org_code = row
        changes: dict[str, object] = {}
        if role is not None and role != user.role:
            changes["role"] = [user.role, role]
            user.role = role
        if active is not None and active != user.active:
            if user.id == who.user_id and not active:
                raise ValidationError("不能停用自己的账户", errors={"active": ["不能停用自己"]})
            changes["active"] = [user.active, active]
            user.active = active
        cred = s.get(UserCredential, user.id)
        if unlock and cred is not None and (cred.locked_until or cred.failed_logins):
            cred.locked_until = None
            cred.failed_logins = 0
            changes["unlocked"] = True
        if changes:
            AuditChain.append(
                s,
                actor=who.name,
                action="user.update",
                org=org_code,
                object_id=name,
                details=changes,
            )
