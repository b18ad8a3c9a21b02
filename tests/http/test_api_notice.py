"""A clerk issues a notice end to end through the API: numbered, signed, archived, searchable."""

from __future__ import annotations

import copy
import io
import sqlite3
import subprocess
import threading
import time
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from archive.models import AuditEvent
from service.workflows.integrity.fixity import verify_archive
from tests.support import sample
from tests.support.apps import archive_counts, set_setting


def issue(client: Any, data: dict[str, Any] | None = None, **extra: Any) -> Any:
    body = {"type": "notice", "org": "llyb", "data": data or sample("notice")}
    body.update(extra)
    return client.post("/api/v1/documents", body)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)


def test_issue_notice_end_to_end(users: dict[str, Any], ws: Any, tmp_path: Any) -> None:
    clerk = users["clerk"]
    r = issue(clerk)
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    year = ws.local_date(ws.now()).year
    assert doc["wenhao"] == f"吕医保发〔{year}〕1号"
    assert doc["archive_no"] == f"J041-{year}-D30-BGS-0001"
    assert set(doc["links"]) == {"self", "pdf", "docx", "verify"}

    pdf = clerk.get(doc["links"]["pdf"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    body = pdf.data
    from archive.blobs import sha256_hex

    assert sha256_hex(body) == doc["sha256"]
    reader = PdfReader(io.BytesIO(body))
    box = reader.pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)
    text = pdf_text(body)
    assert doc["wenhao"] in text.replace(" ", "")
    assert b"pdfaid:part" in body or b"pdfaid" in body

    (tmp_path / "n.pdf").write_bytes(body)
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "n.pdf")], capture_output=True, text=True, check=True
    ).stdout
    rows = [line for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and all(" yes " in line for line in rows), fonts

    v = clerk.get(doc["links"]["verify"]).get_json()
    assert (
        v["sha256_ok"]
        and v["signature"]["intact"]
        and v["signature"]["valid"]
        and v["signature"]["trusted"]
    )
    assert "吕梁市医疗保障局" in (v["signature"]["signer"] or "")

    docx = clerk.get(doc["links"]["docx"])
    assert docx.status_code == 200 and docx.data[:2] == b"PK"

    second = issue(clerk).get_json()
    assert second["wenhao"] == f"吕医保发〔{year}〕2号"

    hits = clerk.get("/api/v1/search?q=" + doc["wenhao"]).get_json()
    assert [h["id"] for h in hits["hits"]] == [doc["id"]]
    hits = clerk.get("/api/v1/search?q=专项治理").get_json()
    assert {h["id"] for h in hits["hits"]} == {doc["id"], second["id"]}
    assert "<mark>" in hits["hits"][0]["snippet"]

    with ws.db.read() as s:
        actions = [
            e.action
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.object_id == doc["id"]).order_by(AuditEvent.seq)
            )
        ]
    assert actions[0] == "document.issue"
    assert {"document.download", "document.verify"} <= set(actions)
    chain = users["auditor"].get("/api/v1/audit/verify").get_json()
    assert chain["ok"] and chain["first_bad_seq"] is None
    gaps = users["auditor"].get(f"/api/v1/numbers/gaps?org=llyb&year={year}").get_json()
    assert gaps["issued"] == 2 and gaps["missing"] == []


def test_user_text_is_rendered_literally(users: dict[str, Any]) -> None:
    data = copy.deepcopy(sample("notice"))
    data["title"] = "关于{{ 7*7 }}与<b>&的通知"
    data["body"] = [{"text": "正文含有 {% if x %} 和 <b>& 以及 {{ 7*7 }}。"}]
    r = issue(users["clerk"], data)
    assert r.status_code == 201, r.get_json()
    text = pdf_text(users["clerk"].get(r.get_json()["links"]["pdf"]).data).replace(" ", "")
    assert "{{7*7}}与<b>&" in text
    assert "{%ifx%}和<b>&以及{{7*7}}" in text
    assert "49" not in text.split("〕")[0]


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.pop("title"), "data.title"),
        (lambda d: d.__setitem__("addressees", []), "data.addressees"),
        (lambda d: d["body"].insert(0, {"heading": "x", "level": 7}), "data.body.0.level"),
        (lambda d: d.__setitem__("urgency", "很急"), "data.urgency"),
        (lambda d: d.__setitem__("date", "2026-02-30"), "data.date"),
    ],
)
def test_bad_field_is_422_with_path_and_consumes_nothing(
    users: dict[str, Any], ws: Any, mutate: Any, path: str
) -> None:
    data = copy.deepcopy(sample("notice"))
    mutate(data)
    before = archive_counts(ws)
    r = issue(users["clerk"], data)
    assert r.status_code == 422
    body = r.get_json()
    assert body["code"] and body["status"] == 422 and path in body["errors"], body
    assert archive_counts(ws) == before


