"""The auditor's endpoints: who reaches them, what each read and change leaves in the trail,
number accounts with nothing silent, retention and legal holds, the signed audit report."""

from __future__ import annotations

import io
import sqlite3
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from archive.models import AuditEvent, Document
from service.documents.pades import verify_pdf
from service.workflows.accounts import add_org, add_user
from tests.support import sample
from tests.support.apps import Client, make_app

YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year
READS = [
    "/api/v1/audit/events",
    "/api/v1/audit/verify",
    "/api/v1/audit/checkpoints",
    "/api/v1/audit/export",
    f"/api/v1/audit/report?from={YEAR}-01-01&to={YEAR}-12-31",
    "/api/v1/audit/fixity",
    "/api/v1/audit/retention",
    "/api/v1/audit/legal-holds",
    "/api/v1/numbers/gaps",
]
WRITES = [
    ("/api/v1/audit/checkpoints", None),
    ("/api/v1/audit/fixity", None),
    ("/api/v1/audit/legal-holds", {"document_id": "x", "reason": "诉讼"}),
]


def issue(client: Client, org: str = "llyb") -> dict[str, Any]:
    r = client.post("/api/v1/documents", {"type": "notice", "org": org, "data": sample("notice")})
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def actions(ws: Any, **where: Any) -> list[tuple[str, str, dict[str, Any]]]:
    import json

    with ws.db.read() as s:
        q = select(AuditEvent).order_by(AuditEvent.seq)
        for key, value in where.items():
            q = q.where(getattr(AuditEvent, key) == value)
        return [(e.action, e.actor, json.loads(e.details)) for e in s.scalars(q)]


def raw_sql(ws: Any, *sql: str) -> None:
    # Closed even when a trigger aborts the statement: an open failed transaction would keep
    # the write lock, and the service's own writers (the background indexer) wait on it.
    con = sqlite3.connect(ws.settings.paths.data / "wenshu.db", timeout=60)
    try:
        for stmt in sql:
            con.execute(stmt)
        con.commit()
    finally:
        con.close()


