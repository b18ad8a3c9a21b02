"""The signed paper against the archive, end to end: real OCR (PP-OCRv4), real pages.

A three-page transcript is issued and printed (``pdftoppm``, 150 dpi); on the "paper" the
interviewee signs pages 1 and 2 but not 3, a slip with another answer is pasted over an answer on
page 2, a clean line is typed on page 3, and pages 2 and 3 are fed in the wrong order. The
recogniser reads it; the document says so page by page. Then the scan is recognised again
without an upload, and a new version (page 3 alone, signed) supersedes it before its turn.
Five pages of OCR in all: the test takes a minute or two.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import select

from archive.models import SignedCopyOcr
from service.documents.scans.pages import normalise
from service.wiring import Wenshu
from service.workers.ocr import Recogniser
from tests.support import sample
from tests.support.apps import Client, WenshuCli
from tests.support.scans import (
    label_boxes,
    lines_of,
    page_images,
    paste_over,
    png,
    sign_after,
    type_line,
)

TYPED = "现场补记药房冷柜温度记录缺失"
PASTED = "答：医院对此完全不知情，没有任何记录。"
SIGNATURE = "被询问人签名"


def issue_transcript(client: Client, case_no: str) -> dict[str, Any]:
    data = sample("interview_transcript")
    more = [
        {
            "q": f"请说明该院第{i}季度住院病历的管理情况。",
            "a": f"第{i}季度的住院病历由病案室统一保管，医保办每周抽查，未发现伪造病历。",
        }
        for i in range(1, 6)
    ]
    data["qa"] = data["qa"][:-1] + more + data["qa"][-1:]
    body = {"type": "interview_transcript", "org": "llyb", "data": data, "case_no": case_no}
    r = client.post("/api/v1/documents", body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def upload(client: Client, doc_id: str, images: list[Image.Image]) -> Any:
    files = [(BytesIO(png(im)), f"page-{n}.png", "image/png") for n, im in enumerate(images, 1)]
    return client.flask.post(
        f"/api/v1/documents/{doc_id}/signed-copy",
        data={"file": files},
        headers=client.headers(),
        content_type="multipart/form-data",
    )


def sign_page(im: Image.Image, lines: Any) -> None:
    for box in label_boxes(lines, SIGNATURE) + label_boxes(lines, "承办人签名"):
        sign_after(im, box)


def test_the_scan_is_checked_page_by_page_against_the_document(
    users: dict[str, Client], ws: Wenshu, tmp_path: Path
) -> None:
    insp, auditor = users["inspector"], users["auditor"]
    case = {"case_no": "LL-SCAN-1", "title": "签字原件比对", "org": "llyb"}
    assert insp.post("/api/v1/cases", case).status_code == 201
    doc = issue_transcript(insp, "LL-SCAN-1")
    assert doc["page_count"] == 3
    pdf = insp.get(f"/api/v1/documents/{doc['id']}/pdf").data
    printed = lines_of(pdf)
    p1, p2, p3 = page_images(pdf, tmp_path)
    sign_page(p1, printed[0])
    sign_page(p2, printed[1])  # page 3 stays unsigned
    answer = next(ln for ln in printed[1] if ln.text.startswith("答"))
    paste_over(p2, answer.box, PASTED)
    type_line(p3, TYPED, at=0.6)

    r = upload(insp, doc["id"], [p1, p3, p2])  # pages 2 and 3 swapped
    assert r.status_code == 201, r.get_json()
    assert Recogniser(ws).drain(timeout=900) == 1
    got = insp.get(f"/api/v1/documents/{doc['id']}").get_json()["signed_copy"]
    assert got["ocr"]["status"] == "已识别" and got["ocr"]["engine"] == "rapidocr"
    check = got["comparison"]
    assert check["status"] == "有出入"
    assert check["out_of_order"] is True
    assert [p["matches_page"] for p in check["pages"]] == [1, 3, 2]
    assert check["missing_pages"] == [] and check["extra_pages"] == []

    # the pasted answer, on the scan's page 3 (the document's page 2)
    changed = check["pages"][2]["differences"]
    assert any(normalise("完全不知情") in d["found"] for d in changed), changed
    assert any(normalise(answer.text)[2:8] in d["expected"] for d in changed), changed
    assert check["pages"][0]["differences"] == []  # page 1: nothing changed by hand
    typed = check["pages"][1]["differences"]
    assert any(normalise(TYPED) in d["found"] for d in typed), typed

    # the unsigned page is the scan's page 2; signed pages are not reported
    assert check["missing_signatures"] == [2]
    assert check["pages"][0]["signature_present"] is True
    assert check["pages"][2]["signature_present"] is True
    assert check["unexcused_missing_signatures"] == [2]
    detail = insp.get("/api/v1/cases/LL-SCAN-1").get_json()
    assert f"询问笔录签名（{doc['archive_no']}，扫描件第 2 页）" in detail["lacking"]
    assert detail["signatures_missing"] == [{"id": doc["id"], "pages": [2]}]

    # the typed line is found by search with its exact words
    ws.indexer.drain(timeout=60)
    hits = insp.get("/api/v1/search", query_string={"q": "冷柜温度"}).get_json()["hits"]
    assert [h["id"] for h in hits] == [doc["id"]] and hits[0]["from_scan"] is True

    # an auditor confirms the absence with its reason: recorded, and no longer outstanding
    r = auditor.post(
        f"/api/v1/documents/{doc['id']}/signed-copy/review",
        {"kind": "signature", "page": 2, "reason": "被询问人拒绝在第 3 页签名，已当场记录"},
    )
    assert r.status_code == 200, r.get_json()
    check = r.get_json()["signed_copy"]["comparison"]
    assert check["unexcused_missing_signatures"] == []
    assert check["reviews"][0]["reason"].startswith("被询问人拒绝")
    detail = insp.get("/api/v1/cases/LL-SCAN-1").get_json()
    assert not [item for item in detail["lacking"] if "签名（" in item]
    assert detail["signatures_missing"] == []
    refused = auditor.post(
        f"/api/v1/documents/{doc['id']}/signed-copy/review",
        {"kind": "signature", "page": 1, "reason": "第 1 页并不缺"},
    )
    assert refused.status_code == 422 and "page" in refused.get_json()["errors"]
    events = auditor.get("/api/v1/audit/events", query_string={"object_id": doc["id"]})
    actions = [e["action"] for e in events.get_json()["events"]]
    assert "document.signed_copy_review" in actions

    # recognised again without an upload; a newer version supersedes it before its turn
    again = insp.post(f"/api/v1/documents/{doc['id']}/signed-copy/ocr-again", {})
    assert again.status_code == 202 and again.get_json() == {"run": 2}
    busy = insp.post(f"/api/v1/documents/{doc['id']}/signed-copy/ocr-again", {})
    assert busy.status_code == 409
    (tmp_path / "again").mkdir()
    p3_signed = page_images(pdf, tmp_path / "again")[2]
    sign_page(p3_signed, printed[2])
    assert upload(insp, doc["id"], [p3_signed]).status_code == 201
    assert Recogniser(ws).drain(timeout=900) == 2
    with ws.db.read() as s:
        outcomes = {(o.run, o.status) for o in s.scalars(select(SignedCopyOcr))}
    assert (2, "skipped") in outcomes  # version 1's second run: skipped, no OCR spent
    got = insp.get(f"/api/v1/documents/{doc['id']}").get_json()["signed_copy"]
    assert got["version"] == 2
    check = got["comparison"]
    assert check["pages"][0]["matches_page"] == 3
    assert check["pages"][0]["signature_present"] is True
    assert check["missing_pages"] == [1, 2] and check["missing_signatures"] == []

    # the operator's way: `wenshu ocr --again ID` queues the stored scan and recognises it
    done = WenshuCli(ws).invoke(["ocr", "--again", doc["id"]])
    assert done.exit_code == 0, done.output
    assert "queued recognition run 2" in done.output and "recognised 1 scan(s)" in done.output
    got = insp.get(f"/api/v1/documents/{doc['id']}").get_json()["signed_copy"]
    assert (got["version"], got["ocr"]["run"], got["ocr"]["status"]) == (2, 2, "已识别")
    assert got["comparison"]["pages"][0]["signature_present"] is True
    missing = WenshuCli(ws).invoke(["ocr", "--again", "no-such-document"])
    assert missing.exit_code == 1 and "没有文书" in missing.output
