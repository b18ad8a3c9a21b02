"""Signed checkpoints of the audit chain: the head (seq, hash) signed with each org's key.

The hash chain alone shows an edit only if the editor left the later hashes alone; someone with
write access to the database can recompute them all. A checkpoint pins the head at a moment with
a signature the database cannot forge without the org's key, and an auditor keeps copies of them
in exports: a rewritten chain then contradicts an earlier checkpoint.

Each checkpoint is also an ``audit.checkpoint`` event, so deleting a checkpoint row shows up as an
event without its row.

The signed payload is the canonical JSON (see :func:`archive.audit.canonical_json`) of::

    {"kind": "wenshu-audit-checkpoint/1", "org": …, "seq": …, "head_hash": …, "at": …}

signed with ECDSA P-256 / SHA-256, DER, base64 — checkable with nothing but ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.audit import AuditChain, canonical_json, iso
from archive.models import AuditCheckpoint, AuditEvent, AuditHead

KIND = "wenshu-audit-checkpoint/1"
ACTION = "audit.checkpoint"


def payload(*, org: str, seq: int, head_hash: str, at: datetime | str) -> bytes:
    """The bytes a checkpoint signature covers."""
    stamp = at if isinstance(at, str) else iso(at)
    return canonical_json(
        {"kind": KIND, "org": org, "seq": seq, "head_hash": head_hash, "at": stamp}
    ).encode("utf-8")


def cert_fingerprint(cert_pem: bytes | str) -> str:
    """sha256 of the certificate's DER encoding, as hex."""
    pem = cert_pem.encode("ascii") if isinstance(cert_pem, str) else cert_pem
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def sign(key_pem: bytes, data: bytes) -> str:
    """ECDSA-SHA256 with an EC key, RSA PKCS#1 v1.5 SHA-256 with an RSA key (the two kinds of
    key an org's certificate may have)."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise ValueError("checkpoints are signed with an EC or RSA key")
    return base64.b64encode(signature).decode("ascii")


def signature_ok(cert_pem: bytes | str, data: bytes, signature_b64: str) -> bool:
    pem = cert_pem.encode("ascii") if isinstance(cert_pem, str) else cert_pem
    public_key = x509.load_pem_x509_certificate(pem).public_key()
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def make_checkpoints(
    session: Session,
    identities: Mapping[str, tuple[bytes, bytes]],
    *,
    actor: str,
    reason: str,
    at: datetime,
) -> list[AuditCheckpoint]:
    """Sign the current head with each org's ``(key_pem, cert_pem)``, inside a write transaction.

    All checkpoints of one call cover the same (seq, hash); the ``audit.checkpoint`` events that
    record them follow it in the chain. An empty chain has nothing to sign.
    """
    head = session.get(AuditHead, 1, with_for_update=True)
    if head is None or head.seq == 0:
        return []
    seq, head_hash = head.seq, head.hash
    made = []
    for org, (key_pem, cert_pem) in sorted(identities.items()):
        cp = AuditCheckpoint(
            org=org,
            seq=seq,
            head_hash=head_hash,
            at=at,
            reason=reason,
            cert_sha256=cert_fingerprint(cert_pem),
            signature=sign(key_pem, payload(org=org, seq=seq, head_hash=head_hash, at=at)),
        )
        session.add(cp)
        made.append(cp)
    session.flush()
    for cp in made:
        AuditChain.append(
            session,
            actor=actor,
            action=ACTION,
            org=cp.org,
            object_id=f"{cp.org}@{cp.seq}",
            at=at,
            details={
                "seq": cp.seq,
                "head_hash": cp.head_hash,
                "reason": reason,
                "cert_sha256": cp.cert_sha256,
            },
        )
    return made


def last_activity_seq(session: Session) -> int:
    """The last event that is not itself a checkpoint record (0 for an empty chain)."""
    return int(
        session.scalar(
            select(AuditEvent.seq)
            .where(AuditEvent.action != ACTION)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        or 0
    )


def last_checkpoint_seq(session: Session, org: str) -> int:
    return int(
        session.scalar(
            select(AuditCheckpoint.seq)
            .where(AuditCheckpoint.org == org)
            .order_by(AuditCheckpoint.seq.desc())
            .limit(1)
        )
        or 0
    )


def checkpoint_dict(cp: AuditCheckpoint) -> dict[str, Any]:
    return {
        "org": cp.org,
        "seq": cp.seq,
        "head_hash": cp.head_hash,
        "at": iso(cp.at),
        "reason": cp.reason,
        "cert_sha256": cp.cert_sha256,
        "signature": cp.signature,
    }


@dataclass(frozen=True)
class CheckpointProblem:
    org: str
    seq: int
    """The checkpoint's seq."""
    message: str
    first_bad_seq: int
    """The earliest event this problem puts in doubt. For a contradicted head it is one past
    the newest earlier checkpoint that still agrees: the rewrite lies in (that, seq]."""


