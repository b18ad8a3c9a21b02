"""PAdES signing and verification with real crypto on a PDF/A-2b made by LibreOffice."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pypdf
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from docx import Document
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from archive.errors import SigningError
from service.documents import pades
from service.documents.pades import SignatureReport, make_dev_identity, sign_pdf, verify_pdf

ORG = "某市医疗保障局"
ORG_CODE = "11110000MB0000000X"


@pytest.fixture(scope="module")
def pdfa(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real PDF/A-2b from a one-shot LibreOffice (the warm pool is tested elsewhere)."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed")
    work = tmp_path_factory.mktemp("lo-oneshot")
    document = Document()
    document.add_paragraph("关于开展医保基金专项检查的通知 SEAL-TEST")
    document.save(work / "notice.docx")
    export = 'pdf:writer_pdf_Export:{"SelectPdfVersion":{"type":"long","value":"2"}}'
    subprocess.run(
        [soffice, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
         "--convert-to", export, "--outdir", str(work), str(work / "notice.docx")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return (work / "notice.pdf").read_bytes()


@pytest.fixture(scope="module")
def identity() -> tuple[bytes, bytes]:
    return make_dev_identity(ORG, org_code=ORG_CODE)


@pytest.fixture(scope="module")
def signed(pdfa: bytes, identity: tuple[bytes, bytes]) -> bytes:
    key, cert = identity
    return sign_pdf(pdfa, key_pem=key, cert_pem=cert, reason="签发", location="北京")


def _latest_xmp(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()


def test_dev_identity_is_a_test_certificate_that_can_be_its_own_root(identity):
    key_pem, cert_pem = identity
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, password=None)

    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    subject = {a.oid: a.value for a in cert.subject}
    assert subject[NameOID.COMMON_NAME] == ORG + "（测试证书）"
    assert subject[NameOID.ORGANIZATION_NAME] == ORG
    assert "TEST CERTIFICATE" in subject[NameOID.ORGANIZATIONAL_UNIT_NAME]
    assert subject[NameOID.ORGANIZATION_IDENTIFIER] == ORG_CODE
    assert cert.issuer == cert.subject
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert timedelta(days=3650) <= lifetime <= timedelta(days=3660)


@pytest.mark.parametrize("name, code", [("", ORG_CODE), (ORG, " ")])
def test_dev_identity_needs_name_and_code(name, code):
    with pytest.raises(SigningError):
        make_dev_identity(name, org_code=code)


def test_signed_pdf_verifies_against_its_certificate(pdfa, signed, identity):
    report = verify_pdf(signed, trusted_certs=[identity[1]])

    assert (report.intact, report.valid, report.trusted) == (True, True, True)
    assert report.covers_whole_file and report.ok and report.error is None
    assert report.signer == ORG + "（测试证书）"
    assert report.signature_count == 1
    assert report.signed_at is not None
    assert abs(datetime.now(UTC) - report.signed_at) < timedelta(minutes=10)
    assert signed.startswith(pdfa), "the signature must be an incremental update"


def test_signing_keeps_pdfa_identification_and_consistent_metadata(pdfa, signed):
    xmp = _latest_xmp(signed)
    assert "<pdfaid:part>2</pdfaid:part>" in xmp
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    reader = pypdf.PdfReader(io.BytesIO(signed))
    producer = reader.trailer["/Info"]["/Producer"]
    assert f"<pdf:Producer>{producer}</pdf:Producer>" in xmp, "Info and XMP must agree (PDF/A)"
    assert reader.trailer["/Root"].get("/Version") in (None, "/1.7"), "PDF/A-2 is PDF 1.7"


def test_signed_pdf_is_valid_for_poppler_too(signed, tmp_path):
    pdfsig = shutil.which("pdfsig")
    if pdfsig is None:
        pytest.skip("poppler-utils not installed")
    (tmp_path / "signed.pdf").write_bytes(signed)
    result = subprocess.run([pdfsig, str(tmp_path / "signed.pdf")], capture_output=True, text=True)
    assert "Signature is Valid" in result.stdout
    assert "Total document signed" in result.stdout
    assert "ETSI.CAdES.detached" in result.stdout


def _signed_ranges(pdf: bytes) -> list[tuple[int, int]]:
    match = re.search(rb"/ByteRange \[\s*(\d+) (\d+) (\d+) (\d+)\s*\]", pdf)
    assert match
    a, b, c, d = (int(x) for x in match.groups())
    return [(a, a + b), (c, c + d)]


@pytest.mark.parametrize("where", ["xmp packet", "signature dictionary"])
def test_one_flipped_byte_in_the_signed_range_breaks_integrity(signed, identity, where):
    first, second = _signed_ranges(signed)
    if where == "xmp packet":
        offset = signed.index(b"<pdf:Producer>") + len("<pdf:Producer>")
        assert first[0] <= offset < first[1]
    else:
        offset = signed.index(b"/Location", second[0]) + len("/Location (")
        assert second[0] <= offset < second[1]
    tampered = bytearray(signed)
    tampered[offset] ^= 0x01

    report = verify_pdf(bytes(tampered), trusted_certs=[identity[1]])

    assert not report.intact and not report.ok


def test_signature_by_another_key_is_not_trusted(pdfa, identity):
    other_key, other_cert = make_dev_identity("另一市医疗保障局", org_code="12110000MB0000001Y")
    forged = sign_pdf(pdfa, key_pem=other_key, cert_pem=other_cert)

    report = verify_pdf(forged, trusted_certs=[identity[1]])

    assert report.intact and report.valid, "the forgery is well-formed"
    assert not report.trusted and not report.ok
    assert report.signer == "另一市医疗保障局（测试证书）"


def test_second_signature_by_an_untrusted_key_is_reported(signed, identity):
    other_key, other_cert = make_dev_identity("另一机构", org_code="X")
    countersigned = sign_pdf(signed, key_pem=other_key, cert_pem=other_cert, field_name="Other")

    report = verify_pdf(countersigned, trusted_certs=[identity[1]])

    assert report.signature_count == 2
    assert not report.trusted and not report.ok


def test_content_appended_after_signing_is_detected(signed, identity):
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    forged_text = generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 72 Td (VOID) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(forged_text))
    out = io.BytesIO()
    writer.write(out)

    report = verify_pdf(out.getvalue(), trusted_certs=[identity[1]])

    assert not report.covers_whole_file
    assert report.modification == "OTHER"
    assert not report.ok


def test_bytes_appended_after_signing_are_detected(signed, identity):
    report = verify_pdf(signed + b"\n% appended\n", trusted_certs=[identity[1]])
    assert not report.covers_whole_file and not report.ok


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"%PDF-1.7\n", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"],
    ids=["empty", "garbage", "header only", "truncated"],
)
def test_garbage_gives_a_report_not_an_exception(data, identity):
    report = verify_pdf(data, trusted_certs=[identity[1]])
    assert report == SignatureReport(
        intact=False, valid=False, trusted=False, signer=None, signed_at=None, error=report.error
    )
    assert report.error


def test_unsigned_pdf_gives_a_report(pdfa, identity):
    report = verify_pdf(pdfa, trusted_certs=[identity[1]])
    assert not report.ok and report.error and report.signature_count == 0


def test_unreadable_trust_anchor_gives_a_report(signed):
    report = verify_pdf(signed, trusted_certs=[b"not a certificate"])
    assert not report.ok and report.error


def test_signing_garbage_raises_signing_error(identity):
    with pytest.raises(SigningError):
        sign_pdf(b"not a pdf", key_pem=identity[0], cert_pem=identity[1])


def test_signing_with_a_broken_key_raises_signing_error(pdfa, identity):
    with pytest.raises(SigningError):
        sign_pdf(pdfa, key_pem=b"-----BEGIN PRIVATE KEY-----\n", cert_pem=identity[1])


def test_sign_and_verify_are_fast_enough_for_a_request(pdfa, identity, capsys):
    key, cert = identity
    sign_ms, verify_ms = [], []
    for _ in range(5):
        started = time.perf_counter()
        signed = sign_pdf(pdfa, key_pem=key, cert_pem=cert)
        sign_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        assert verify_pdf(signed, trusted_certs=[cert]).ok
        verify_ms.append((time.perf_counter() - started) * 1000)
    sign_ms.sort()
    verify_ms.sort()
    with capsys.disabled():
        print(f"\nsign p50 {sign_ms[2]:.1f} ms, verify p50 {verify_ms[2]:.1f} ms")
    assert sign_ms[2] < 1000 and verify_ms[2] < 1000


def test_fixture_is_really_pdfa(pdfa):
    # Guards the other tests: they prove nothing if the input was not PDF/A to begin with.
    assert "<pdfaid:part>2</pdfaid:part>" in _latest_xmp(pdfa)


def _signing_cert_der(pdf: bytes) -> bytes:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return bytes(reader.embedded_signatures[-1].signer_cert.dump())


def test_signers_of_two_orgs_alternate_and_a_new_key_is_used_at_once(pdfa):
    """Signers are kept per key and certificate: each org's signature names its own
    certificate, however the calls interleave, and a replaced key signs the next document."""
    orgs = {
        "甲": make_dev_identity("甲市医疗保障局", org_code="11110000MB0000001A"),
        "乙": make_dev_identity("乙市医疗保障局", org_code="11110000MB0000002B"),
    }
    for _ in range(2):
        for org, (key, cert) in orgs.items():
            signed = sign_pdf(pdfa, key_pem=key, cert_pem=cert)
            report = verify_pdf(signed, trusted_certs=[cert])
            assert report.ok and report.signer == f"{org}市医疗保障局（测试证书）"
            other = orgs["乙" if org == "甲" else "甲"][1]
            assert not verify_pdf(signed, trusted_certs=[other]).trusted
            der = x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER)
            assert _signing_cert_der(signed) == der

    old_key, old_cert = orgs["甲"]
    new_key, new_cert = make_dev_identity("甲市医疗保障局", org_code="11110000MB0000001A")
    rotated = sign_pdf(pdfa, key_pem=new_key, cert_pem=new_cert)
    assert verify_pdf(rotated, trusted_certs=[new_cert]).ok
    assert not verify_pdf(rotated, trusted_certs=[old_cert]).trusted
    assert verify_pdf(
        sign_pdf(pdfa, key_pem=old_key, cert_pem=old_cert), trusted_certs=[old_cert]
    ).ok


def test_kept_signer_makes_the_signature_pyhanko_makes(pdfa, identity):
    """After the first signature the CMS is put together from the constant parts of
    pyHanko's; it must carry the same signed attributes, certificate and algorithms."""
    key, cert = identity
    first = sign_pdf(pdfa, key_pem=key, cert_pem=cert)
    kept = pades._signers.get(key, cert)  # noqa: SLF001 (whether the fast path is in use)
    assert kept._template is not None  # noqa: SLF001
    later = sign_pdf(pdfa, key_pem=key, cert_pem=cert)

    def shape(pdf: bytes) -> tuple[object, ...]:
        sd = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[-1].signed_data
        si = sd["signer_infos"][0]
        attrs = {a["type"].native: a["values"].dump() for a in si["signed_attrs"]}
        del attrs["message_digest"]
        return (
            sd["version"].native,
            sd["digest_algorithms"].dump(),
            sd["certificates"].dump(),
            si["sid"].dump(),
            si["signature_algorithm"].dump(),
            attrs,
            si["unsigned_attrs"].native,
        )

    assert shape(later) == shape(first)
    assert verify_pdf(later, trusted_certs=[cert]).ok
