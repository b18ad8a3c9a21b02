"""PAdES seals on archived PDFs, and their verification, with pyHanko.

Why incremental: the PDF/A-2b file from LibreOffice must stay byte-for-byte what it was, so
the signature is appended as an incremental update (the XMP ``pdfaid`` identification is
kept). Why a dev identity: a fresh install has no certificate from a real CA; the one made
here is self-signed and says TEST in its subject so it cannot pass for a real seal.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
from pyhanko.pdf_utils.extensions import DeveloperExtension
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from archive.errors import SigningError

SIGNATURE_BYTES_RESERVED = 8192  # ECDSA P-256 CMS with one certificate needs ~1.5 KB
logger = logging.getLogger("wenshu.sign")

TEST_OU = "TEST CERTIFICATE - NOT FOR PRODUCTION"
TEST_CN_SUFFIX = "（测试证书）"
_DEV_VALIDITY = timedelta(days=3653)  # ten years, leap days included


def make_dev_identity(org_name: str, *, org_code: str) -> tuple[bytes, bytes]:
    """Return ``(key_pem, cert_pem)``: an ECDSA P-256 key and a self-signed TEST certificate.

    The certificate is its own trust root (CA:TRUE), so verification works offline with
    ``trusted_certs=[cert_pem]``. ``org_code`` (统一社会信用代码) goes in organizationIdentifier.
    """
    if not org_name.strip() or not org_code.strip():
        raise SigningError("生成测试证书需要机构名称和机构代码")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, TEST_OU),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, org_code),
            x509.NameAttribute(NameOID.COMMON_NAME, org_name + TEST_CN_SUFFIX),
        ]
    )
    now = datetime.now(UTC)
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # tolerate small clock skew
        .not_valid_after(now + _DEV_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # a.k.a. nonRepudiation, required by pyHanko's validator
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


class _PdfA2IncrementalWriter(IncrementalPdfFileWriter):
    """An incremental writer that leaves a PDF/A-2b file PDF/A-2b.

    Left alone, pyHanko (1) rewrites the XMP packet and /Info with different Producer
    strings, which PDF/A requires to agree (pyHanko issues #223, #755), and (2) declares
    PDF 2.0 plus the ISO/TS 32002 extension for ECDSA P-256, which a PDF/A-2 file (a PDF 1.7
    file) cannot claim. The original metadata stays valid: a signature adds no content.
    """

    def _update_meta(self) -> None:
        # Internal hook; overriding it is the maintainer's advice in pyHanko issue #223.
        return None

    def ensure_output_version(self, version: tuple[int, int]) -> None:
        super().ensure_output_version(min(version, (1, 7)))

    def register_extension(self, ext: DeveloperExtension) -> None:
        if ext.base_version == "/2.0":
            logger.debug("not declaring PDF 2.0 extension %s in a PDF/A-2 file", ext.prefix_name)
            return
        super().register_extension(ext)


def sign_pdf(
    pdf: bytes,
    *,
    key_pem: bytes,
    cert_pem: bytes,
    reason: str = "签发",
    location: str = "",
    field_name: str = "Seal",
) -> bytes:
    """Append an invisible PAdES B-B signature to ``pdf`` as an incremental update.

    The original bytes stay a prefix of the result, so the PDF/A-2b content is untouched.
    """
    try:
        certs = list(load_certs_from_pemder_data(cert_pem))
        signer = signers.SimpleSigner(
            signing_cert=certs[0],
            signing_key=load_private_key_from_pemder_data(key_pem, passphrase=None),
            cert_registry=SimpleCertificateStore.from_certs(certs[1:]),  # chain only
        )
    except (ValueError, TypeError, IndexError) as exc:
        raise SigningError("签名密钥或证书无法读取") from exc
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name,
        reason=reason or None,
        location=location or None,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    try:
        writer = _PdfA2IncrementalWriter(io.BytesIO(pdf), strict=False)
        # A fixed reservation spares pyHanko a dry-run signature to estimate the size (~2× faster).
        output = signers.sign_pdf(
            writer, metadata, signer=signer, bytes_reserved=SIGNATURE_BYTES_RESERVED
        )
    except PyHankoSigningError as exc:
        raise SigningError(f"签名失败：{exc}") from exc
    except Exception as exc:  # pyHanko's parser raises many types on malformed PDFs
        raise SigningError(f"无法签署该 PDF：{type(exc).__name__}: {exc}") from exc
    return output.getvalue()


@dataclass(frozen=True)
class SignatureReport:
    """What an auditor needs to know about the signatures in one PDF.

    ``intact``/``valid``/``trusted`` hold for *every* signature in the file; ``signer`` and
    ``signed_at`` describe the last one. ``covers_whole_file`` is False when bytes were
    appended after the last signature (an incremental update: pyHanko's ``intact`` still
    says True for the signed revision, so check this flag or :attr:`ok`).
    """

    intact: bool
    """The digest of the signed byte ranges matches the one that was signed."""
    valid: bool
    """The CMS signature over the signed attributes verifies with the signer's key."""
    trusted: bool
    """The signer's certificate chains to one of ``trusted_certs``."""
    signer: str | None
    """Common name of the (last) signer's certificate."""
    signed_at: datetime | None
    """Signing time claimed by the signer (/M; not a trusted timestamp)."""
    error: str | None = None
    """Why verification could not run (malformed PDF, no signature); None when it ran."""
    covers_whole_file: bool = False
    """The last signature covers every byte of the file: nothing was appended after it."""
    modification: str | None = None
    """pyHanko's classification of what was appended (NONE, FORM_FILLING, …, OTHER)."""
    signature_count: int = 0

    @property
    def ok(self) -> bool:
        """The single answer the archive needs: sealed by a trusted key and untouched since."""
        return self.intact and self.valid and self.trusted and self.covers_whole_file


def verify_pdf(pdf: bytes, *, trusted_certs: list[bytes]) -> SignatureReport:
    """Validate every signature of ``pdf`` against ``trusted_certs`` (PEM), offline.

    Never raises on bad input: anything unreadable comes back as a report with ``error``.
    """
    try:
        roots = [c for pem in trusted_certs for c in load_certs_from_pemder_data(pem)]
    except ValueError as exc:
        return _failed(f"受信任证书无法读取：{exc}")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = reader.embedded_signatures
    except Exception as exc:  # garbage in must give a report, not a 500
        logger.info("unreadable PDF: %s: %s", type(exc).__name__, exc)
        return _failed(f"无法读取 PDF：{type(exc).__name__}: {exc}")
    if not embedded:
        return _failed("PDF 中没有签名")
    statuses: list[PdfSignatureStatus] = []
    for sig in embedded:
        # A fresh context per signature: contexts cache validation results.
        context = ValidationContext(trust_roots=roots, allow_fetching=False)
        try:
            statuses.append(validate_pdf_signature(sig, context))
        except Exception as exc:  # malformed CMS, broken byte ranges, …
            logger.info("signature %s failed to validate: %s", sig.field_name, exc)
            return _failed(f"签名 {sig.field_name} 无法验证：{type(exc).__name__}: {exc}")
    last, last_sig = statuses[-1], embedded[-1]
    return SignatureReport(
        intact=all(s.intact for s in statuses),
        valid=all(s.valid for s in statuses),
        trusted=all(s.trusted for s in statuses),
        signer=_common_name(last.signing_cert),
        signed_at=last.signer_reported_dt or last_sig.self_reported_timestamp,
        covers_whole_file=last.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        modification=last.modification_level.name if last.modification_level else None,
        signature_count=len(statuses),
    )


def _failed(error: str) -> SignatureReport:
    return SignatureReport(
        intact=False, valid=False, trusted=False, signer=None, signed_at=None, error=error
    )


def _common_name(cert: asn1_x509.Certificate) -> str | None:
    name = cert.subject.native.get("common_name")
    return name if isinstance(name, str) else None
