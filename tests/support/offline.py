"""Offline checks a test runs as an auditor would: scripts/verify_export.py in a bare Python, and
an RSA identity for certificates that are not ECDSA."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support import ROOT

SCRIPT = ROOT / "scripts" / "verify_export.py"


def verify_export(export: dict[str, Any] | Path, tmp: Path, *extra: str) -> tuple[int, str]:
    path = export if isinstance(export, Path) else tmp / "variant.json"
    if not isinstance(export, Path):
        path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    # -I: no PYTHONPATH, no cwd on sys.path — only the standard library and installed packages
    p = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), str(path), *extra], capture_output=True, text=True
    )
    return p.returncode, p.stdout + p.stderr


def rsa_identity(org: str) -> tuple[bytes, bytes]:
    """An RSA key and certificate, as a bureau's CA may issue (the upload accepts RSA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{org} 医疗保障局")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now.replace(year=now.year + 1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)
