"""Limits on what a request body may be, checked before anything parses it.

Size: Flask's ``MAX_CONTENT_LENGTH`` answers 413 when the declared Content-Length is over it,
but a body without one (``Transfer-Encoding: chunked``, as gunicorn passes it on) is silently
cut at the limit, and the truncated JSON or form then fails as "malformed". So such a body is
read here, up to one byte over the largest limit that may apply (uploads have their own,
``MAX_UPLOAD_BYTES``), and either refused with 413 or handed on with its Content-Length. An
API caller is authenticated before (``service/http/auth.py``): nothing is read for a 401.

Nesting: Python's ``json`` parser recurses, so ``[[[…]]]`` 100,000 levels deep would end in a
RecursionError inside whichever parser reads it first (Flask's or webargs'). No document input
is more than a few levels deep.
"""

from __future__ import annotations

import io
import re

from flask import Flask, abort, current_app, request

from archive.errors import ValidationError
from service.http.state import wenshu

MAX_JSON_DEPTH = 64
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth(body: bytes, stop_at: int) -> int:
    """The nesting depth of a JSON text (strings skipped), up to ``stop_at``; malformed input
    is measured as far as it goes and left to the parser to refuse."""
    if body.count(b"[") + body.count(b"{") < stop_at:
        return 0  # cannot be that deep: skip the scan
    depth = deepest = 0
    for m in _TOKENS.finditer(body):
        token = m.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest >= stop_at:
                    break
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def _read_undeclared_body() -> None:
    environ = request.environ
    if request.content_length is not None or not environ.get("wsgi.input_terminated"):
        return
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.mimetype == "multipart/form-data":
        limit = max(limit, wenshu().settings.limits.max_upload_bytes)
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        abort(413)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)


def init_app(app: Flask) -> None:
    """Register first: nothing may have read the body before."""

    @app.before_request
    def _bounded_body() -> None:
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return
        _read_undeclared_body()
        if request.is_json:
            body = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: 413 here
            if json_depth(body, MAX_JSON_DEPTH + 1) > MAX_JSON_DEPTH:
                raise ValidationError(
                    f"JSON 嵌套超过 {MAX_JSON_DEPTH} 层",
                    errors={"_": [f"嵌套层数不得超过 {MAX_JSON_DEPTH}"]},
                )
