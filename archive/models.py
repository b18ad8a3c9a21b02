"""SQLAlchemy 2 models of the archive. Portable: nothing here is SQLite-only.

The document row and its blobs are written once and never updated; a withdrawal is a row of its
own. Audit events are append-only (the database rejects UPDATE and DELETE, see the migration).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from schemas.masking import mask_identifiers


def new_id() -> str:
    """A fresh id for a document, a draft or an upload: 20 random hex characters that the
    masking of identifiers never touches.

    Ids travel in audit details, log lines and search answers, each of which goes through
    :func:`schemas.masking.mask_identifiers`. About one random 20-hex id in 125 holds a run
    shaped like a 身份证号 or a 统一社会信用代码 (``610103811348572162f7``) and would come out
    masked — an audit event naming a draft it could no longer be matched to. Such a draw is
    drawn again.
    """
    while True:
        candidate = secrets.token_hex(10)
        if mask_identifiers(candidate) == candidate:
            return candidate


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Org(Base):
    """An issuing bureau: its letterhead, its numbering prefixes and its signing certificate."""

    __tablename__ = "orgs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    mark: Mapped[str] = mapped_column(String(200))  # 发文机关标志
    zihao: Mapped[str] = mapped_column(String(50))  # 机关代字
    fonds_no: Mapped[str] = mapped_column(String(20))  # 全宗号
    unit_code: Mapped[str] = mapped_column(String(20))  # 机构代码 in the 档号
    seal_text: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(100), default="")
    cert_pem: Mapped[str] = mapped_column(Text)  # public; the key lives in KEYS_DIR
    cert_is_test: Mapped[bool] = mapped_column(Boolean, default=True)
    # a test org (the demo) may take any certificate; others only one chaining to a trust root
    is_test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OrgCertificate(Base):
    """Every signing certificate an org has had, from the moment it took it on.

    Append-only: a document or checkpoint signed under a certificate the org has since
    replaced still verifies against it. The current one is ``Org.cert_pem``, also here.
    """

    __tablename__ = "org_certificates"
    __table_args__ = (UniqueConstraint("org_id", "sha256", name="uq_org_certificates_org_sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))  # of the DER, as checkpoints name it
    cert_pem: Mapped[str] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(50), default="", server_default="")  # 姓名
    role: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )  # None: never (WENSHU_TOKEN_MAX_AGE_DAYS=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SeriesCounter(Base):
    """The next never-used number of one series (发文字号 or 档号). Never a database sequence."""

    __tablename__ = "series_counters"
    series: Mapped[str] = mapped_column(String(200), primary_key=True)
    next_n: Mapped[int] = mapped_column(Integer)


class NumberReservation(Base):
    """Every number ever handed out, and what became of it.

    status: ``reserved`` (a request is rendering with it), ``used`` (on an archived document),
    ``released`` (its request failed; the next request reuses it), ``voided`` (retired on record).
    """

    __tablename__ = "number_reservations"
    __table_args__ = (UniqueConstraint("series", "n", name="uq_number_reservations_series_n"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series: Mapped[str] = mapped_column(String(200), index=True)
    n: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    token: Mapped[str] = mapped_column(String(32))
    reserved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    document_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Document(Base):
    """An issued document. Written once; never updated or deleted."""

    __tablename__ = "documents"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    case_no: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    title: Mapped[str] = mapped_column(Text)
    wenhao: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    archive_no: Mapped[str] = mapped_column(String(100), unique=True)
    retention: Mapped[str] = mapped_column(String(8))
    input_sha256: Mapped[str] = mapped_column(String(64))
    docx_sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    page_count: Mapped[int] = mapped_column(Integer)
    supersedes: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), nullable=True)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # computed metadata
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    issued_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seal_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The seal image printed on it (a blob); None: no seal, or issued before seals were kept."""
    seal_drawn: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    """The seal was the drawn test seal of an org without an uploaded one."""
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    """Its 附件: ``{"n", "title"}`` each, and for a file appended to it ``sha256`` (the PDF
    appended, a blob), ``pages`` and ``upload_id`` or ``document_id``."""
    template_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The DOCX template it was rendered from (a blob: the org's active version, or the
    committed default); None: issued before templates were recorded."""


class Withdrawal(Base):
    """作废: the document and its number stay; this row marks it, with the reason."""

    __tablename__ = "withdrawals"
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    withdrawn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class AuditEvent(Base):
    """One link of the hash chain. ``hash`` covers ``prev_hash`` and every other column."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_action_seq", "action", "seq", postgresql_include=["org"]),
    )
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    org: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    action: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(100), index=True, nullable=True)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's head: one row, locked by every append so appends serialise on any database."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


