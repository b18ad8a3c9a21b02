"""Attachments as files (``POST /api/v1/uploads``) and the bureau's own seal (``PUT …/seal``),
through the API, on real LibreOffice, pyHanko and the database."""

from __future__ import annotations

import io
import json
import re
import subprocess
from typing import Any

import docx
import pytest
from docx.shared import Mm
from PIL import Image, ImageDraw
from pypdf import PdfReader

from archive.models import AuditEvent
from service.wiring import Wenshu
from tests.support import sample
from tests.support.apps import Client, issue_approved

PAGE_NUMBER = re.compile(r"—\s*(\d+)\s*—")


def _docx(pages: int, *, landscape: bool = False) -> bytes:
    """A Word document of ``pages`` pages, each headed 表格第N页."""
    d = docx.Document()
    if landscape:
        section = d.sections[0]
        section.page_width, section.page_height = Mm(297), Mm(210)
    for n in range(1, pages + 1):
        d.add_paragraph(f"表格第{n}页")
        table = d.add_table(rows=4, cols=3)
        table.style = "Table Grid"
        for row in table.rows:
            for cell in row.cells:
                cell.text = "定点医药机构"
        if n < pages:
            d.add_page_break()
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _upload(client: Client, data: bytes, name: str) -> Any:
    return client.flask.post(
        "/api/v1/uploads",
        data={"file": (io.BytesIO(data), name)},
        headers=client.headers(),
        content_type="multipart/form-data",
    )


def _notice(attachments: list[dict[str, Any]]) -> dict[str, Any]:
    data = sample("notice")
    data["attachments"] = attachments
    return {"type": "notice", "org": "llyb", "data": data}


def _pdf(client: Client, doc: dict[str, Any]) -> PdfReader:
    r = client.get(doc["links"]["pdf"])
    assert r.status_code == 200
    return PdfReader(io.BytesIO(r.data))


def _pdf_bytes(client: Client, doc: dict[str, Any]) -> bytes:
    return client.get(doc["links"]["pdf"]).data  # type: ignore[no-any-return]


def _render(pdf: bytes, page: int) -> Image.Image:
    """Page ``page`` (from 1) at 72 dpi, grey: one pixel per point."""
    out = subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-singlefile",
            "-r",
            "72",
            "-gray",
            "-f",
            str(page),
            "-l",
            str(page),
            "-",
        ],
        input=pdf,
        capture_output=True,
        check=True,
    ).stdout
    return Image.open(io.BytesIO(out))


def _texts(reader: PdfReader) -> list[str]:
    return ["".join((p.extract_text() or "").split()) for p in reader.pages]


def _issue_event(ws: Wenshu, doc_id: str) -> dict[str, Any]:
    with ws.db.read() as s:
        event = (
            s.query(AuditEvent).filter_by(action="document.issue", object_id=doc_id).one_or_none()
        )
        assert event is not None
        return json.loads(event.details)  # type: ignore[no-any-return]


def test_a_two_page_pdf_attached_second_adds_two_pages_marked_and_numbered(
    users: dict[str, Client], ws: Wenshu
) -> None:
    table_pdf = ws.converter.to_pdf(_docx(2, landscape=True))
    up = _upload(users["clerk"], table_pdf, "检查表.pdf")
    assert up.status_code == 201, up.get_json()
    upload = up.get_json()
    assert upload["media_type"] == "application/pdf" and upload["pages"] == 2
    assert set(upload) >= {"id", "sha256", "media_type", "pages"}

    plain = issue_approved(users["clerk"], users["approver"], _notice([{"title": "工作方案"}]))
    assert plain.status_code == 201, plain.get_json()
    r = issue_approved(
        users["clerk"],
        users["approver"],
        _notice([{"title": "工作方案"}, {"title": "检查表", "upload_id": upload["id"]}]),
    )
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    texts = _texts(_pdf(users["clerk"], doc))
    body_pages = plain.get_json()["page_count"]
    first = next(i for i, t in enumerate(texts) if "附件2" in t)
    assert first == body_pages  # right after the body, on a page of its own
    # the file's own text is on the two pages, and the page numbers run on
    assert "表格第1页" in texts[first] and "表格第2页" in texts[first + 1]
    for i in (first, first + 1):
        assert PAGE_NUMBER.search(texts[i]).group(1) == str(i + 1)  # type: ignore[union-attr]
    assert doc["page_count"] == len(texts) >= body_pages + 2
    assert "抄送" in texts[-1] and "印发" in texts[-1]  # the 版记 still comes last
    assert len(texts) % 2 == 0  # on an even page (GB/T 9704-2012 §7.5)
    assert doc["attachments"] == [
        {"n": 1, "title": "工作方案"},
        {"n": 2, "title": "检查表", "sha256": upload["sha256"], "pages": 2,
         "upload_id": upload["id"]},
    ]  # fmt: skip
    event = _issue_event(ws, doc["id"])
    assert event["attachments"] == [{"n": 2, "sha256": upload["sha256"], "upload_id": upload["id"]}]
    assert ws.blobs.exists(upload["sha256"])