@dataclass
class CheckpointReport:
    checked: int = 0
    problems: list[CheckpointProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        """The earliest seq a contradicted checkpoint lets us blame."""
        if not self.problems:
            return None
        return min(p.first_bad_seq for p in self.problems)


def signature_problem(cp: AuditCheckpoint, certs: Mapping[str, Mapping[str, str]]) -> str | None:
    """Why ``cp``'s signature does not hold under the org certificate it names (``None``: it
    holds). ``certs`` as for :func:`verify_checkpoints`."""
    known = certs.get(cp.org)
    cert = (known or {}).get(cp.cert_sha256)
    if not known:
        return f"机构 {cp.org} 的证书不存在，无法验证检查点"
    if cert is None or cert_fingerprint(cert) != cp.cert_sha256:
        return f"检查点由一份不是该机构证书的证书签署（{cp.cert_sha256[:16]}…）"
    if not signature_ok(
        cert, payload(org=cp.org, seq=cp.seq, head_hash=cp.head_hash, at=cp.at), cp.signature
    ):
        return "检查点签名无效"
    return None


def newest_checkpoint(session: Session, *, up_to_seq: int) -> AuditCheckpoint | None:
    """The checkpoint with the highest seq at or before ``up_to_seq`` (one index lookup)."""
    return session.scalar(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.seq <= up_to_seq)
        .order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id)
        .limit(1)
    )


def verify_checkpoints(
    session: Session,
    certs: Mapping[str, Mapping[str, str]],
    *,
    orgs: set[str] | None = None,
    after_seq: int = 0,
    through_seq: int | None = None,
) -> CheckpointReport:
    """Every checkpoint's signature, and its head against the chain as stored now.

    ``certs`` maps org code to the sha256 and PEM of each certificate the org has had
    (``archive.certificates.certificate_history``): a checkpoint verifies under the one it
    names. Run after :func:`archive.audit.verify_chain`:
    once the chain recomputes, the stored hash at a seq is the chain's hash there, so a
    checkpoint that disagrees proves a rewrite up to that seq.

    ``after_seq``/``through_seq`` limit it to the checkpoints (and ``audit.checkpoint`` events)
    of a stretch of the chain, after :func:`archive.audit.verify_segment` of that stretch.
    """
    report = CheckpointReport()
    q = select(AuditCheckpoint).order_by(AuditCheckpoint.seq, AuditCheckpoint.id)
    if orgs is not None:
        q = q.where(AuditCheckpoint.org.in_(orgs))
    q = q.where(AuditCheckpoint.seq > after_seq)
    if through_seq is not None:
        q = q.where(AuditCheckpoint.seq <= through_seq)
    rows = list(session.scalars(q))
    hashes = dict(
        session.execute(
            select(AuditEvent.seq, AuditEvent.hash).where(
                AuditEvent.seq.in_({cp.seq for cp in rows})
            )
        ).all()
    )
    chain_end = int(session.scalar(select(func.max(AuditEvent.seq))) or 0)
    agreed = after_seq
    for cp in rows:
        report.checked += 1
        problem, blame = signature_problem(cp, certs), cp.seq
        if problem is None and cp.seq not in hashes:
            problem = f"检查点指向第 {cp.seq} 号事件，但链中没有该事件（链被截断）"
            blame = chain_end + 1
        elif problem is None and hashes[cp.seq] != cp.head_hash:
            blame = agreed + 1
            problem = (
                f"链在第 {cp.seq} 号事件处的哈希与已签名检查点不符：第 {agreed + 1}–{cp.seq} "
                "号事件之间被改写"
            )
        if problem is None:
            agreed = max(agreed, cp.seq)
        else:
            report.problems.append(
                CheckpointProblem(
                    cp.org, cp.seq, f"{cp.org} 第 {cp.seq} 号检查点：{problem}", blame
                )
            )
    _check_recorded(session, orgs, report, after_seq, through_seq)
    return report


def _check_recorded(
    session: Session,
    orgs: set[str] | None,
    report: CheckpointReport,
    after_seq: int,
    through_seq: int | None,
) -> None:
    """Every ``audit.checkpoint`` event must still have its checkpoint row (none deleted)."""
    q = select(AuditEvent).where(AuditEvent.action == ACTION, AuditEvent.seq > after_seq)
    if through_seq is not None:
        q = q.where(AuditEvent.seq <= through_seq)
    if orgs is not None:
        q = q.where(AuditEvent.org.in_(orgs))
    recorded = [
        (ev, json.loads(ev.details).get("seq"))
        for ev in session.scalars(q.order_by(AuditEvent.seq))
    ]
    named = [int(seq) for _ev, seq in recorded if isinstance(seq, int)]
    have: set[tuple[str, int]] = set()
    if named:
        have = {
            (org, seq)
            for org, seq in session.execute(
                select(AuditCheckpoint.org, AuditCheckpoint.seq).where(
                    AuditCheckpoint.seq >= min(named), AuditCheckpoint.seq <= max(named)
                )
            )
        }
    for ev, seq in recorded:
        if (ev.org, seq) not in have:
            report.problems.append(
                CheckpointProblem(
                    ev.org or "",
                    int(seq or 0),
                    f"第 {ev.seq} 号事件记录了 {ev.org} 第 {seq} 号检查点，但该检查点已不存在",
                    ev.seq,
                )
            )
