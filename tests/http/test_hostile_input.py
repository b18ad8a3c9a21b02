"""Hostile input: oversized and deeply nested bodies, huge fields, control characters and
direction overrides, bomb and XXE files. Each gets a clear error within bounded time and
memory, and nothing is stored (row counts and the blob folder are unchanged)."""

from __future__ import annotations

import copy
import io
import json
import re
import resource
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from archive import models as M
from archive.errors import ConversionError
from service.doctypes import DOCTYPES
from service.documents.convert.client import Converter
from service.documents.pades import verify_pdf
from service.http.limits import MAX_JSON_DEPTH
from service.workflows.accounts import add_user
from tests.support import ROOT, sample
from tests.support.web import pkcs12_upload

ROOT_DIR = ROOT
RLO = "\u202e"
HUGE = "测" * 100_000


def stored(ws: Any) -> tuple[Any, ...]:
    """Rows of every table a request could write, and the blob files."""
    with ws.db.read() as s:
        counts = tuple(
            s.scalar(select(func.count()).select_from(model)) or 0
            for model in (M.Document, M.NumberReservation, M.Case, M.Withdrawal, M.AuditEvent)
        )
    blobs = sorted(p.name for p in ws.settings.paths.archive.rglob("*") if p.is_file())
    return counts, tuple(blobs)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def bounded(seconds: float, mib: float) -> Iterator[None]:
    """Generous bounds (a 2-core machine shared with other runs): only runaway cases fail."""
    rss, t0 = peak_rss_mib(), time.monotonic()
    yield
    elapsed, grown = time.monotonic() - t0, peak_rss_mib() - rss
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    assert grown < mib, f"peak memory grew {grown:.0f} MiB"


def post_raw(users: dict[str, Any], url: str, data: bytes | None, **kw: Any) -> Any:
    clerk = users["clerk"]
    headers = {"Authorization": f"Bearer {clerk.token}", **kw.pop("headers", {})}
    if data is not None:
        kw["data"] = data
    return clerk.flask.post(url, content_type="application/json", headers=headers, **kw)


# --------------------------------------------------------------------------- size


def test_bodies_over_the_limit_get_a_json_413(users: dict[str, Any], ws: Any, app: Any) -> None:
    before = stored(ws)
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = json.dumps({"type": "notice", "org": "llyb", "data": {"x": "a" * limit}}).encode()
    with bounded(30, 200):
        declared = post_raw(users, "/api/v1/documents", big)
        # no Content-Length: the body is read through a limited stream all the same
        chunked = {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}
        streamed = post_raw(
            users, "/api/v1/cases", None, input_stream=io.BytesIO(big), environ_overrides=chunked
        )
        # and a body just under the limit, without Content-Length, arrives whole
        case = json.dumps({"case_no": "C-1", "title": "t", "org": "llyb"}).encode()
        whole = post_raw(
            users, "/api/v1/cases", None, input_stream=io.BytesIO(case), environ_overrides=chunked
        )
    for r in (declared, streamed):
        assert r.status_code == 413 and r.is_json, r.get_data()[:200]
        assert r.get_json()["message"] == "请求内容过大"
    assert whole.status_code == 201, whole.get_json()
    counts, blobs = stored(ws)
    assert (counts[2] - 1, blobs) == (before[0][2], before[1])  # only that case


