"""Authorization matrix: every URL rule × method × caller × own/other org, from ``app.url_map``.

The policy below is the one declaration of who may do what. A rule the map has and the policy
does not list fails ``test_every_rule_has_a_policy``, so a new endpoint cannot be forgotten.
Callers: the four business roles and the three separated administrators (三员: sysadmin,
secadmin, auditadmin) of 吕梁 (llyb), an anonymous caller and a bad token. URL parameters,
bodies and ``org`` filters are filled once with the caller's own org's objects and once with
太原 (tyyb)'s. A leak is a success where the policy refuses, or any of tyyb's identifiers (ids,
文号, 档号, case, user and org names) in a body a business role receives without having sent
it — and, for an administrator, anything of any org's documents (ids, 文号, 档号, cases,
drafts: the administrators read accounts and orgs of every org, never documents).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfWriter
from sqlalchemy import select

from archive.models import User
from service.workflows.accounts import add_org, add_user
from tests.support import ROOT, sample
from tests.support.apps import make_app
from tests.support.web import PASSWORD
from tests.support.web import csrf_field as _csrf

BUSINESS = ("clerk", "inspector", "approver", "auditor")
ADMINS = ("sysadmin", "secadmin", "auditadmin")
ROLES = BUSINESS + ADMINS
CALLERS = (*ROLES, "anonymous", "bad_token")
ALL = BUSINESS  # every role that works with documents
ISSUERS = ("clerk", "inspector")
OWN, OTHER = "llyb", "tyyb"
DEFAULT_NOTICE_TEMPLATE = hashlib.sha256(
    (ROOT / "doc_templates" / "notice.docx").read_bytes()
).hexdigest()

Body = Callable[[dict[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class Policy:
    """``kind``: "api" (Bearer token), "page" (login session + CSRF) or "public".
    ``roles``: who may. ``scope``: "org" — for another org's object or ``org`` the answer
    must be 403/404; "filter" — the answer may succeed but carries nothing of the other org;
    "none" — not about an org (the administrators' pages are installation-wide)."""

    kind: str
    roles: tuple[str, ...] = ()
    scope: str = "none"
    query: str = ""
    body: Body | None = field(default=None, compare=False)


def api(*roles: str, scope: str = "org", query: str = "", body: Body | None = None) -> Policy:
    return Policy("api", roles, scope, query, body)


def page(*roles: str, scope: str = "none", body: Body | None = None) -> Policy:
    return Policy("page", roles, scope, "", body)


PUBLIC = Policy("public")


def _notice(v: dict[str, str]) -> dict[str, Any]:
    return {"json": {"type": "notice", "org": v["org"], "data": sample("notice")}}


def _draft(v: dict[str, str]) -> dict[str, Any]:
    return {"json": {"type": "notice", "org": v["org"], "data": {"title": "矩阵草稿"}}}


def _comment(v: dict[str, str]) -> dict[str, Any]:
    return {"json": {"comment": "矩阵意见"}}


def _case(v: dict[str, str]) -> dict[str, Any]:
    return {"json": {"case_no": v["fresh"], "title": "矩阵检查", "org": v["org"]}}


def _png(v: dict[str, str]) -> dict[str, Any]:
    return {"multipart": {"file": (io.BytesIO(b"\x89PNG\r\n\x1a\n"), "seal.png")}}


def _scan(v: dict[str, str]) -> dict[str, Any]:
    return {"multipart": {"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "scan.pdf")}}


AUDIT = ("auditor",)
DRAFT_READERS = ("clerk", "inspector", "approver", "auditor")
DRAFT = "/api/v1/drafts/<string:draft_id>"
TEMPLATES = "/api/v1/orgs/<string:code>/templates/<string:doctype>"
ORG_Q = "org={org}"
POLICY: dict[tuple[str, str], Policy] = {
    # -- JSON API
    ("/api/v1/doctypes", "GET"): api(*ALL, scope="none"),
    ("/api/v1/documents", "GET"): api(*ALL, scope="filter", query=ORG_Q),
    ("/api/v1/documents", "POST"): api("clerk", body=_notice),  # notice: clerks issue it
    ("/api/v1/documents/preview", "POST"): api("clerk", "approver", body=_notice),
    ("/api/v1/documents/<string:doc_id>", "GET"): api(*ALL),
    ("/api/v1/documents/<string:doc_id>/pdf", "GET"): api(*ALL),
    ("/api/v1/documents/<string:doc_id>/docx", "GET"): api(*ALL),
    ("/api/v1/documents/<string:doc_id>/verify", "GET"): api(*ALL),
    ("/api/v1/documents/<string:doc_id>/withdraw", "POST"): api(
        "clerk", body=lambda v: {"json": {"reason": "矩阵测试作废"}}
    ),
    ("/api/v1/documents/<string:doc_id>/signed-copy", "GET"): api(*ALL),
    ("/api/v1/documents/<string:doc_id>/signed-copy", "POST"): api(*ISSUERS, body=_scan),
    ("/api/v1/documents/<string:doc_id>/signed-copy/status", "GET"): api(*ALL),
    ("/api/v1/documents/<string:doc_id>/signed-copy/ocr-again", "POST"): api(
        *ISSUERS, body=lambda v: {"json": {}}
    ),
    ("/api/v1/documents/<string:doc_id>/signed-copy/review", "POST"): api(
        "inspector",
        "auditor",
        body=lambda v: {"json": {"kind": "differences", "reason": "矩阵测试：差异已核对"}},
    ),
    ("/api/v1/uploads", "POST"): api(*ISSUERS, scope="none", body=_scan),  # own org's, always
    ("/api/v1/uploads/<string:upload_id>", "GET"): api(*ALL),
    ("/api/v1/uploads/<string:upload_id>/pdf", "GET"): api(*ALL),
    # the seal: whoever manages the org's certificate (orgs.certificates)
    ("/api/v1/orgs/<string:code>/seal", "PUT"): api("secadmin", scope="none", body=_png),
    ("/api/v1/orgs/<string:code>/seal/preview", "POST"): api("secadmin", scope="none", body=_png),
    # the templates: read by both administrators of 机构设置, changed by whoever manages the seal
    (TEMPLATES, "GET"): api("sysadmin", "secadmin", scope="none"),
    (TEMPLATES, "POST"): api("secadmin", scope="none", body=_scan),
    (f"{TEMPLATES}/<string:sha256>", "GET"): api("sysadmin", "secadmin", scope="none"),
    (f"{TEMPLATES}/<string:sha256>/preview", "GET"): api("secadmin", scope="none"),
    (f"{TEMPLATES}/<string:sha256>/activate", "POST"): api("secadmin", scope="none"),
    ("/api/v1/cases", "GET"): api(*ALL, scope="filter", query=ORG_Q),
    ("/api/v1/cases", "POST"): api(*ISSUERS, body=_case),
    ("/api/v1/cases/<string:case_no>", "GET"): api(*ALL),
    ("/api/v1/search", "GET"): api(*ALL, scope="filter", query="q=通知&" + ORG_Q),
    # drafts of a notice: a clerk drafts (m-clerk drafted the org's draft), an approver
    # returns or approves, a clerk issues; readers are the org's roles that work with documents
    ("/api/v1/drafts", "GET"): api(*DRAFT_READERS, scope="filter", query=ORG_Q),
    ("/api/v1/drafts", "POST"): api("clerk", body=_draft),
    (DRAFT, "GET"): api(*DRAFT_READERS),
    (DRAFT, "PATCH"): api(
        "clerk", body=lambda v: {"json": {"version": 1, "data": {"title": "矩阵改稿"}}}
    ),
    (DRAFT + "/versions/<int:version>", "GET"): api(*DRAFT_READERS),
    (DRAFT + "/submit", "POST"): api("clerk", body=_comment),
    (DRAFT + "/return", "POST"): api("approver", body=_comment),
    (DRAFT + "/approve", "POST"): api("approver", body=_comment),
    (DRAFT + "/withdraw", "POST"): api("clerk", body=_comment),
    (DRAFT + "/issue", "POST"): api("clerk", body=lambda v: {"json": {}}),
    ("/api/v1/audit/events", "GET"): api(*AUDIT, query=ORG_Q),
    ("/api/v1/audit/verify", "GET"): api(*AUDIT, query=ORG_Q),
    ("/api/v1/audit/checkpoints", "GET"): api(*AUDIT, query=ORG_Q),
    ("/api/v1/audit/checkpoints", "POST"): api(*AUDIT, query=ORG_Q),
    ("/api/v1/audit/export", "GET"): api(*AUDIT, query=ORG_Q),
    ("/api/v1/audit/report", "GET"): api(*AUDIT, query=ORG_Q + "&from=2026-01-01&to=2026-12-31"),
    ("/api/v1/audit/fixity", "GET"): api(*AUDIT, query=ORG_Q),
    ("/api/v1/audit/fixity", "POST"): api(*AUDIT, query=ORG_Q),
    ("/api/v1/audit/retention", "GET"): api(*AUDIT, query=ORG_Q),
    ("/api/v1/audit/legal-holds", "GET"): api(*AUDIT, query=ORG_Q),
    ("/api/v1/audit/legal-holds", "POST"): api(
        *AUDIT,
        body=lambda v: {"json": {"document_id": v["doc_id"], "hold": True, "reason": "矩阵保全"}},
    ),
    ("/api/v1/numbers/gaps", "GET"): api(*AUDIT, query=ORG_Q),
    ("/api/v1/registers/dispatch", "GET"): api(*ALL, query=ORG_Q + "&year=2026"),
    ("/metrics", "GET"): api("sysadmin", scope="none"),
    # -- public: no data, only status, the API's description and static assets
    ("/healthz", "GET"): PUBLIC,
    ("/api/v1/openapi.json", "GET"): PUBLIC,
    ("/api/v1/docs", "GET"): PUBLIC,
    ("/api/v1/static/swagger-ui/<path:filename>", "GET"): PUBLIC,
    ("/assets/<path:filename>", "GET"): PUBLIC,
    ("/static/<path:filename>", "GET"): PUBLIC,
    ("/favicon.ico", "GET"): PUBLIC,
    ("/login", "GET"): PUBLIC,
    ("/login", "POST"): PUBLIC,
    ("/logout", "POST"): PUBLIC,
    # -- web pages
    ("/", "GET"): page(*ROLES),  # an administrator is sent on to their own pages
    ("/account", "GET"): page(*ROLES),
    ("/account", "POST"): page(*ROLES, body=lambda v: {"form": {"old": "x", "new": "y"}}),
    ("/documents", "GET"): page(*ALL),
    ("/registers/dispatch", "GET"): page(*ALL),
    ("/documents/new", "GET"): page(*ISSUERS),
    ("/documents/new/<doctype>", "GET"): page("clerk"),  # <doctype> is filled with notice
    ("/documents/<doc_id>", "GET"): page(*ALL, scope="org"),
    ("/documents/<doc_id>/withdraw", "POST"): page(
        "clerk", scope="org", body=lambda v: {"form": {"reason": "矩阵测试作废"}}
    ),
    ("/drafts", "GET"): page("clerk", "inspector", "approver"),
    ("/drafts/<draft_id>", "GET"): page(*DRAFT_READERS, scope="org"),
    ("/search", "GET"): page(*ALL),
    ("/cases", "GET"): page(*ALL),
    ("/cases", "POST"): page(
        *ISSUERS, body=lambda v: {"form": {"case_no": v["fresh"], "title": "矩阵检查"}}
    ),
    ("/cases/<case_no>", "GET"): page(*ALL, scope="org"),
    ("/audit", "GET"): page(*AUDIT),
    # -- the administrators' pages (三员分立): installation-wide, never a document
    ("/admin/users", "GET"): page("sysadmin", "secadmin"),
    ("/admin/users", "POST"): page("sysadmin", body=lambda v: {"form": {"name": ""}}),
    ("/admin/users/<int:user_id>", "POST"): page(  # disabling an account: sysadmin's
        "sysadmin", body=lambda v: {"form": {"action": "disable"}}
    ),
    ("/admin/orgs", "GET"): page("sysadmin", "secadmin"),
    ("/admin/orgs", "POST"): page("sysadmin", body=lambda v: {"form": {"code": ""}}),
    ("/admin/orgs/<code>", "POST"): page("sysadmin", body=lambda v: {"form": {}}),
    ("/admin/orgs/<code>/certificate", "POST"): page("secadmin", body=lambda v: {"form": {}}),
    ("/admin/orgs/<code>/seal.png", "GET"): page("sysadmin", "secadmin"),
    ("/admin/trail", "GET"): page(*ADMINS),
    ("/admin/orgs/<code>/seal", "POST"): page("secadmin", body=lambda v: {"form": {}}),
    ("/admin/orgs/<code>/seal/preview", "POST"): page("secadmin", body=lambda v: {"form": {}}),
    ("/admin/orgs/<code>/templates/<doctype>/<sha256>.docx", "GET"): page("sysadmin", "secadmin"),
    ("/admin/orgs/<code>/templates/<doctype>", "POST"): page(
        "secadmin", body=lambda v: {"form": {}}
    ),
    ("/admin/orgs/<code>/templates/<doctype>/<sha256>/preview", "GET"): page("secadmin"),
    ("/admin/orgs/<code>/templates/<doctype>/<sha256>/activate", "POST"): page(
        "secadmin", body=lambda v: {"form": {}}
    ),
}


def map_rules(app: Any) -> list[tuple[str, str]]:
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    )


def _one_page_pdf() -> bytes:
    buf = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.write(buf)
    return buf.getvalue()


class World:
    """One app with two orgs, their users (tokens and passwords), documents and cases."""

    def __init__(self, tmp: Path, converter_dir: dict[str, Any]) -> None:
        self.app = make_app(tmp, converter_dir)
        ws = self.app.extensions["wenshu"]
        add_org(ws, code=OTHER, name="太原市医疗保障局", zihao="并医保发", region="太原市")
        self.tokens = {
            role: add_user(ws, name=f"m-{role}", role=role, org_code=OWN, password=PASSWORD)
            for role in ROLES
        }
        self.tokens["bad_token"] = "not-a-token-of-anyone"
        other_clerk = add_user(ws, name="m-ty-clerk", role="clerk", org_code=OTHER)
        add_user(ws, name="m-ty-inspector", role="inspector", org_code=OTHER)
        # whom the sysadmin's cell disables, of each org
        for name, org in (("m-victim", OWN), ("m-ty-victim", OTHER)):
            add_user(ws, name=name, role="clerk", org_code=org)
        with ws.db.read() as s:
            ids = {name: uid for name, uid in s.execute(select(User.name, User.id))}
        self.values: dict[str, dict[str, str]] = {}
        for org, token in ((OWN, self.tokens["clerk"]), (OTHER, other_clerk)):
            c = self.app.test_client()
            h = {"Authorization": f"Bearer {token}"}
            case_no = f"{org.upper()}-M-001"
            r = c.post("/api/v1/cases", json={"case_no": case_no, "title": f"{org}矩阵专项检查", "org": org}, headers=h)  # fmt: skip
            assert r.status_code == 201, r.get_json()
            r = c.post("/api/v1/documents", json={**_notice({"org": org})["json"], "case_no": case_no}, headers=h)  # fmt: skip
            assert r.status_code == 201, r.get_json()
            doc = r.get_json()
            r = c.post("/api/v1/drafts", json=_draft({"org": org})["json"], headers=h)
            assert r.status_code == 201, r.get_json()
            draft = r.get_json()
            r = c.post("/api/v1/uploads", data={"file": (io.BytesIO(_one_page_pdf()), "a.pdf")}, headers=h)  # fmt: skip
            assert r.status_code == 201, r.get_json()
            upload_id = r.get_json()["id"]
            self.values[org] = {
                "org": org, "code": org, "doc_id": doc["id"], "case_no": case_no,
                "name": "m-clerk" if org == OWN else "m-ty-clerk", "doctype": "notice",
                "wenhao": doc["wenhao"], "archive_no": doc["archive_no"],
                "draft_id": draft["id"], "version": "1", "upload_id": upload_id,
                "user_id": str(ids["m-victim" if org == OWN else "m-ty-victim"]),
                "sha256": DEFAULT_NOTICE_TEMPLATE,
            }  # fmt: skip
        # of the documents of either org: no administrator may ever see them
        self.document_markers = [
            self.values[org][k]
            for org in (OWN, OTHER)
            for k in ("doc_id", "wenhao", "archive_no", "case_no", "draft_id")
        ] + ["llyb矩阵专项检查", "tyyb矩阵专项检查"]
        # of tyyb: no business role of llyb may see them
        self.markers = [
            self.values[OTHER][k]
            for k in ("doc_id", "wenhao", "archive_no", "case_no", "draft_id", "upload_id")
        ] + ["tyyb矩阵专项检查", "m-ty-clerk", "m-ty-inspector", "太原市医疗保障局", "并医保发"]
        self.sessions: dict[str, Any] = {}
        self.fresh = 0

    def session(self, role: str) -> tuple[Any, str]:
        """A test client logged in as ``role`` through the login form, and its CSRF token."""
        if role not in self.sessions:
            c = self.app.test_client()
            token = _csrf(c.get("/login").get_data(as_text=True))
            r = c.post("/login", data={"name": f"m-{role}", "password": PASSWORD, "csrf_token": token})  # fmt: skip
            assert r.status_code == 302, r.get_data(as_text=True)[:300]
            self.sessions[role] = (c, _csrf(c.get("/account").get_data(as_text=True)))
        return self.sessions[role]  # type: ignore[no-any-return]

    def fill(self, rule: str, variant: str) -> tuple[str, dict[str, str]]:
        values = dict(self.values[variant])
        self.fresh += 1
        values["fresh"] = f"MX-{self.fresh:04d}"
        values["filename"] = "app.css" if rule.startswith("/assets") else "swagger-ui.css"
        url = rule
        for _conv, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule):
            assert name in values, f"no value to fill <{name}> of {rule}: extend World.fill"
            url = re.sub(rf"<(?:\w+:)?{name}>", values[name], url)
        return url, values

    def call(self, policy: Policy, caller: str, method: str, url: str, v: dict[str, str]) -> Any:
        body = policy.body(v) if policy.body else {}
        headers: dict[str, str] = {}
        csrf = None
        if policy.kind == "page" and caller in ROLES:
            client, csrf = self.session(caller)
        else:
            client = self.app.test_client()
            if caller in self.tokens:
                headers["Authorization"] = f"Bearer {self.tokens[caller]}"
        if policy.query:
            url += "?" + policy.query.format(**v)
        kw: dict[str, Any] = {"headers": headers}
        if "json" in body:
            kw["data"] = json.dumps(body["json"], ensure_ascii=False)
            kw["content_type"] = "application/json"
        elif "form" in body or "multipart" in body or method == "POST":
            data = dict(body.get("form") or body.get("multipart") or {})
            if csrf:
                data["csrf_token"] = csrf
            kw["data"] = data
        resp = client.open(url, method=method, **kw)
        if url.startswith("/logout") and caller in self.sessions:
            del self.sessions[caller]  # logged out: log in again next time
        sent = url + json.dumps(body.get("json") or body.get("form") or {}, ensure_ascii=False)
        return resp, sent


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, converter_dir: dict[str, Any]
) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("matrix"), converter_dir)
    yield w
    w.app.extensions["wenshu"].close()


