"""An org's own template versions (``/api/v1/orgs/<code>/templates/<type>``): checked on
upload, previewed, activated on record; documents rendered with the active one and naming it —
on real LibreOffice, pyHanko and the database."""

from __future__ import annotations

import hashlib
import io
import json
import re
from typing import Any

import docx
from docx.shared import Mm
from pypdf import PdfReader

from archive.models import AuditEvent
from service.doctypes import template_path
from service.wiring import Wenshu
from tests.support import sample
from tests.support.apps import Client

RECORD = "/api/v1/orgs/llyb/templates/inspection_record"
SENTENCE = "以上记录情况属实。"


def _saved(d: Any) -> bytes:
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _record_template(sentence: str) -> bytes:
    """The 检查记录单 as Word would save it with one fixed sentence retyped."""
    d = docx.Document(str(template_path("inspection_record")))
    p = next(p for p in d.paragraphs if p.text == SENTENCE)
    p.runs[0].text = sentence
    for extra in p.runs[1:]:
        extra.text = ""
    return _saved(d)


def _upload(client: Client, data: bytes, url: str = RECORD) -> Any:
    return client.flask.post(
        url,
        data={"file": (io.BytesIO(data), "检查记录单（本局）.docx")},
        headers=client.headers(),
        content_type="multipart/form-data",
    )


def _text(pdf: bytes) -> str:
    pages = (p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", "", "".join(pages))


def _issue_record(inspector: Client) -> dict[str, Any]:
    r = inspector.post(
        "/api/v1/documents",
        {"type": "inspection_record", "org": "llyb", "data": sample("inspection_record")},
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def _events(ws: Wenshu, action: str) -> list[dict[str, Any]]:
    with ws.db.read() as s:
        rows = s.query(AuditEvent).filter_by(action=action).order_by(AuditEvent.seq).all()
        return [json.loads(e.details) | {"actor": e.actor} for e in rows]


def test_upload_preview_activate_and_documents_name_their_template(
    users: dict[str, Client], ws: Wenshu
) -> None:
    secadmin, inspector = users["secadmin"], users["inspector"]
    default_sha = hashlib.sha256(template_path("inspection_record").read_bytes()).hexdigest()
    before = _issue_record(inspector)
    assert before["template_sha256"] == default_sha
    assert ws.blobs.get(default_sha) == template_path("inspection_record").read_bytes()

    v1 = _record_template("以上记录情况属实，经被核查对象核对无误。")
    r = _upload(secadmin, v1)
    assert r.status_code == 201, r.get_json()
    version = r.get_json()
    assert version["sha256"] == hashlib.sha256(v1).hexdigest()
    assert version["active"] is False and version["default"] is False
    # not used before it is activated
    assert _issue_record(inspector)["template_sha256"] == default_sha

    preview = secadmin.get(version["links"]["preview"])
    assert preview.status_code == 200 and preview.mimetype == "application/pdf"
    text = _text(preview.data)
    assert "经被核查对象核对无误" in text

    r = secadmin.post(version["links"]["activate"], {})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["active"] is True
    after = _issue_record(inspector)
    assert after["template_sha256"] == version["sha256"]
    assert "经被核查对象核对无误" in _text(inspector.get(after["links"]["pdf"]).data)
    # the one issued before keeps its template, as recorded
    assert inspector.get(before["links"]["self"]).get_json()["template_sha256"] == default_sha

    # a second version: the first stays listed, not in use, and can be had back
    v2 = _record_template("以上记录经双方核对属实。")
    v2_sha = _upload(secadmin, v2).get_json()["sha256"]
    assert secadmin.post(f"{RECORD}/{v2_sha}/activate", {}).status_code == 200
    listing = users["sysadmin"].get(RECORD).get_json()
    assert listing["active_sha256"] == v2_sha
    assert [(v["sha256"], v["active"], v["default"]) for v in listing["items"]] == [
        (v2_sha, True, False),
        (version["sha256"], False, False),
        (default_sha, False, True),
    ]
    assert listing["items"][1]["added_by"] == "u-secadmin"
    assert secadmin.get(f"{RECORD}/{version['sha256']}").data == v1

    uploads = _events(ws, "template.upload")
    assert [(e["type"], e["sha256"], e["actor"]) for e in uploads] == [
        ("inspection_record", version["sha256"], "u-secadmin"),
        ("inspection_record", v2_sha, "u-secadmin"),
    ]
    activations = _events(ws, "template.activate")
    assert [(e["old_sha256"], e["new_sha256"]) for e in activations] == [
        (default_sha, version["sha256"]),
        (version["sha256"], v2_sha),
    ]
    issued = _events(ws, "document.issue")
    assert issued[-1]["template_sha256"] == version["sha256"]
    # documents of another org are not touched
    export = users["auditor"].get("/api/v1/audit/export").get_json()
    recorded = {d["id"]: d["template_sha256"] for d in export["documents"]}
    assert recorded[before["id"]] == default_sha and recorded[after["id"]] == version["sha256"]


def test_a_template_that_breaks_the_contract_is_refused_naming_each_problem(
    users: dict[str, Client], ws: Wenshu
) -> None:
    secadmin = users["secadmin"]
    d = docx.Document(str(template_path("inspection_record")))
    for p in d.paragraphs:
        for run in p.runs:
            run.text = run.text.replace("{{ location }}", "")
    r = _upload(secadmin, _saved(d))
    assert r.status_code == 422
    assert "缺少占位符 {{ location }}" in r.get_json()["errors"]["file"]

    d = docx.Document(str(template_path("notice")))
    d.sections[0].top_margin, d.sections[0].left_margin = Mm(25), Mm(30)
    r = _upload(secadmin, _saved(d), "/api/v1/orgs/llyb/templates/notice")
    assert r.status_code == 422
    problems = r.get_json()["errors"]["file"]  # each problem, in Chinese, joined by ；
    assert "页面设置：天头（上白边）为 25 毫米，应为 37 毫米" in problems
    assert "页面设置：订口（左白边）为 30 毫米，应为 28 毫米" in problems
    assert "天头" in r.get_json()["message"]
    assert (
        users["sysadmin"]
        .get("/api/v1/orgs/llyb/templates/notice")
        .get_json()["items"][0]["default"]
    )
    assert _events(ws, "template.upload") == []
    # only whoever manages the seal changes templates
    assert _upload(users["sysadmin"], _record_template("改")).status_code == 403
    assert _upload(users["clerk"], _record_template("改")).status_code == 403
    assert users["clerk"].get(RECORD).status_code == 403
    assert secadmin.get("/api/v1/orgs/llyb/templates/no_such_type").status_code == 404
    assert secadmin.post(f"{RECORD}/{'0' * 64}/activate", {}).status_code == 404
