"""Authentication (Bearer token, or the web login session) and the role/org checks every
endpoint makes."""

from __future__ import annotations

from collections.abc import Collection

from flask import Flask, g, request

from archive.errors import Forbidden, Unauthorized
from service import policy
from service.http import session as web_auth
from service.http.state import wenshu
from service.workflows.accounts import Principal, principal_for_token

#: API endpoints anyone may read: the API's own description and its assets.
PUBLIC_API_ENDPOINTS = frozenset(
    {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "swagger_ui_asset"}
)


def init_app(app: Flask) -> None:
    """Authenticate every API request before its body is read and its arguments are parsed, so
    an anonymous caller gets 401 whatever it sends — never a 422 describing the input it may
    not submit, nor a 50 MiB chunked upload buffered first (register before ``limits``)."""

    @app.before_request
    def _authenticate_api() -> None:
        if (
            request.path.startswith("/api/")
            and request.endpoint is not None
            and request.endpoint not in PUBLIC_API_ENDPOINTS
        ):
            current()


def current() -> Principal:
    """The caller, or 401. Cached for the request."""
    who = g.get("principal")
    if who is not None:
        return who
    header = request.headers.get("Authorization", "")
    if not header:
        who = _session_caller()
        if who is not None:
            g.principal = who
            return who
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("需要访问令牌：Authorization: Bearer <token>")
    ws = wenshu()
    with ws.db.read() as s:
        who = principal_for_token(s, token.strip(), ws.now())
    if who is None:
        raise Unauthorized("访问令牌无效、已过期或已停用（wenshu user-token 可换发新令牌）")
    g.principal = who
    return who


def require(action: str, *, issuers: Collection[str] | None = None) -> Principal:
    """The caller, who must be allowed ``action`` by the policy table, else 403."""
    who = current()
    if not policy.may(who.role, action, issuers=issuers):
        raise Forbidden(f"角色 {who.role} 无权执行此操作")
    return who


def require_org(who: Principal, org_code: str) -> None:
    if not who.may_see_org(org_code):
        raise Forbidden("无权访问其他机构的文书", reason="org")


def _session_caller() -> Principal | None:
    """The logged-in web user; unsafe methods must carry the session's CSRF token."""
    who = web_auth.session_principal(wenshu())
    if who is not None and who.must_change_password:
        raise Forbidden("请先在“账户”页设置新密码")
    if who is not None and request.method not in web_auth.SAFE_METHODS:
        if not web_auth.csrf_ok():
            raise Forbidden(
                "缺少或错误的 CSRF 令牌（X-CSRF-Token），请刷新页面后重试", reason="csrf"
            )
    return who
