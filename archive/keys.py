"""Where each org's signing key lives: a folder of its own, outside the archive, mode 0600."""

from __future__ import annotations

import os
from pathlib import Path


class KeyStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _dir(self, org_code: str) -> Path:
        if not org_code.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"bad org code {org_code!r}")
        return self.root / org_code

    def save(self, org_code: str, key_pem: bytes, cert_pem: bytes) -> None:
        d = self._dir(org_code)
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        os.chmod(d, 0o700)
        key_path = d / "signing-key.pem"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key_pem)
        (d / "certificate.pem").write_bytes(cert_pem)

    def has(self, org_code: str) -> bool:
        return (self._dir(org_code) / "signing-key.pem").is_file()

    def load(self, org_code: str) -> tuple[bytes, bytes]:
        d = self._dir(org_code)
        return (d / "signing-key.pem").read_bytes(), (d / "certificate.pem").read_bytes()
