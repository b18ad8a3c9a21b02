"""The hand-signed original: upload, recognition (real ocrmypdf + Tesseract), search, checks.

A transcript is printed (issued through the API), its PDF turned into page images with
``pdftoppm`` as a scanner would, one page turned upside down, and the images uploaded. OCR runs
at 150 dpi on two or three pages only: it takes seconds per page.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import func, select, text

from archive.models import AuditEvent, OcrQueueEntry, SignedCopy, SignedCopyOcr
from service.wiring import Wenshu
from service.workers.ocr import Recogniser, tidy_text
from service.workflows.integrity.fixity import verify_archive
from tests.support import sample
from tests.support.apps import Client, fresh_database, make_app, set_setting

ANSWER = "本月共抽查住院病历四十份，未发现伪造病历的情况。"
NOTE = "原件存放于第三档案柜"  # written on the scan only, as a clerk's stamp would be
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def issue_transcript(client: Client, extra_qa: int, case_no: str | None = None) -> dict[str, Any]:
    data = sample("interview_transcript")
    more = [
        {
            "q": f"请说明该院第{i}季度住院病历的管理情况。",
            "a": f"第{i}季度的住院病历由病案室统一保管，医保办每周抽查。" + ANSWER,
        }
        for i in range(1, extra_qa + 1)
    ]
    data["qa"] = data["qa"][:-1] + more + data["qa"][-1:]
    body = {"type": "interview_transcript", "org": "llyb", "data": data}
    if case_no:
        body["case_no"] = case_no
    r = client.post("/api/v1/documents", body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def page_images(pdf: bytes, tmp: Path, dpi: int = 150) -> list[bytes]:
    """The PDF's pages as PNG images, the way a scanner hands them over."""
    (tmp / "doc.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(tmp / "doc.pdf"), str(tmp / "page")],
        check=True,
        timeout=120,
    )
    return [p.read_bytes() for p in sorted(tmp.glob("page-*.png"))]


def edited(png: bytes, *, rotate: int = 0, note: str | None = None) -> bytes:
    im = Image.open(BytesIO(png)).convert("RGB")
    if note:
        draw = ImageDraw.Draw(im)
        draw.text((120, im.height - 140), note, fill="black", font=ImageFont.truetype(FONT, 44))
    if rotate:
        im = im.rotate(rotate, expand=True)
    out = BytesIO()
    im.save(out, format="PNG", dpi=(150, 150))
    return out.getvalue()


def upload(client: Client, doc_id: str, files: list[tuple[bytes, str, str]]) -> Any:
    """POST multipart ``file`` parts: (bytes, file name, declared Content-Type)."""
    return client.flask.post(
        f"/api/v1/documents/{doc_id}/signed-copy",
        data={"file": [(BytesIO(b), name, ctype) for b, name, ctype in files]},
        headers=client.headers(),
        content_type="multipart/form-data",
    )


def pngs(images: list[bytes]) -> list[tuple[bytes, str, str]]:
    return [(b, f"page-{n}.png", "image/png") for n, b in enumerate(images, 1)]


def stored(ws: Wenshu) -> tuple[int, int, int, int]:
    """Signed-copy rows, OCR queue rows, upload events, blob files: what a refusal must not
    change."""
    with ws.db.read() as s:
        rows = s.scalar(select(func.count()).select_from(SignedCopy)) or 0
        queued = s.scalar(select(func.count()).select_from(OcrQueueEntry)) or 0
        events = (
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "document.signed_copy")
            )
            or 0
        )
    blobs = sum(1 for p in ws.settings.paths.archive.rglob("*") if p.is_file())
    return rows, queued, events, blobs


