"""The 文书 list's filters and order, the 发文登记簿, and their spreadsheets: each filter finds
exactly the documents it should, a withdrawn number stays in its place in the register, a title
that looks like a formula is exported as text, every export is an audit event."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from archive.models import AuditEvent
from service.workflows.accounts import add_user
from tests.support import sample
from tests.support.apps import Client, make_app


def transcript(name: str, start: str) -> dict[str, Any]:
    data = sample("interview_transcript")
    data["interviewee"] = dict(data["interviewee"], name=name)
    data["started_at"], data["ended_at"] = f"{start}T09:00:00", f"{start}T10:00:00"
    return {"type": "interview_transcript", "org": "llyb", "data": data}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, converter_dir: dict[str, Any]) -> Any:
    app = make_app(tmp_path_factory.mktemp("lists"), converter_dir)
    ws = app.extensions["wenshu"]
    inspector = Client(app, add_user(ws, name="l-inspector", role="inspector", org_code="llyb"))
    clerk = Client(app, add_user(ws, name="l-clerk", role="clerk", org_code="llyb"))
    docs: dict[str, dict[str, Any]] = {}
    for key, name, start in (("zhao", "赵志明", "2021-05-11"), ("qian", "钱立新", "2021-05-12")):
        r = inspector.post("/api/v1/documents", transcript(name, start))
        assert r.status_code == 201, r.get_json()
        docs[key] = r.get_json()
    record = {"type": "inspection_record", "org": "llyb", "data": sample("inspection_record")}
    docs["record"] = inspector.post("/api/v1/documents", record).get_json()
    notice = sample("notice")
    for key in ("date", "print_date"):
        notice.pop(key)
    for key, title in (
        ("n1", "关于开展定点医药机构自查自纠的通知"),
        ("n2", '=HYPERLINK("http://x")'),
        ("n3", "关于报送第三季度基金监管情况的通知"),
    ):
        body = {"type": "notice", "org": "llyb", "data": dict(notice, title=title)}
        r = clerk.post("/api/v1/documents", body)
        assert r.status_code == 201, r.get_json()
        docs[key] = r.get_json()
    r = clerk.post(f"/api/v1/documents/{docs['n2']['id']}/withdraw", {"reason": "标题有误，作废"})
    assert r.status_code == 200
    auditor = Client(app, add_user(ws, name="l-auditor", role="auditor", org_code="llyb"))
    yield {"app": app, "ws": ws, "docs": docs, "clerk": clerk, "auditor": auditor}
    ws.close()


def ids(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.get_json()
    return [d["id"] for d in answer.get_json()["items"]]


def test_person_institution_keyword_and_status_find_exactly_their_documents(archive: Any) -> None:
    c, d = archive["auditor"], archive["docs"]
    assert ids(c.get("/api/v1/documents?person=钱立新")) == [d["qian"]["id"]]
    assert ids(c.get("/api/v1/documents?person=赵志明&type=interview_transcript")) == [
        d["zhao"]["id"]
    ]
    inst = d["record"]["institution"]
    assert inst and ids(c.get(f"/api/v1/documents?institution={inst}")) == [d["record"]["id"]]
    assert ids(c.get("/api/v1/documents?q=第三季度")) == [d["n3"]["id"]]
    assert ids(c.get("/api/v1/documents?status=withdrawn")) == [d["n2"]["id"]]
    missing = set(ids(c.get("/api/v1/documents?status=signed_copy_missing")))
    assert missing == {d["zhao"]["id"], d["qian"]["id"], d["record"]["id"]}
    assert d["n2"]["id"] not in ids(c.get("/api/v1/documents?status=valid"))


def test_dates_and_the_order_of_issue(archive: Any) -> None:
    c, ws = archive["auditor"], archive["ws"]
    today = ws.local_date(ws.now())
    newest = ids(c.get("/api/v1/documents?sort=-issued_at"))
    oldest = ids(c.get("/api/v1/documents?sort=issued_at"))
    assert len(newest) == 6 and oldest == list(reversed(newest))
    assert oldest[0] == archive["docs"]["zhao"]["id"]
    assert ids(c.get(f"/api/v1/documents?date_from={today}&date_to={today}")) == newest
    tomorrow = today + timedelta(days=1)
    assert ids(c.get(f"/api/v1/documents?date_from={tomorrow}")) == []
    r = c.get(f"/api/v1/documents?date_from={tomorrow}&date_to={today}")
    assert r.status_code == 422 and "截止日期不能早于起始日期" in r.get_json()["errors"]["date_to"]


def test_transcripts_of_one_form_are_told_apart_by_person_and_day(archive: Any) -> None:
    d = archive["docs"]
    assert d["zhao"]["title"] == d["qian"]["title"]  # the printed form title, shared
    assert d["zhao"]["list_title"] == "赵志明询问笔录（2021年5月11日）"
    assert d["qian"]["list_title"] == "钱立新询问笔录（2021年5月12日）"
    assert d["zhao"]["person"] == "赵志明"
    assert d["n1"]["list_title"] == d["n1"]["title"]  # a typed title stays as typed


def test_dispatch_register_lists_every_number_in_order_with_the_withdrawn_marked(
    archive: Any,
) -> None:
    c, ws, d = archive["clerk"], archive["ws"], archive["docs"]
    year = ws.local_date(ws.now()).year
    r = c.get(f"/api/v1/registers/dispatch?year={year}")
    assert r.status_code == 200, r.get_json()
    lines = r.get_json()["lines"]
    assert [x["wenhao"] for x in lines] == [d[k]["wenhao"] for k in ("n1", "n2", "n3")]
    assert [x["status"] for x in lines] == ["有效", "已作废", "有效"]
    assert lines[1]["note"] == "标题有误，作废"
    r = c.get(f"/api/v1/registers/dispatch?year={year}&format=xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(r.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("序号", "发文字号", "标题", "签发人", "成文日期")
    assert [row[1] for row in rows[1:]] == [x["wenhao"] for x in lines]
    assert rows[2][9] == "已作废"
    assert sheet.cell(row=3, column=3).data_type == "s"  # the formula-like title: text
    assert sheet.cell(row=3, column=3).value == '=HYPERLINK("http://x")'
    assert c.get("/api/v1/registers/dispatch").status_code == 422
    events = _events(ws, "register.dispatch")
    assert events and events[-1].actor == "l-clerk"


def test_list_exports_keep_the_filters_and_neutralise_formulas(archive: Any) -> None:
    c, ws, d = archive["auditor"], archive["ws"], archive["docs"]
    r = c.get("/api/v1/documents?type=notice&sort=issued_at&format=xlsx")
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("发文字号 / 档号", "标题", "类型")
    assert [row[0] for row in rows[1:]] == [d[k]["wenhao"] for k in ("n1", "n2", "n3")]
    formula = sheet.cell(row=3, column=2)
    assert formula.data_type == "s" and formula.value == '=HYPERLINK("http://x")'
    assert rows[2][8] == "已作废"
    r = c.get("/api/v1/documents?type=notice&sort=issued_at&format=csv")
    text = r.data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[2][1] == '\'=HYPERLINK("http://x")'
    r = c.get("/api/v1/documents?type=interview_transcript&format=csv")
    body = r.data.decode("utf-8-sig")
    assert "赵志明" in body and "141102197803150320" not in body
    exports = _events(ws, "documents.export")
    assert [e.actor for e in exports[-3:]] == ["l-auditor"] * 3
    assert '"format":"xlsx"' in exports[-3].details.replace(" ", "")


def test_a_bad_filter_is_refused_naming_the_field(archive: Any) -> None:
    c = archive["auditor"]
    for query, name in (
        ("status=lost", "status"),
        ("sort=title", "sort"),
        ("date_from=2026-13-01", "date_from"),
        ("format=pdf", "format"),
    ):
        r = c.get(f"/api/v1/documents?{query}")
        assert r.status_code == 422 and name in r.get_json()["errors"], query


def _events(ws: Any, action: str) -> list[AuditEvent]:
    with ws.db.read() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def test_audit_events_newest_first_by_actor_date_and_document_number(archive: Any) -> None:
    ws, d = archive["ws"], archive["docs"]
    auditor = archive["auditor"]
    r = auditor.get(f"/api/v1/audit/events?order=desc&document={d['n2']['wenhao']}")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [e["action"] for e in body["events"]] == ["document.withdraw", "document.issue"]
    assert body["scope"] == ["llyb"]
    r = auditor.get(f"/api/v1/audit/events?order=desc&document={d['record']['archive_no']}")
    assert {e["object_id"] for e in r.get_json()["events"]} == {d["record"]["id"]}
    r = auditor.get("/api/v1/audit/events?order=desc&actor=l-clerk&per_page=2&page=2")
    events = r.get_json()["events"]
    assert len(events) == 2 and {e["actor"] for e in events} == {"l-clerk"}
    first = auditor.get("/api/v1/audit/events?order=desc&actor=l-clerk&per_page=2").get_json()
    assert first["events"][0]["seq"] > first["events"][1]["seq"] > events[0]["seq"]
    tomorrow = ws.local_date(ws.now()) + timedelta(days=1)
    r = auditor.get(f"/api/v1/audit/events?date_from={tomorrow}")
    assert r.get_json()["total"] == 0


def test_a_pdf_shown_in_the_page_is_a_view_and_a_download_a_download(archive: Any) -> None:
    ws, c, doc = archive["ws"], archive["auditor"], archive["docs"]["n3"]
    seen = len(_events(ws, "document.view")), len(_events(ws, "document.download"))
    assert c.get(f"/api/v1/documents/{doc['id']}/pdf?view=1").status_code == 200
    assert (len(_events(ws, "document.view")), len(_events(ws, "document.download"))) == (
        seen[0] + 1,
        seen[1],
    )
    assert c.get(f"/api/v1/documents/{doc['id']}/pdf").status_code == 200
    assert len(_events(ws, "document.download")) == seen[1] + 1
    assert c.get(f"/api/v1/documents/{doc['id']}/verify?on_view=1").status_code == 200
    assert '"on_view":true' in _events(ws, "document.verify")[-1].details.replace(" ", "")


def test_audit_events_export_with_the_filters_in_chinese(archive: Any) -> None:
    ws, d, auditor = archive["ws"], archive["docs"], archive["auditor"]
    r = auditor.get(f"/api/v1/audit/events?document={d['n2']['wenhao']}&format=xlsx")
    assert r.status_code == 200, r.data[:200]
    rows = list(load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
    assert rows[0][:5] == ("序号", "时间", "操作人", "机构", "操作")
    assert [row[4] for row in rows[1:]] == ["作废", "签发"]
    assert "标题有误，作废" in rows[1][6]
    last = _events(ws, "audit.events")[-1]
    assert last.actor == "l-auditor" and '"format":"xlsx"' in last.details.replace(" ", "")


def test_case_register_lists_each_case_with_what_it_lacks(archive: Any) -> None:
    ws, clerk = archive["ws"], archive["clerk"]
    r = clerk.post("/api/v1/cases", {"case_no": "LL-2026-031", "title": "=1+1 某医院检查"})
    assert r.status_code == 201, r.get_json()
    r = clerk.get("/api/v1/cases?format=xlsx")
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("案件编号", "案件名称", "立案时间", "文书件数", "案卷", "尚缺")
    assert rows[1][0] == "LL-2026-031" and rows[1][4] == "未齐" and "检查报告" in rows[1][5]
    assert sheet.cell(row=2, column=2).data_type == "s"
    assert _events(ws, "cases.export")[-1].actor == "l-clerk"


def test_a_control_character_in_a_cell_does_not_spoil_the_spreadsheet() -> None:
    """XML 1.0 cannot hold \\x01: the cell shows U+FFFD and the file is still written."""
    import io as _io

    from openpyxl import load_workbook

    from service.workflows.lists.tables import Table, render

    table = Table("检索记录", ("内容",), [("查询\x01某医院\x1f",)])
    sheet = load_workbook(_io.BytesIO(render(table, "xlsx"))).active
    assert sheet["A2"].value == "查询\ufffd某医院\ufffd"
