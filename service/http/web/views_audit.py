"""审计 (auditors): chain status and checkpoints, events, numbering gaps, fixity, export and
the PDF report.

The page is drawn by ``static/audit.js`` from the JSON API (``/api/v1/audit/…``,
``/api/v1/numbers/gaps``). The newer audit endpoints (checkpoints, fixity, export, report) are
offered only when this service answers them, so the page also works on a service without them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, render_template

from service.doctypes import DOCTYPES
from service.http.state import wenshu
from service.http.web.blueprint import bp
from service.http.web.guard import page
from service.labels import ACTIONS

#: name → (method, path) of the optional audit endpoints
OPTIONAL = {
    "checkpoints": ("GET", "/api/v1/audit/checkpoints"),
    "checkpoint_now": ("POST", "/api/v1/audit/checkpoints"),
    "fixity_last": ("GET", "/api/v1/audit/fixity"),
    "fixity_run": ("POST", "/api/v1/audit/fixity"),
    "export": ("GET", "/api/v1/audit/export"),
    "report": ("GET", "/api/v1/audit/report"),
}


def available() -> dict[str, str | None]:
    """The optional audit endpoints this service answers, by name (None when absent)."""
    routes = {
        (method, rule.rule)
        for rule in current_app.url_map.iter_rules()
        for method in rule.methods or ()
    }
    return {name: path if (m, path) in routes else None for name, (m, path) in OPTIONAL.items()}


@bp.get("/audit")
@page("audit.read")
def audit() -> Any:
    ws = wenshu()
    today = ws.local_date(ws.now())
    return render_template(
        "audit.html",
        actions=ACTIONS,
        links=available(),
        year=today.year,
        today=today,
        year_start=date(today.year, 1, 1),
        type_labels={code: dt.label for code, dt in DOCTYPES.items()},
    )
