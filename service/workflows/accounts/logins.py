"""Logins by name and password: throttled by source, every attempt on record; and the user
administration a page needs (list, change role, enable or disable, reset a password).

The browser's side of a login (cookie, CSRF) is ``service/http/session.py``; this module
never touches a request.

A wrong name and a wrong password get the same reply after the same work: an unknown,
disabled or password-less name is verified against a dummy argon2 hash. Failures never lock
an account; they slow down their source (``throttle.py``).
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
from archive.errors import Forbidden, NotFoundError, ValidationError
from archive.models import Org, User, UserCredential
from service import policy
from service.wiring import Wenshu
from service.workflows.accounts import Principal, revoke_credentials, throttle
from service.workflows.accounts.names import canonical_name, is_valid_name
from service.workflows.accounts.passwords import hasher, store_password, temporary_password

BAD_LOGIN = "用户名或密码错误"
THROTTLED = "登录尝试过于频繁，请 {seconds} 秒后再试"

# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class LoginResult:
    principal: Principal | None
    nonce: str | None = None
    error: str | None = None
    throttled: bool = False


def authenticate(ws: Wenshu, name: str, password: str, *, remote_addr: str | None) -> LoginResult:
    """Check a name and password from ``remote_addr``; throttle; record the attempt either way."""
    name = canonical_name(name[:200])[:100]
    # what the trail keeps of the name: only something shaped like one (never a password
    # typed into the wrong field)
    shown = name if is_valid_name(name) else None
    now = ws.now()
    with ws.db.write() as s:
        details: dict[str, object] = {"ip": remote_addr}
        seconds = throttle.wait(s, remote_addr, name, now)
        if seconds:  # not verified, so not counted: only real guesses lengthen the pause
            details["reason"] = "throttled"
            _failed(s, shown, details)
            return LoginResult(None, error=THROTTLED.format(seconds=seconds), throttled=True)
        row = s.execute(
            select(User, Org.code, UserCredential)
            .join(Org, User.org_id == Org.id)
            .outerjoin(UserCredential, UserCredential.user_id == User.id)
            .where(User.name == name)
        ).first()
        usable = row is not None and row[2] is not None and row[0].active
        stored = row[2].password_hash if usable and row is not None else _DUMMY_HASH
        try:
            hasher.verify(stored, password)
            right = usable
        except (VerifyMismatchError, InvalidHashError, VerificationError):
            right = False
        if not right or row is None:
            throttle.failed(s, remote_addr, name, now)
            details["reason"] = (
                "unknown_user"
                if row is None
                else "inactive"
                if not row[0].active
                else "no_password"
                if row[2] is None
                else "bad_password"
            )
            # an unknown name may be a password typed in the wrong box: never on record
            _failed(s, shown if row is not None else None, details, org=row[1] if row else None)
            return LoginResult(None, error=BAD_LOGIN)
        user, org_code, cred = row
        throttle.succeeded(s, remote_addr, name)
        if hasher.check_needs_rehash(cred.password_hash):
            cred.password_hash = hasher.hash(password)
        cred.last_login_at = now
        AuditChain.append(
            s,
            actor=user.name,
            action="auth.login",
            org=org_code,
            object_id=user.name,
            at=now,
            details={"ip": remote_addr, "must_change": must_change(ws, cred, now)},
        )
        who = Principal(user.id, user.name, user.role, user.org_id, org_code)
        return LoginResult(who, nonce=cred.session_nonce)


def must_change(ws: Wenshu, cred: UserCredential, now: datetime) -> bool:
    """Whether the user must set a new password before anything else: a temporary one (an
    administrator's reset), or one older than ``WENSHU_PASSWORD_MAX_AGE_DAYS``."""
    if cred.must_change:
        return True
    days = ws.settings.accounts.password_max_age_days
    changed = as_utc(cred.password_changed_at)
    return bool(days) and changed is not None and now - changed > timedelta(days=days)


def _failed(
    s: Session, name: str | None, details: dict[str, object], *, org: str | None = None
) -> None:
    AuditChain.append(
        s,
        actor="anonymous",
        action="auth.login_failed",
        org=org,
        object_id=name,
        details=details,
    )


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    full_name: str
    role: str
    org: str
    active: bool
    has_password: bool
    must_change: bool
    last_login_at: datetime | None
    created_at: datetime


def list_users(ws: Wenshu, who: Principal) -> list[UserRow]:
    """Every user of the installation (the administrators' page)."""
    q = (
        select(User, Org.code, UserCredential)
        .join(Org, User.org_id == Org.id)
        .outerjoin(UserCredential, UserCredential.user_id == User.id)
        .order_by(Org.code, User.name)
    )
    now = ws.now()
    with ws.db.read() as s:
        rows = s.execute(q).all()
    return [
        UserRow(
            user.id,
            user.name,
            user.full_name,
            user.role,
            org,
            user.active,
            cred is not None,
            cred is not None and must_change(ws, cred, now),
            as_utc(cred.last_login_at) if cred else None,
            as_utc(user.created_at) or now,
        )
        for user, org, cred in rows
    ]


def update_user(
    ws: Wenshu,
    who: Principal,
    user_id: int,
    *,
    role: str | None = None,
    active: bool | None = None,
) -> None:
    """Change a user's role (secadmin: among the business roles, of a business user) or
    active flag (sysadmin; disabling revokes the token and ends the sessions); on record."""
    if role is not None and role not in policy.BUSINESS_ROLES:
        raise ValidationError(
            "网页上只能授予业务角色；管理员角色由 wenshu user-add 授予",
            errors={"role": ["只能授予业务角色"]},
        )
    with ws.db.write() as s:
        user, org_code = _user(s, user_id)
        changes: dict[str, object] = {}
        if role is not None and role != user.role:
            if user.id == who.user_id or user.role not in policy.BUSINESS_ROLES:
                raise Forbidden("不能在网页上修改自己或管理员的角色")
            changes["role"] = [user.role, role]
            user.role = role
        if active is not None and active != user.active:
            if user.id == who.user_id:
                raise ValidationError("不能停用自己的账户", errors={"active": ["不能停用自己"]})
            changes["active"] = [user.active, active]
            user.active = active
            if not active:
                revoke_credentials(s, user)
        if changes:
            AuditChain.append(
                s,
                actor=who.name,
                action="user.update",
                org=org_code,
                object_id=user.name,
                details=changes,
            )


def reset_password(ws: Wenshu, who: Principal, user_id: int) -> tuple[str, str]:
    """A temporary password for a business user, shown once to the secadmin: it opens only
    the page where the user sets their own, and ends the user's sessions. Returns the user's
    name and the password. An administrator's password is reset only by ``wenshu
    user-password`` on the server."""
    password = temporary_password()
    with ws.db.write() as s:
        user, org_code = _user(s, user_id)
        if user.id == who.user_id or user.role not in policy.BUSINESS_ROLES:
            raise Forbidden("管理员的密码只能在服务器上用 wenshu user-password 重置")
        store_password(s, user, password, ws.now(), must_change=True)
        AuditChain.append(
            s,
            actor=who.name,
            action="user.password_reset",
            org=org_code,
            object_id=user.name,
            details={"temporary": True},
        )
    return user.name, password


def _user(s: Session, user_id: int) -> tuple[User, str]:
    row = s.execute(select(User, Org.code).join(Org).where(User.id == user_id)).first()
    if row is None:
        raise NotFoundError("用户不存在")
    return row[0], row[1]