class IndexQueueEntry(Base):
    """A durable to-do for the search index, written in the same transaction as the document."""

    __tablename__ = "index_queue"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(String(32))
    enqueued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )


class Case(Base):
    """An inspection case: the notice, records, transcripts and report of one inspection."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("org_id", "case_no", name="uq_cases_org_case_no"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    case_no: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class UserCredential(Base):
    """A web user's password (argon2id hash).

    Kept apart from ``users`` so API-only users need none. ``session_nonce`` is copied into
    every login session; changing it (logout, new password, disabling) ends that user's
    sessions. ``must_change``: a temporary password (an administrator's reset) that opens only
    the page where the user sets their own.
    """

    __tablename__ = "user_credentials"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    session_nonce: Mapped[str] = mapped_column(String(32))
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PasswordHistory(Base):
    """The hashes of a user's earlier passwords: a new one may not repeat the last five."""

    __tablename__ = "password_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Recent failed logins of one source address, or of one (source, typed name) pair.

    Back-off is by where the attempts come from, never by the account alone, so nobody can
    lock another person out by typing their name (``service/workflows/accounts/throttle.py``).
    """

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEventSalt(Base):
    """The random salt of one audit event, kept apart so an export can redact an event.

    An event's hash covers ``sha256(salt, at, actor, org, action, object_id, details)``; without
    the salt nobody can confirm a guess at a redacted event's content. Append-only, like the
    events themselves.
    """

    __tablename__ = "audit_event_salts"
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    salt: Mapped[str] = mapped_column(String(32))


class AuditCheckpoint(Base):
    """The chain head (seq, hash) at a moment, signed with one org's key. Append-only.

    A later rewrite of any event at or before ``seq`` contradicts this signature, even when the
    rewriter recomputed every hash after it.
    """

    __tablename__ = "audit_checkpoints"
    __table_args__ = (UniqueConstraint("org", "seq", name="uq_audit_checkpoints_org_seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org: Mapped[str] = mapped_column(String(32), index=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(40))  # interval | manual | export | report | cli
    cert_sha256: Mapped[str] = mapped_column(String(64))  # which certificate verifies it
    signature: Mapped[str] = mapped_column(Text)  # base64 DER ECDSA-SHA256 over the payload


class LegalHold(Base):
    """A legal hold placed on (``placed``) or lifted from (not ``placed``) a document.

    Append-only: the document's hold is its latest row. A held document is never offered for
    disposition, whatever its retention.
    """

    __tablename__ = "legal_holds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    placed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    by_user: Mapped[int] = mapped_column(ForeignKey("users.id"))


class SignedCopy(Base):
    """One uploaded version of a document's hand-signed paper original (the scan, a blob).

    Append-only: a new upload is the next version; earlier ones stay. ``pages`` is the scan's
    page count, ``expected_pages`` the generated document's at upload time.
    """

    __tablename__ = "signed_copies"
    __table_args__ = (
        UniqueConstraint("document_id", "version", name="uq_signed_copies_document_version"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))  # the scan as a PDF (images assembled)
    source: Mapped[str] = mapped_column(String(10))  # pdf | images
    size: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int] = mapped_column(Integer)
    expected_pages: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class SignedCopyOcr(Base):
    """The outcome of recognising one signed copy: a searchable PDF/A and its text (blobs).

    Append-only, one row per run (a scan recognised again without a new upload is run 2 …):
    ``status`` is ``done`` or ``failed`` (with ``error``); ``comparison`` is the scan checked
    page by page against the generated document (``service.documents.scans.check``).
    """

    __tablename__ = "signed_copy_ocr"
    signed_copy_id: Mapped[int] = mapped_column(
        ForeignKey("signed_copies.id"), primary_key=True, autoincrement=False
    )
    run: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False, default=1, server_default="1"
    )
    engine: Mapped[str | None] = mapped_column(String(16), nullable=True)
    comparison: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(10))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    text_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rotated_pages: Mapped[list[int]] = mapped_column(JSON, default=list)
    seconds: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OcrQueueEntry(Base):
    """A durable to-do for the recogniser, written in the same transaction as the upload.

    ``claimed_at`` marks a recogniser at work; a claim older than the lease is taken over (its
    process died). ``done_at`` is set in the transaction that stores the outcome.
    """

    __tablename__ = "ocr_queue"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signed_copy_id: Mapped[int] = mapped_column(ForeignKey("signed_copies.id"))
    enqueued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    run: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """The recognition this entry makes: 1 at upload, the next for ``wenshu ocr --again``."""
    pages_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Pages read so far (the document page shows the progress)."""


class SignedCopyReview(Base):
    """An inspector's or auditor's confirmation of a scan's comparison (append-only).

    ``kind`` ``differences``: the differences found were looked at (``reason`` says what they
    are); ``signature``: a signature is absent on ``page`` for ``reason`` — the case counts it as
    settled.
    """

    __tablename__ = "signed_copy_reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signed_copy_id: Mapped[int] = mapped_column(ForeignKey("signed_copies.id"), index=True)
    run: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    reviewed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Draft(Base):
    """拟稿 → 核稿/签发 → 编号: one document on its way, from the first save to its issue.

    Its content lives in ``draft_versions`` (append-only, one row per save); this row holds
    where it stands. ``state``: ``draft``, ``submitted``, ``returned``, ``approved``, ``issued``
    or ``withdrawn``; nothing is deleted. ``issuing_token``/``issuing_since`` mark a request
    producing its document (a claim with a lease, so two issue calls make one document);
    ``document_id`` and ``data_sha256`` are set in the transaction that archives it.
    """

    __tablename__ = "drafts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    case_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    supersedes: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state: Mapped[str] = mapped_column(String(12), index=True)
    version: Mapped[int] = mapped_column(Integer)  # the current (latest) version
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    returns: Mapped[int] = mapped_column(Integer, default=0)
    approved_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    approval_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    issuing_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    issuing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    document_id: Mapped[str | None] = mapped_column(
        ForeignKey("documents.id"), unique=True, nullable=True
    )
    data_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)


