"""PAdES seals on archived PDFs, and their verification, with pyHanko.

Why incremental: the PDF/A-2b file from LibreOffice must stay byte-for-byte what it was, so
the signature is appended as an incremental update (the XMP ``pdfaid`` identification is
kept). Why a dev identity: a fresh install has no certificate from a real CA; the one made
here is self-signed and says TEST in its subject so it cannot pass for a real seal.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import cms
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
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
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


class _SealSigner(signers.SimpleSigner):
    """A :class:`SimpleSigner` that, once it has made one PAdES CMS, makes the next ones
    around the bytes that do not change.

    For one key and certificate the CMS of a PAdES B-B signature differs from document to
    document only in the messageDigest attribute and the signature value; asn1crypto
    nevertheless rebuilds and re-encodes the certificate, the ESS signing-certificate
    attribute and the SignerInfo on every call, which was most of the CPU of a signature.
    The first signature is pyHanko's own; its DER is cut into the constant parts, and the cut
    is checked by putting that very signature back together byte for byte. Anything but a
    plain PAdES signature (timestamp, CAdES attributes, another digest) goes to pyHanko.
    """

    _template: _CmsTemplate | None = None

    async def async_sign(  # type: ignore[override]
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: Any = None,
        signed_attr_settings: PdfCMSSignedAttributes | None = None,
        is_pdf_sig: bool = True,
        encap_content_info: Any = None,
    ) -> cms.ContentInfo:
        plain = (
            not dry_run
            and use_pades
            and timestamper is None
            and is_pdf_sig
            and encap_content_info is None
            and (
                signed_attr_settings is None
                or (
                    signed_attr_settings.cades_signed_attrs is None
                    and signed_attr_settings.adobe_revinfo_attr is None
                )
            )
        )
        template = self._template
        if plain and template is not None and template.fits(digest_algorithm, data_digest):
            signed_attrs = template.signed_attrs(data_digest)
            # signed over as a SET, carried as [0] IMPLICIT (RFC 5652 § 5.4)
            signature = self.sign_raw(bytes((_SET,)) + signed_attrs[1:], digest_algorithm)
            return cms.ContentInfo.load(template.content_info(signed_attrs, signature))
        made = await super().async_sign(
            data_digest,
            digest_algorithm,
            dry_run=dry_run,
            use_pades=use_pades,
            timestamper=timestamper,
            signed_attr_settings=signed_attr_settings,
            is_pdf_sig=is_pdf_sig,
            encap_content_info=encap_content_info,
        )
        if plain and template is None:
            self._template = _CmsTemplate.cut(made.dump(), digest_algorithm, data_digest)
        return made


_SET, _SEQUENCE, _OCTET_STRING, _EXPLICIT_0 = 0x31, 0x30, 0x04, 0xA0
_CONSTANT_ATTRIBUTES = {"content_type", "message_digest", "signing_certificate_v2"}
"""The signed attributes of a PAdES B-B signature: none of them but the digest varies."""


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


@dataclass(frozen=True)
class _CmsTemplate:
    """The DER of one signer's CMS ContentInfo with the digest and signature cut out."""

    digest_algorithm: str
    content_type: bytes
    signed_data_head: bytes
    """version, digestAlgorithms, encapContentInfo, certificates (and CRLs, if any)."""
    signer_info_head: bytes
    """version, sid, digestAlgorithm."""
    attrs: bytes
    """[0] IMPLICIT SET of the signed attributes, as the first signature had them."""
    digest_at: int
    digest_size: int
    signature_algorithm: bytes

    @classmethod
    def cut(cls, der: bytes, digest_algorithm: str, digest: bytes) -> _CmsTemplate | None:
        """The template of ``der`` (pyHanko's CMS over ``digest``), or None when it holds
        anything this template cannot reproduce."""
        ci = cms.ContentInfo.load(der)
        sd = ci["content"]
        if len(sd["signer_infos"]) != 1:
            return None
        si = sd["signer_infos"][0]
        attrs = si["signed_attrs"]
        if {a["type"].native for a in attrs} != _CONSTANT_ATTRIBUTES:
            return None
        if si["unsigned_attrs"].dump():
            return None
        signed_attrs = attrs.dump()
        if signed_attrs.count(digest) != 1:
            return None
        template = cls(
            digest_algorithm=digest_algorithm,
            content_type=ci["content_type"].dump(),
            signed_data_head=b"".join(
                sd[name].dump()
                for name in (
                    "version",
                    "digest_algorithms",
                    "encap_content_info",
                    "certificates",
                    "crls",
                )
            ),
            signer_info_head=b"".join(
                si[name].dump() for name in ("version", "sid", "digest_algorithm")
            ),
            attrs=signed_attrs,
            digest_at=signed_attrs.index(digest),
            digest_size=len(digest),
            signature_algorithm=si["signature_algorithm"].dump(),
        )
        if template.content_info(signed_attrs, si["signature"].native) != der:
            logger.warning("CMS template does not reproduce pyHanko's signature; not used")
            return None
        return template

    def fits(self, digest_algorithm: str, digest: bytes) -> bool:
        return digest_algorithm == self.digest_algorithm and len(digest) == self.digest_size

    def signed_attrs(self, digest: bytes) -> bytes:
        at = self.digest_at
        return self.attrs[:at] + digest + self.attrs[at + self.digest_size :]

    def content_info(self, signed_attrs: bytes, signature: bytes) -> bytes:
        signer_info = _der(
            _SEQUENCE,
            self.signer_info_head
            + signed_attrs
            + self.signature_algorithm
            + _der(_OCTET_STRING, signature),
        )
        signed_data = _der(_SEQUENCE, self.signed_data_head + _der(_SET, signer_info))
        return _der(_SEQUENCE, self.content_type + _der(_EXPLICIT_0, signed_data))


class _Signers:
    """The signer of each (key, certificate) pair in use, most recently used kept, keyed by
    the SHA-256 of both PEMs: a new key or certificate for an org is a new entry at once."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._by_pems: OrderedDict[bytes, _SealSigner] = OrderedDict()

    def get(self, key_pem: bytes, cert_pem: bytes) -> _SealSigner:
        h = hashlib.sha256(key_pem)
        h.update(hashlib.sha256(cert_pem).digest())
        pems = h.digest()
        with self._lock:
            signer = self._by_pems.get(pems)
            if signer is not None:
                self._by_pems.move_to_end(pems)
                return signer
        signer = _load_signer(key_pem, cert_pem)  # outside the lock: parsing takes a while
        with self._lock:
            signer = self._by_pems.setdefault(pems, signer)
            self._by_pems.move_to_end(pems)
            while len(self._by_pems) > self._size:
                self._by_pems.popitem(last=False)
        return signer

    def clear(self) -> None:
        with self._lock:
            self._by_pems.clear()


def _load_signer(key_pem: bytes, cert_pem: bytes) -> _SealSigner:
    try:
        certs = list(load_certs_from_pemder_data(cert_pem))
        return _SealSigner(
            signing_cert=certs[0],
            signing_key=load_private_key_from_pemder_data(key_pem, passphrase=None),
            cert_registry=SimpleCertificateStore.from_certs(certs[1:]),  # chain only
        )
    except (ValueError, TypeError, IndexError) as exc:
        raise SigningError("签名密钥或证书无法读取") from exc


_signers = _Signers(size=16)


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
    The signer of ``key_pem``/``cert_pem`` is parsed once and kept (:class:`_Signers`).
    """
    signer = _signers.get(key_pem, cert_pem)
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