def test_auth_and_roles(users: dict[str, Any], ws: Any) -> None:
    before = archive_counts(ws)
    assert issue(users["anonymous"]).status_code == 401
    r = issue(users["inspector"])
    assert r.status_code == 403 and r.get_json()["code"] == "forbidden"
    assert issue(users["other_clerk"]).status_code == 403  # a clerk of 太原 cannot issue for 吕梁
    assert archive_counts(ws) == before
    doc = issue(users["clerk"]).get_json()
    assert users["other_clerk"].get(doc["links"]["self"]).status_code == 404
    assert users["other_clerk"].get(doc["links"]["pdf"]).status_code == 404
    assert users["inspector"].get("/api/v1/audit/verify").status_code == 403
    assert users["other_auditor"].get("/api/v1/numbers/gaps?org=llyb").status_code == 403
    other_hits = users["other_clerk"].get("/api/v1/search?q=专项治理").get_json()
    assert other_hits["total"] == 0


def test_preview_is_watermarked_and_consumes_no_number(users: dict[str, Any], ws: Any) -> None:
    before = archive_counts(ws)
    year = ws.local_date(ws.now()).year
    data = sample("notice")
    data["date"] = data["print_date"] = f"{year}-03-02"  # 成文日期 typed, in this year
    r = users["clerk"].post(
        "/api/v1/documents/preview", {"type": "notice", "org": "llyb", "data": data}
    )
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = pdf_text(r.data).replace(" ", "")
    assert f"吕医保发〔{year}〕□号" in text and f"{year}年3月2日" in text
    assert archive_counts(ws) == before


def test_tampering_is_reported_everywhere(users: dict[str, Any], ws: Any) -> None:
    doc = issue(users["clerk"]).get_json()
    assert verify_archive(ws).failures == []
    path = ws.blobs.path(doc["sha256"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    v = users["clerk"].get(doc["links"]["verify"]).get_json()
    assert v["sha256_ok"] is False
    failures = verify_archive(ws).failures
    assert any(doc["id"] in f and "sha256" in f for f in failures)

    db_path = ws.settings.paths.data / "wenshu.db"
    con = sqlite3.connect(db_path, timeout=60)
    con.execute("DROP TRIGGER audit_events_no_update")
    con.execute("UPDATE audit_events SET actor='someone-else' WHERE seq=3")
    con.commit()
    con.close()
    chain = users["auditor"].get("/api/v1/audit/verify").get_json()
    assert chain["ok"] is False and chain["first_bad_seq"] == 3
    assert any("seq 3" in f for f in verify_archive(ws).failures)


def test_index_rebuilds_and_digits_are_exact(users: dict[str, Any], ws: Any) -> None:
    data = copy.deepcopy(sample("notice"))
    data["body"] = [{"text": "请于4号楼报到。"}]
    four = issue(users["clerk"], data).get_json()
    data["body"] = [{"text": "请于44号楼报到。"}]
    forty_four = issue(users["clerk"], data).get_json()
    hits = {h["id"] for h in users["clerk"].get("/api/v1/search?q=4号楼").get_json()["hits"]}
    assert four["id"] in hits and forty_four["id"] not in hits
    n = ws.indexer.rebuild()
    assert n == 2
    hits = {h["id"] for h in users["clerk"].get("/api/v1/search?q=44号楼").get_json()["hits"]}
    assert hits == {forty_four["id"]}


def test_search_waits_for_its_documents_not_for_the_index_writer(
    users: dict[str, Any], ws: Any
) -> None:
    """Under load another worker holds the writer lock batch after batch (or through a merge):
    a search waits only until what was issued before it is indexed, and, when even that takes
    too long, answers at its bound saying how many documents are still on their way."""
    held, go, release = threading.Event(), threading.Event(), threading.Event()

    def busy_writer() -> None:
        with ws.indexer._exclusive(5.0) as got:
            assert got
            held.set()
            go.wait(30)
            ws.indexer._drain_locked(ws.indexer.last_queued())
            release.wait(30)

    writer = threading.Thread(target=busy_writer)
    writer.start()
    try:
        assert held.wait(10)
        doc = issue(users["clerk"]).get_json()
        set_setting(ws, "search", catch_up_seconds=0.3)
        started = time.monotonic()
        r = users["clerk"].get("/api/v1/search?q=" + doc["wenhao"]).get_json()
        assert time.monotonic() - started < 10  # bounded, though the lock stays held
        assert r["indexing"] == 1 and r["hits"] == []

        go.set()  # the writer indexes the document, then keeps the lock
        set_setting(ws, "search", catch_up_seconds=20.0)
        started = time.monotonic()
        r = users["clerk"].get("/api/v1/search?q=" + doc["wenhao"]).get_json()
        assert time.monotonic() - started < 10  # well before its 20 s bound: the entry is done
        assert writer.is_alive()  # and the lock still held
        assert r["indexing"] == 0 and [h["id"] for h in r["hits"]] == [doc["id"]]
    finally:
        go.set()
        release.set()
        writer.join(30)
