"""An org's own template versions (``/api/v1/orgs/<code>/templates/<type>``): checked on
upload, previewed, activated on record; documents rendered with the active one and naming it —
on real LibreOffice, pyHanko and the database; and the preview's 成文日期 kept to the year of
its number, as at issue."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import docx
from docx.shared import Mm
from pypdf import PdfReader

from archive.models import AuditEvent
from service.doctypes import template_path
from service.wiring import Wenshu
from service.workflows.accounts import add_user
from service.workflows.audit_report import render_report_docx, report_facts
from tests.support import sample
from tests.support.apps import Client, make_app
from tests.support.web import PASSWORD, csrf_field

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
    # the auditor's export and report name the templates
    export = users["auditor"].get("/api/v1/audit/export").get_json()
    recorded = {d["id"]: d["template_sha256"] for d in export["documents"]}
    assert recorded[before["id"]] == default_sha and recorded[after["id"]] == version["sha256"]
    today = ws.local_date(ws.now())
    facts = report_facts(ws, "llyb", today, today)
    assert {"type": "inspection_record", "sha256": default_sha, "documents": 2} in facts[
        "templates"
    ]
    assert {"type": "inspection_record", "sha256": version["sha256"], "documents": 1} in facts[
        "templates"
    ]
    assert [(c["old_sha256"], c["new_sha256"]) for c in facts["template_changes"]] == [
        (default_sha, version["sha256"]),
        (version["sha256"], v2_sha),
    ]
    report = docx.Document(io.BytesIO(render_report_docx(facts, generated="", by="u-auditor")))
    cells = {c.text for t in report.tables for row in t.rows for c in row.cells}
    assert version["sha256"][:16] in cells and "模板启用记录：" in [
        p.text for p in report.paragraphs
    ]


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


def _login(app: Any, name: str) -> tuple[Any, str]:
    c = app.test_client()
    token = csrf_field(c.get("/login").get_data(as_text=True))
    r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return c, csrf_field(c.get("/account").get_data(as_text=True))


def test_the_org_settings_page_uploads_lists_and_activates_a_template(app: Any, ws: Wenshu) -> None:
    add_user(ws, name="w-secadmin", role="secadmin", org_code="llyb", password=PASSWORD)
    add_user(ws, name="w-auditadmin", role="auditadmin", org_code="llyb", password=PASSWORD)
    c, csrf = _login(app, "w-secadmin")
    page = c.get("/admin/orgs?org=llyb").get_data(as_text=True)
    assert "文书模板" in page and "系统默认模板" in page and "上传并检查" in page

    url = "/admin/orgs/llyb/templates/inspection_record"
    bad = docx.Document(str(template_path("inspection_record")))
    bad.sections[0].left_margin = Mm(20)
    r = c.post(
        url,
        data={"csrf_token": csrf, "file": (io.BytesIO(_saved(bad)), "坏模板.docx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    shown = r.get_data(as_text=True)
    assert "未能上传检查记录单模板" in shown and "订口（左白边）为 20 毫米" in shown

    good = _record_template("以上记录情况属实，经被核查对象核对无误。")
    sha = hashlib.sha256(good).hexdigest()
    r = c.post(
        url,
        data={"csrf_token": csrf, "file": (io.BytesIO(good), "本局检查记录单.docx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    shown = r.get_data(as_text=True)
    assert f"模板已上传（SHA-256 {sha[:16]}…）" in shown and "本局检查记录单.docx" in shown
    assert c.get(f"{url}/{sha}.docx").data == good
    r = c.post(f"{url}/{sha}/activate", data={"csrf_token": csrf}, follow_redirects=True)
    assert "此后签发的文书用它生成" in r.get_data(as_text=True)
    with ws.db.read() as s:
        active = s.query(AuditEvent).filter_by(action="template.activate").one()
        assert json.loads(active.details)["new_sha256"] == sha
    # the other administrators read it in their trail
    other, _ = _login(app, "w-auditadmin")
    assert "启用文书模板" in other.get("/admin/trail").get_data(as_text=True)


def test_preview_refuses_a_date_of_another_year_as_issue_does(
    tmp_path: Path, converter_dir: dict[str, Any]
) -> None:
    """Where a notice is issued after 签发 (the default), its 发文字号 is of the year of issue:
    a 成文日期 of another year is the same 422 at preview as at issue, never a preview showing
    〔this year〕 over 2021年4月23日."""
    app = make_app(tmp_path, converter_dir, APPROVAL="")
    ws: Wenshu = app.extensions["wenshu"]
    try:
        clerk = Client(app, add_user(ws, name="d-clerk", role="clerk", org_code="llyb"))
        approver = Client(app, add_user(ws, name="d-approver", role="approver", org_code="llyb"))
        body = {"type": "notice", "org": "llyb", "data": sample("notice")}  # dated 2021-04-23
        r = clerk.post("/api/v1/documents/preview", body)
        assert r.status_code == 422
        year = ws.local_date(ws.now()).year
        assert r.get_json()["errors"]["data.date"] == f"成文日期须在 {year} 年内"
        draft = clerk.post("/api/v1/drafts", body).get_json()
        url = f"/api/v1/drafts/{draft['id']}"
        assert clerk.post(f"{url}/submit", {}).status_code == 200
        assert approver.post(f"{url}/approve", {}).status_code == 200
        issued = clerk.post(f"{url}/issue", {})
        assert issued.status_code == 422
        assert issued.get_json()["errors"] == r.get_json()["errors"]
    finally:
        ws.close()
