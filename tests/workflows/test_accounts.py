"""Accounts as the workflows keep them, on SQLite and PostgreSQL: login names, password rules
and history, tokens that expire, rotate and die with a disabled user, the split of the single
``admin`` of before, and certificates that must chain to a trust root."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from archive.errors import ConflictError, ValidationError
from archive.models import AuditEvent, Org, User
from service.ops.cli import initialise, wenshu
from service.settings import load_settings
from service.wiring import Wenshu
from service.workflows import accounts
from service.workflows.accounts import Principal, add_org, add_user, principal_for_token
from service.workflows.org_settings import import_pkcs12
from tests.support.apps import fresh_database

SECADMIN = Principal(0, "sec", "secadmin", 0, "llyb")


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> Iterator[Wenshu]:
    w = Wenshu(load_settings({"DATA_DIR": tmp_path / "data", "DATABASE_URL": database_url}))
    initialise(w)
    yield w
    w.close()


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a",
        "system",
        "admin",
        "root",
        "anonymous",
        "demo-admin\u200b",  # a zero-width space
        "dеmo-admin",  # a Cyrillic е
        "a/b",
        "zhang san",
        "-lead",
        "x" * 65,
        "张三",
        "ｓｙｓｔｅｍ",  # full-width: NFKC makes it "system", reserved
    ],
)
def test_malformed_reserved_and_look_alike_names_are_refused(ws: Wenshu, name: str) -> None:
    with pytest.raises(ValidationError) as exc:
        add_user(ws, name=name, role="clerk", org_code="llyb")
    assert "name" in exc.value.errors


def test_a_name_has_one_spelling(ws: Wenshu) -> None:
    add_user(ws, name="Zhang.San", role="clerk", org_code="llyb", full_name="张三")
    with ws.db.read() as s:
        user = s.scalars(select(User).where(User.name == "zhang.san")).one()
    assert user.full_name == "张三"
    with pytest.raises(ConflictError):  # full-width look-alike of the same login
        add_user(ws, name="ｚｈａｎｇ.ｓａｎ", role="clerk", org_code="llyb")


@pytest.mark.parametrize(
    "password",
    ["12345678", "password", "Password@2026", "p@ssw0rd1234", "qwertyqwerty", "123456789012",
     "aaaaaaaaaaaaaa", "iloveyou2026!", "Wang.Wu-2026!"],
)  # fmt: skip
def test_weak_passwords_are_refused(ws: Wenshu, password: str) -> None:
    with pytest.raises(ValidationError) as exc:
        add_user(ws, name="wang.wu", role="clerk", org_code="llyb", password=password)
    assert "password" in exc.value.errors


def test_a_password_repeats_none_of_the_last_five(ws: Wenshu) -> None:
    used = [f"Lvliang-{n}-Anquan" for n in range(7)]
    add_user(ws, name="li.si", role="clerk", org_code="llyb", password=used[0])
    for new in used[1:6]:
        accounts.set_password(ws, name="li.si", password=new)
    for old in used[1:6]:  # the current one and the four before it
        with pytest.raises(ValidationError) as exc:
            accounts.set_password(ws, name="li.si", password=old)
        assert "最近 5 次" in exc.value.errors["password"][0]
    accounts.set_password(ws, name="li.si", password=used[0])  # six changes ago: allowed


def test_tokens_expire_rotate_and_die_with_a_disabled_user(ws: Wenshu) -> None:
    token = add_user(ws, name="api.clerk", role="clerk", org_code="llyb")
    now = ws.now()
    with ws.db.read() as s:
        assert principal_for_token(s, token, now) is not None
        assert principal_for_token(s, token, now + timedelta(days=89)) is not None
        assert principal_for_token(s, token, now + timedelta(days=91)) is None
    new, expires = accounts.rotate_token(ws, name="api.clerk")
    assert expires is not None and expires - now > timedelta(days=89)
    with ws.db.read() as s:
        assert principal_for_token(s, token, now) is None  # rotated out
        assert principal_for_token(s, new, now) is not None
    assert accounts.set_active(ws, name="api.clerk", active=False)
    assert accounts.set_active(ws, name="api.clerk", active=True)
    with ws.db.read() as s:  # re-enabling revives no token
        assert principal_for_token(s, new, now) is None
    events = _events(ws, "user.update") + _events(ws, "user.token")
    assert {e.object_id for e in events} == {"api.clerk"}


def test_a_token_that_never_expires_when_so_set(tmp_path: Path, database_url: str) -> None:
    w = Wenshu(load_settings({"DATA_DIR": tmp_path / "d", "DATABASE_URL": database_url, "TOKEN_MAX_AGE_DAYS": "0"}))  # fmt: skip
    initialise(w)
    token = add_user(w, name="prom", role="sysadmin", org_code="llyb")
    with w.db.read() as s:
        assert principal_for_token(s, token, w.now() + timedelta(days=3650)) is not None
    w.close()


def test_the_cli_disables_any_user_even_a_malformed_name_of_before(ws: Wenshu) -> None:
    with ws.db.write() as s:  # as the database of before holds them (names were unchecked)
        org = s.scalars(select(Org)).one()
        for name in ("", "a/b"):
            s.add(User(name=name, role="clerk", org_id=org.id, token_hash=name.ljust(64, "0"),
                       created_at=ws.now()))  # fmt: skip
    runner = CliRunner()
    for name in ("", "a/b"):
        r = runner.invoke(wenshu, ["user-disable", name], obj=ws)
        assert r.exit_code == 0, r.output
        assert "disabled" in r.output
    with ws.db.read() as s:
        assert not any(u.active for u in s.scalars(select(User).where(User.name.in_(("", "a/b")))))
    r = runner.invoke(wenshu, ["user-token", "a/b"], obj=ws)
    assert r.exit_code == 2 and "已停用" in r.output


def test_user_token_prints_the_expiry_and_the_token_last(ws: Wenshu) -> None:
    add_user(ws, name="api.inspector", role="inspector", org_code="llyb")
    r = CliRunner().invoke(wenshu, ["user-token", "api.inspector"], obj=ws)
    assert r.exit_code == 0, r.output
    *head, token = r.output.strip().splitlines()
    assert "expires" in head[-1] and len(token) > 30
    with ws.db.read() as s:
        assert principal_for_token(s, token, ws.now()) is not None


def test_init_splits_the_single_admin_of_before(ws: Wenshu) -> None:
    with ws.db.write() as s:
        org = s.scalars(select(Org)).one()
        s.add(User(name="old-admin", role="admin", org_id=org.id, token_hash="1" * 64,
                   created_at=ws.now()))  # fmt: skip
    done = initialise(ws)
    assert any("old-admin" in line and "sysadmin" in line for line in done)
    with ws.db.read() as s:
        assert s.scalars(select(User.role).where(User.name == "old-admin")).one() == "sysadmin"
    (event,) = [e for e in _events(ws, "user.update") if e.object_id == "old-admin"]
    assert "三员分立" in event.details
    assert initialise(ws) == []  # once


def _events(ws: Wenshu, action: str) -> list[AuditEvent]:
    with ws.db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# -- certificates: a real org's must chain to a configured trust root ----------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool) -> x509.Certificate:
    now = datetime.now(UTC)
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=True, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def _p12(key: Any, cert: x509.Certificate) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        b"bureau", key, cert, None, serialization.BestAvailableEncryption(b"x")
    )


@pytest.fixture
def bureau_ca(tmp_path: Path) -> tuple[Path, Any, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("Shanxi Test Root CA", key, "Shanxi Test Root CA", key, ca=True)
    path = tmp_path / "roots.pem"
    path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return path, key, ca


def test_a_real_org_takes_only_a_certificate_chaining_to_a_trust_root(
    tmp_path: Path, bureau_ca: tuple[Path, Any, x509.Certificate]
) -> None:
    roots, ca_key, _ca = bureau_ca
    with fresh_database("sqlite", tmp_path) as url:
        w = Wenshu(load_settings({"DATA_DIR": tmp_path / "d", "DATABASE_URL": url, "TRUST_ROOTS": str(roots)}))  # fmt: skip
        initialise(w)
        add_org(w, code="tyyb", name="太原市医疗保障局", zihao="并医保发")
        evil_key = ec.generate_private_key(ec.SECP256R1())
        evil = _cert("Evil CA", evil_key, "Evil CA", evil_key, ca=True)
        with pytest.raises(ValidationError) as exc:
            import_pkcs12(w, SECADMIN, "tyyb", _p12(evil_key, evil), "x")
        assert exc.value.errors == {"p12": ["证书链不通向信任根"]}
        key = ec.generate_private_key(ec.SECP256R1())
        issued = _cert("太原市医疗保障局", key, "Shanxi Test Root CA", ca_key, ca=False)
        info = import_pkcs12(w, SECADMIN, "tyyb", _p12(key, issued), "x")
        assert info.issuer == "CN=Shanxi Test Root CA" and not info.is_test
        # the demo org is a test org: a self-signed certificate is fine there
        assert import_pkcs12(w, SECADMIN, "llyb", _p12(evil_key, evil), "x").subject == "CN=Evil CA"
        w.close()


def test_without_a_trust_root_a_real_org_takes_no_upload(ws: Wenshu) -> None:
    add_org(ws, code="tyyb", name="太原市医疗保障局", zihao="并医保发")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert("Self", key, "Self", key, ca=True)
    with pytest.raises(ValidationError) as exc:
        import_pkcs12(ws, SECADMIN, "tyyb", _p12(key, cert), "x")
    assert "WENSHU_TRUST_ROOTS" in exc.value.message