@pytest.fixture(scope="module")
def world(converter_dir: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A day at two bureaus, built once: llyb previews, issues two notices, reads one, searches
    and withdraws the other; tyyb has its own users. Tests here only add to it."""
    app = make_app(tmp_path_factory.mktemp("world"), converter_dir)
    ws = app.extensions["wenshu"]
    add_org(ws, code="tyyb", name="太原市医疗保障局", zihao="并医保发", region="太原市")
    users = {
        role: Client(app, add_user(ws, name=f"u-{role}", role=role, org_code="llyb"))
        for role in ("clerk", "inspector", "auditor", "sysadmin", "auditadmin")
    }
    users["anonymous"] = Client(app, None)
    users["other_auditor"] = Client(
        app, add_user(ws, name="u-other-auditor", role="auditor", org_code="tyyb")
    )
    clerk = users["clerk"]
    data = {k: v for k, v in sample("notice").items() if k not in ("date", "print_date")}
    body = {"type": "notice", "org": "llyb", "data": data}
    assert clerk.post("/api/v1/documents/preview", body).status_code == 200
    docs = [issue(clerk), issue(clerk)]
    clerk.get(docs[0]["links"]["self"])
    clerk.get(docs[0]["links"]["pdf"])
    clerk.get(docs[0]["links"]["verify"])
    clerk.get("/api/v1/search?q=专项治理&type=notice")
    clerk.post(f"/api/v1/documents/{docs[1]['id']}/withdraw", {"reason": "文号错误"})
    yield {"ws": ws, "users": users, "docs": docs}
    ws.close()


def test_only_auditors_reach_the_audit_endpoints(world: dict[str, Any]) -> None:
    """The documents' trail is the org auditor's: not the administrators', not even the
    audit administrator's (who reads the administrators' trail)."""
    users = world["users"]
    refused = (("anonymous", 401), ("clerk", 403), ("inspector", 403), ("sysadmin", 403))
    for role, status in (*refused, ("auditadmin", 403)):
        for url in READS:
            assert users[role].get(url).status_code == status, (role, url)
        for url, body in WRITES:
            assert users[role].post(url, body or {}).status_code == status, (role, url)
    for url in READS[:4] + READS[5:]:
        assert users["auditor"].get(url).status_code == 200, url


def test_an_auditor_sees_nothing_of_another_org(world: dict[str, Any]) -> None:
    users, ours = world["users"], world["docs"][0]
    other = users["other_auditor"]
    for url in READS:
        sep = "&" if "?" in url else "?"
        assert other.get(f"{url}{sep}org=llyb").status_code == 403, url
    events = other.get("/api/v1/audit/events?per_page=1000").get_json()["events"]
    assert events and {e["org"] for e in events} == {"tyyb"}
    assert ours["id"] not in str(events)
    assert other.get(f"/api/v1/audit/events?object_id={ours['id']}").get_json()["total"] == 0
    checkpoints = other.post("/api/v1/audit/checkpoints").get_json()["items"]
    assert [c["org"] for c in checkpoints] == ["tyyb"]
    r = other.post("/api/v1/audit/legal-holds", {"document_id": ours["id"], "reason": "诉讼需要"})
    assert r.status_code == 404  # not 403: another org's document does not exist for them
    assert other.get("/api/v1/audit/retention?as_of=2100-01-01").get_json()["items"] == []


def test_every_read_and_change_is_an_event(world: dict[str, Any]) -> None:
    ws, auditor = world["ws"], world["users"]["auditor"]
    auditor.get("/api/v1/numbers/gaps")
    auditor.get("/api/v1/audit/verify")
    mine = actions(ws, org="llyb")
    seen = [a for a, _, _ in mine]
    for action in (
        "org.create",
        "user.create",
        "document.preview",
        "document.issue",
        "document.view",
        "document.download",
        "document.verify",
        "search",
        "document.withdraw",
        "numbers.gaps",
        "audit.verify",
    ):
        assert action in seen, action
    assert ("document.preview", "u-clerk", {"type": "notice"}) in mine
    listed = auditor.get("/api/v1/audit/events?action=search").get_json()
    assert listed["total"] == 1 and listed["events"][0]["details"]["q"] == "专项治理"
    assert listed["events"][0]["content_sha256"] and listed["events"][0]["salt"]
    assert actions(ws, org="llyb")[-1][0] == "audit.events"  # reading the trail is recorded too


def test_numbers_issued_and_withdrawn_are_accounted(world: dict[str, Any]) -> None:
    docs = world["docs"]
    gaps = world["users"]["auditor"].get(f"/api/v1/numbers/gaps?year={YEAR}").get_json()
    assert gaps["issued"] == 2 and gaps["missing"] == [] and gaps["pending"] == []
    assert [w["wenhao"] for w in gaps["withdrawn"]] == [docs[1]["wenhao"]]
    assert gaps["withdrawn"][0]["reason"] == "文号错误"
    wenhao = next(x for x in gaps["series"] if x["kind"] == "wenhao")
    assert wenhao["label"] == f"吕医保发〔{YEAR}〕" and wenhao["used"] == [1, 2]
    assert wenhao["withdrawn"] == [2]
    archive = next(x for x in gaps["series"] if x["kind"] == "archive_no")
    assert archive["label"] == f"J041-{YEAR}-D30-BGS" and archive["issued"] == 2
    assert archive["retention"] == "D30"
    empty = world["users"]["auditor"].get(f"/api/v1/numbers/gaps?year={YEAR - 1}").get_json()
    assert empty["series"] == []


def test_no_gap_is_silent(users: dict[str, Any], ws: Any) -> None:
    """Numbers 1–4 handed out: 1 recorded as used by a document that is not in the archive,
    2 and 4 with no record at all, 3 voided with its reason."""
    series = f"wenhao/llyb/吕医保发/{YEAR}"
    raw_sql(
        ws,
        f"INSERT INTO series_counters (series, next_n) VALUES ('{series}', 5)",
        "INSERT INTO number_reservations (series, n, status, token, reserved_at, document_id, reason)"
        f" VALUES ('{series}', 1, 'used', 't1', '2026-01-01 00:00:00', 'gone', NULL),"
        f" ('{series}', 3, 'voided', 't3', '2026-01-01 00:00:00', NULL, '印制错误作废')",
    )
    gaps = users["auditor"].get(f"/api/v1/numbers/gaps?year={YEAR}").get_json()
    assert [(m["number"], m["reason"]) for m in gaps["missing"]] == [
        (f"吕医保发〔{YEAR}〕1号", "记录为文书 gone 所用，但归档中没有该文书"),
        (f"吕医保发〔{YEAR}〕2号", "该编号没有任何记录"),
        (f"吕医保发〔{YEAR}〕4号", "该编号没有任何记录"),
    ]
    assert [(v["number"], v["reason"]) for v in gaps["voided"]] == [
        (f"吕医保发〔{YEAR}〕3号", "印制错误作废")
    ]


def test_checkpoints_on_demand_and_in_verification(world: dict[str, Any]) -> None:
    auditor = world["users"]["auditor"]
    before = auditor.get("/api/v1/audit/checkpoints").get_json()["items"]
    made = auditor.post("/api/v1/audit/checkpoints")
    assert made.status_code == 201
    (cp,) = made.get_json()["items"]
    assert cp["org"] == "llyb" and cp["reason"] == "manual" and len(cp["signature"]) > 40
    assert auditor.get("/api/v1/audit/checkpoints").get_json()["items"] == before + [cp]
    v = auditor.get("/api/v1/audit/verify").get_json()
    assert v["ok"] and v["checkpoints"]["ok"] and v["checkpoints"]["checked"] >= 2
    assert v["head_seq"] == v["checked"] and v["first_bad_seq"] is None


def test_retention_review_and_legal_hold(world: dict[str, Any]) -> None:
    ws, auditor, doc = world["ws"], world["users"]["auditor"], world["docs"][0]
    due = f"{YEAR + 31}-01-01"  # 定期30年 runs from 1 January of the following year
    assert auditor.get(f"/api/v1/audit/retention?as_of={YEAR + 30}-12-31").get_json()["total"] == 0
    items = auditor.get(f"/api/v1/audit/retention?as_of={due}").get_json()["items"]
    item = next(i for i in items if i["id"] == doc["id"])
    assert (len(items), item["due_on"], item["retention_label"]) == (2, due, "30年")
    assert item["disposable"] and not item["legal_hold"]
    assert [i["withdrawn"] for i in items] == [False, True]

    hold = {"document_id": doc["id"], "reason": "行政诉讼证据"}
    r = auditor.post("/api/v1/audit/legal-holds", hold)
    assert r.status_code == 201 and r.get_json()["legal_hold"] is True
    assert auditor.post("/api/v1/audit/legal-holds", hold).status_code == 409
    (held,) = auditor.get("/api/v1/audit/legal-holds").get_json()["items"]
    assert held["document_id"] == doc["id"] and held["reason"] == "行政诉讼证据"
    items = auditor.get(f"/api/v1/audit/retention?as_of={due}").get_json()["items"]
    item = next(i for i in items if i["id"] == doc["id"])
    assert item["legal_hold"] and not item["disposable"]

    lift = {"document_id": doc["id"], "hold": False, "reason": "诉讼终结"}
    assert auditor.post("/api/v1/audit/legal-holds", lift).status_code == 201
    assert auditor.get("/api/v1/audit/legal-holds").get_json()["items"] == []
    items = auditor.get(f"/api/v1/audit/retention?as_of={due}").get_json()["items"]
    assert all(i["disposable"] for i in items)
    with ws.db.read() as s:  # listed for review, never deleted
        assert s.scalar(select(func.count()).select_from(Document)) == 2
    for stmt in ("UPDATE legal_holds SET placed=1", "DELETE FROM legal_holds"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw_sql(ws, stmt)
    trail = [a for a, _, _ in actions(ws, object_id=doc["id"])]
    assert trail[-2:] == ["document.legal_hold", "document.legal_hold_release"]


def test_audit_report_is_a_signed_pdf_of_the_period(users: dict[str, Any], ws: Any) -> None:
    doc = issue(users["clerk"])
    path = ws.blobs.path(doc["sha256"])
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01
    path.write_bytes(bytes(data))
    fixity = users["auditor"].post("/api/v1/audit/fixity", {"full": True}).get_json()
    assert not fixity["ok"] and {p["document_id"] for p in fixity["problems"]} == {doc["id"]}
    last = users["auditor"].get("/api/v1/audit/fixity").get_json()
    assert last["last_check"]["details"]["failed_documents"] == [doc["id"]]
    assert [f["object_id"] for f in last["failures"]] == [doc["id"]]

    r = users["auditor"].get(f"/api/v1/audit/report?from={YEAR}-01-01&to={YEAR}-12-31")
    assert r.status_code == 200 and r.mimetype == "application/pdf", r.get_json()
    with ws.db.read() as s:
        from archive.models import Org

        org = s.scalar(select(Org).where(Org.code == "llyb"))
        assert org is not None
    report = verify_pdf(r.data, trusted_certs=[org.cert_pem.encode("ascii")])
    assert report.ok and "吕梁市医疗保障局" in (report.signer or "")
    assert ws.blobs.exists(r.headers["X-Content-SHA256"])
    text = "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(r.data)).pages).replace(
        " ", ""
    )
    for expected in (
        "吕梁市医疗保障局审计报告",
        f"期间：{YEAR}-01-01至{YEAR}-12-31",
        "事件统计",
        "u-clerk",
        "签发",
        "编号核对",
        f"J041-{YEAR}-D30-BGS",
        "无缺号",
        "完整性检查",
        doc["wenhao"],
        doc["id"],
        "文件哈希不符",
        "签名无效",
        "审计链验证：完整",
        "本期间签署的检查点",
    ):
        assert expected in text, expected
    for code in ("document.issue", "export", "(inspection_record)", "（notice）", "固定性", ".py"):
        assert code not in text, code  # the report speaks Chinese, with the pages' words
    assert ("audit.report", "u-auditor") in [(a, u) for a, u, _ in actions(ws, org="llyb")]
    bad = users["auditor"].get(f"/api/v1/audit/report?from={YEAR}-12-31&to={YEAR}-01-01")
    assert bad.status_code == 422 and "结束日期不能早于开始日期" in str(bad.get_json()["errors"])
