"""管理 (the three administrators): users, roles and password resets; orgs, their settings and
certificates; the administrators' trail. Who may do which: ``service/policy.py``."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from archive.errors import ConflictError, Forbidden, NotFoundError, ValidationError
from archive.models import Org
from service import policy
from service.doctypes import DOCTYPES
from service.documents.seal import make_seal_png
from service.http.api.orgs import DOCX_TYPE, SEAL_ACTION, TEMPLATE_ACTION
from service.http.state import wenshu
from service.http.web.blueprint import bp
from service.http.web.guard import may, me, page
from service.labels import ACTIONS
from service.workflows import accounts
from service.workflows.accounts import logins
from service.workflows.accounts.admin_trail import read_trail as admin_trail_events
from service.workflows.accounts.names import canonical_name
from service.workflows.accounts.passwords import temporary_password
from service.workflows.files import seal_preview, seals, template_preview, templates
from service.workflows.org_settings import EDITABLE, cert_info, import_pkcs12, update_org

DOMAIN_ERRORS = (ValidationError, ConflictError, NotFoundError)


def _orgs() -> list[Org]:
    with wenshu().db.read() as s:
        return list(s.scalars(select(Org).order_by(Org.code)))


@bp.get("/admin/users")
@page("admin.read")
def admin_users() -> Any:
    return _users_page()


def _users_page(handed: tuple[str, str] | None = None) -> Any:
    """The users page; ``handed``: a (name, temporary password) to show this once."""
    ws, who = wenshu(), me()
    return render_template(
        "admin_users.html",
        users=logins.list_users(ws, who),
        orgs=_orgs(),
        roles=policy.BUSINESS_ROLES,
        handed=handed,
    )


@bp.post("/admin/users")
@page("users.manage")
def admin_add_user() -> Any:
    """A new account of a business role. With web login it gets a temporary password, shown
    once, which opens only the page where the person sets their own; its API token is made
    on the server (``wenshu user-token``), never shown here."""
    ws, who = wenshu(), me()
    f = request.form
    password = temporary_password() if f.get("web_login") else None
    role = f.get("role", "")
    try:
        if role not in policy.BUSINESS_ROLES:
            raise ValidationError(
                "网页上只能新建业务角色的用户", errors={"role": ["只能是业务角色"]}
            )
        accounts.add_user(
            ws,
            name=f.get("name", ""),
            role=role,
            org_code=f.get("org", ""),
            actor=who.name,
            password=password,
            must_change=True,
            full_name=f.get("full_name", ""),
        )
    except DOMAIN_ERRORS as exc:
        flash(f"未能新建用户：{exc.message}", "error")
        return redirect(url_for("web.admin_users"))
    name = canonical_name(f.get("name", ""))
    flash(f"用户 {name} 已创建。", "ok")
    return _users_page((name, password) if password else None)


#: action of the users page → the permission it needs
USER_ACTIONS = {
    "role": "users.roles",
    "password": "users.roles",
    "enable": "users.manage",
    "disable": "users.manage",
}


@bp.post("/admin/users/<int:user_id>")
@page("users.manage", "users.roles")
def admin_update_user(user_id: int) -> Any:
    ws, who = wenshu(), me()
    action = request.form.get("action", "")
    if action not in USER_ACTIONS:
        abort(400)
    if not may(who, USER_ACTIONS[action]):
        abort(403)
    try:
        if action == "role":
            logins.update_user(ws, who, user_id, role=request.form.get("role", ""))
            flash("已修改角色。", "ok")
        elif action == "password":
            handed = logins.reset_password(ws, who, user_id)
            flash(f"已为 {handed[0]} 重置密码，其原有登录已失效。", "ok")
            return _users_page(handed)
        else:
            logins.update_user(ws, who, user_id, active=action == "enable")
            flash(f"已{'启用' if action == 'enable' else '停用'}用户。", "ok")
    except (*DOMAIN_ERRORS, Forbidden) as exc:
        flash(exc.message, "error")
    return redirect(url_for("web.admin_users"))


@bp.get("/admin/trail")
@page("admin.trail")
def admin_trail() -> Any:
    """The administrators' trail: every one of the three reads what the others did."""
    before = request.args.get("before", type=int)
    events = admin_trail_events(wenshu(), me(), before_seq=before)
    return render_template("admin_trail.html", events=events, action_label=ACTIONS)


