"""Refused requests on record: each 403 (and each cross-org request answered 404) appends an
``access.denied`` event; 401s are counted, never chained.

The event says who was refused (actor, their org), what they asked (method, URL rule, path),
why (``reason``: role, org, csrf, rule — :class:`archive.errors.Forbidden`) and the message
they were given. Its ``org`` is the org whose data was asked for when that is known (a
document or draft of another org), so that org's auditor sees the attempt; else the caller's.

Rate limit: a client repeating a refused request must not flood the chain, so at most one event
per actor, endpoint and reason is written per :data:`WINDOW_SECONDS` in each server process;
the refusals suppressed meanwhile are counted in the next event's ``suppressed``. Every refusal,
written or suppressed, is also counted in the Prometheus counter ``wenshu_access_denied``
(status, reason) — so are 401s: an anonymous flood has no actor to chain and would only fill
the trail with noise.

Writing the event must not change the answer: if the database cannot take it, the refusal is
still a 403 and the failure is logged as an error.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask, current_app, g, request

from archive.audit import AuditChain
from archive.errors import Forbidden, OutsideOrg, Unauthorized, WenshuError
from service import telemetry
from service.http.state import wenshu
from service.workflows.accounts import Principal

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
_MAX_KEYS = 10_000  # distinct (actor, endpoint, reason) kept before old windows are dropped


class RateLimit:
    """One event per key and window; the refusals in between counted (one per app)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str, str], tuple[float, int]] = {}  # → (start, suppressed)

    def admit(self, key: tuple[str, str, str], now: float) -> int | None:
        """How many were suppressed since the last event of ``key`` if one may be written
        now, else None (and this one is counted as suppressed)."""
        with self._lock:
            last = self._windows.get(key)
            if last is not None and now - last[0] < WINDOW_SECONDS:
                self._windows[key] = (last[0], last[1] + 1)
                return None
            if len(self._windows) >= _MAX_KEYS:
                for old in [k for k, (t, _) in self._windows.items() if now - t >= WINDOW_SECONDS]:
                    del self._windows[old]
            self._windows[key] = (now, 0)
            return last[1] if last is not None else 0


def init_app(app: Flask) -> None:
    app.extensions["wenshu_denials"] = RateLimit()


def refused(exc: WenshuError) -> None:
    """Count (and, rate-limited, record) a refusal this request is answered with."""
    if isinstance(exc, Unauthorized):
        telemetry.ACCESS_DENIED.labels("401", "unauthenticated").inc()
    elif isinstance(exc, OutsideOrg):
        record("org", exc.message, org=exc.org, object_id=exc.object_id, status=404)
    elif isinstance(exc, Forbidden):
        record(exc.reason, exc.message)


def record(
    reason: str,
    message: str,
    *,
    org: str | None = None,
    object_id: str | None = None,
    status: int = 403,
) -> None:
    telemetry.ACCESS_DENIED.labels(str(status), reason).inc()
    who: Principal | None = g.get("principal") or g.get("web_principal")
    if who is None:
        return
    endpoint = request.url_rule.rule if request.url_rule is not None else request.path
    limit: RateLimit = current_app.extensions["wenshu_denials"]
    suppressed = limit.admit((who.name, f"{request.method} {endpoint}", reason), time.monotonic())
    if suppressed is None:
        return
    details: dict[str, Any] = {
        "reason": reason,
        "method": request.method,
        "endpoint": endpoint,
        "path": request.path,
        "message": message,
        "actor_org": who.org_code,
        "suppressed": suppressed,
    }
    try:
        with wenshu().db.write() as s:
            AuditChain.append(
                s,
                actor=who.name,
                action="access.denied",
                org=org or who.org_code,
                object_id=object_id,
                details=details,
            )
    except Exception:  # the refusal stands; the operator learns the trail missed it
        log.error("access.denied not recorded for %s on %s", who.name, endpoint, exc_info=True)
