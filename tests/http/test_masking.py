"""An ID never leaves the service unmasked: not through the audit trail (search queries and
filters included), lists, exports, pages, error answers or log lines; IDs in other digits are
refused; opening the correction form of a document is an audit event."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from archive.models import AuditEvent
from service.http.logs import JsonFormatter
from service.workflows.accounts import add_user
from tests.support import sample
from tests.support.apps import Client
from tests.support.web import PASSWORD, csrf_field

ID = "141102197803150320"
SHOWN = "141102********0320"
GROUPED = "1411 0219 7803 1503 20"
ARABIC_INDIC = ID.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


def leaks(text: str) -> bool:
    """True when ``text`` holds the ID's hidden middle, however it was spaced."""
    return "1978031503" in "".join(text.split()).replace("-", "")


def events(ws: Any, action: str) -> list[AuditEvent]:
    with ws.db.read() as s:
        q = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return list(s.scalars(q))


def issue_titled(client: Client, title: str) -> dict[str, Any]:
    data = {**sample("notice"), "title": title}
    r = client.post("/api/v1/documents", {"type": "notice", "org": "llyb", "data": data})
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def web_login(app: Any, ws: Any, name: str, role: str, org: str = "llyb") -> Any:
    add_user(ws, name=name, role=role, org_code=org, password=PASSWORD)
    c = app.test_client()
    token = csrf_field(c.get("/login").get_data(as_text=True))
    c.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    return c


def test_a_search_for_an_id_keeps_it_masked_in_the_trail_filters_included(
    users: dict[str, Client], ws: Any
) -> None:
    query = {
        "q": GROUPED,
        "person": f"王五{ID}",
        "institution": f"ID{ID}",
        "case_no": ID,
        "id_number": ID,
    }
    r = users["clerk"].get("/api/v1/search?" + urlencode(query))
    assert r.status_code == 200, r.get_json()
    (ev,) = events(ws, "search")
    details = json.loads(ev.details)
    assert details["q"] == "1411 02** **** **03 20"
    assert details["filters"]["person"] == f"王五{SHOWN}"
    assert details["filters"]["institution"] == f"ID{SHOWN}"
    assert details["filters"]["case_no"] == SHOWN
    assert details["filters"]["id_number"] == SHOWN
    assert not leaks(ev.details)
    r = users["auditor"].get("/api/v1/audit/events?" + urlencode({"action": "search"}))
    assert r.status_code == 200 and not leaks(r.get_data(as_text=True))
    export = users["auditor"].get("/api/v1/audit/export").get_data(as_text=True)
    assert '"action": "search"' in export and not leaks(export)


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ({"kind": "person", "name": "王五", "id_code": ARABIC_INDIC}, "身份证号只能用半角数字"),
        ({"id_code": "52141102MJY836214P".replace("1", "١")}, "统一社会信用代码含有不允许的字符"),
    ],
)
def test_ids_in_arabic_indic_digits_are_refused_naming_the_field(
    users: dict[str, Client], ws: Any, subject: dict[str, str], message: str
) -> None:
    data = sample("inspection_record")
    data["subject"] = {**data["subject"], **subject}
    r = users["inspector"].post(
        "/api/v1/documents", {"type": "inspection_record", "org": "llyb", "data": data}
    )
    assert r.status_code == 422
    assert message in r.get_json()["errors"]["data.subject.id_code"]
    assert events(ws, "document.issue") == []


def test_an_id_in_a_title_is_masked_in_lists_exports_and_pages(
    app: Any, users: dict[str, Client], ws: Any
) -> None:
    doc = issue_titled(users["clerk"], f"关于王五（身份证号{ID}）违规使用医保基金的通知")
    masked_title = f"关于王五（身份证号{SHOWN}）违规使用医保基金的通知"
    assert doc["title"] == masked_title
    listing = users["clerk"].get("/api/v1/documents")
    assert [d["title"] for d in listing.get_json()["items"]] == [masked_title]
    assert not leaks(listing.get_data(as_text=True))
    item = users["clerk"].get(f"/api/v1/documents/{doc['id']}")
    assert item.get_json()["title"] == masked_title
    export = users["auditor"].get("/api/v1/audit/export")
    assert export.status_code == 200
    assert [d["title"] for d in export.get_json()["documents"]] == [masked_title]
    assert not leaks(export.get_data(as_text=True))
    retention = users["auditor"].get("/api/v1/audit/retention?as_of=2200-01-01")
    assert not leaks(retention.get_data(as_text=True))
    browser = web_login(app, ws, "h-clerk", "clerk")
    for url in ("/documents", f"/documents/{doc['id']}"):
        html = browser.get(url).get_data(as_text=True)
        assert SHOWN in html and not leaks(html), url
    # The PDF itself is the record: it prints the title as typed.
    assert users["clerk"].get(f"/api/v1/documents/{doc['id']}/pdf").status_code == 200


def test_an_error_quoting_a_typed_id_masks_it(users: dict[str, Client]) -> None:
    r = users["clerk"].post(
        "/api/v1/documents",
        {"type": "notice", "org": "llyb", "case_no": ID, "data": sample("notice")},
    )
    assert r.status_code == 422
    assert SHOWN in r.get_json()["message"] and not leaks(r.get_data(as_text=True))


def test_a_log_line_masks_an_id_but_keeps_digests() -> None:
    digest = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    record = logging.makeLogRecord(
        {
            "name": "wenshu.test",
            "levelno": logging.ERROR,
            "levelname": "ERROR",
            "msg": "案件 %s 不存在；blob %s",
            "args": (GROUPED, digest),
        }
    )
    record.path = f"/api/v1/cases/{ID}"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == f"案件 1411 02** **** **03 20 不存在；blob {digest}"
    assert line["path"] == f"/api/v1/cases/{SHOWN}"


def test_opening_the_correction_form_is_a_read_of_the_original(
    app: Any, users: dict[str, Client], ws: Any
) -> None:
    doc = issue_titled(users["clerk"], "关于开展医保基金专项检查的通知")
    browser = web_login(app, ws, "h-clerk", "clerk")
    before = len(events(ws, "document.view"))
    page = browser.get(f"/documents/new/notice?supersedes={doc['id']}")
    assert page.status_code == 200 and "关于开展医保基金专项检查的通知" in page.get_data(
        as_text=True
    )
    views = events(ws, "document.view")
    assert len(views) == before + 1
    assert views[-1].object_id == doc["id"] and views[-1].actor == "h-clerk"
    assert json.loads(views[-1].details) == {"for": "correction"}
    other = web_login(app, ws, "h-other-clerk", "clerk", org="tyyb")  # refused, nothing read
    assert other.get(f"/documents/new/notice?supersedes={doc['id']}").status_code == 404
    assert len(events(ws, "document.view")) == before + 1
