"""Every signing certificate each org has had (``org_certificates``), for verification.

A document is trusted, and a checkpoint verifies, under whichever of its org's certificates
signed it: replacing a certificate does not orphan what was signed before.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.checkpoints import cert_fingerprint
from archive.models import Org, OrgCertificate


def record_certificate(session: Session, org: Org, cert_pem: str, at: datetime) -> str:
    """Make ``cert_pem`` the org's certificate and keep it in the history; returns its sha256.

    Taking back a certificate the org had before adds no row (it is already there)."""
    sha256 = cert_fingerprint(cert_pem)
    org.cert_pem = cert_pem
    known = session.scalar(
        select(OrgCertificate.id).where(
            OrgCertificate.org_id == org.id, OrgCertificate.sha256 == sha256
        )
    )
    if known is None:
        session.add(OrgCertificate(org_id=org.id, sha256=sha256, cert_pem=cert_pem, added_at=at))
    return sha256


def certificate_history(
    session: Session, orgs: set[str] | None = None
) -> dict[str, dict[str, str]]:
    """Org code → sha256 → PEM of every certificate the org has had (``orgs``: None = all)."""
    q = select(Org.code, OrgCertificate.sha256, OrgCertificate.cert_pem).join(
        Org, OrgCertificate.org_id == Org.id
    )
    if orgs is not None:
        q = q.where(Org.code.in_(orgs))
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for code, sha256, pem in session.execute(q.order_by(OrgCertificate.id)):
        out[code][sha256] = pem
    return dict(out)


def trusted_certificates(session: Session, orgs: set[str] | None = None) -> dict[str, list[bytes]]:
    """Org code → every certificate the org has had, as ``verify_pdf(trusted_certs=…)`` takes
    them (``orgs``: None = all)."""
    return {
        code: [pem.encode("ascii") for pem in pems.values()]
        for code, pems in certificate_history(session, orgs).items()
    }
