"""The Flask application factory: wires the settings, the ``Wenshu`` container and every blueprint."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import Flask, send_from_directory
from werkzeug.middleware.proxy_fix import ProxyFix

from service.http import auth, denials, errors, headers, limits, logs, metrics
from service.http.api import (
    audit,
    cases,
    doctypes,
    documents,
    drafts,
    orgs,
    registers,
    search,
    uploads,
)
from service.http.web import pages
from service.settings import load_settings
from service.wiring import Wenshu
from service.workers.indexing import attach_indexing

#: Flask's and flask-smorest's own settings (not the service's: those are service/settings.py).
FLASK_CONFIG: dict[str, Any] = {
    "API_TITLE": "Wenshu 文书",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/v1/static/swagger-ui/",
    "JSON_AS_ASCII": False,
}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    settings = load_settings(test_config)
    app = Flask(__name__)
    app.config.update(FLASK_CONFIG)
    app.config.update(
        SECRET_KEY=settings.web.secret_key or _secret_key(settings.paths.data),
        MAX_CONTENT_LENGTH=settings.limits.max_body_bytes,
        TESTING=settings.testing,
        **settings.extra,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if proxies := settings.accounts.trusted_proxies:  # the client's address and scheme
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    logs.init_app(app, settings.web.log_format)  # first: every later hook reads its request id
    auth.init_app(app)  # before the body is read: an anonymous caller sends it for nothing
    limits.init_app(app)  # before any other hook reads the body
    metrics.init_app(app)
    headers.init_app(app)
    denials.init_app(app)

    ws = Wenshu(settings)
    attach_indexing(ws)  # documents queued by this process's requests reach the index at once
    app.extensions["wenshu"] = ws

    api = errors.WenshuApi(
        app,
        spec_kwargs={
            "info": {"description": "医保基金监管文书生成与归档服务"},
            "security": [{"bearerAuth": []}],
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "wenshu user-add 给出的访问令牌"},
    )
    errors.init_app(app)  # after Api(): our error body replaces flask-smorest's everywhere
    app.extensions["wenshu_api"] = api
    for blp in (
        doctypes.blp,
        documents.blp,
        uploads.blp,
        drafts.blp,
        cases.blp,
        search.blp,
        audit.blp,
        orgs.blp,
        registers.blp,
    ):
        api.register_blueprint(blp)
    doctypes.register_input_schemas(api)

    @app.get("/api/v1/static/swagger-ui/<path:filename>")
    def swagger_ui_asset(filename: str) -> Any:
        """The API docs' assets, served by the service itself (no CDN)."""
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    pages.init_app(app)
    return app


def _secret_key(data_dir: Any) -> str:
    """A per-installation secret kept in the data dir, so every worker signs sessions alike."""
    path = Path(data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x") as fh:
                fh.write(secrets.token_hex(32))
        except FileExistsError:
            pass
        path.chmod(0o600)
    return path.read_text().strip()
