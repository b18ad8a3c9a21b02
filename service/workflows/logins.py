"""Logins by name and password: lockout after repeated failures, every attempt on record; and
the user administration a page needs (list, change role, enable, unlock).

The browser's side of a login (cookie, CSRF) is ``service/http/session.py``; this module
never touches a request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import AuditChain
from archive.db import as_utc
from archive.errors import NotFoundError, ValidationError
from archive.models import Org, User, UserCredential
from service.policy import ROLES
from service.wiring import Wenshu
from service.workflows.accounts import Principal
from service.workflows.passwords import hasher

MAX_FAILURES = 5
"""Consecutive wrong passwords after which the account locks."""
LOCKOUT = timedelta(minutes=15)
"""How long a locked account stays locked (an administrator can unlock it sooner)."""

BAD_LOGIN = "用户名或密码错误"
LOCKED = "登录失败次数过多，账户已暂时锁定，请 {minutes} 分钟后再试，或请管理员解锁"

# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hasher.hash(secrets.token_hex(16))


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
                hasher.verify(_DUMMY_HASH, password)
            except VerificationError:
                pass
            details["reason"] = (
                "unknown_user" if row is None else "no_password" if row[2] is None else "inactive"
            )
            _failed(s, name if row else "anonymous", row[1] if row else None, name, details)
            return LoginResult(None, error=BAD_LOGIN)
        user, org_code, cred = row
        locked_until = as_utc(cred.locked_until)
        if locked_until is not None and locked_until > now:
            details["reason"] = "locked"
            _failed(s, name, org_code, name, details)
            return LoginResult(None, error=LOCKED.format(minutes=_minutes(locked_until - now)))
        try:
            hasher.verify(cred.password_hash, password)
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
        if hasher.check_needs_rehash(cred.password_hash):
            cred.password_hash = hasher.hash(password)
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
        locked = as_utc(cred.locked_until) if cred else None
        out.append(
            UserRow(
                user.id,
                user.name,
                user.role,
                org,
                user.active,
                cred is not None,
                locked if locked and locked > now else None,
                as_utc(cred.last_login_at) if cred else None,
                as_utc(user.created_at) or now,
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
