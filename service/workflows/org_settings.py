"""An org's settings as the administrators edit them: names, 机关代字, seal text (sysadmin), and
its signing certificate (secadmin).

An uploaded certificate must chain to a trust root the installation configures
(``WENSHU_TRUST_ROOTS``, a PEM file of CA certificates), unless the org is a test org
(``orgs.is_test``, the demo org): a self-signed "Evil CA" is refused elsewhere.

Framework-free (no Flask): the admin pages parse the form and call these.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    InvalidCertificateError,
    PathBuildingError,
    PathValidationError,
)
from pypdf import PdfWriter
from sqlalchemy import select

from archive.audit import AuditChain
from archive.certificates import record_certificate
from archive.checkpoints import cert_fingerprint
from archive.errors import NotFoundError, ValidationError
from archive.models import Org
from service.documents.pades import sign_pdf, verify_pdf
from service.wiring import Wenshu
from service.workflows.accounts import Principal, control_character_errors

#: field → (label, max length); every one is required.
EDITABLE = {
    "name": ("机关全称", 200),
    "zihao": ("机关代字", 50),
    "mark": ("发文机关标志", 200),
    "seal_text": ("印章文字", 200),
    "region": ("地区", 100),
}
MAX_P12_BYTES = 64 * 1024


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    sha256: str
    is_test: bool


def cert_info(cert_pem: str, is_test: bool) -> CertInfo:
    cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        is_test=is_test,
    )


def update_org(ws: Wenshu, who: Principal, code: str, values: dict[str, str]) -> dict[str, Any]:
    """Change the editable fields; returns what changed (recorded as ``org.update``)."""
    errors: dict[str, list[str]] = {}
    clean = {}
    for key, (label, limit) in EDITABLE.items():
        value = (values.get(key) or "").strip()
        if not value and key != "region":
            errors[key] = [f"请填写{label}"]
        elif len(value) > limit:
            errors[key] = [f"{label}最多 {limit} 个字"]
        clean[key] = value
    errors |= control_character_errors({k: v for k, v in clean.items() if k not in errors})
    if errors:
        raise ValidationError("机构设置有误，请按提示修改", errors=errors)
    with ws.db.write() as s:
        org = _org(s, code)
        changes = {k: [getattr(org, k), v] for k, v in clean.items() if getattr(org, k) != v}
        for key, (_old, new) in changes.items():
            setattr(org, key, new)
        if changes:
            AuditChain.append(
                s,
                actor=who.name,
                action="org.update",
                org=code,
                object_id=code,
                details=changes,
            )
    return changes


def import_pkcs12(ws: Wenshu, who: Principal, code: str, data: bytes, password: str) -> CertInfo:
    """Replace the org's signing key and certificate with those of a PKCS#12 file.

    The pair must sign a test PDF that then verifies against the certificate, so a file that
    loads but cannot seal is refused before it replaces a working one.
    """
    if not data:
        raise ValidationError("请选择证书文件（.p12 / .pfx）", errors={"p12": ["未选择文件"]})
    if len(data) > MAX_P12_BYTES:
        raise ValidationError("证书文件过大", errors={"p12": ["文件过大"]})
    try:
        key, cert, _extra = pkcs12.load_key_and_certificates(
            data, password.encode("utf-8") if password else None
        )
    except (ValueError, TypeError) as exc:
        raise ValidationError(
            "无法读取证书文件：密码错误或不是 PKCS#12 格式", errors={"p12": ["无法读取"]}
        ) from exc
    if key is None or cert is None:
        raise ValidationError("证书文件中须同时含有私钥和证书", errors={"p12": ["缺少私钥或证书"]})
    with ws.db.read() as s:
        is_test = _org(s, code).is_test
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValidationError("只支持 RSA 或 ECDSA 密钥", errors={"p12": ["密钥类型不支持"]})
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise ValidationError("私钥与证书不匹配", errors={"p12": ["私钥与证书不匹配"]})
    now = ws.now()
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise ValidationError("证书不在有效期内", errors={"p12": ["证书已过期或尚未生效"]})
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    _can_seal(key_pem, cert_pem)
    if not is_test:
        _chains_to_trust_root(ws, cert, _extra or [], now)
    previous = ws.keys.load(code) if ws.keys.has(code) else None
    try:
        return _replace(ws, who, code, key_pem, cert_pem)
    except BaseException:
        if previous is not None:  # the row still names the old certificate: keep them a pair
            ws.keys.save(code, *previous)
        raise


def _replace(ws: Wenshu, who: Principal, code: str, key_pem: bytes, cert_pem: bytes) -> CertInfo:
    with ws.db.write() as s:
        org = _org(s, code)
        old = cert_fingerprint(org.cert_pem)
        record_certificate(s, org, cert_pem.decode("ascii"), ws.now())
        org.cert_is_test = False
        ws.keys.save(code, key_pem, cert_pem)  # before commit: the row never names a missing key
        info = cert_info(org.cert_pem, False)
        AuditChain.append(
            s,
            actor=who.name,
            action="org.certificate",
            org=code,
            object_id=code,
            details={
                "old_cert_sha256": old,
                "new_cert_sha256": info.sha256,
                "subject": info.subject,
                "not_after": info.not_after.isoformat(),
            },
        )
    return info


def _chains_to_trust_root(
    ws: Wenshu, cert: x509.Certificate, extra: list[x509.Certificate], now: datetime
) -> None:
    """Refuse a certificate that does not chain to one of ``WENSHU_TRUST_ROOTS`` (for digital
    signatures, valid now); intermediates may come in the PKCS#12 file."""
    path = ws.settings.accounts.trust_roots
    if path is None:
        raise ValidationError(
            "未配置信任根证书（WENSHU_TRUST_ROOTS），非测试机构不能上传证书",
            errors={"p12": ["未配置信任根"]},
        )
    try:
        roots = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ValidationError(
            f"信任根证书文件无法读取：{path}", errors={"p12": ["信任根无法读取"]}
        ) from exc

    def asn1(c: x509.Certificate) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))

    context = ValidationContext(
        trust_roots=[asn1(r) for r in roots],
        other_certs=[asn1(c) for c in extra],
        moment=now,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    validator = CertificateValidator(asn1(cert), validation_context=context)
    try:
        asyncio.run(validator.async_validate_usage({"digital_signature"}))
    except (PathBuildingError, PathValidationError, InvalidCertificateError) as exc:
        raise ValidationError(
            "证书未由配置的信任根签发（或已吊销、用途不符），不能用于正式机构",
            errors={"p12": ["证书链不通向信任根"]},
        ) from exc


def _can_seal(key_pem: bytes, cert_pem: bytes) -> None:
    buf = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.write(buf)
    signed = sign_pdf(buf.getvalue(), key_pem=key_pem, cert_pem=cert_pem, reason="证书检查")
    report = verify_pdf(signed, trusted_certs=[cert_pem])
    if not report.ok:
        raise ValidationError(
            f"该证书无法用于签章：{report.error or '签名验证未通过'}（证书须允许数字签名和不可否认）",
            errors={"p12": ["证书无法用于签章"]},
        )


def _org(s: Any, code: str) -> Org:
    org = s.scalar(select(Org).where(Org.code == code))
    if org is None:
        raise NotFoundError(f"机构 {code} 不存在")
    return org
