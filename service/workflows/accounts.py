"""Orgs and users: creating them (with a signing identity) and finding a user by API token."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
import zlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import AuditChain
from archive.certificates import record_certificate
from archive.errors import ConflictError, NotFoundError, ValidationError
from archive.models import Org, User
from service.documents.pades import make_dev_identity
from service.policy import ROLES
from service.wiring import Wenshu
from service.workflows.passwords import store_password

DEMO_ORG = {
    "code": "llyb",
    "name": "吕梁市医疗保障局",
    "zihao": "吕医保发",
    "mark": "吕梁市医疗保障局文件",
    "fonds_no": "J041",
    "region": "吕梁市",
}


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

    def may_see_org(self, org_code: str) -> bool:
        return self.role == "admin" or org_code == self.org_code


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
    actor: str = "system",
) -> Org:
    """Create an org with a dev signing identity (a test certificate, marked as such)."""
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
            details={"name": name, "zihao": zihao},
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
    full_name: str = "",
) -> str:
    """Create a user and return its API token (shown once; only its hash is stored).

    With ``password`` the user can also log in to the web pages (stored as an argon2id hash).
    ``full_name`` is the person's name (姓名), printed where a document names them (签发人).
    """
    if role not in ROLES:
        raise ValidationError(f"角色必须是 {', '.join(ROLES)} 之一", errors={"role": ["未知角色"]})
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
            created_at=ws.now(),
        )
        s.add(user)
        s.flush()
        if password is not None:
            store_password(s, user, password, ws.now())
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
        row = s.execute(select(User, Org.code).join(Org).where(User.name == name)).first()
        if row is None:
            raise NotFoundError(f"用户 {name} 不存在")
        user, org_code = row
        before, user.full_name = user.full_name, full_name
        AuditChain.append(
            s,
            actor=actor,
            action="user.update",
            org=org_code,
            object_id=name,
            details={"full_name": {"from": before, "to": full_name}},
        )


def set_password(ws: Wenshu, *, name: str, password: str, actor: str = "system") -> None:
    """Set (or reset) a user's web password; ends the user's sessions and clears a lockout."""
    with ws.db.write() as s:
        row = s.execute(select(User, Org.code).join(Org).where(User.name == name)).first()
        if row is None:
            raise NotFoundError(f"用户 {name} 不存在")
        user, org_code = row
        store_password(s, user, password, ws.now())
        AuditChain.append(s, actor=actor, action="user.password", org=org_code, object_id=name)


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


def principal_for_token(session: Session, token: str) -> Principal | None:
    row = session.execute(
        select(User, Org.code)
        .join(Org, User.org_id == Org.id)
        .where(User.token_hash == hash_token(token))
    ).first()
    if row is None or not row[0].active:
        return None
    user, org_code = row
    return Principal(user.id, user.name, user.role, user.org_id, org_code)


def get_org(session: Session, code: str) -> Org:
    org = session.scalar(select(Org).where(Org.code == code))
    if org is None:
        raise NotFoundError(f"机构 {code} 不存在", errors={"org": ["机构不存在"]})
    return org
