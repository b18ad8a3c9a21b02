"""The OpenAPI document declares, for every operation, the errors it really answers, each with
the one error body; and real refusals (anonymous, wrong role, unknown id, bad input, converter
down) answer only statuses the spec declares for their operation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.workflows.accounts import add_user
from tests.support import sample
from tests.support.apps import Client, make_app

SPEC = "/api/v1/openapi.json"
ERROR_REF = "#/components/schemas/Error"
METHODS = {"get", "put", "post", "patch", "delete"}

#: Guarded by a role check (service/policy.py), beyond being logged in: issuing, its preview
#: and withdrawal, cases and signed copies are for issuers; everything under ``AUDITOR_ONLY``
#: for auditors.
ROLE_GUARDED = {
    ("POST", "/api/v1/documents/preview"),
    ("POST", "/api/v1/documents"),
    ("POST", "/api/v1/documents/{doc_id}/withdraw"),
    ("POST", "/api/v1/documents/{doc_id}/signed-copy"),
    ("POST", "/api/v1/cases"),
    ("POST", "/api/v1/drafts"),
    ("PATCH", "/api/v1/drafts/{draft_id}"),
    ("POST", "/api/v1/drafts/{draft_id}/submit"),
    ("POST", "/api/v1/drafts/{draft_id}/return"),
    ("POST", "/api/v1/drafts/{draft_id}/approve"),
    ("POST", "/api/v1/drafts/{draft_id}/withdraw"),
    ("POST", "/api/v1/drafts/{draft_id}/issue"),
}
AUDITOR_ONLY = ("/api/v1/audit/", "/api/v1/numbers/")
#: Operations that run LibreOffice, and so answer 503 when it is down.
CONVERTING = {
    ("POST", "/api/v1/documents/preview"),
    ("POST", "/api/v1/documents"),
    ("POST", "/api/v1/drafts/{draft_id}/issue"),
    ("GET", "/api/v1/audit/report"),
    ("POST", "/api/v1/uploads"),  # a DOCX attachment is converted to count its pages
    ("POST", "/api/v1/orgs/{code}/seal/preview"),  # renders the sample notice
    ("GET", "/api/v1/orgs/{code}/templates/{doctype}/{sha256}/preview"),  # the type's sample
}
NO_SUCH_DOC = "0" * 20


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def declared(spec: dict[str, Any], method: str, path: str) -> set[int]:
    return {
        int(code) for code in operations(spec)[(method, path)]["responses"] if code != "default"
    }


def resolve(spec: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in obj:
        node: Any = spec
        for part in obj["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def role_guarded(method: str, path: str) -> bool:
    return (method, path) in ROLE_GUARDED or path.startswith(AUDITOR_ONLY)


@pytest.fixture
def spec(app: Any) -> dict[str, Any]:
    r = app.test_client().get(SPEC)  # anonymous: the API's description is public
    assert r.status_code == 200
    return r.get_json()  # type: ignore[no-any-return]


def send(app: Any, token: str | None, method: str, url: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is None:
        return app.test_client().open(url, method=method, headers=headers)
    data = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return app.test_client().open(
        url, method=method, headers=headers, data=data, content_type="application/json"
    )


def assert_declared(spec: dict[str, Any], method: str, path: str, r: Any, status: int) -> None:
    """The answer is ``status``, the operation declares it, and the body is the error body."""
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    assert status in declared(spec, method, path), (method, path, status)
    if status >= 400:
        body = r.get_json()
        assert set(body) == {"code", "status", "message", "errors"} and body["status"] == status


# ---------------------------------------------------------------- what the spec says


def test_the_spec_lists_the_whole_api_and_only_the_api(app: Any, spec: dict[str, Any]) -> None:
    ops = operations(spec)
    assert len(ops) >= 25
    assert all(path.startswith("/api/v1/") for _method, path in ops)
    assert not any(path.endswith(("openapi.json", "/docs")) for _method, path in ops)
    assert app.test_client().get("/api/v1/docs").status_code == 200  # public, like the spec
    assert "/healthz" not in spec["paths"] and "/metrics" not in spec["paths"]


def test_every_operation_declares_401(spec: dict[str, Any]) -> None:
    lacking = [op for op in operations(spec) if 401 not in declared(spec, *op)]
    assert lacking == []


def test_role_guarded_operations_declare_403(spec: dict[str, Any]) -> None:
    guarded = [op for op in operations(spec) if role_guarded(*op)]
    assert set(ROLE_GUARDED) <= set(guarded)  # a renamed path fails here, not silently
    assert len(guarded) >= len(ROLE_GUARDED) + 10
    assert [op for op in guarded if 403 not in declared(spec, *op)] == []


def test_issue_and_preview_declare_503_with_retry_after_and_422(spec: dict[str, Any]) -> None:
    ops = operations(spec)
    for method, path in CONVERTING:
        assert {422, 503} <= declared(spec, method, path), path
        headers = resolve(spec, ops[(method, path)]["responses"]["503"])["headers"]
        assert headers["Retry-After"]["required"] is True
        assert headers["Retry-After"]["schema"]["type"] == "integer"
    # and nothing else claims the converter
    claims = {op for op in ops if 503 in declared(spec, *op)}
    assert claims == CONVERTING


def test_every_operation_on_a_path_id_declares_404(spec: dict[str, Any]) -> None:
    on_ids = [op for op in operations(spec) if "{" in op[1]]
    assert len(on_ids) >= 9
    assert [op for op in on_ids if 404 not in declared(spec, *op)] == []


def test_every_error_response_is_the_one_error_body(spec: dict[str, Any]) -> None:
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "status", "message", "errors"}
    assert set(error["required"]) == {"code", "status", "message", "errors"}
    wrong = []
    for (method, path), op in operations(spec).items():
        for code, response in op["responses"].items():
            if code == "default" or int(code) >= 400:
                content = resolve(spec, response).get("content")
                if content != {"application/json": {"schema": {"$ref": ERROR_REF}}}:
                    wrong.append((method, path, code, content))
    assert wrong == []


def test_errors_are_declared_where_their_cause_is(spec: dict[str, Any]) -> None:
    """400 (malformed JSON) where a JSON body is read, 413 where any body is, 422 where there
    is input beyond the path; reads by id answer nothing but 401, 403 (an administrator, who
    reads no document) and 404 (the PDF and the verification take a query — shown in the page,
    verified on opening it — so 422 too)."""
    for (method, path), op in operations(spec).items():
        body = op.get("requestBody", {}).get("content", {})
        query = any(p["in"] == "query" for p in op.get("parameters", []))
        codes = declared(spec, method, path)
        assert (400 in codes) == ("application/json" in body), (method, path)
        assert (413 in codes) == bool(body), (method, path)
        assert (422 in codes) == bool(body or query), (method, path)
    for path in (
        "/api/v1/documents/{doc_id}",
        "/api/v1/documents/{doc_id}/docx",
        "/api/v1/documents/{doc_id}/signed-copy/status",
        "/api/v1/cases/{case_no}",
    ):
        assert declared(spec, "GET", path) - {200} == {401, 403, 404}, path
    for path in ("/api/v1/documents/{doc_id}/pdf", "/api/v1/documents/{doc_id}/verify"):
        assert declared(spec, "GET", path) - {200} == {401, 403, 404, 422}, path
    assert declared(spec, "GET", "/api/v1/doctypes") == {200, 401, 403}


# ---------------------------------------------------------------- what the service does


def test_anonymous_callers_get_the_declared_401_everywhere(app: Any, spec: dict[str, Any]) -> None:
    for method, path in operations(spec):
        url = path.replace("{doc_id}", NO_SUCH_DOC).replace("{case_no}", "C-1")
        url = url.replace("{draft_id}", NO_SUCH_DOC).replace("{version}", "1")
        r = send(app, None, method, url, {} if method == "POST" else None)
        assert_declared(spec, method, path, r, 401)


NOTICE = {"type": "notice", "org": "llyb"}
# without the sample's 成文日期 of 2021: a numbered notice is dated in its number's year
A_NOTICE = {
    **NOTICE,
    "data": {k: v for k, v in sample("notice").items() if k not in ("date", "print_date")},
}
REFUSALS = [
    # wrong role
    ("auditor", "POST", "/api/v1/documents/preview", None, A_NOTICE, 403),
    ("auditor", "POST", "/api/v1/documents", None, A_NOTICE, 403),
    (
        "auditor",
        "POST",
        "/api/v1/cases",
        None,
        {"case_no": "C-1", "title": "案", "org": "llyb"},
        403,
    ),
    ("approver", "POST", "/api/v1/documents", None, A_NOTICE, 403),
    ("approver", "POST", "/api/v1/drafts", None, {"type": "notice", "data": {}}, 403),
    ("approver", "POST", "/api/v1/drafts/{draft_id}/issue", None, {}, 403),
    ("clerk", "POST", "/api/v1/drafts/{draft_id}/approve", None, {}, 403),
    ("clerk", "GET", "/api/v1/audit/events", None, None, 403),
    ("clerk", "GET", "/api/v1/numbers/gaps", None, None, 403),
    (
        "clerk",
        "POST",
        "/api/v1/audit/legal-holds",
        None,
        {"document_id": "x", "reason": "诉讼"},
        403,
    ),
    # wrong org
    ("clerk", "GET", "/api/v1/search", "org=tyyb", None, 403),
    ("clerk", "GET", "/api/v1/documents", "org=tyyb", None, 403),
    ("other_auditor", "GET", "/api/v1/audit/events", "org=llyb", None, 403),
    # unknown id
    ("clerk", "GET", "/api/v1/documents/{doc_id}", None, None, 404),
    ("clerk", "GET", "/api/v1/documents/{doc_id}/pdf", None, None, 404),
    ("clerk", "GET", "/api/v1/documents/{doc_id}/docx", None, None, 404),
    ("clerk", "GET", "/api/v1/documents/{doc_id}/verify", None, None, 404),
    ("clerk", "GET", "/api/v1/documents/{doc_id}/signed-copy", None, None, 404),
    ("clerk", "GET", "/api/v1/documents/{doc_id}/signed-copy/status", None, None, 404),
    ("clerk", "POST", "/api/v1/documents/{doc_id}/withdraw", None, {"reason": "重复"}, 404),
    ("clerk", "GET", "/api/v1/cases/{case_no}", None, None, 404),
    ("clerk", "GET", "/api/v1/drafts/{draft_id}", None, None, 404),
    ("clerk", "GET", "/api/v1/drafts/{draft_id}/versions/{version}", None, None, 404),
    ("clerk", "PATCH", "/api/v1/drafts/{draft_id}", None, {"version": 1, "data": {}}, 404),
    ("clerk", "POST", "/api/v1/drafts/{draft_id}/submit", None, {}, 404),
    ("approver", "POST", "/api/v1/drafts/{draft_id}/approve", None, {}, 404),
    ("clerk", "POST", "/api/v1/drafts/{draft_id}/issue", None, {}, 404),
    (
        "auditor",
        "POST",
        "/api/v1/audit/legal-holds",
        None,
        {"document_id": "x", "reason": "诉讼"},
        404,
    ),
    ("auditor", "GET", "/api/v1/audit/retention", "org=zzzz", None, 403),
    # invalid fields
    ("clerk", "POST", "/api/v1/cases", None, {"case_no": "", "title": "案", "org": "llyb"}, 422),
    ("clerk", "POST", "/api/v1/documents/preview", None, {**NOTICE, "data": {}}, 422),
    ("clerk", "POST", "/api/v1/documents", None, {"type": "nope", "org": "llyb", "data": {}}, 422),
    ("clerk", "GET", "/api/v1/search", "per_page=0", None, 422),
    ("clerk", "POST", "/api/v1/drafts", None, {"type": "notice", "data": []}, 422),
    ("clerk", "GET", "/api/v1/drafts", "state=nope", None, 422),
    ("approver", "POST", "/api/v1/drafts/{draft_id}/return", None, {}, 422),
    ("auditor", "GET", "/api/v1/audit/report", None, None, 422),
    # malformed and too large
    ("clerk", "POST", "/api/v1/cases", None, '{"case_no": ', 400),
    ("clerk", "POST", "/api/v1/documents/preview", None, "[1,", 400),
    ("clerk", "POST", "/api/v1/cases", None, json.dumps({"title": "x" * 3 * 1024 * 1024}), 413),
]


@pytest.mark.parametrize(
    "who, method, path, query, body, status",
    REFUSALS,
    ids=[f"{r[5]}-{r[0]}-{r[1]}-{r[2].removeprefix('/api/v1/')}" for r in REFUSALS],
)
def test_real_refusals_are_declared(
    app: Any,
    spec: dict[str, Any],
    users: dict[str, Client],
    who: str,
    method: str,
    path: str,
    query: str | None,
    body: Any,
    status: int,
) -> None:
    url = path.replace("{doc_id}", NO_SUCH_DOC).replace("{case_no}", "NO-SUCH-CASE")
    url = url.replace("{draft_id}", NO_SUCH_DOC).replace("{version}", "1")
    r = send(app, users[who].token, method, url + (f"?{query}" if query else ""), body)
    assert_declared(spec, method, path, r, status)


def test_answers_about_an_issued_document_are_declared(
    app: Any, spec: dict[str, Any], users: dict[str, Client]
) -> None:
    clerk, auditor = users["clerk"].token, users["auditor"].token
    r = send(app, clerk, "POST", "/api/v1/documents", A_NOTICE)
    assert_declared(spec, "POST", "/api/v1/documents", r, 201)
    doc = r.get_json()["id"]
    withdraw = ("POST", "/api/v1/documents/{doc_id}/withdraw")
    upload = ("POST", "/api/v1/documents/{doc_id}/signed-copy")
    reason = {"reason": "重复签发"}

    r = send(app, auditor, "POST", f"/api/v1/documents/{doc}/withdraw", reason)
    assert_declared(spec, *withdraw, r, 403)
    for token, status in ((auditor, 403), (clerk, 422)):  # a notice is not signed by hand
        r = app.test_client().post(
            f"/api/v1/documents/{doc}/signed-copy",
            headers={"Authorization": f"Bearer {token}"},
            data={},
            content_type="multipart/form-data",
        )
        assert_declared(spec, *upload, r, status)

    r = send(app, clerk, "POST", f"/api/v1/documents/{doc}/withdraw", reason)
    assert_declared(spec, *withdraw, r, 200)
    r = send(app, clerk, "POST", f"/api/v1/documents/{doc}/withdraw", reason)
    assert_declared(spec, *withdraw, r, 409)


def test_converter_down_is_the_declared_503_with_retry_after(tmp_path: Path) -> None:
    """No LibreOffice pool behind this app: preview and issue answer 503, as declared."""
    idle = make_app(tmp_path, {"CONVERTER_DIR": tmp_path / "no-converter"})
    ws = idle.extensions["wenshu"]
    try:
        clerk = add_user(ws, name="u-clerk", role="clerk", org_code="llyb")
        spec = idle.test_client().get(SPEC).get_json()
        for path in ("/api/v1/documents/preview", "/api/v1/documents"):
            r = send(idle, clerk, "POST", path, A_NOTICE)
            assert_declared(spec, "POST", path, r, 503)
            assert int(r.headers["Retry-After"]) > 0
    finally:
        ws.close()
