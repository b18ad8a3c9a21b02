"""An org replaces its signing certificate: what was signed before still verifies.

Real signatures (pyHanko), real checkpoints, the web upload an admin uses, the audit export
and the offline verifier; on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import load_pem_x509_certificate
from sqlalchemy import select, text

from archive.checkpoints import cert_fingerprint
from archive.models import AuditEvent, OrgCertificate
from service.documents.pades import make_dev_identity
from service.workflows.accounts import add_user
from service.workflows.integrity.fixity import checkpoint_now, verify_archive
from tests.support import sample
from tests.support.apps import Client, make_app
from tests.support.offline import verify_export as verify_offline
from tests.support.web import pkcs12_upload


def bureau_p12(password: bytes = b"x") -> tuple[bytes, str]:
    """A PKCS#12 file as a CA would hand it over, and its certificate's PEM."""
    key_pem, cert_pem = make_dev_identity("吕梁市医疗保障局", org_code="11141100MB1953410X")
    key = serialization.load_pem_private_key(key_pem, password=None)
    cert = load_pem_x509_certificate(cert_pem)
    data = pkcs12.serialize_key_and_certificates(
        b"bureau", key, cert, None, serialization.BestAvailableEncryption(password)
    )
    return data, cert_pem.decode("ascii")


@pytest.fixture
def bureau(tmp_path: Path, converter_dir: dict[str, Any], database_url: str) -> Any:
    app = make_app(tmp_path, converter_dir, DATABASE_URL=database_url)
    ws = app.extensions["wenshu"]
    users = {
        role: Client(app, add_user(ws, name=f"u-{role}", role=role, org_code="llyb"))
        for role in ("clerk", "auditor")
    }
    yield app, ws, users
    ws.close()


def issue(clerk: Client) -> dict[str, Any]:
    r = clerk.post("/api/v1/documents", {"type": "notice", "org": "llyb", "data": sample("notice")})
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def test_documents_and_checkpoints_signed_before_a_new_certificate_still_verify(
    bureau: Any, tmp_path: Path
) -> None:
    app, ws, users = bureau
    clerk, auditor = users["clerk"], users["auditor"]
    with ws.db.read() as s:
        first_pem = s.scalar(text("SELECT cert_pem FROM orgs WHERE code = 'llyb'"))
    before = issue(clerk)
    checkpoint_now(ws, actor="test", reason="manual", orgs={"llyb"})

    data, new_pem = bureau_p12()
    status, page = pkcs12_upload(app, ws, data)
    assert status == 200 and "无法读取" not in page, page[:2000]
    after = issue(clerk)
    checkpoint_now(ws, actor="test", reason="manual", orgs={"llyb"})

    for doc in (before, after):
        v = auditor.get(doc["links"]["verify"]).get_json()
        assert v["sha256_ok"] and v["signature"]["trusted"] and v["signature"]["valid"], v
    report = verify_archive(ws)
    assert report.ok, [p.message for p in report.problems]
    assert report.checkpoints.checked == 2

    with ws.db.read() as s:
        history = [
            (row.sha256, row.cert_pem)
            for row in s.scalars(select(OrgCertificate).order_by(OrgCertificate.id))
        ]
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "org.certificate")).one()
    assert [sha for sha, _ in history[-2:]] == [
        cert_fingerprint(first_pem),
        cert_fingerprint(new_pem),
    ]
    details = json.loads(event.details)
    assert details["old_cert_sha256"] == cert_fingerprint(first_pem)
    assert details["new_cert_sha256"] == cert_fingerprint(new_pem)
    for sql in ("UPDATE org_certificates SET cert_pem = 'x'", "DELETE FROM org_certificates"):
        with pytest.raises(Exception, match="append-only"):
            with ws.db.write() as s:
                s.execute(text(sql))

    # Offline: the export carries the earlier certificate, vouched for by the chain's event.
    r = auditor.get("/api/v1/audit/export")
    assert r.status_code == 200
    export = json.loads(r.data)
    previous = export["certificates"]["llyb"]["previous"]
    assert [p["sha256"] for p in previous] == [cert_fingerprint(first_pem)]
    code, out = verify_offline(export, tmp_path)
    assert code == 0, out

    # A certificate the org never had, slipped in as an "earlier" one, is refused.
    stranger = copy.deepcopy(export)
    _, foreign_pem = make_dev_identity("吕梁市医疗保障局", org_code="llyb")
    stranger["certificates"]["llyb"]["previous"].append(
        {"sha256": cert_fingerprint(foreign_pem), "pem": foreign_pem.decode("ascii")}
    )
    code, out = verify_offline(stranger, tmp_path)
    assert code == 1 and "no org.certificate event in the chain replaced it" in out, out
    # And without the earlier certificate, the first checkpoint cannot be verified.
    bare = copy.deepcopy(export)
    bare["certificates"]["llyb"]["previous"] = []
    code, out = verify_offline(bare, tmp_path)
    assert code == 1 and "signed with a certificate that is not the org's" in out, out