def test_a_docx_and_another_document_of_the_org_are_appended(
    users: dict[str, Client], ws: Wenshu
) -> None:
    up = _upload(users["clerk"], _docx(1), "名单.docx")
    assert up.status_code == 201, up.get_json()
    upload = up.get_json()
    assert upload["media_type"].endswith("wordprocessingml.document") and upload["pages"] == 1
    earlier = issue_approved(users["clerk"], users["approver"], _notice([])).get_json()
    r = issue_approved(
        users["clerk"],
        users["approver"],
        _notice(
            [
                {"title": "名单", "upload_id": upload["id"]},
                {"title": "前文", "document_id": earlier["id"]},
            ]
        ),
    )
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    texts = _texts(_pdf(users["clerk"], doc))
    one = next(i for i, t in enumerate(texts) if "附件1" in t)
    assert "表格第1页" in texts[one]
    two = next(i for i, t in enumerate(texts) if "附件2" in t)
    assert two == one + 1 and earlier["wenhao"].replace(" ", "") in texts[two]
    # the attached document's own page number (— 1 —, odd: right) gave way to the notice's
    # (— 4 —, even: left): nothing prints in the right half of the footer
    footer = _render(_pdf_bytes(users["clerk"], doc), two + 1).crop((300, 740, 595, 780))
    assert footer.point(lambda v: 255 if v < 200 else 0).getbbox() is None
    assert PAGE_NUMBER.findall(texts[two])[-1] == str(two + 1)
    assert doc["attachments"][1]["document_id"] == earlier["id"]
    assert doc["attachments"][1]["sha256"] == earlier["sha256"]
    assert doc["attachments"][0]["sha256"] == upload["pdf_sha256"] != upload["sha256"]


def test_uploads_are_sniffed_and_confined_to_their_org(users: dict[str, Client]) -> None:
    r = _upload(users["clerk"], b"\x89PNG\r\n\x1a\nnot a pdf at all", "表.pdf")
    assert r.status_code == 422 and "file" in r.get_json()["errors"]
    r = _upload(users["clerk"], b"PK\x03\x04 broken", "表.docx")
    assert r.status_code == 422 and "file" in r.get_json()["errors"]
    assert _upload(users["approver"], b"%PDF-1.4", "x.pdf").status_code == 403

    foreign = _upload(users["other_clerk"], _docx(1), "太原.docx").get_json()
    assert users["clerk"].get(f"/api/v1/uploads/{foreign['id']}").status_code == 404
    assert users["other_clerk"].get(f"/api/v1/uploads/{foreign['id']}").status_code == 200
    r = issue_approved(
        users["clerk"], users["approver"], _notice([{"title": "外", "upload_id": foreign["id"]}])
    )
    assert r.status_code == 404
    assert "data.attachments.0.upload_id" in r.get_json()["errors"], r.get_json()
    r = users["clerk"].post(
        "/api/v1/drafts",
        {
            "type": "notice",
            "org": "llyb",
            "data": {**sample("notice"), "attachments": [{"title": "两种", "upload_id": "ab",
                                                          "body": [{"text": "正文"}]}]},
        },
    )  # fmt: skip
    assert "upload_id" in json.dumps(r.get_json(), ensure_ascii=False)


