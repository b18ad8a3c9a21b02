"""The web pages (Chinese) for clerks, inspectors, auditors and administrators, wired into the app.

One blueprint at "/": server-rendered Jinja2 pages, plain CSS and JavaScript served from
``/assets/`` (nothing from another origin; the Content-Security-Policy says so too). Pages
that need the slow or the structured work — preview, issue, search, the audit checks — call
the JSON API from the browser with the login session and its CSRF token.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from service.http import session
from service.http.session import SESSION_LIFETIME

# the pages register themselves on ``bp`` when imported
from service.http.web import (  # noqa: F401
    guard,
    views_admin,
    views_audit,
    views_auth,
    views_cases,
    views_documents,
    views_drafts,
    views_registers,
    views_search,
)
from service.http.web.blueprint import bp


def init_app(app: Flask) -> None:
    # Flask ships defaults for these keys, so they are set, not defaulted.
    app.config["SESSION_COOKIE_NAME"] = "wenshu_session"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = app.extensions["wenshu"].settings.web.cookie_secure
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME
    session.init_app(app)
    app.register_blueprint(bp)
    guard.init_app(app)

    @app.get("/favicon.ico")
    def favicon() -> Any:
        return bp.send_static_file("favicon.svg")
