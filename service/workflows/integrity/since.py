"""``wenshu verify --since-checkpoint``: verify what was added since the last verified checkpoint.

A full verification recomputes the whole chain and validates every PDF: hours at a million
documents. But what an earlier verification found intact stays intact unless rewritten, and a
rewrite before a signed checkpoint contradicts the checkpoint. So this starts from the newest
signed checkpoint at or before the last event an earlier verification of the whole archive
found intact (``verified_through`` in its ``fixity.check`` events, written by a full
``wenshu verify`` or by an earlier run of this one), and checks:

- the checkpoint's signature, under the org certificate it names;
- that the stored event at the checkpoint's seq recomputes to the hash it signed;
- every event after it, recomputed link by link to the head (``verify_segment``);
- every checkpoint after it (signature, head against the chain) and that each
  ``audit.checkpoint`` event after it still has its row;
- every document whose ``document.issue`` event comes after it: its three blobs, its PDF
  signature against its org's certificates, its row against that event; and every
  ``document.withdraw`` event after it against its 作废 row.

Every lookup goes by primary key or by index from the checkpoint's seq, so the cost follows what
was added, not the size of the archive. What it does not see — a row before the checkpoint
edited past the triggers — is the fixity cycle's to find (``cycle.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.audit import event_recomputes, verify_segment
from archive.certificates import certificate_history, trusted_certificates
from archive.checkpoints import newest_checkpoint, signature_problem, verify_checkpoints
from archive.errors import ConflictError
from archive.models import AuditCheckpoint, AuditEvent
from service.wiring import Wenshu
from service.workflows.integrity.documents import FileChecker
from service.workflows.integrity.fixity import (
    ArchiveReport,
    Problem,
    check_issued,
    record,
    withdrawals_in,
)


class NoVerifiedCheckpoint(ConflictError):
    code = "no_verified_checkpoint"


@dataclass(frozen=True)
class Start:
    checkpoint: AuditCheckpoint
    verified_through: int


def last_verified_seq(s: Session) -> int | None:
    """The last event an earlier verification of the whole archive found intact."""
    details = s.scalar(
        select(AuditEvent.details)
        .where(
            AuditEvent.action == "fixity.check",
            AuditEvent.details.contains('"verified_through"'),
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    if details is None:
        return None
    value = json.loads(details).get("verified_through")
    return value if isinstance(value, int) else None


def starting_point(s: Session) -> Start:
    verified = last_verified_seq(s)
    if verified is None:
        raise NoVerifiedCheckpoint(
            "没有经过验证的起点：还没有一次完整验证通过。请先运行 wenshu verify（完整验证），"
            "之后的签名检查点才能作为 --since-checkpoint 的起点"
        )
    cp = newest_checkpoint(s, up_to_seq=verified)
    if cp is None:
        raise NoVerifiedCheckpoint(
            f"完整验证已通过至第 {verified} 号事件，但此前没有签名检查点。请先签署检查点"
            "（wenshu checkpoint），再运行一次 wenshu verify（完整验证）"
        )
    return Start(cp, verified)


def verify_since_checkpoint(ws: Wenshu, *, actor: str) -> ArchiveReport:
    """Check what was added after the starting checkpoint and record the outcome."""
    report = ArchiveReport()
    with ws.db.read() as s:
        start = starting_point(s)
        cp = start.checkpoint
        report.details = {
            "mode": "since_checkpoint",
            "checkpoint": f"{cp.org}@{cp.seq}",
            "after_seq": cp.seq,
        }
        when = ws.local_time(cp.at).strftime("%Y-%m-%d %H:%M:%S")
        problem = signature_problem(cp, certificate_history(s, {cp.org}))
        problem = problem or event_recomputes(s, cp.seq, cp.head_hash)
        if problem is not None:
            report.problems.append(
                Problem(
                    "checkpoint", f"起点检查点 {cp.org}@{cp.seq}：{problem}", cp.org, seq=cp.seq
                )
            )
    if report.problems:  # nothing after an untrustworthy start can be trusted either
        record(ws, report, actor=actor)
        return report
    with ws.db.read() as s:
        report.lines.append(
            f"起点：检查点 {cp.org}@{cp.seq}（{when}），签名有效，第 {cp.seq} 号事件的哈希与"
            f"签名一致（此前的完整验证通过至第 {start.verified_through} 号事件）"
        )
        chain = report.chain = verify_segment(s, after_seq=cp.seq)
        if chain.ok:
            report.lines.append(
                f"审计链：第 {cp.seq + 1}–{chain.head_seq} 号事件（{chain.checked} 个）"
                f"逐个重新计算无误，链头 {chain.head_hash[:16]}…"
            )
        else:
            report.problems.append(
                Problem(
                    "chain",
                    f"审计链在第 {chain.first_bad_seq} 号事件处断开：{chain.problem}",
                    seq=chain.first_bad_seq,
                )
            )
        # the other orgs' checkpoints of the same seq too (each org signs the same head)
        cps = report.checkpoints = verify_checkpoints(
            s, certificate_history(s), after_seq=cp.seq - 1
        )
        report.lines.append(f"检查点：起点及其后共 {cps.checked} 个已验证")
        for p in cps.problems:
            report.problems.append(
                Problem(
                    "checkpoint", f"检查点 {p.org}@{p.seq}：{p.message}", p.org, seq=p.first_bad_seq
                )
            )
        withdrawals = withdrawals_in(s, cp.seq)
        trusted = trusted_certificates(s)
        last = int(s.scalar(select(func.max(AuditEvent.seq))) or cp.seq)  # past a break too
    with FileChecker(
        ws.blobs.root, trusted, workers=ws.settings.integrity.verify_workers
    ) as checker:
        found, missing = check_issued(ws, checker, report, cp.seq, last)
    report.problems.extend(missing)
    report.problems.extend(found)
    bad = {p.document_id for p in found}
    report.problems.extend(withdrawals[1])
    report.lines.append(
        f"文书：检查点之后发文 {sum(report.checked.values())} 份，已核对三个文件的哈希、PDF 签名与发文记录，"
        f"{len(bad)} 份有问题；作废记录 {withdrawals[0]} 条已核对"
    )
    if report.ok:
        report.verified_through = chain.head_seq
    record(ws, report, actor=actor)
    return report