class DraftVersion(Base):
    """One saved version of a draft's data, as the drafter sent it. Append-only."""

    __tablename__ = "draft_versions"
    __table_args__ = (
        UniqueConstraint("draft_id", "version", name="uq_draft_versions_draft_version"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))  # of the data's canonical JSON
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    saved_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class DraftStep(Base):
    """One step of a draft's history (create, update, submit, return, approve, withdraw,
    issue): who, when, on which version, with the comment. Append-only."""

    __tablename__ = "draft_steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id"), index=True)
    action: Mapped[str] = mapped_column(String(12))
    version: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    by_user: Mapped[int] = mapped_column(ForeignKey("users.id"))


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` a user sent with an issue request, and the answer it got.

    ``status`` is None while the first request runs; the answer (status and JSON) is kept so a
    retry with the same key and body gets it again. A request that failed leaves no row.
    """

    __tablename__ = "idempotency_keys"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    scope: Mapped[str] = mapped_column(String(200))  # the operation, e.g. POST /api/v1/documents
    request_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Upload(Base):
    """A file an org uploaded to attach to its notices: a PDF, or a DOCX and the PDF made of it.

    Append-only. ``sha256`` names the bytes as uploaded, ``pdf_sha256`` the PDF that is
    appended (the same blob for a PDF); both are blobs. Only the org's own users read it.
    """

    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(100))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class OrgSeal(Base):
    """A seal image (公章, a PNG with transparency, a blob) an org took on. Append-only.

    The org's latest row is the seal it seals with; an org with no row seals with the drawn
    test seal (``service/documents/seal.py``).
    """

    __tablename__ = "org_seals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    added_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class OrgTemplate(Base):
    """A version of a document type's template (DOCX, a blob) an org uploaded. Append-only.

    Uploaded only after it passed the type's contract (``wenshu template check``); it is used
    from its activation (:class:`OrgTemplateActivation`) on, and stays listed after another
    is activated.
    """

    __tablename__ = "org_templates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    added_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class OrgTemplateActivation(Base):
    """An org took a template version of a type on (an uploaded one, or the committed default
    again). Append-only: the latest row of an org and type names the template its documents
    of that type are rendered with; none, the committed ``doc_templates/<type>.docx``."""

    __tablename__ = "org_template_activations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class FixityCursor(Base):
    """Where the recurring fixity check stands in its cycle over the archive (one row, id 1).

    The cycle walks the audit chain in ``seq`` order, and with it every document by its
    ``document.issue`` event: ``position_seq`` is the last event checked, advanced with each
    committed chunk, so a run that is interrupted resumes there. ``slice_through_seq`` is where
    the run under way (or the one interrupted) ends its slice. A lease (``lease_owner``,
    ``lease_until``) keeps two servers from checking the same slice. Updated in place: it is
    bookkeeping, not a record — what was checked when is in the ``fixity.check`` events.
    """

    __tablename__ = "fixity_cursor"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle: Mapped[int] = mapped_column(Integer)
    cycle_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    position_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    slice_after_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    slice_through_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    documents_checked: Mapped[int] = mapped_column(Integer)
    """Documents checked in this cycle so far."""
    problems: Mapped[int] = mapped_column(Integer)
    """Documents with problems found in this cycle so far."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
