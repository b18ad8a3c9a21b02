"""The web pages (Chinese) for clerks, inspectors, auditors and administrators.

One blueprint at "/": server-rendered Jinja2 pages, plain CSS and JavaScript served from
``/assets/`` (nothing from another origin; the Content-Security-Policy says so too). Pages
that need the slow or the structured work — preview, issue, search, the audit checks — call
the JSON API from the browser with the login session and its CSRF token.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)