def test_every_rule_has_a_policy(world: World) -> None:
    missing = [rm for rm in map_rules(world.app) if rm not in POLICY]
    assert not missing, f"declare who may call these in POLICY: {missing}"


def verdict(p: Policy, caller: str, variant: str, method: str, status: int, location: str) -> str:
    """'' when the status is what the policy allows, else what is wrong."""
    if status >= 500:
        return f"server error {status}"
    if p.kind == "public":
        return ""
    permitted = caller in p.roles
    if caller in ("anonymous", "bad_token") or (p.kind == "page" and caller not in ROLES):
        if p.kind == "api":
            return "" if status == 401 else f"{status}, want 401"
        to_login = status == 302 and location.startswith("/login")
        # a form POST without a session fails its CSRF check first (400)
        return "" if to_login or (method == "POST" and status == 400) else f"{status}, want login"
    if not permitted:
        want = {403} if variant == OWN or p.scope != "org" else {403, 404}
        return "" if status in want else f"{status}, want {sorted(want)}"
    if variant == OTHER and p.scope == "org":
        return "" if status in (403, 404) else f"{status} for another org's object, want 403/404"
    if variant == OTHER and p.scope == "filter":
        return "" if status != 401 else "401 for a permitted caller"  # refused or filtered
    return "" if status not in (401, 403) else f"{status} for a permitted caller"