@pytest.mark.soffice
def test_served_chunked_body_over_the_limit_gets_a_json_413(tmp_path: Path) -> None:
    """Under gunicorn, which hands chunked bodies on without a Content-Length."""
    import http.client
    import os
    import subprocess
    import sys

    from tests.support import ROOT, free_port_block, start_server, stop_server
    from tests.support.server import wait_healthy

    wenshu_cmd = str(Path(sys.executable).with_name("wenshu"))
    port = free_port_block(1)
    env = {**os.environ, "WENSHU_DATA": str(tmp_path / "data"), "WENSHU_WORKERS": "1"}
    env.update(WENSHU_CONVERTER_POOL_SIZE="1")
    env.pop("DATABASE_URL", None)
    subprocess.run([wenshu_cmd, "init"], env=env, cwd=ROOT, check=True, capture_output=True)
    token = subprocess.run(
        [wenshu_cmd, "user-add", "chunk-clerk", "--role", "clerk", "--org", "llyb"],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    proc = start_server(env, port, tmp_path / "server.log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)

        def chunked_post(size: int) -> tuple[int, bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            body = json.dumps({"case_no": "K-1", "title": "x" * size, "org": "llyb"}).encode()
            pieces = (body[i : i + 65536] for i in range(0, len(body), 65536))
            conn.request(
                "POST",
                "/api/v1/cases",
                body=pieces,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                encode_chunked=True,
            )
            r = conn.getresponse()
            return r.status, r.read()

        status, body = chunked_post(3 * 1024 * 1024)
        assert status == 413 and json.loads(body)["message"] == "请求内容过大"
        status, body = chunked_post(10)
        assert status == 201, body
    finally:
        stop_server(proc)


# --------------------------------------------------------------------------- nesting


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"type": "notice", "org": "llyb", "data": {"title": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}",
        b"[" * 100_000,  # unterminated
    ],
    ids=["arrays", "objects", "inside-data", "unterminated"],
)
def test_deeply_nested_json_is_a_clear_error(users: dict[str, Any], ws: Any, body: bytes) -> None:
    before = stored(ws)
    with bounded(20, 200):
        r = post_raw(users, "/api/v1/documents", body)
    assert r.status_code in (400, 422) and r.is_json
    assert str(MAX_JSON_DEPTH) in r.get_json()["message"] or r.status_code == 400
    assert stored(ws) == before


def test_json_at_the_depth_limit_is_still_parsed(users: dict[str, Any]) -> None:
    inside = "[" * (MAX_JSON_DEPTH - 3) + "]" * (MAX_JSON_DEPTH - 3)
    body = f'{{"type": "notice", "org": "llyb", "data": {{"x": {inside}}}}}'.encode()
    r = post_raw(users, "/api/v1/documents/preview", body)
    assert r.status_code == 422 and "data.x" in r.get_json()["errors"]  # the schema speaks


# --------------------------------------------------------------------------- huge fields


def string_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from string_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from string_paths(v, (*path, i))
    elif isinstance(value, str):
        yield path


def with_value(data: Any, path: tuple[Any, ...], value: str) -> Any:
    out = copy.deepcopy(data)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


@pytest.mark.parametrize("doctype", sorted(DOCTYPES))
def test_every_text_field_refuses_100000_characters_naming_it(
    users: dict[str, Any], ws: Any, doctype: str
) -> None:
    """Through the schema for every text field of the sample, through the API for each type."""
    from marshmallow import ValidationError as SchemaError

    from schemas.fields import flatten_messages as flatten

    data = sample(doctype)
    paths = list(string_paths(data))
    assert paths
    for path in paths:
        with pytest.raises(SchemaError) as err:
            DOCTYPES[doctype].schema().load(with_value(data, path, HUGE))
        assert ".".join(map(str, path)) in flatten(err.value.messages), path
    before = stored(ws)
    issuer = "clerk" if "clerk" in DOCTYPES[doctype].issuers else "inspector"
    path = paths[0]
    body = {"type": doctype, "org": "llyb", "data": with_value(data, path, HUGE)}
    with bounded(30, 300):
        r = users[issuer].post("/api/v1/documents", body)
    assert r.status_code == 422
    assert "data." + ".".join(map(str, path)) in r.get_json()["errors"]
    assert stored(ws) == before


@pytest.mark.parametrize(
    "url,body,field",
    [
        ("/api/v1/cases", {"case_no": "H-1", "title": HUGE, "org": "llyb"}, "title"),
        ("/api/v1/cases", {"case_no": "H" * 100_000, "title": "t", "org": "llyb"}, "case_no"),
        ("/api/v1/cases", {"case_no": "H-1", "title": "t", "org": "l" * 100_000}, "org"),
        ("/api/v1/documents", {"type": "n" * 100_000, "org": "llyb", "data": {}}, "type"),
    ],
    ids=["case-title", "case-no", "org", "type"],
)
def test_api_fields_refuse_100000_characters(
    users: dict[str, Any], ws: Any, url: str, body: dict[str, Any], field: str
) -> None:
    before = stored(ws)
    r = users["clerk"].post(url, body)
    assert r.status_code == 422 and field in r.get_json()["errors"], r.get_json()
    assert len(r.get_data()) < 10_000  # the error does not echo the input back
    assert stored(ws) == before


# --------------------------------------------------------------------------- spoofing


@pytest.mark.parametrize(
    "field,value",
    [
        (("title",), f"关于开展{RLO}查检项专{RLO}工作的通知"),
        (("title",), "关于\u2066开展\u2069专项检查的通知"),
        (("title",), "关于开展专项\x1b[31m检查的通知"),
    ],
    ids=["rlo", "isolate", "escape"],
)
def test_control_and_direction_characters_are_refused_in_a_title(
    users: dict[str, Any], ws: Any, field: tuple[str, ...], value: str
) -> None:
    """Refused (422 naming the field), so no PDF, index entry or audit event carries the
    spoofed text; the message names the code point so a clerk can find it."""
    before = stored(ws)
    body = {"type": "notice", "org": "llyb", "data": with_value(sample("notice"), field, value)}
    r = users["clerk"].post("/api/v1/documents", body)
    assert r.status_code == 422
    message = r.get_json()["errors"]["data." + ".".join(field)]
    assert "U+" in message
    assert stored(ws) == before
    hits = users["clerk"].get("/api/v1/search?q=" + value.replace(RLO, "")).get_json()
    assert hits["total"] == 0


@pytest.mark.parametrize(
    "doctype,path",
    [
        ("inspection_record", ("subject", "id_code")),
        ("interview_transcript", ("interviewee", "id_number")),
        ("inspection_report", ("violations", 0, "id_code")),
    ],
)
def test_identifiers_with_hidden_characters_are_refused(
    users: dict[str, Any], ws: Any, doctype: str, path: tuple[Any, ...]
) -> None:
    data = sample(doctype)
    try:
        valid = data
        for key in path:
            valid = valid[key]
    except (KeyError, IndexError, TypeError):
        pytest.skip(f"the {doctype} sample has no {path}")
    before = stored(ws)
    for spoof in (valid[:9] + RLO + valid[9:], valid + "\u200f", valid[:5] + "\x00" + valid[5:]):
        body = {"type": doctype, "org": "llyb", "data": with_value(data, path, spoof)}
        r = users["inspector"].post("/api/v1/documents", body)
        assert r.status_code == 422, spoof
        assert "data." + ".".join(map(str, path)) in r.get_json()["errors"]
    assert stored(ws) == before


def test_case_titles_and_reasons_refuse_direction_overrides(users: dict[str, Any], ws: Any) -> None:
    before = stored(ws)
    r = users["clerk"].post("/api/v1/cases", {"case_no": "S-1", "title": f"a{RLO}b", "org": "llyb"})
    assert r.status_code == 422 and "U+202E" in r.get_json()["errors"]["title"]
    r = users["auditor"].post(
        "/api/v1/audit/legal-holds", {"document_id": "x", "reason": f"理由{RLO}反向"}
    )
    assert r.status_code == 422 and "reason" in r.get_json()["errors"]
    assert stored(ws) == before


def test_a_web_withdrawal_reason_with_an_override_is_a_message_not_an_error_page(
    app: Any, ws: Any, users: dict[str, Any]
) -> None:
    from tests.support.web import PASSWORD
    from tests.support.web import csrf_field as _csrf

    body = {"type": "notice", "org": "llyb", "data": sample("notice")}
    doc_id = users["clerk"].post("/api/v1/documents", body).get_json()["id"]
    before = stored(ws)
    add_user(ws, name="h-clerk", role="clerk", org_code="llyb", password=PASSWORD)
    c = app.test_client()
    token = _csrf(c.get("/login").get_data(as_text=True))
    c.post("/login", data={"name": "h-clerk", "password": PASSWORD, "csrf_token": token})
    token = _csrf(c.get(f"/documents/{doc_id}").get_data(as_text=True))
    r = c.post(
        f"/documents/{doc_id}/withdraw",
        data={"csrf_token": token, "reason": f"理由{RLO}反向"},
        follow_redirects=True,
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "作废理由有误" in html and "U+202E" in html
    with ws.db.read() as s:
        assert s.scalar(select(func.count()).select_from(M.Withdrawal)) == 0
    assert stored(ws)[0][:4] == before[0][:4]  # audit: only the login and the page view


# --------------------------------------------------------------------------- files


W_NS = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def zip_bomb(uncompressed_mib: int) -> bytes:
    """A real DOCX (the notice template) whose document.xml inflates to ``uncompressed_mib``
    MiB of well-formed paragraphs."""
    template = ROOT_DIR / "doc_templates" / "notice.docx"
    buf = io.BytesIO()
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            if item.filename != "word/document.xml":
                z.writestr(item, src.read(item.filename))
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(b'<?xml version="1.0" encoding="UTF-8"?><w:document ' + W_NS + b"><w:body>")
            paragraph = b"<w:p><w:r><w:t>" + b"a" * 1000 + b"</w:t></w:r></w:p>"
            block = paragraph * (1024 * 1024 // len(paragraph))
            for _ in range(uncompressed_mib):
                f.write(block)
            f.write(b"</w:body></w:document>")
    return buf.getvalue()


XXE = b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/hostname">]><p>&x;</p>'


@pytest.mark.parametrize("kind", ["garbage", "zip-bomb", "xxe", "oversize"], ids=lambda k: k)
def test_hostile_pkcs12_uploads_are_refused(app: Any, ws: Any, kind: str) -> None:
    data = {
        "garbage": bytes(range(256)) * 100,
        "zip-bomb": zip_bomb(64),
        "xxe": XXE,
        "oversize": b"0" * (1024 * 1024 + 10),
    }[kind]
    with ws.db.read() as s:
        cert_before = s.scalar(select(M.Org.cert_pem).where(M.Org.code == "llyb"))
    keys_before = sorted((p.name, p.stat().st_mtime_ns) for p in ws.keys.root.rglob("*"))
    with bounded(30, 300):
        status, page = pkcs12_upload(app, ws, data)
    assert status in (200, 413)
    assert ("无法读取证书文件" in page or "证书文件过大" in page) if status == 200 else True
    with ws.db.read() as s:
        assert s.scalar(select(M.Org.cert_pem).where(M.Org.code == "llyb")) == cert_before
    assert sorted((p.name, p.stat().st_mtime_ns) for p in ws.keys.root.rglob("*")) == keys_before


@pytest.mark.soffice
def test_a_docx_bomb_at_the_converter_is_bounded(ws: Any) -> None:
    """No endpoint accepts a DOCX: the converter only sees DOCX the service rendered. Its
    boundary is still bounded: a 200 MiB zip bomb fails within the conversion timeout (the
    instance is killed and restarted) and the next conversion succeeds."""
    converter = Converter(replace(ws.pool_settings, conversion_timeout=15, acquire_timeout=60))
    bomb = zip_bomb(100)
    assert len(bomb) < 2 * 1024 * 1024  # under the request size limit, 100 MiB inflated
    t0 = time.monotonic()
    with bounded(120, 100):  # our process never inflates it
        with pytest.raises(ConversionError) as err:
            converter.to_pdf(bomb)
    print(f"docx bomb: {type(err.value).__name__} after {time.monotonic() - t0:.1f} s")
    assert time.monotonic() - t0 < 15 + 60 + 30
    good = (ROOT / "doc_templates" / "notice.docx").read_bytes()
    assert converter.to_pdf(good, pdfa=False).startswith(b"%PDF-")


@pytest.mark.soffice
def test_an_xxe_docx_does_not_read_local_files(ws: Any, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("XXE-SECRET-7F3A")
    template = (ROOT / "doc_templates" / "notice.docx").read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "word/document.xml":
                head, _, rest = body.partition(b"?>")
                body = (
                    head
                    + b'?><!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://'
                    + str(secret).encode()
                    + b'">]>'
                    + rest.replace(
                        b"<w:body>", b"<w:body><w:p><w:r><w:t>&xxe;</w:t></w:r></w:p>", 1
                    )
                )
            dst.writestr(item, body)
    converter = Converter(replace(ws.pool_settings, conversion_timeout=30))
    try:
        pdf = converter.to_pdf(out.getvalue(), pdfa=False)
    except ConversionError as exc:
        print(f"xxe docx: refused by LibreOffice: {exc.message}")
        return  # refusing the document is as good
    from pypdf import PdfReader

    text = "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "XXE-SECRET" not in text
    print("xxe docx: converted, the entity not resolved")


# --------------------------------------------------------------------------- PDFs


def pdf_of(objects: list[bytes], trailer: bytes = b"/Root 1 0 R") -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % off for off in offsets))
    out.write(b"trailer\n<< /Size %d %s >>\n" % (len(objects) + 1, trailer))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def flate_bomb_pdf(uncompressed_mib: int) -> bytes:
    """A page whose content stream inflates to ``uncompressed_mib`` MiB, and a signature field."""
    import zlib

    stream = zlib.compress(b"\0" * (uncompressed_mib * 1024 * 1024), 9)
    return pdf_of(
        [
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Contents 5 0 R >>",
            b"<< /FT /Sig /T (s) /V << /Type /Sig /Filter /Adobe.PPKLite /SubFilter"
            b" /adbe.pkcs7.detached /ByteRange [0 10 20 10] /Contents <00> >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream)
            + stream
            + b"\nendstream",
        ]
    )


def nested_fields_pdf(depth: int) -> bytes:
    """The signature fields (what verification reads first) are an array nested ``depth`` deep."""
    return pdf_of(
        [
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields 3 0 R >> >>",
            b"<< /Type /Pages /Kids [] /Count 0 >>",
            b"[" * depth + b"]" * depth,
        ]
    )


def xref_stream_bomb_pdf(uncompressed_mib: int) -> bytes:
    """A cross-reference stream (read before anything else) that inflates to ``…_mib`` MiB."""
    import zlib

    data = zlib.compress(b"\0" * (uncompressed_mib * 1024 * 1024), 9)
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
    out.write(b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
    xref = out.tell()
    out.write(
        b"3 0 obj\n<< /Type /XRef /Size 4 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode"
        b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream\nendobj\n"
    )
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


HOSTILE_PDFS = {
    "empty": b"",
    "random": bytes(range(256)) * 400,
    "truncated": flate_bomb_pdf(1)[:300],
    "nested": nested_fields_pdf(100_000),
    "flate-bomb": flate_bomb_pdf(512),
    "xref-stream-bomb": xref_stream_bomb_pdf(512),
    "xref-loop": b"%PDF-1.7\ntrailer\n<< /Size 1 /Prev 9 >>\nstartxref\n9\n%%EOF\n",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_PDFS))
def test_verifying_a_hostile_pdf_is_a_clear_bounded_failure(kind: str) -> None:
    """verify_pdf is where the service reads a PDF: each hostile one yields a report with an
    error, within bounded time and memory (a flate bomb's content is never inflated)."""
    with bounded(60, 600):
        report = verify_pdf(HOSTILE_PDFS[kind], trusted_certs=[])
    assert not report.ok and report.error
    assert re.search(r"[\u4e00-\u9fff]", report.error)  # a Chinese message for the user
