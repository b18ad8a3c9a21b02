"""What the service tells and keeps about a request beyond its answer: org fields that cannot
break a header, download headers and the event they leave, headers that keep documents out of
caches and uploaded scans in a sandbox."""

from __future__ import annotations

import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import select, update

from archive.errors import ValidationError
from archive.models import AuditEvent, Org
from service.workflows.accounts import Principal
from service.workflows.org_settings import update_org
from tests.support import sample
from tests.support.apps import WenshuCli


def downloads(ws: Any, doc_id: str) -> int:
    with ws.db.read() as s:
        return len(
            s.scalars(
                select(AuditEvent.seq).where(
                    AuditEvent.action == "document.download", AuditEvent.object_id == doc_id
                )
            ).all()
        )


# --------------------------------------------------------------------------- org fields


@pytest.mark.parametrize("value", ["吕医保\r\n发", "吕医保\n发", "吕医保\t发", "吕医保\u2028发"])
def test_org_add_refuses_control_characters_naming_the_field(ws: Any, value: str) -> None:
    r = WenshuCli(ws).invoke(["org-add", "xxyb", "--name", "某市医疗保障局", "--zihao", value])
    assert r.exit_code != 0 and "机关代字" in r.output, r.output
    r = WenshuCli(ws).invoke(
        ["org-add", "xxyb", "--name", "某市", "--zihao", "某", "--seal-text", value]
    )
    assert r.exit_code != 0 and "印章文字" in r.output, r.output
    with ws.db.read() as s:
        assert s.scalar(select(Org).where(Org.code == "xxyb")) is None


def test_org_settings_refuse_control_characters_naming_each_field(ws: Any) -> None:
    admin = Principal(0, "u-admin", "admin", 1, "llyb")
    values = {
        "name": "吕梁市医疗保障局",
        "zihao": "吕医保发",
        "mark": "吕梁市医疗保障局\n文件",
        "seal_text": "吕梁市\x00医疗保障局",
        "region": "吕梁市",
    }
    with pytest.raises(ValidationError) as refused:
        update_org(ws, admin, "llyb", values)
    assert set(refused.value.errors) == {"mark", "seal_text"}
    assert "发文机关标志" in refused.value.errors["mark"][0]
    fixed = {
        **values,
        "mark": "吕梁市医疗保障局文件",
        "seal_text": "吕梁市医疗保障局",
        "region": "吕梁",
    }
    assert update_org(ws, admin, "llyb", fixed) == {"region": ["吕梁市", "吕梁"]}


def test_a_download_header_survives_any_org_field(users: dict[str, Any], ws: Any) -> None:
    """An org stored before fields were checked, with CR/LF in its 机关代字: its documents
    still download, the header carries the 文号 intact (RFC 5987) and breaks no line."""
    with ws.db.write() as s:
        s.execute(update(Org).where(Org.code == "llyb").values(zihao="吕医保\r\nX-Evil: 1\r\n发"))
    r = users["clerk"].post(
        "/api/v1/documents", {"type": "notice", "org": "llyb", "data": sample("notice")}
    )
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    for kind in ("pdf", "docx"):
        got = users["clerk"].get(doc["links"][kind])
        assert got.status_code == 200
        header = got.headers["Content-Disposition"]
        assert "\r" not in header and "\n" not in header and "X-Evil" not in got.headers
        assert unquote(header.split("filename*=UTF-8''")[1]) == f"{doc['wenhao']}.{kind}"
        assert header.startswith("attachment" if kind == "docx" else "inline")
    assert downloads(ws, doc["id"]) == 2


# --------------------------------------------------------------------------- headers


def test_api_answers_are_neither_sniffed_nor_cached(users: dict[str, Any]) -> None:
    clerk = users["clerk"]
    doc = clerk.post(
        "/api/v1/documents", {"type": "notice", "org": "llyb", "data": sample("notice")}
    ).get_json()
    for r in (
        clerk.get("/api/v1/documents"),
        clerk.get(doc["links"]["pdf"]),
        clerk.get("/api/v1/documents/nope"),
        users["anonymous"].get("/api/v1/documents"),
        users["anonymous"].get("/healthz"),
    ):
        assert r.headers["X-Content-Type-Options"] == "nosniff", r.request.path
        assert r.headers["Cache-Control"] == "no-store", r.request.path


def test_an_uploaded_scan_is_served_in_a_sandbox(users: dict[str, Any], tmp_path: Path) -> None:
    insp = users["inspector"]
    r = insp.post(
        "/api/v1/documents",
        {"type": "inspection_record", "org": "llyb", "data": sample("inspection_record")},
    )
    doc = r.get_json()
    pdf = insp.get(doc["links"]["pdf"]).data
    (tmp_path / "doc.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(tmp_path / "doc.pdf"), str(tmp_path / "page")],
        check=True,
    )
    scan = subprocess.run(
        ["img2pdf", *sorted(str(p) for p in tmp_path.glob("page-*.png"))],
        capture_output=True,
        check=True,
    ).stdout
    up = insp.flask.post(
        f"/api/v1/documents/{doc['id']}/signed-copy",
        data={"file": [(BytesIO(scan), "scan.pdf", "application/pdf")]},
        headers=insp.headers(),
        content_type="multipart/form-data",
    )
    assert up.status_code == 201, up.get_json()
    got = insp.get(f"/api/v1/documents/{doc['id']}/signed-copy?form=scan")
    assert got.status_code == 200 and got.data == scan
    assert got.headers["Content-Security-Policy"] == "sandbox"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in insp.get(doc["links"]["pdf"]).headers
