"""发文登记簿: every 发文字号 of the org's year in order, with its spreadsheet."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from service.http.state import wenshu
from service.http.web.blueprint import bp
from service.http.web.guard import me, page
from service.workflows.lists import registers


@bp.get("/registers/dispatch")
@page("documents.read")
def dispatch_register() -> Any:
    ws, who = wenshu(), me()
    this_year = ws.local_date(ws.now()).year
    year = request.args.get("year", this_year, type=int) or this_year
    if not 2000 <= year <= 2100:
        year = this_year
    register = registers.dispatch(ws, who, who.org_code, year)
    return render_template(
        "registers_dispatch.html",
        register=register,
        year=year,
        years=list(range(this_year, this_year - 6, -1)),
    )
