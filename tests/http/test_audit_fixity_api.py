"""/api/v1/audit/fixity: the cycle's status beside the last check, a slice of the cycle on
demand, a full check only of a small archive, and each auditor seeing only their own org."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from service.http.api import audit
from service.workflows.integrity import cycle
from service.workflows.integrity.cycle import run_slice
from tests.support import sample
from tests.support.tamper import events, flip_byte

URL = "/api/v1/audit/fixity"


def issue(users: dict[str, Any], org: str = "llyb") -> dict[str, Any]:
    who = users["clerk"] if org == "llyb" else users["other_clerk"]
    r = who.post("/api/v1/documents", {"type": "notice", "org": org, "data": sample("notice")})
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


@pytest.fixture
def archive(users: dict[str, Any], ws: Any) -> list[dict[str, Any]]:
    """Four documents of two orgs, a cycle of two days with one run a day: two a slice."""
    docs = [issue(users, org) for org in ("llyb", "tyyb", "llyb", "llyb")]
    integrity = dataclasses.replace(
        ws.settings.integrity, fixity_cycle_days=2.0, fixity_interval=86400.0
    )
    ws.settings = dataclasses.replace(ws.settings, integrity=integrity)
    return docs


def test_the_status_shows_the_cycle_beside_the_last_check(
    users: dict[str, Any], archive: list[dict[str, Any]]
) -> None:
    before = users["auditor"].get(URL).get_json()
    assert before["last_check"] is None and before["failures"] == []
    st = before["cycle"]
    assert (st["cycle"], st["cycle_days"], st["position_seq"], st["runs"]) == (1, 2.0, 0, [])
    # the org's documents only (three of the four): no org learns the size of another
    assert (st["documents_checked"], st["documents_left"], st["documents_total"]) == (0, 3, 3)
    assert st["unfinished_through_seq"] is None and st["running_until"] is None

    ran = users["auditor"].post(URL, {}).get_json()
    after = users["auditor"].get(URL).get_json()
    assert after["last_check"]["details"]["mode"] == "cycle"
    st = after["cycle"]
    assert st["started_at"] and st["ends_at"] > st["started_at"]
    assert st["position_seq"] == ran["through_seq"] and st["head_seq"] > ran["through_seq"]
    assert (st["documents_checked"], st["documents_left"], st["problems"]) == (1, 2, 0)
    (run,) = st["runs"]
    assert (run["cycle"], run["after_seq"], run["through_seq"]) == (1, 0, ran["through_seq"])
    assert (run["documents"], run["failed_documents"]) == (1, 0)  # llyb's one of the two


def test_a_post_checks_the_next_slice_and_advances_the_cursor(
    users: dict[str, Any], ws: Any, archive: list[dict[str, Any]]
) -> None:
    auditor = users["auditor"]
    first = auditor.post(URL).get_json()  # no body at all: a slice too
    assert first["mode"] == "cycle" and first["ok"]
    assert (first["cycle"], first["after_seq"], first["resumed"]) == (1, 0, False)
    assert first["checked"] == {"llyb": 1}  # the slice held a tyyb document too: not shown

    flip_byte(ws.blobs.path(archive[2]["sha256"]))
    second = auditor.post(URL, {}).get_json()  # a day's share of what is left: one document
    assert second["after_seq"] == first["through_seq"] and not second["cycle_complete"]
    assert second["checked"] == {"llyb": 1} and not second["ok"]
    assert {p["document_id"] for p in second["problems"]} == {archive[2]["id"]}
    assert events(ws, "fixity.failure")[-1].object_id == archive[2]["id"]
    third = auditor.post(URL, {}).get_json()
    assert third["after_seq"] == second["through_seq"] and third["cycle_complete"]
    assert third["checked"] == {"llyb": 1} and third["ok"]
    checks = events(ws, "fixity.check")
    assert {e.org for e in checks} == {"llyb", "tyyb"}  # the cycle's record, of every org
    # another org's trail names the cycle, not this org's auditor
    assert {e.actor for e in checks if e.org == "llyb"} == {"u-auditor"}
    assert {e.actor for e in checks if e.org == "tyyb"} == {"system:fixity"}
    st = auditor.get(URL).get_json()["cycle"]
    assert (st["cycle"], st["position_seq"], st["documents_left"]) == (2, 0, 3)
    assert (st["documents_checked"], st["problems"]) == (0, 0)  # a new cycle
    assert [(r["documents"], r["failed_documents"]) for r in st["runs"]] == [(1, 0), (1, 1), (1, 0)]


def test_a_request_starts_a_slice_of_at_most_its_limit(
    users: dict[str, Any], archive: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "SLICE_LIMIT", 1)
    auditor = users["auditor"]
    r = auditor.flask.post(URL, headers=auditor.headers()).get_json()  # no body, no JSON
    assert r["checked"] == {"llyb": 1}
    assert users["auditor"].get(URL).get_json()["cycle"]["documents_left"] == 2


def test_a_full_check_only_of_a_small_archive(
    users: dict[str, Any], archive: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    full = users["auditor"].post(URL, {"full": True}).get_json()
    assert full["mode"] == "full" and full["ok"] and full["checked"] == {"llyb": 3}
    assert full["cycle"] is None
    last = users["auditor"].get(URL).get_json()["last_check"]
    assert last["details"]["mode"] == "full" and last["details"]["documents"] == 3

    monkeypatch.setattr(audit, "FULL_CHECK_LIMIT", 3)
    refused = users["auditor"].post(URL, {"full": True})
    assert refused.status_code == 409
    message = refused.get_json()["message"]
    assert "档案文书超过 3 份" in message and "wenshu verify" in message
    assert "4" not in message  # the archive's size is not the org's to know
    assert users["auditor"].post(URL, {"full": "perhaps"}).status_code == 422
    assert users["auditor"].post(URL, {"fast": True}).status_code == 422


def test_a_second_check_while_one_runs_is_refused(
    users: dict[str, Any], ws: Any, archive: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cycle, "CHUNK", 1)
    answers = []
    run_slice(ws, actor="timer", progress=lambda *_: answers.append(users["auditor"].post(URL)))
    assert answers and {a.status_code for a in answers} == {409}
    assert "另一个完整性检查正在进行" in answers[0].get_json()["message"]


def test_only_the_orgs_auditor_runs_or_reads_it(
    users: dict[str, Any], archive: list[dict[str, Any]]
) -> None:
    for role in ("clerk", "approver", "sysadmin", "auditadmin"):
        assert users[role].get(URL).status_code == 403, role
        assert users[role].post(URL, {}).status_code == 403, role
        assert users[role].post(URL, {"full": True}).status_code == 403, role
    assert users["anonymous"].post(URL, {}).status_code == 401
    other = users["other_auditor"]
    assert other.get(f"{URL}?org=llyb").status_code == 403
    assert other.post(f"{URL}?org=llyb", {"full": True}).status_code == 403
    assert other.post(URL, {}).get_json()["checked"] == {"tyyb": 1}
    (run,) = other.get(URL).get_json()["cycle"]["runs"]
    assert run["documents"] == 1  # tyyb's share of the slice
