"""管理 (administrators): users and roles, passwords and lockouts; orgs and their settings."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from archive.errors import ConflictError, NotFoundError, ValidationError
from archive.models import Org
from service import policy
from service.documents.seal import make_seal_png
from service.http.api.orgs import SEAL_ACTION
from service.http.state import wenshu
from service.http.web.blueprint import bp
from service.http.web.guard import me, page
from service.workflows import accounts, logins
from service.workflows.files import seal_preview, seals
from service.workflows.org_settings import EDITABLE, cert_info, import_pkcs12, update_org

DOMAIN_ERRORS = (ValidationError, ConflictError, NotFoundError)


def _orgs() -> list[Org]:
    with wenshu().db.read() as s:
        return list(s.scalars(select(Org).order_by(Org.code)))


@bp.get("/admin/users")
@page("admin.users")
def admin_users() -> Any:
    ws, who = wenshu(), me()
    return render_template(
        "admin_users.html",
        users=logins.list_users(ws, who),
        orgs=_orgs(),
        roles=policy.ROLES,
        token=None,
    )


@bp.post("/admin/users")
@page("admin.users")
def admin_add_user() -> Any:
    ws, who = wenshu(), me()
    f = request.form
    password = f.get("password") or None
    try:
        token = accounts.add_user(
            ws,
            name=f.get("name", "").strip(),
            role=f.get("role", ""),
            org_code=f.get("org", ""),
            actor=who.name,
            password=password,
        )
    except DOMAIN_ERRORS as exc:
        flash(f"未能新建用户：{exc.message}", "error")
        return redirect(url_for("web.admin_users"))
    flash(f"用户 {f.get('name', '').strip()} 已创建。", "ok")
    return render_template(
        "admin_users.html",
        users=logins.list_users(ws, who),
        orgs=_orgs(),
        roles=policy.ROLES,
        token=(f.get("name", "").strip(), token),
    )


@bp.post("/admin/users/<name>")
@page("admin.users")
def admin_update_user(name: str) -> Any:
    ws, who = wenshu(), me()
    action = request.form.get("action")
    try:
        if action == "role":
            logins.update_user(ws, who, name, role=request.form.get("role", ""))
            flash(f"已修改 {name} 的角色。", "ok")
        elif action in ("enable", "disable"):
            logins.update_user(ws, who, name, active=action == "enable")
            flash(f"已{'启用' if action == 'enable' else '停用'} {name}。", "ok")
        elif action == "unlock":
            logins.update_user(ws, who, name, unlock=True)
            flash(f"已解锁 {name}。", "ok")
        elif action == "password":
            accounts.set_password(
                ws, name=name, password=request.form.get("password", ""), actor=who.name
            )
            flash(f"已为 {name} 设置新密码，其原有登录已失效。", "ok")
        else:
            abort(400)
    except DOMAIN_ERRORS as exc:
        flash(f"{name}：{exc.message}", "error")
    return redirect(url_for("web.admin_users"))


@bp.get("/admin/orgs")
@page("admin.users")
def admin_orgs() -> Any:
    orgs = _orgs()
    code = request.args.get("org") or (orgs[0].code if orgs else None)
    org = next((o for o in orgs if o.code == code), None)
    if code and org is None:
        abort(404)
    history = []
    if org:
        with wenshu().db.read() as s:
            history = seals.seal_history(s, org)
    return render_template(
        "admin_orgs.html",
        orgs=orgs,
        org=org,
        editable=EDITABLE,
        cert=cert_info(org.cert_pem, org.cert_is_test) if org else None,
        seal_history=history,
        drawn_label=seals.DRAWN_LABEL,
    )


@bp.post("/admin/orgs")
@page("admin.users")
def admin_add_org() -> Any:
    f = request.form
    try:
        org = accounts.add_org(
            wenshu(),
            code=f.get("code", "").strip(),
            name=f.get("name", "").strip(),
            zihao=f.get("zihao", "").strip(),
            region=f.get("region", "").strip(),
            actor=me().name,
        )
    except DOMAIN_ERRORS as exc:
        flash(f"未能新建机构：{exc.message}", "error")
        return redirect(url_for("web.admin_orgs"))
    flash(f"机构 {org.name} 已创建（测试证书）。", "ok")
    return redirect(url_for("web.admin_orgs", org=org.code))


@bp.post("/admin/orgs/<code>")
@page("admin.users")
def admin_update_org(code: str) -> Any:
    try:
        changed = update_org(wenshu(), me(), code, dict(request.form))
    except DOMAIN_ERRORS as exc:
        details = "；".join(f"{m}" for ms in exc.errors.values() for m in ms)
        flash(f"{exc.message}：{details}" if details else exc.message, "error")
    else:
        flash("机构设置已保存。" if changed else "没有改动。", "ok")
    return redirect(url_for("web.admin_orgs", org=code))


@bp.post("/admin/orgs/<code>/certificate")
@page("admin.users")
def admin_certificate(code: str) -> Any:
    upload = request.files.get("p12")
    data = upload.read(1024 * 1024) if upload else b""
    try:
        info = import_pkcs12(wenshu(), me(), code, data, request.form.get("password", ""))
    except DOMAIN_ERRORS as exc:
        flash(exc.message, "error")
    else:
        flash(f"签章证书已更换：{info.subject}", "ok")
    return redirect(url_for("web.admin_orgs", org=code))


@bp.get("/admin/orgs/<code>/seal.png")
@page("admin.users")
def admin_seal(code: str) -> Any:
    """The seal the org seals with: its uploaded one, else the drawn test seal."""
    org = next((o for o in _orgs() if o.code == code), None)
    if org is None:
        abort(404)
    with wenshu().db.read() as s:
        history = seals.seal_history(s, org)
    if history:
        return Response(wenshu().blobs.get(history[0].sha256), mimetype="image/png")
    return Response(make_seal_png(org.seal_text, size_px=300), mimetype="image/png")


def _seal_file() -> bytes:
    upload = request.files.get("file")
    return upload.read(wenshu().settings.limits.max_seal_bytes + 1) if upload else b""


@bp.post("/admin/orgs/<code>/seal")
@page(SEAL_ACTION)
def admin_set_seal(code: str) -> Any:
    try:
        digest = seals.set_seal(wenshu(), me(), code, _seal_file())
    except DOMAIN_ERRORS as exc:
        flash(f"未能更换印章：{exc.message}", "error")
    else:
        flash(f"印章已启用（SHA-256 {digest[:16]}…），此后签发的文书盖此印章。", "ok")
    return redirect(url_for("web.admin_orgs", org=code))


@bp.post("/admin/orgs/<code>/seal/preview")
@page(SEAL_ACTION)
def admin_seal_preview(code: str) -> Any:
    """The sample notice with the chosen seal, before it is taken on (nothing is stored)."""
    try:
        pdf = seal_preview.preview_seal(wenshu(), me(), code, _seal_file())
    except DOMAIN_ERRORS as exc:
        flash(f"未能预览印章：{exc.message}", "error")
        return redirect(url_for("web.admin_orgs", org=code))
    return Response(pdf, mimetype="application/pdf")
