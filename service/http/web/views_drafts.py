"""拟稿 and 签发 in the browser: the work list (待办, 我的草稿, 已办) and the page of one draft.

A new document starts as a draft: ``/documents/new/<type>`` draws the empty form, and the first
change saves it on the server (``POST /api/v1/drafts``), after which the page is the draft's,
``/drafts/<id>``. The pages draw the form and say who may do what; the draft itself — its
data, state, history and versions — is read and changed through the JSON API from the
browser (``static/draft.js``, ``static/drafts.js``), so the page and the API cannot disagree.
"""

from __future__ import annotations

import json
from typing import Any

from flask import abort, render_template, request
from sqlalchemy import select

from archive.models import Org
from service.doctypes import DOCTYPES, DocType, get_doctype
from service.http.state import wenshu
from service.http.web.blueprint import bp
from service.http.web.formspec import form_spec
from service.http.web.guard import may, me, page
from service.workflows import drafts as drafts_flow
from service.workflows import records
from service.workflows.cases import list_cases


@bp.get("/drafts")
@page("drafts.write", "drafts.approve")
def drafts() -> Any:
    return render_template("drafts.html", type_labels=type_labels())


def type_labels() -> dict[str, str]:
    """Each type's name, for the lists drawn in the browser."""
    return {dt.code: dt.label for dt in DOCTYPES.values()}


@bp.get("/documents/new/<doctype>")
@page("drafts.write")
def document_form(doctype: str) -> Any:
    ws, who = wenshu(), me()
    dt = get_doctype(doctype)
    if dt is None:
        abort(404)
    if not may(who, "drafts.write", issuers=dt.issuers):
        abort(403)
    initial, original = None, None
    supersedes = request.args.get("supersedes")
    if supersedes:
        original = records.load(ws, who, supersedes)
        if original.doc.type != dt.code:
            abort(404)
        # The form shows the whole input record of the original: reading it is an event.
        records.record_read(ws, who, "document.view", original, {"for": "correction"})
        record = json.loads(ws.blobs.get(original.doc.input_sha256))
        initial = record.get("data")
    case_no = request.args.get("case_no") or (original.doc.case_no if original else None)
    return _form_page(
        dt, draft_id=None, org=who.org_code, case_no=case_no, original=original, initial=initial
    )


@bp.get("/drafts/<draft_id>")
@page("drafts.read")
def draft(draft_id: str) -> Any:
    # another org's draft is as absent as a missing one (404, from the use case)
    view = drafts_flow.read(wenshu(), me(), draft_id)
    dt = get_doctype(view.draft.type)
    if dt is None:
        abort(404)
    return _form_page(dt, draft_id=draft_id, org=view.org.code, case_no=view.draft.case_no)


def _form_page(
    dt: DocType,
    *,
    draft_id: str | None,
    org: str,
    case_no: str | None,
    original: Any = None,
    initial: dict[str, Any] | None = None,
) -> Any:
    ws, who = wenshu(), me()
    with ws.db.read() as s:
        q = select(Org).order_by(Org.code).where(Org.code == (org if draft_id else who.org_code))
        orgs = [(o.code, o.name) for o in s.scalars(q)]
    cases = list_cases(ws, who, page=1, per_page=100)["items"]
    if case_no and all(c["case_no"] != case_no for c in cases):
        cases = [{"case_no": case_no, "title": ""}, *cases]
    may_issue = may(who, "documents.issue", issuers=dt.issuers)
    return render_template(
        "draft.html",
        dt=dt,
        spec=form_spec(dt),
        sample=dt.sample_input(),
        initial=initial,
        original=original,
        orgs=orgs,
        org=org,
        cases=cases,
        case_no=case_no,
        draft_id=draft_id,
        needs_approval=dt.needs_approval_in(ws.settings.approval),
        may_draft=may(who, "drafts.write", issuers=dt.issuers),
        may_approve=may(who, "drafts.approve"),
        may_issue=may_issue,
        may_preview=may(who, "documents.preview", issuers=dt.issuers),
    )