def test_scanned_transcript_is_archived_recognised_and_found(
    users: dict[str, Client], ws: Wenshu, tmp_path: Path
) -> None:
    insp = users["inspector"]
    doc = issue_transcript(insp, extra_qa=3)
    assert doc["signed_copy"]["status"] == "待上传签字原件"
    assert 2 <= doc["page_count"] <= 3
    pdf = insp.get(f"/api/v1/documents/{doc['id']}/pdf").data
    images = page_images(pdf, tmp_path)
    assert len(images) == doc["page_count"]
    images[0] = edited(images[0], note=NOTE)
    images[1] = edited(images[1], rotate=180)  # fed into the scanner upside down

    r = upload(insp, doc["id"], pngs(images))
    assert r.status_code == 201, r.get_json()
    copy = r.get_json()["signed_copy"]
    assert copy["status"] == "已归档签字原件" and copy["version"] == 1
    assert copy["pages"] == copy["expected_pages"] == doc["page_count"]
    assert copy["page_mismatch"] is False and copy["uploaded_by"] == "u-inspector"
    assert copy["ocr"]["status"] == "正在识别"

    assert Recogniser(ws).drain(timeout=600) == 1  # what `wenshu serve` does in the background
    copy = insp.get(f"/api/v1/documents/{doc['id']}").get_json()["signed_copy"]
    assert copy["ocr"]["status"] == "已识别", copy["ocr"]
    assert copy["ocr"]["rotated_pages"] == [2]

    with ws.db.read() as s:
        ocr = s.scalars(select(SignedCopyOcr)).one()
    recognised = ws.blobs.get(ocr.text_sha256).decode("utf-8")  # type: ignore[arg-type]
    assert ANSWER.rstrip("。") in recognised
    assert NOTE in recognised

    archival = insp.get(f"/api/v1/documents/{doc['id']}/signed-copy")
    assert archival.status_code == 200 and archival.data.startswith(b"%PDF")
    assert archival.headers["X-Content-SHA256"] == copy["ocr"]["pdf_sha256"]
    assert b"pdfaid:part" in archival.data  # PDF/A identification in its XMP metadata
    scan = insp.get(f"/api/v1/documents/{doc['id']}/signed-copy?form=scan")
    assert scan.headers["X-Content-SHA256"] == copy["sha256"]

    ws.indexer.drain(timeout=60)
    hits = insp.get("/api/v1/search", query_string={"q": ANSWER}).get_json()["hits"]
    assert [h["id"] for h in hits] == [doc["id"]]
    hits = insp.get("/api/v1/search", query_string={"q": NOTE}).get_json()["hits"]
    assert [h["id"] for h in hits] == [doc["id"]] and hits[0]["from_scan"] is True
    assert "<mark>" in hits[0]["snippet"]

    events = (
        users["auditor"]
        .get("/api/v1/audit/events", query_string={"object_id": doc["id"]})
        .get_json()["events"]
    )
    actions = [e["action"] for e in events]
    assert "document.signed_copy" in actions and "document.signed_copy_ocr" in actions
    downloads = [e["details"] for e in events if e["action"] == "document.download"]
    assert {d.get("form") for d in downloads if d.get("file") == "signed_copy"} == {
        "archival",
        "scan",
    }
    assert verify_archive(ws).ok


