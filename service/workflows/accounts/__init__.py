"""Orgs and users: creating them (with a signing identity), their API tokens (expiring,
rotated, revoked on disable), and finding a user by token.

The rest of the accounts: login names (``names.py``), passwords (``passwords.py``), logins
and the administrators' user page (``logins.py``), login throttling (``throttle.py``) and the
administrators' trail (``admin_trail.py``).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import AuditChain
from archive.certificates import record_certificate
from archive.db import as_utc
from archive.errors import ConflictError, NotFoundError, ValidationError
from archive.models import Org, User, UserCredential
from service.documents.pades import make_dev_identity
from service.policy import LEGACY_ADMIN, ROLES
from service.wiring import Wenshu
from service.workflows.accounts.names import checked_name
from service.workflows.accounts.passwords import store_password

DEMO_ORG = {
    "code": "llyb",
    "name": "吕梁市医疗保障局",
    "zihao": "吕医保发",
    "mark": "吕梁市医疗保障局文件",
    "fonds_no": "J041",
    "region": "吕梁市",
}
"""The demo org ``wenshu init`` seeds, a test org (``add_org(is_test=True)``)."""


#: An org's text fields as the bureau names them (errors name the field and say this).
ORG_FIELD_LABELS = {
    "name": "机关全称",
    "zihao": "机关代字",
    "mark": "发文机关标志",
    "fonds_no": "全宗号",
    "unit_code": "档号中的机构代码",
    "seal_text": "印章文字",
    "region": "地区",
}


def control_character_errors(values: dict[str, str | None]) -> dict[str, list[str]]:
    """The org fields holding a control character (CR, LF, tab, zero-width and other format
    characters, line separators): printed on every document and sent in download headers, they
    must be plain text."""
    return {
        key: [f"{ORG_FIELD_LABELS.get(key, key)}不得含换行符或其他控制字符"]
        for key, value in values.items()
        if value and any(unicodedata.category(c)[0] == "C" or c in "\u2028\u2029" for c in value)
    }


@dataclass(frozen=True)
class Principal:
    """Who is asking: resolved from a token or a login session."""

    user_id: int
    name: str
    role: str
    org_id: int
    org_code: str
    must_change_password: bool = False
    """A web session whose password is temporary or expired: it may only set a new one."""

    def may_see_org(self, org_code: str) -> bool:
        return org_code == self.org_code


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_org(
    ws: Wenshu,
    *,
    code: str,
    name: str,
    zihao: str,
    mark: str | None = None,
    fonds_no: str | None = None,
    unit_code: str = "BGS",
    seal_text: str | None = None,
    region: str = "",
    is_test: bool = False,
    actor: str = "system",
) -> Org:
    """Create an org with a dev signing identity (a test certificate, marked as such).

    ``is_test``: a test org, which may take an uploaded certificate that chains to no trust
    root (the demo org is one); any other takes only one that does (``WENSHU_TRUST_ROOTS``)."""
    if not code or not code.replace("-", "").replace("_", "").isalnum() or not code.isascii():
        raise ValidationError(
            "机构代码只能由字母、数字、-、_ 组成", errors={"code": ["机构代码格式不正确"]}
        )
    fields = {"name": name, "zihao": zihao, "mark": mark, "fonds_no": fonds_no}
    fields |= {"unit_code": unit_code, "seal_text": seal_text, "region": region}
    if errors := control_character_errors(fields):
        label = "、".join(ORG_FIELD_LABELS[k] for k in errors)
        raise ValidationError(f"{label}不得含换行符或其他控制字符", errors=errors)
    key_pem, cert_pem = make_dev_identity(name, org_code=code)
    with ws.db.write() as s:
        if s.scalar(select(Org).where(Org.code == code)) is not None:
            raise ConflictError(f"机构 {code} 已存在")
        org = Org(
            code=code,
            name=name,
            zihao=zihao,
            mark=mark or f"{name}文件",
            fonds_no=fonds_no or f"Z{zlib.crc32(code.encode()) % 1000:03d}",
            unit_code=unit_code,
            seal_text=seal_text or name,
            region=region,
            cert_pem=cert_pem.decode("ascii"),
            cert_is_test=True,
            is_test=is_test,
            created_at=ws.now(),
        )
        s.add(org)
        s.flush()
        record_certificate(s, org, org.cert_pem, org.created_at)
        # The key is written before commit: an org row never exists without its key.
        ws.keys.save(code, key_pem, cert_pem)
        AuditChain.append(
            s,
            actor=actor,
            action="org.create",
            org=code,
            object_id=code,
            details={"name": name, "zihao": zihao, "is_test": is_test},
        )
    return org


def add_user(
    ws: Wenshu,
    *,
    name: str,
    role: str,
    org_code: str,
    actor: str = "system",
    password: str | None = None,
    must_change: bool = False,
    full_name: str = "",
) -> str:
    """Create a user and return its API token (shown once; only its hash is stored).

    ``name`` is the login (``names.checked_name``: canonical, not reserved). With ``password``
    the user can also log in to the web pages (stored as an argon2id hash; ``must_change``:
    a temporary one, to be replaced at the first login). ``full_name`` is the person's name
    (姓名), printed where a document names them (签发人).
    """
    if role not in ROLES:
        raise ValidationError(f"角色必须是 {', '.join(ROLES)} 之一", errors={"role": ["未知角色"]})
    name = checked_name(name)
    full_name = checked_full_name(full_name)
    token = secrets.token_urlsafe(32)
    with ws.db.write() as s:
        org = s.scalar(select(Org).where(Org.code == org_code))
        if org is None:
            raise NotFoundError(f"机构 {org_code} 不存在")
        if s.scalar(select(User).where(User.name == name)) is not None:
            raise ConflictError(f"用户 {name} 已存在")
        user = User(
            name=name,
            full_name=full_name,
            role=role,
            org_id=org.id,
            token_hash=hash_token(token),
            token_expires_at=token_expiry(ws, ws.now()),
            created_at=ws.now(),
        )
        s.add(user)
        s.flush()
        if password is not None:
            store_password(s, user, password, ws.now(), must_change=must_change)
        AuditChain.append(
            s,
            actor=actor,
            action="user.create",
            org=org_code,
            object_id=name,
            details={"role": role, "web_login": password is not None, "full_name": full_name},
        )
    return token


def checked_full_name(full_name: str) -> str:
    """The person's name as printed: trimmed, at most 50 characters, no control characters."""
    full_name = unicodedata.normalize("NFKC", full_name).strip()
    if len(full_name) > 50 or any(unicodedata.category(c).startswith("C") for c in full_name):
        raise ValidationError(
            "姓名无效：最多 50 个字符，不得含控制字符",
            errors={"full_name": ["最多 50 个字符，不得含控制字符"]},
        )
    return full_name


