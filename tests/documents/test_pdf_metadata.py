"""The metadata of the PDF every type issues: its language, its 档号 and 文号, well-formed dates,
and still PDF/A-2b with a valid signature after the metadata is completed."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pypdf
import pytest

from schemas.inspection_record import InspectionRecordSchema
from schemas.inspection_report import InspectionReportSchema
from schemas.interview_transcript import InterviewTranscriptSchema
from schemas.notice import NoticeSchema
from service.doctypes import render_docx, sample_input
from service.documents.convert.client import Converter, has_pdfa2_identification
from service.documents.convert.instance import PoolSettings
from service.documents.pades import make_dev_identity, sign_pdf, verify_pdf
from service.documents.pdfmeta import complete_metadata
from service.documents.render import Letterhead

ORG = Letterhead(name="吕梁市医疗保障局", mark="吕梁市医疗保障局文件", zihao="吕医保发")
SCHEMAS: dict[str, Any] = {
    "notice": NoticeSchema,
    "inspection_record": InspectionRecordSchema,
    "interview_transcript": InterviewTranscriptSchema,
    "inspection_report": InspectionReportSchema,
}
WENHAO = {"notice": "吕医保发〔2021〕44号", "inspection_report": "吕医保发〔2021〕45号"}
PDF_DATE = re.compile(r"^D:\d{14}(Z|[+-]\d{2}'\d{2}'?)?$")


@pytest.fixture(scope="module")
def converter(converter_dir: dict[str, Any]) -> Converter:
    return Converter(
        PoolSettings(
            run_dir=converter_dir["CONVERTER_DIR"],
            size=2,
        )
    )


def archive_no(doctype: str) -> str:
    return f"J041-2021-D30-BGS-{list(SCHEMAS).index(doctype) + 1:04d}"


@pytest.fixture(scope="module")
def issued(converter: Converter) -> dict[str, bytes]:
    out = {}
    for doctype, schema in SCHEMAS.items():
        docx = render_docx(
            doctype,
            schema().load(sample_input(doctype)),
            org=ORG,
            wenhao=WENHAO.get(doctype, ""),
            issue_date=dt.date(2021, 4, 23),
            archive_no=archive_no(doctype),
        )
        out[doctype] = converter.to_pdf(docx)
    return out


def xmp(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return str(reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode())


@pytest.mark.soffice
@pytest.mark.parametrize("doctype", list(SCHEMAS))
def test_language_numbers_and_dates_are_in_the_metadata(
    issued: dict[str, bytes], doctype: str
) -> None:
    pdf = issued[doctype]
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert reader.trailer["/Root"]["/Lang"] == "zh-CN"
    packet = xmp(pdf)
    assert re.search(r"<dc:language>\s*<rdf:Bag>\s*<rdf:li>zh-CN</rdf:li>", packet)
    info = reader.metadata
    assert info is not None
    assert archive_no(doctype) in info["/Keywords"]
    assert archive_no(doctype) in packet  # pdf:Keywords, which PDF/A requires to agree
    if doctype in WENHAO:
        assert WENHAO[doctype] in info["/Keywords"]
    created = str(info["/CreationDate"])
    assert PDF_DATE.match(created), created
    stamp = re.search(r"<xmp:CreateDate>(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)", packet)
    assert stamp is not None and created.startswith("D:" + "".join(stamp.groups()))
    assert has_pdfa2_identification(pdf)


@pytest.mark.soffice
def test_completed_pdf_still_signs_and_verifies(issued: dict[str, bytes]) -> None:
    key, cert = make_dev_identity(ORG.name, org_code="11110000MB0000000X")
    signed = sign_pdf(issued["notice"], key_pem=key, cert_pem=cert)
    assert verify_pdf(signed, trusted_certs=[cert]).ok
    assert "<pdfaid:part>2</pdfaid:part>" in xmp(signed) and "zh-CN" in xmp(signed)


def test_an_existing_language_entry_is_replaced_not_repeated(issued: dict[str, bytes]) -> None:
    again, pages = complete_metadata(issued["notice"], language="zh-CN")
    assert pages == len(pypdf.PdfReader(io.BytesIO(again)).pages)
    assert xmp(again).count("<dc:language>") == 1
    assert again.startswith(issued["notice"])  # an incremental update: the original is a prefix
