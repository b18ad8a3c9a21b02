"""Who may open which page, CSRF on every form, HTML error pages and the security headers."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, g, make_response, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from archive.errors import WenshuError
from archive.models import Org
from schemas.masking import mask_identifiers
from service import policy
from service.doctypes import DOCTYPES
from service.http import denials
from service.http import session as web_auth
from service.http.errors import STATUS, error_body
from service.http.state import wenshu
from service.http.web.blueprint import bp
from service.labels import ROLE_LABELS
from service.workflows.accounts import Principal

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

#: The navigation: (endpoint, label, actions whose holders see it, endpoints under it).
NAV = (
    ("web.home", "工作台", ("documents.read",), ("web.home", "web.account")),
    ("web.drafts", "待办", ("drafts.write", "drafts.approve"), ("web.drafts", "web.draft")),
    ("web.new_document", "新建文书", ("drafts.write",), ("web.new_document", "web.document_form")),
    (
        "web.documents",
        "文书",
        ("documents.read",),
        ("web.documents", "web.document", "web.dispatch_register"),
    ),
    ("web.search", "检索", ("documents.read",), ("web.search",)),
    ("web.cases", "案件", ("documents.read",), ("web.cases", "web.case")),
    ("web.audit", "审计", ("audit.read",), ("web.audit",)),
    ("web.admin_users", "管理", ("admin.read",), ("web.admin_users", "web.admin_orgs")),
    ("web.admin_trail", "管理日志", ("admin.trail",), ("web.admin_trail",)),
)


CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "frame-src 'self' blob:",
        "object-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    )
)


def may(who: Principal | None, action: str, *, issuers: Collection[str] | None = None) -> bool:
    """Whether the logged-in user may do ``action`` (the policy table; no user: no)."""
    return who is not None and policy.may(who.role, action, issuers=issuers)


def page(*actions: str) -> Callable[[F], F]:
    """A page for logged-in users allowed any of ``actions`` (none: every logged-in user): the
    login page if nobody is logged in, else 403. A user who must set a new password first is
    sent to the account page."""

    def wrap(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            who = web_auth.session_principal(wenshu())
            if who is None:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if who.must_change_password and request.endpoint != "web.account":
                return redirect(url_for("web.account"))
            if actions and not any(may(who, a) for a in actions):
                abort(403)  # recorded by _http_error (the session's user is in g.web_principal)
            g.principal = who  # the JSON API's auth.current() reads the same
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return wrap


def me() -> Principal:
    who: Principal = g.principal
    return who


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only."""
    if not target:
        return url_for("web.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return url_for("web.home")
    return target


@bp.before_request
def _csrf() -> Any:
    if request.method in web_auth.SAFE_METHODS or web_auth.csrf_ok():
        return None
    if request.endpoint == "web.login":  # the login page sat open past its session: try again
        error = "页面已过期，请重新输入用户名和密码"
        name = request.form.get("name", "")
        return render_template(
            "login.html", next=request.form.get("next"), name=name, error=error
        ), 400
    abort(400)


@bp.after_request
def _headers(resp: Any) -> Any:
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    if resp.mimetype == "text/html":
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp


@bp.app_context_processor
def _context() -> dict[str, Any]:
    who = g.get("principal") if g else None
    nav = [
        {"url": url_for(ep), "label": label, "active": request.endpoint in under}
        for ep, label, actions, under in NAV
        if any(may(who, a) for a in actions)
    ]
    return {
        "who": who,
        "nav": nav,
        "role_label": ROLE_LABELS,
        "csrf_token": web_auth.csrf_token,
        "may": lambda action: may(who, action),
        "asset": _asset,
        "doctypes": DOCTYPES,
        "timezone": str(wenshu().tz),
        "org_name": lambda code: _org_name(code),
    }


def _org_name(code: str | None) -> str:
    """The bureau's name where a person reads an org (the code where none is known)."""
    if not code:
        return ""
    names = g.setdefault("org_names", {})
    if code not in names:
        with wenshu().db.read() as s:
            names[code] = s.scalar(select(Org.name).where(Org.code == code)) or code
    return str(names[code])


@bp.app_template_filter("local")
def _local(at: Any, fmt: str | None = None) -> str:
    """A stored (UTC) datetime as the bureau's local time: ``2026年12月2日 02:17`` in text
    (the one format of every page), or ``fmt`` (ISO for inputs and ``<time datetime>``)."""
    if at is None:
        return ""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    local = wenshu().local_time(at)
    if fmt is None:
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return str(local.strftime(fmt))


@bp.app_template_filter("masked")
def _masked(text: str | None) -> str:
    """Text shown in a page (a title, a case name) with any 身份证号 or 信用代码 in it masked."""
    return mask_identifiers(text or "")


def _asset(filename: str) -> str:
    """A static file's URL with its modification time, so browsers never run stale code."""
    folder = bp.static_folder or ""
    try:
        version = int(os.path.getmtime(os.path.join(folder, filename)))
    except OSError:
        version = 0
    return url_for("web.static", filename=filename, v=version)


MESSAGES = {
    400: ("请求无效", "表单已过期或来源不明，请刷新页面后重试。"),
    403: ("无权访问", "您的角色无权打开此页面或执行此操作。如需权限，请联系管理员。"),
    404: ("未找到", "您要找的页面或文书不存在，或不属于您的机构。"),
    405: ("不支持的操作", "此页面不接受这种请求。"),
    409: ("操作冲突", ""),
    413: ("内容过大", "上传或提交的内容超过了大小限制。"),
    422: ("输入有误", ""),
    500: ("服务器内部错误", "错误已记录，请稍后重试或联系管理员。"),
    503: ("服务暂时不可用", "文档转换服务繁忙或未就绪，请稍后重试。"),
}


def error_page(status: int, detail: str = "") -> Any:
    title, text = MESSAGES.get(status, ("出错了", ""))
    html = render_template("error.html", status=status, title=title, text=detail or text)
    return html, status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    if exc.code == 403:
        denials.record("role", MESSAGES[403][1])
    return error_page(exc.code or 500)  # werkzeug's descriptions are English: ours instead


@bp.errorhandler(WenshuError)
def _wenshu_error(exc: WenshuError) -> Any:
    denials.refused(exc)
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)
    if status >= 500:
        log.error("%s: %s", type(exc).__name__, exc.message)
    return error_page(status, exc.message)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Any:
    log.exception("unexpected error on a web page")
    return error_page(500)


def init_app(app: Flask) -> None:
    @app.errorhandler(404)
    def _not_found(exc: HTTPException) -> Any:
        """Unknown paths: a page for people, the JSON error body for API clients."""
        if request.path.startswith("/api/") or not request.accept_mimetypes.accept_html:
            return error_body(404, "not_found", "未找到")
        who = web_auth.session_principal(wenshu())
        if who is not None:
            g.principal = who
        return _headers(make_response(error_page(404)))
