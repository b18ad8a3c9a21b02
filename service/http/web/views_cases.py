"""案件: the list of cases, a new case, and one case with its documents and completeness."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError as SchemaError

from archive.errors import ConflictError, NotFoundError, ValidationError
from schemas.fields import flatten_messages
from service.doctypes import DOCTYPES
from service.http.api.cases import CaseInputSchema
from service.http.state import wenshu
from service.http.web.blueprint import bp
from service.http.web.guard import may, me, page
from service.workflows.cases import REQUIRED, case_detail, create_case, list_cases

PER_PAGE = 20


@bp.get("/cases")
@page("documents.read")
def cases() -> Any:
    ws, who = wenshu(), me()
    page_no = max(1, request.args.get("page", 1, type=int) or 1)
    listing = list_cases(ws, who, page=page_no, per_page=PER_PAGE)
    return render_template(
        "cases.html",
        listing=listing,
        page_no=page_no,
        pages=max(1, -(-listing["total"] // PER_PAGE)),
        may_create=may(who, "cases.create"),
    )


@bp.post("/cases")
@page("cases.create")
def create() -> Any:
    ws, who = wenshu(), me()
    form = {
        "case_no": request.form.get("case_no", "").strip(),
        "title": request.form.get("title", "").strip(),
        "org": who.org_code,
    }
    try:
        body = CaseInputSchema().load(form)
    except SchemaError as exc:
        flash("；".join(flatten_messages(exc.messages).values()), "error")
        return redirect(url_for("web.cases"))
    case_no = body["case_no"]
    try:
        create_case(ws, who, org_code=who.org_code, case_no=case_no, title=body["title"])
    except (ConflictError, ValidationError, NotFoundError) as exc:
        flash(exc.message, "error")
        return redirect(url_for("web.cases"))
    flash(f"案件 {case_no} 已创建。", "ok")
    return redirect(url_for("web.case", case_no=case_no))


@bp.get("/cases/<case_no>")
@page("documents.read")
def case(case_no: str) -> Any:
    ws, who = wenshu(), me()
    detail = case_detail(ws, who, case_no)
    issuable = [dt for dt in DOCTYPES.values() if may(who, "documents.issue", issuers=dt.issuers)]
    return render_template(
        "case.html", c=detail, required=REQUIRED, types=DOCTYPES, issuable=issuable
    )
