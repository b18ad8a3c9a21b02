"""检索: the search form; the browser asks GET /api/v1/search and draws the hits."""

from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import select

from archive.models import Org
from service.doctypes import DOCTYPES
from service.http.state import wenshu
from service.http.web.blueprint import bp
from service.http.web.guard import me, page
from service.workflows.cases import list_cases


@bp.get("/search")
@page("documents.read")
def search() -> Any:
    ws, who = wenshu(), me()
    with ws.db.read() as s:
        q = select(Org).order_by(Org.code).where(Org.code == who.org_code)
        orgs = [(o.code, o.name) for o in s.scalars(q)]
    cases = list_cases(ws, who, page=1, per_page=100)["items"]
    return render_template("search.html", types=DOCTYPES, orgs=orgs, cases=cases)