@pytest.mark.parametrize("rule,method", sorted(POLICY))
def test_matrix(world: World, rule: str, method: str) -> None:
    if (rule, method) not in map_rules(world.app):
        pytest.skip(f"{method} {rule} is not served (yet)")
    policy = POLICY[(rule, method)]
    problems = []
    for variant in (OWN, OTHER):
        for caller in CALLERS:
            url, values = world.fill(rule, variant)
            resp, sent = world.call(policy, caller, method, url, values)
            wrong = verdict(
                policy, caller, variant, method, resp.status_code, resp.headers.get("Location", "")
            )
            if wrong:
                problems.append(f"{caller} {method} {url} ({variant}): {wrong}")
            text = resp.get_data(as_text=True) if not resp.is_streamed else ""
            markers = world.document_markers if caller in ADMINS else world.markers
            leaked = [m for m in markers if m in text and m not in sent]
            if leaked:
                problems.append(f"{caller} {method} {url} ({variant}): leaks {leaked}")
    assert not problems, "\n".join(problems)


def test_unsafe_requests_need_the_csrf_token(world: World) -> None:
    """A logged-in browser session without the CSRF token: pages answer 400, the API 403,
    and nothing is done."""
    from tests.support.apps import archive_counts

    ws = world.app.extensions["wenshu"]
    before = archive_counts(ws)
    problems = []
    for rule, method in map_rules(world.app):
        policy = POLICY.get((rule, method))
        if method in ("GET",) or policy is None or rule in ("/login",):
            continue
        client, _csrf_token = world.session("sysadmin")
        url, values = world.fill(rule, OWN)
        if policy.query:
            url += "?" + policy.query.format(**values)
        body = policy.body(values) if policy.body else {}
        if "json" in body:
            resp = client.open(url, method=method, json=body["json"])
        else:
            resp = client.open(url, method=method, data=body.get("form") or {})
        want = 400 if policy.kind in ("page", "public") else 403
        if resp.status_code != want:
            problems.append(f"{method} {url}: {resp.status_code}, want {want}")
    assert not problems, "\n".join(problems)
    assert archive_counts(ws) == before