def _seal_png(size: int = 400, *, alpha: bool = True) -> bytes:
    """A red ring with a square in it, transparent around (or on white without alpha)."""
    im = Image.new("RGBA", (size, size), (255, 255, 255, 0 if alpha else 255))
    d = ImageDraw.Draw(im)
    d.ellipse((8, 8, size - 8, size - 8), outline=(200, 10, 20, 255), width=18)
    d.rectangle((size // 3, size // 3, 2 * size // 3, 2 * size // 3), fill=(200, 10, 20, 230))
    out = io.BytesIO()
    (im if alpha else im.convert("RGB")).save(out, "PNG")
    return out.getvalue()


def _put_seal(client: Client, data: bytes, name: str = "seal.png", code: str = "llyb") -> Any:
    return client.flask.put(
        f"/api/v1/orgs/{code}/seal",
        data={"file": (io.BytesIO(data), name)},
        headers=client.headers(),
        content_type="multipart/form-data",
    )


def _seal_image(reader: PdfReader) -> Image.Image:
    """The one picture with a soft mask in the PDF (the seal), as RGBA."""
    for page in reader.pages:
        for image in page.images:
            if image.image is not None and image.image.mode == "RGBA":
                return image.image
    raise AssertionError("no seal picture in the PDF")


def test_an_uploaded_seal_is_the_picture_on_the_documents_it_seals(
    users: dict[str, Client], ws: Wenshu
) -> None:
    before = issue_approved(users["clerk"], users["approver"], _notice([])).get_json()
    assert before["seal_drawn"] is True and ws.blobs.exists(before["seal_sha256"])

    png = _seal_png()
    preview = users["secadmin"].flask.post(
        "/api/v1/orgs/llyb/seal/preview",
        data={"file": (io.BytesIO(png), "seal.png")},
        headers=users["secadmin"].headers(),
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200 and preview.data.startswith(b"%PDF")
    assert _seal_image(PdfReader(io.BytesIO(preview.data))).size == (400, 400)

    assert _put_seal(users["clerk"], png).status_code == 403
    r = _put_seal(users["secadmin"], png)
    assert r.status_code == 200, r.get_json()
    digest = r.get_json()["sha256"]

    doc = issue_approved(users["clerk"], users["approver"], _notice([])).get_json()
    assert doc["seal_sha256"] == digest and doc["seal_drawn"] is False
    assert _issue_event(ws, doc["id"])["seal_sha256"] == digest
    printed = _seal_image(_pdf(users["clerk"], doc))
    original = Image.open(io.BytesIO(png)).convert("RGBA")
    assert printed.size == original.size
    assert printed.getchannel("A").tobytes() == original.getchannel("A").tobytes()
    visible = [
        (a, b) for a, b in zip(printed.getdata(), original.getdata(), strict=True) if b[3] > 0
    ]
    assert all(a[:3] == b[:3] for a, b in visible)


def test_a_seal_must_be_a_png_with_transparency(users: dict[str, Client]) -> None:
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(_seal_png())).convert("RGB").save(jpeg, "JPEG")
    for data, name in ((jpeg.getvalue(), "seal.png"), (_seal_png(alpha=False), "seal.png")):
        r = _put_seal(users["secadmin"], data, name)
        assert r.status_code == 422, r.get_json()
        assert "file" in r.get_json()["errors"]


@pytest.mark.parametrize("role", ["clerk", "approver", "auditor"])
def test_only_who_manages_the_certificate_previews_a_seal(
    users: dict[str, Client], role: str
) -> None:
    r = users[role].flask.post(
        "/api/v1/orgs/llyb/seal/preview",
        data={"file": (io.BytesIO(_seal_png()), "seal.png")},
        headers=users[role].headers(),
        content_type="multipart/form-data",
    )
    assert r.status_code == 403
