"""What the service tells and keeps about a request beyond its answer: org fields that cannot
break a header, download headers and the event they leave, headers that keep documents out of
caches and uploaded scans in a sandbox."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from archive.errors import ValidationError
from archive.models import AuditEvent, Org
from service.http import denials
from service.workflows.accounts import Principal
from service.workflows.org_settings import update_org
from tests.support import ROOT, free_port_block, sample, start_server, stop_server
from tests.support.apps import WenshuCli
from tests.support.server import WENSHU, wait_healthy


def downloads(ws: Any, doc_id: str) -> int:
    with ws.db.read() as s:
        return len(
            s.scalars(
                select(AuditEvent.seq).where(
                    AuditEvent.action == "document.download", AuditEvent.object_id == doc_id
                )
            ).all()
        )


# --------------------------------------------------------------------------- refusals


def denied(ws: Any) -> list[tuple[AuditEvent, dict[str, Any]]]:
    with ws.db.read() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "access.denied").order_by(AuditEvent.seq)
        ).all()
    return [(ev, json.loads(ev.details)) for ev in rows]


def refusals_counted(admin: Any, status: str, reason: str) -> float:
    text = admin.get("/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for sample_ in family.samples:
            if sample_.name == "wenshu_access_denied_total" and sample_.labels == {
                "status": status,
                "reason": reason,
            }:
                return float(sample_.value)
    return 0.0


def test_a_refused_role_is_recorded_once_a_minute_with_what_was_suppressed(
    users: dict[str, Any], ws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"type": "notice", "org": "llyb", "data": sample("notice")}
    before = refusals_counted(users["sysadmin"], "403", "role")
    for _ in range(5):
        assert users["auditor"].post("/api/v1/documents", body).status_code == 403
    [(event, details)] = denied(ws)
    assert (event.actor, event.org) == ("u-auditor", "llyb")
    assert details["reason"] == "role" and details["suppressed"] == 0
    assert (details["method"], details["endpoint"]) == ("POST", "/api/v1/documents")
    assert "auditor" in details["message"]
    assert refusals_counted(users["sysadmin"], "403", "role") == before + 5

    monkeypatch.setattr(denials, "WINDOW_SECONDS", 0.2)
    time.sleep(0.3)
    assert users["auditor"].post("/api/v1/documents", body).status_code == 403
    assert [d["suppressed"] for _e, d in denied(ws)] == [0, 4]
    assert users["auditor"].get("/api/v1/audit/verify").get_json()["ok"]


def test_a_cross_org_request_is_recorded_for_the_org_it_aimed_at(
    users: dict[str, Any], ws: Any
) -> None:
    doc = (
        users["clerk"]
        .post("/api/v1/documents", {"type": "notice", "org": "llyb", "data": sample("notice")})
        .get_json()
    )
    assert users["other_clerk"].get(doc["links"]["pdf"]).status_code == 404  # nothing leaks
    assert users["other_clerk"].get("/api/v1/documents?org=llyb").status_code == 403
    (aimed, at_doc), (listed, at_list) = denied(ws)
    assert (aimed.actor, aimed.org, aimed.object_id) == ("u-other-clerk", "llyb", doc["id"])
    assert at_doc["reason"] == "org" and at_doc["actor_org"] == "tyyb"
    assert at_doc["endpoint"] == "/api/v1/documents/<string:doc_id>/pdf"
    assert (listed.org, at_list["reason"]) == ("tyyb", "org")
    seen = users["auditor"].get("/api/v1/audit/events?action=access.denied").get_json()
    assert [e["object_id"] for e in seen["events"]] == [doc["id"]]  # llyb's auditor sees it


def test_unknown_callers_are_counted_not_chained(users: dict[str, Any], ws: Any) -> None:
    before = refusals_counted(users["sysadmin"], "401", "unauthenticated")
    for _ in range(20):
        assert users["anonymous"].get("/api/v1/documents").status_code == 401
    bad = users["anonymous"].flask.get("/api/v1/cases", headers={"Authorization": "Bearer x"})
    assert bad.status_code == 401
    assert denied(ws) == []
    assert refusals_counted(users["sysadmin"], "401", "unauthenticated") == before + 21


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
    admin = Principal(0, "u-sysadmin", "sysadmin", 1, "llyb")
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


# --------------------------------------------------------------------------- served


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One `wenshu serve` (gunicorn) on a fresh data dir, with a clerk's token."""
    tmp = tmp_path_factory.mktemp("served")
    port = free_port_block(1)
    env = {**os.environ, "WENSHU_DATA": str(tmp / "data"), "WENSHU_WORKERS": "2"}
    env.update(WENSHU_CONVERTER_POOL_SIZE="1")
    env.pop("DATABASE_URL", None)
    subprocess.run([WENSHU, "init"], env=env, cwd=ROOT, check=True, capture_output=True)
    token = subprocess.run(
        [WENSHU, "user-add", "hard-clerk", "--role", "clerk", "--org", "llyb"],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    proc = start_server(env, port, tmp / "server.log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield {"port": port, "token": token, "env": env}
    finally:
        stop_server(proc)


def first_answer(port: int, head: bytes, body_start: bytes) -> tuple[int, float]:
    """Send a request's head and the start of its body, then nothing more: the status of the
    answer that comes back anyway, and how long it took."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        started = time.monotonic()
        sock.sendall(head + body_start)
        reply = b""
        while b"\r\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        return int(reply.split(b" ", 2)[1]), time.monotonic() - started


@pytest.mark.parametrize("auth", ["", "Authorization: Bearer not-a-token\r\n"])
def test_an_unknown_caller_is_refused_before_its_body_is_read(
    served: dict[str, Any], auth: str
) -> None:
    """A chunked upload that never ends and a declared 40 MiB that never comes: 401 at once,
    though the server has read no more than the first bytes (it would wait for the rest)."""
    url = "/api/v1/documents/x/signed-copy"
    common = (
        f"POST {url} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: multipart/form-data; boundary=b\r\n"
    )
    chunked = (common + "Transfer-Encoding: chunked\r\n\r\n").encode()
    status, took = first_answer(served["port"], chunked, b"400\r\n" + b"x" * 1024 + b"\r\n")
    assert (status, took < 5) == (401, True), took
    declared = (common + f"Content-Length: {40 * 1024 * 1024}\r\n\r\n").encode()
    status, took = first_answer(served["port"], declared, b"--b\r\n")
    assert (status, took < 5) == (401, True), took
    json_head = (
        f"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    status, took = first_answer(served["port"], json_head, b"1\r\n{\r\n")
    assert (status, took < 5) == (401, True), took


def test_a_known_caller_still_sends_its_body(served: dict[str, Any]) -> None:
    """The same request from a clerk is read to its end (the server waits for it): no answer
    before the body, then the answer to what was sent."""
    head = (
        "POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {served['token']}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    body = json.dumps({"case_no": "K-1", "title": "某医院专项检查", "org": "llyb"}).encode()
    with socket.create_connection(("127.0.0.1", served["port"]), timeout=20) as sock:
        sock.sendall(head + b"%x\r\n" % 1 + body[:1] + b"\r\n")
        sock.settimeout(2)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # waiting for the rest of the body
        rest = body[1:]
        sock.settimeout(20)
        sock.sendall(b"%x\r\n" % len(rest) + rest + b"\r\n0\r\n\r\n")
        assert sock.recv(4096).split(b" ", 2)[1] == b"201"
