"""新建文书 (choose a type) and the document pages; the form itself is a draft's page
(``views_drafts.py``)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError as SchemaError

from archive.errors import ConflictError, ValidationError
from service.doctypes import DOCTYPES
from service.http.api.documents import document_filter
from service.http.api.schemas import DocumentListQuerySchema
from service.http.state import wenshu
from service.http.web.blueprint import bp
from service.http.web.guard import may, me, page
from service.labels import RETENTION
from service.workflows import records
from service.workflows.lists.documents import STATUSES


@bp.get("/documents/new")
@page("drafts.write")
def new_document() -> Any:
    who = me()
    types = [dt for dt in DOCTYPES.values() if may(who, "drafts.write", issuers=dt.issuers)]
    return render_template("new_choose.html", types=types)


PAGE_SIZES = (20, 50, 100)


@bp.get("/documents")
@page("documents.read")
def documents() -> Any:
    """The 文书 list: the filters live in the address, so a list can be bookmarked and shared."""
    ws, who = wenshu(), me()
    errors: dict[str, list[str]] = {}
    try:
        args = DocumentListQuerySchema().load(
            {k: v for k, v in request.args.items() if v != "" and k != "format"}
        )
        flt = document_filter(args)
    except SchemaError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"q": exc.messages}
        errors = {k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}
    except ValidationError as exc:
        errors = dict(exc.errors or {"q": [exc.message]})
    views: list[records.DocumentView] = []
    total, per_page, page_no = 0, PAGE_SIZES[0], 1
    if not errors:
        per_page = args["per_page"] if args["per_page"] in PAGE_SIZES else PAGE_SIZES[0]
        page_no = args["page"]
        try:
            total, views = records.listing(
                ws,
                who,
                type=None,
                case_no=None,
                org=None,
                page=page_no,
                per_page=per_page,
                signed_copy=args["signed_copy"],
                flt=flt,
            )
        except ValidationError as exc:
            errors = dict(exc.errors or {"q": [exc.message]})
    query = {k: v for k, v in request.args.items() if v and k not in ("page", "format")}
    return render_template(
        "documents.html",
        views=views,
        total=total,
        page_no=page_no,
        pages=max(1, -(-total // per_page)),
        per_page=per_page,
        page_sizes=PAGE_SIZES,
        f=request.args,
        query=query,
        errors=errors,
        types=DOCTYPES,
        statuses=STATUSES,
    )


@bp.get("/documents/<doc_id>")
@page("documents.read")
def document(doc_id: str) -> Any:
    ws, who = wenshu(), me()
    view = records.load(ws, who, doc_id)
    records.record_read(ws, who, "document.view", view)
    dt = DOCTYPES[view.doc.type]
    return render_template(
        "document.html",
        v=view,
        dt=dt,
        retention=RETENTION.get(view.doc.retention, view.doc.retention),
        may_issue=may(who, "documents.issue", issuers=dt.issuers)
        and who.may_see_org(view.org.code),
        just_issued=request.args.get("issued") == "1",
        signed_copy=records.signed_copy_json(ws, view, "/api/v1/documents"),
        may_upload=may(who, "signed_copies.upload") and who.may_see_org(view.org.code),
        may_review=may(who, "signed_copies.review") and who.may_see_org(view.org.code),
        max_upload_mib=ws.settings.limits.max_upload_bytes // (1024 * 1024),
    )


@bp.post("/documents/<doc_id>/withdraw")
@page("documents.issue")
def withdraw(doc_id: str) -> Any:
    ws, who = wenshu(), me()
    view = records.load(ws, who, doc_id)
    if not may(who, "documents.issue", issuers=DOCTYPES[view.doc.type].issuers):
        abort(403)
    reason = request.form.get("reason", "").strip()
    if not 2 <= len(reason) <= 2000:
        flash("请填写作废理由（2–2000 字）。", "error")
    else:
        try:
            records.withdraw(ws, who, view, reason)
        except ValidationError as exc:
            details = "；".join(m for ms in (exc.errors or {}).values() for m in ms)
            flash(f"{exc.message}：{details}" if details else exc.message, "error")
        except ConflictError as exc:
            flash(exc.message, "error")
        else:
            ws.index_soon()
            flash("文书已作废；文书与文号保留并标注作废。", "ok")
    return redirect(url_for("web.document", doc_id=doc_id))
