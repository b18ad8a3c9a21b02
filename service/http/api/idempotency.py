"""The ``Idempotency-Key`` header of the issue endpoints: a retry gets the first answer again.

The work is :mod:`service.workflows.issue_once`; this module reads the header and wraps the
view's call, so every endpoint that issues behaves alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request

from service.http import auth
from service.http.state import wenshu
from service.workflows import issue_once

HEADER = "Idempotency-Key"

#: The header's entry in the OpenAPI description of an endpoint (``@blp.doc(parameters=…)``).
PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "maxLength": 200},
    "description": "同一用户以同一键、同一请求重发时，返回首次的结果（状态码与 JSON）；"
    "同一键用于不同请求时 422 idempotency_key_reused",
}


def idempotent(
    scope: str, body: Any, produce: Callable[[], tuple[dict[str, Any], int]]
) -> tuple[dict[str, Any], int]:
    """``produce()`` once per (user, key); without the header, simply ``produce()``."""
    key = request.headers.get(HEADER)
    if key is None:
        return produce()
    ws, who = wenshu(), auth.current()
    key = issue_once.check_key(key)
    stored = issue_once.begin(ws, who, scope=scope, key=key, request=body)
    if stored is not None:
        return stored.body, stored.status
    try:
        result, status = produce()
    except BaseException:
        issue_once.abandon(ws, who, key)
        raise
    issue_once.finish(ws, who, key, issue_once.Answer(status, result))
    return result, status