@bp.get("/admin/orgs")
@page("admin.read")
def admin_orgs() -> Any:
    orgs = _orgs()
    code = request.args.get("org") or (orgs[0].code if orgs else None)
    org = next((o for o in orgs if o.code == code), None)
    if code and org is None:
        abort(404)
    history = []
    versions: dict[str, list[templates.TemplateVersion]] = {}
    if org:
        with wenshu().db.read() as s:
            history = seals.seal_history(s, org)
        versions = {c: templates.list_versions(wenshu(), org.code, c) for c in DOCTYPES}
    return render_template(
        "admin_orgs.html",
        orgs=orgs,
        org=org,
        editable=EDITABLE,
        cert=cert_info(org.cert_pem, org.cert_is_test) if org else None,
        seal_history=history,
        drawn_label=seals.DRAWN_LABEL,
        doctypes=DOCTYPES,
        template_versions=versions,
    )


@bp.post("/admin/orgs")
@page("orgs.manage")
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
@page("orgs.manage")
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
@page("orgs.certificates")
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
@page("admin.read")
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


# ----------------------------------------------------------------------------- templates


@bp.get("/admin/orgs/<code>/templates/<doctype>/<sha256>.docx")
@page("admin.read")
def admin_template_file(code: str, doctype: str, sha256: str) -> Any:
    """A version of the template, to edit in Word or WPS and upload again."""
    try:
        data = templates.version_bytes(wenshu(), code, doctype, sha256)
    except NotFoundError:
        abort(404)
    return Response(
        data,
        mimetype=DOCX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{doctype}.docx"'},
    )


@bp.post("/admin/orgs/<code>/templates/<doctype>")
@page(TEMPLATE_ACTION)
def admin_upload_template(code: str, doctype: str) -> Any:
    """Check and keep a version (not yet used): every problem of the check is listed."""
    upload = request.files.get("file")
    data = upload.read(templates.MAX_TEMPLATE_BYTES + 1) if upload else b""
    try:
        version = templates.upload_template(
            wenshu(), me(), code, doctype, data, (upload.filename or "") if upload else ""
        )
    except DOMAIN_ERRORS as exc:
        problems = [m for ms in exc.errors.values() for m in ms]
        label = DOCTYPES[doctype].label if doctype in DOCTYPES else doctype
        flash(f"未能上传{label}模板：" + ("；".join(problems) or exc.message), "error")
    else:
        flash(
            f"模板已上传（SHA-256 {version.sha256[:16]}…）：请先预览示例文书，确认无误后启用。",
            "ok",
        )
    return redirect(url_for("web.admin_orgs", org=code, _anchor="templates"))


@bp.get("/admin/orgs/<code>/templates/<doctype>/<sha256>/preview")
@page(TEMPLATE_ACTION)
def admin_template_preview(code: str, doctype: str, sha256: str) -> Any:
    """The type's sample rendered with the version (草稿), before it is activated."""
    try:
        pdf = template_preview.preview_version(wenshu(), code, doctype, sha256)
    except DOMAIN_ERRORS as exc:
        flash(f"未能预览模板：{exc.message}", "error")
        return redirect(url_for("web.admin_orgs", org=code, _anchor="templates"))
    return Response(pdf, mimetype="application/pdf")


@bp.post("/admin/orgs/<code>/templates/<doctype>/<sha256>/activate")
@page(TEMPLATE_ACTION)
def admin_activate_template(code: str, doctype: str, sha256: str) -> Any:
    try:
        version = templates.activate_template(wenshu(), me(), code, doctype, sha256)
    except DOMAIN_ERRORS as exc:
        flash(f"未能启用模板：{exc.message}", "error")
    else:
        which = "系统默认模板" if version.default else f"模板 {version.sha256[:16]}…"
        flash(f"已启用{which}：此后签发的文书用它生成，已签发的文书不变。", "ok")
    return redirect(url_for("web.admin_orgs", org=code, _anchor="templates"))