def set_full_name(ws: Wenshu, *, name: str, full_name: str, actor: str = "system") -> None:
    """Record (or correct) the person's name of a user: what a 上行文 prints as 签发人."""
    full_name = checked_full_name(full_name)
    with ws.db.write() as s:
        user, org_code = _by_name(s, name)
        before, user.full_name = user.full_name, full_name
        AuditChain.append(
            s,
            actor=actor,
            action="user.update",
            org=org_code,
            object_id=name,
            details={"full_name": {"from": before, "to": full_name}},
        )


def printed_name(s: Session, user_id: int | None) -> str:
    """The name a document prints for this user (a 上行文's 签发人): the full name (姓名),
    never the login name; 409 saying how to record it when there is none."""
    user = s.get(User, user_id) if user_id is not None else None
    if user is None or not user.full_name:
        login = user.name if user is not None else "?"
        raise ConflictError(
            f"用户 {login} 未登记姓名，上行文无法印出签发人：请管理员登记姓名"
            f"（wenshu user-set {login} --full-name 姓名）后再办理"
        )
    return user.full_name


def set_password(ws: Wenshu, *, name: str, password: str, actor: str = "system") -> None:
    """Set a user's web password — the user's own change, or ``wenshu user-password`` on the
    server; ends the user's sessions. (An administrator's reset on the web is
    ``logins.reset_password``: a temporary password.)"""
    with ws.db.write() as s:
        user, org_code = _by_name(s, name)
        store_password(s, user, password, ws.now())
        AuditChain.append(s, actor=actor, action="user.password", org=org_code, object_id=name)