def test_a_short_scan_is_a_mismatch_and_a_new_upload_a_new_version(
    users: dict[str, Client], ws: Wenshu, tmp_path: Path
) -> None:
    insp = users["inspector"]
    doc = issue_transcript(insp, extra_qa=11)
    assert doc["page_count"] == 4
    images = page_images(insp.get(f"/api/v1/documents/{doc['id']}/pdf").data, tmp_path, dpi=40)
    short = upload(insp, doc["id"], pngs(images[:3])).get_json()["signed_copy"]
    assert (short["pages"], short["expected_pages"], short["page_mismatch"]) == (3, 4, True)

    clerk = users["clerk"]  # a clerk of the org may upload too
    whole = upload(clerk, doc["id"], pngs(images)).get_json()["signed_copy"]
    assert whole["version"] == 2 and whole["pages"] == 4 and whole["page_mismatch"] is False
    first = insp.get(f"/api/v1/documents/{doc['id']}/signed-copy?version=1&form=scan")
    assert first.headers["X-Content-SHA256"] == short["sha256"] != whole["sha256"]
    assert insp.get(f"/api/v1/documents/{doc['id']}/signed-copy?version=3").status_code == 404


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` × ``height``, with no real pixel data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def encrypted(pdf: bytes) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(BytesIO(pdf)))
    writer.encrypt(user_password="secret", owner_password="owner")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_a_giant_image() -> bytes:
    """A one-page PDF holding a 12,000 × 12,000 image (a 40 KB file: it compresses well)."""
    out = BytesIO()
    Image.new("1", (12_000, 12_000), 1).save(out, format="PNG")
    return subprocess.run(
        ["img2pdf", "--pagesize", "A4", "--fit", "into", "-"],
        input=out.getvalue(),
        capture_output=True,
        check=True,
    ).stdout


HOSTILE = {
    "pdf with a giant image": lambda pdf, png: [(pdf_with_a_giant_image(), "s.pdf", "")],
    "png declared as pdf": lambda pdf, png: [(png, "scan.pdf", "application/pdf")],
    "30000x30000 image": lambda pdf, png: [(png_header_only(30_000, 30_000), "p.png", "image/png")],
    "truncated pdf": lambda pdf, png: [(pdf[: len(pdf) // 2], "scan.pdf", "application/pdf")],
    "encrypted pdf": lambda pdf, png: [(encrypted(pdf), "scan.pdf", "application/pdf")],
    "not a scan": lambda pdf, png: [(b"<html>hello</html>", "scan.png", "image/png")],
    "pdf with images": lambda pdf, png: [(pdf, "a.pdf", "application/pdf"), (png, "b.png", "")],
    "truncated png": lambda pdf, png: [(png[: len(png) // 2], "p.png", "image/png")],
    "no file": lambda pdf, png: [],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_uploads_are_refused_and_nothing_is_stored(
    users: dict[str, Client], ws: Wenshu, tmp_path: Path, case: str
) -> None:
    insp = users["inspector"]
    doc = issue_transcript(insp, extra_qa=0)
    pdf = insp.get(f"/api/v1/documents/{doc['id']}/pdf").data
    png = page_images(pdf, tmp_path, dpi=30)[0]
    before = stored(ws)
    r = upload(insp, doc["id"], HOSTILE[case](pdf, png))
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert "file" in body["errors"] and body["message"] == body["errors"]["file"]
    assert stored(ws) == before
    again = insp.get(f"/api/v1/documents/{doc['id']}").get_json()["signed_copy"]
    assert again["status"] == "待上传签字原件"


def test_refusals_by_role_type_size_and_org(
    users: dict[str, Client], ws: Wenshu, tmp_path: Path
) -> None:
    insp = users["inspector"]
    doc = issue_transcript(insp, extra_qa=0)
    png = page_images(insp.get(f"/api/v1/documents/{doc['id']}/pdf").data, tmp_path, dpi=30)
    notice = (
        users["clerk"]
        .post("/api/v1/documents", {"type": "notice", "org": "llyb", "data": sample("notice")})
        .get_json()
    )
    before = stored(ws)
    assert upload(users["auditor"], doc["id"], pngs(png)).status_code == 403
    assert upload(users["other_clerk"], doc["id"], pngs(png)).status_code == 404
    assert upload(users["anonymous"], doc["id"], pngs(png)).status_code == 401
    assert notice["signed_copy"] is None
    wrong = upload(users["clerk"], notice["id"], pngs(png))
    assert wrong.status_code == 422 and "检查记录单和询问笔录" in wrong.get_json()["message"]
    set_setting(ws, "limits", max_upload_bytes=2_000)
    big = upload(insp, doc["id"], pngs(png))
    assert big.status_code == 413 and "file" in big.get_json()["errors"]
    assert stored(ws) == before
    assert users["anonymous"].get(f"/api/v1/documents/{doc['id']}/signed-copy").status_code == 401
    assert insp.get(f"/api/v1/documents/{doc['id']}/signed-copy").status_code == 404


def test_what_is_still_owed_is_listed_and_keeps_the_case_open(
    users: dict[str, Client], ws: Wenshu, tmp_path: Path
) -> None:
    insp = users["inspector"]
    assert (
        insp.post(
            "/api/v1/cases", {"case_no": "LL-2026-090", "title": "签字原件检查", "org": "llyb"}
        ).status_code
        == 201
    )
    transcript = issue_transcript(insp, extra_qa=0, case_no="LL-2026-090")
    record = insp.post(
        "/api/v1/documents",
        {
            "type": "inspection_record",
            "org": "llyb",
            "case_no": "LL-2026-090",
            "data": sample("inspection_record"),
        },
    ).get_json()
    report = insp.post(
        "/api/v1/documents",
        {
            "type": "inspection_report",
            "org": "llyb",
            "case_no": "LL-2026-090",
            "data": sample("inspection_report"),
        },
    ).get_json()
    assert report["signed_copy"] is None
    owed = insp.get("/api/v1/documents?signed_copy=missing").get_json()
    assert {d["id"] for d in owed["items"]} == {transcript["id"], record["id"]}
    assert (
        users["other_clerk"].get("/api/v1/documents?signed_copy=missing").get_json()["total"] == 0
    )
    case = insp.get("/api/v1/cases/LL-2026-090").get_json()
    assert case["complete"] is False
    assert set(case["signed_copies_missing"]) == {transcript["id"], record["id"]}

    png = page_images(insp.get(f"/api/v1/documents/{record['id']}/pdf").data, tmp_path, dpi=30)
    assert upload(insp, record["id"], pngs(png)).status_code == 201
    owed = insp.get("/api/v1/documents?signed_copy=missing").get_json()
    assert [d["id"] for d in owed["items"]] == [transcript["id"]]
    case = insp.get("/api/v1/cases/LL-2026-090").get_json()
    assert case["complete"] is False and case["signed_copies_missing"] == [transcript["id"]]
    assert any(t.startswith("询问笔录签字原件") for t in case["lacking"])
    bad = insp.get("/api/v1/documents?signed_copy=nonsense")
    assert bad.status_code == 422 and "signed_copy" in bad.get_json()["errors"]


def test_an_altered_scan_fails_verification(
    users: dict[str, Client], ws: Wenshu, tmp_path: Path
) -> None:
    insp = users["inspector"]
    doc = issue_transcript(insp, extra_qa=0)
    png = page_images(insp.get(f"/api/v1/documents/{doc['id']}/pdf").data, tmp_path, dpi=30)
    copy = upload(insp, doc["id"], pngs(png)).get_json()["signed_copy"]
    assert verify_archive(ws).ok
    path = ws.blobs.path(copy["sha256"])
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b"%PDF", b"%PDX", 1))
    report = verify_archive(ws)
    assert not report.ok
    assert any(p.document_id == doc["id"] and "scan blob" in p.message for p in report.problems)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_signed_copies_are_append_only(
    tmp_path: Path, converter_dir: dict[str, Any], backend: str
) -> None:
    from service.workflows.accounts import add_user

    with fresh_database(backend, tmp_path) as url:
        app = make_app(tmp_path, converter_dir, DATABASE_URL=url)
        ws: Wenshu = app.extensions["wenshu"]
        try:
            insp = Client(app, add_user(ws, name="ao-inspector", role="inspector", org_code="llyb"))
            doc = issue_transcript(insp, extra_qa=0)
            pdf = insp.get(f"/api/v1/documents/{doc['id']}/pdf").data
            png = page_images(pdf, tmp_path, dpi=30)
            assert upload(insp, doc["id"], pngs(png)).status_code == 201
            assert upload(insp, doc["id"], pngs(png)).get_json()["signed_copy"]["version"] == 2
            for sql in (
                "UPDATE signed_copies SET pages = 99",
                "DELETE FROM signed_copies",
            ):
                with pytest.raises(Exception, match="append-only"):
                    with ws.db.write() as s:
                        s.execute(text(sql))
            assert stored(ws)[0] == 2
        finally:
            ws.close()


def test_recognised_chinese_text_reads_as_printed() -> None:
    assert (
        tidy_text("未 发 现 伪 造\n病 历 的 情 况 。\f15 名 患 者")
        == "未发现伪造病历的情况。\n15名患者"
    )


def test_a_recogniser_that_died_is_taken_over_once_its_lease_runs_out(
    users: dict[str, Client], ws: Wenshu, tmp_path: Path
) -> None:
    from archive.signed_copies import claim_next

    insp = users["inspector"]
    doc = issue_transcript(insp, extra_qa=0)
    pdf = insp.get(f"/api/v1/documents/{doc['id']}/pdf").data
    scan = page_images(pdf, tmp_path, dpi=60)
    assert upload(insp, doc["id"], pngs(scan)).status_code == 201
    with ws.db.write() as s:  # a recogniser claims the scan, then its process is killed
        assert claim_next(s, ws.now(), lease_seconds=900) is not None
    assert Recogniser(ws).drain(timeout=60) == 0  # its lease still runs: nobody doubles up
    copy = insp.get(f"/api/v1/documents/{doc['id']}").get_json()["signed_copy"]
    assert copy["ocr"]["status"] == "正在识别"
    set_setting(ws, "integrity", ocr_lease=0)
    assert Recogniser(ws).drain(timeout=600) == 1
    copy = insp.get(f"/api/v1/documents/{doc['id']}").get_json()["signed_copy"]
    assert copy["ocr"]["status"] == "已识别"
    with ws.db.read() as s:
        entry = s.scalars(select(OcrQueueEntry)).one()
        assert entry.attempts == 2 and entry.done_at is not None
    assert Recogniser(ws).drain(timeout=60) == 0


def test_a_scanned_pdf_is_stored_as_uploaded(
    users: dict[str, Client], ws: Wenshu, tmp_path: Path
) -> None:
    insp = users["inspector"]
    doc = issue_transcript(insp, extra_qa=0)
    images = page_images(insp.get(f"/api/v1/documents/{doc['id']}/pdf").data, tmp_path, dpi=40)
    scanner_pdf = subprocess.run(
        ["img2pdf", *[str(p) for p in sorted(tmp_path.glob("page-*.png"))]],
        capture_output=True,
        check=True,
    ).stdout
    r = upload(insp, doc["id"], [(scanner_pdf, "SCAN0001.PDF", "application/octet-stream")])
    assert r.status_code == 201, r.get_json()
    copy = r.get_json()["signed_copy"]
    assert copy["source"] == "pdf" and copy["pages"] == len(images)
    assert ws.blobs.get(copy["sha256"]) == scanner_pdf
