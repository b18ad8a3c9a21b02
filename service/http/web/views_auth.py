"""Login, logout, the workbench (首页) and one's own password."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for

from archive.errors import ValidationError
from service.doctypes import DOCTYPES
from service.http import session as web_auth
from service.http.state import wenshu
from service.http.web.blueprint import bp
from service.http.web.guard import may, me, page, safe_next
from service.workflows import accounts, records
from service.workflows.accounts import logins


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    ws = wenshu()
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if web_auth.session_principal(ws) is not None:
            return redirect(target)
        return render_template("login.html", next=target, name="")
    name = request.form.get("name", "")
    result = logins.authenticate(
        ws, name, request.form.get("password", ""), remote_addr=request.remote_addr
    )
    if result.principal is None:
        status = 429 if result.throttled else 401
        return render_template("login.html", next=target, name=name, error=result.error), status
    web_auth.start_session(result)
    return redirect(target)


@bp.post("/logout")
def logout() -> Any:
    web_auth.end_session(wenshu())
    flash("您已退出登录。", "ok")
    return redirect(url_for("web.login"))


@bp.get("/")
@page()
def home() -> Any:
    ws, who = wenshu(), me()
    if not may(who, "documents.read"):  # an administrator: their own pages
        return redirect(url_for("web.admin_users" if may(who, "admin.read") else "web.admin_trail"))
    total, recent = records.listing(ws, who, type=None, case_no=None, org=None, page=1, per_page=8)
    issuable = [dt for dt in DOCTYPES.values() if may(who, "drafts.write", issuers=dt.issuers)]
    labels = {dt.code: dt.label for dt in DOCTYPES.values()}
    return render_template(
        "home.html", total=total, recent=recent, issuable=issuable, type_labels=labels
    )


@bp.route("/account", methods=["GET", "POST"])
@page()
def account() -> Any:
    ws, who = wenshu(), me()
    errors: dict[str, str] = {}
    if request.method == "POST":
        old, new = request.form.get("old", ""), request.form.get("new", "")
        if new != request.form.get("confirm", ""):
            errors["confirm"] = "两次输入的新密码不一致"
        else:
            check = logins.authenticate(ws, who.name, old, remote_addr=request.remote_addr)
            if check.principal is None:
                errors["old"] = check.error or logins.BAD_LOGIN
        if not errors:
            try:
                accounts.set_password(ws, name=who.name, password=new, actor=who.name)
            except ValidationError as exc:
                errors["new"] = exc.message
            else:
                # the new password ended every session, this one too: start a fresh one
                web_auth.renew_session(ws, who)
                flash("密码已修改，其他设备上的登录已失效。", "ok")
                return redirect(url_for("web.home" if who.must_change_password else "web.account"))
    g.principal = who
    return render_template("account.html", errors=errors), 422 if errors else 200
