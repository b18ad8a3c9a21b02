"""Wenshu 文书: document generation and compliance archive for medical-insurance fund supervision.

The layers, from top to bottom (an upper one may import a lower one, never the reverse; the
import-linter contract in ``setup.cfg`` says so and ``scripts/test`` checks it):

    ops        the ``wenshu`` command, the server that runs gunicorn and the LibreOffice pool
    http       the only importer of Flask: app, auth, sessions, errors, the API and the web pages
    workers    background threads on one base class: index, OCR, integrity timers
    workflows  use cases; they own transactions and audit events
    wiring     the ``Wenshu`` container: database, blobs, keys, converter, search backend
    doctypes   one module per document type, and the registry every consumer iterates
    documents  bytes in, bytes out: render, layout, seal, watermark, PAdES, scans, conversion
    policy, settings, telemetry, labels   small leaves
    archive    the framework-free records core (a package of its own), then schemas

Importing ``service`` loads nothing else: ``import service.documents.seal`` draws a seal without
Flask, SQLAlchemy or the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The Flask application (``service/http/app.py``)."""
    # Deferred so that importing any module of ``service`` does not load Flask and the app.
    from service.http.app import create_app as create_http_app

    return create_http_app(test_config)
