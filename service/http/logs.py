"""Structured logs: one JSON object per line, each request logged once with its request id.

The request id comes from the caller's ``X-Request-Id`` (a proxy or client that already has one)
when it is a plain token, else it is generated; it is returned in the response header and carried
by every log line written while the request runs, so one request's lines can be found together
across gunicorn workers. Only the path is logged, never the query string: search terms may be
names or ID numbers.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request

from schemas.masking import mask_identifiers

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged too.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

request_log = logging.getLogger("wenshu.request")


class MaskingFormatter(logging.Formatter):
    """A log line never holds a 身份证号 or 信用代码: a message, an exception text, a path may
    quote what a user typed."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_identifiers(super().format(record))


class JsonFormatter(MaskingFormatter):
    """``{"time", "level", "logger", "message", …extra fields}`` on one line, masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_identifiers(self._line(record))

    def _line(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class RequestIdFilter(logging.Filter):
    """Stamps the current request's id on every record logged while a request runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            record.request_id = g.get("request_id")
        return True


def configure(fmt: str = "json", level: int = logging.INFO) -> None:
    """The root handler (stderr), added once per process; ``fmt`` "text" for a terminal."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "wenshu", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.wenshu = True  # type: ignore[attr-defined]
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def request_id_from(header: str | None) -> str:
    if header and _REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def init_app(app: Flask, log_format: str) -> None:
    configure(log_format)

    @app.before_request
    def _start() -> None:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Any) -> Any:
        request_id = g.get("request_id") or request_id_from(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        duration = time.perf_counter() - started if started is not None else 0.0
        who = g.get("principal")
        request_log.info(
            "%s %s %d",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 1),
                "user": who.name if who is not None else None,
                "user_id": who.user_id if who is not None else None,
                "org": who.org_code if who is not None else None,
            },
        )
        return response
