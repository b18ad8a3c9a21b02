"""What every answer of the service says about itself in its headers, outside the web pages
(those have theirs in ``service/http/web/guard.py``).

* API answers and downloads carry documents and personal data: ``Cache-Control: no-store`` so
  no proxy or browser cache keeps them, ``X-Content-Type-Options: nosniff`` so a browser takes
  a JSON body or a PDF for what its Content-Type says and never for HTML.
* Scans of signed originals are files someone uploaded: served with
  ``Content-Security-Policy: sandbox``, so script inside such a PDF runs in no origin of ours
  (a browser's PDF viewer runs a PDF's JavaScript).
* A download's file name is a 发文字号 or 档号, made of org fields: :func:`content_disposition`
  writes it as RFC 6266/5987 ``filename*`` (UTF-8, percent-encoded) with an ASCII ``filename``
  beside it, so no character of a name can break the header.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

from flask import Flask, request

#: Where the headers of :func:`init_app` apply; web pages and their assets set their own.
PREFIXES = ("/api/", "/healthz", "/metrics")
SANDBOX = "sandbox"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def content_disposition(name: str, *, attachment: bool) -> str:
    """``inline``/``attachment`` with ``name`` as ``filename*`` and an ASCII fallback."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = _UNSAFE.sub("_", ascii_name).strip("._") or "download"
    kind = "attachment" if attachment else "inline"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def init_app(app: Flask) -> None:
    @app.after_request
    def _api_headers(response: Any) -> Any:
        if request.path.startswith(PREFIXES):
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Cache-Control"] = "no-store"
        return response