def token_expiry(ws: Wenshu, now: datetime) -> datetime | None:
    """When a token made ``now`` expires (``WENSHU_TOKEN_MAX_AGE_DAYS``; None: never)."""
    days = ws.settings.accounts.token_max_age_days
    return now + timedelta(days=days) if days else None


def rotate_token(ws: Wenshu, *, name: str, actor: str = "cli") -> tuple[str, datetime | None]:
    """A new API token for ``name`` (the old one stops working); returns it and its expiry.
    A disabled user gets none."""
    token = secrets.token_urlsafe(32)
    now = ws.now()
    with ws.db.write() as s:
        user, org_code = _by_name(s, name)
        if not user.active:
            raise ValidationError(f"用户 {name} 已停用，请先启用", errors={"name": ["已停用"]})
        user.token_hash = hash_token(token)
        user.token_expires_at = token_expiry(ws, now)
        expires = user.token_expires_at
        AuditChain.append(
            s,
            actor=actor,
            action="user.token",
            org=org_code,
            object_id=name,
            details={"expires_at": expires.isoformat() if expires else None},
        )
    return token, expires


def set_active(ws: Wenshu, *, name: str, active: bool, actor: str = "cli") -> bool:
    """Disable or enable a user by its exact stored name (malformed names of before included);
    disabling revokes its token and ends its sessions, enabling revives neither. Returns
    whether anything changed."""
    with ws.db.write() as s:
        user, org_code = _by_name(s, name)
        if user.active == active:
            return False
        user.active = active
        if not active:
            revoke_credentials(s, user)
        AuditChain.append(
            s,
            actor=actor,
            action="user.update",
            org=org_code,
            object_id=name,
            details={"active": [not active, active]},
        )
    return True


def revoke_credentials(s: Session, user: User) -> None:
    """The user's token stops working for good and every session ends (a disabled user)."""
    user.token_hash = hash_token(secrets.token_urlsafe(32))  # a token nobody was given
    cred = s.get(UserCredential, user.id)
    if cred is not None:
        cred.session_nonce = secrets.token_hex(16)


def split_legacy_admins(ws: Wenshu) -> list[str]:
    """Every user still holding the single ``admin`` role of before becomes a ``sysadmin``
    (users, orgs, settings) — 等保 2.0 三员分立; returns their names. Security and audit
    administrators are then made apart (``wenshu user-add NAME --role secadmin|auditadmin``)."""
    with ws.db.write() as s:
        rows = s.execute(select(User, Org.code).join(Org).where(User.role == LEGACY_ADMIN)).all()
        for user, org_code in rows:
            user.role = "sysadmin"
            AuditChain.append(
                s,
                actor="system",
                action="user.update",
                org=org_code,
                object_id=user.name,
                details={"role": [LEGACY_ADMIN, "sysadmin"], "reason": "三员分立"},
            )
    return [user.name for user, _ in rows]


def principal_for_token(session: Session, token: str, now: datetime) -> Principal | None:
    """The user whose token this is, if it is active and the token has not expired."""
    row = session.execute(
        select(User, Org.code)
        .join(Org, User.org_id == Org.id)
        .where(User.token_hash == hash_token(token))
    ).first()
    if row is None or not row[0].active:
        return None
    user, org_code = row
    expires = as_utc(user.token_expires_at)
    if expires is not None and expires <= now:
        return None
    return Principal(user.id, user.name, user.role, user.org_id, org_code)


def _by_name(s: Session, name: str) -> tuple[User, str]:
    row = s.execute(select(User, Org.code).join(Org).where(User.name == name)).first()
    if row is None:
        raise NotFoundError(f"用户 {name} 不存在", errors={"name": ["用户不存在"]})
    return row[0], row[1]


def get_org(session: Session, code: str) -> Org:
    org = session.scalar(select(Org).where(Org.code == code))
    if org is None:
        raise NotFoundError(f"机构 {code} 不存在", errors={"org": ["机构不存在"]})
    return org
