"""Monitoring: ``/healthz`` and ``/metrics`` in the Prometheus text format, correct across
processes.

``/healthz`` answers anyone with the status alone — ``{"status": "ok"}``, or ``"degraded"`` with
the names of the failing components (``database``, ``archive``, ``converter``) — and 503 when
degraded, so a load balancer needs no token. A caller allowed ``metrics.read`` (the same as
``/metrics``) also gets ``checks``: each component's state, the converter pool's instances with
their PIDs, conversions and restarts. Those tell an attacker which process to aim at and how
busy the service is, so nobody else sees them. A token that is sent must be valid (401).

Two kinds of figures:

* Events counted where they happen (request latency, conversions, verification failures) are
  prometheus_client metrics. Under ``wenshu serve`` every gunicorn worker is its own process, so
  the supervisor gives them ``PROMETHEUS_MULTIPROC_DIR`` (``<run>/metrics``, emptied at start)
  and a scrape sums the workers' files, including those of workers that have since died.
* State that lives elsewhere is read at scrape time from where it lives: documents by type,
  fixity failures and the index queue from the database; the converter pool (free, busy, down,
  restarts) from the pool's run directory, which the ``wenshu serve`` supervisor maintains. These
  numbers are therefore the same whichever worker answers the scrape.

Who may read it: an admin (Bearer token or login session); anyone else gets 401/403. The figures
carry no document content, but they count every org of the installation, and every other role
is confined to its own org. A scraper is given an admin token of its own (``wenshu user-add
prometheus --role admin``). A scrape is not an audit event: every 15 s it would flood the chain.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select, text

from archive.errors import Unauthorized
from archive.indexer import pending_count
from archive.models import AuditEvent, Document
from service import policy
from service.http import auth
from service.http.state import wenshu
from service.telemetry import MULTIPROC_ENV, observe_request
from service.wiring import Wenshu


class ArchiveCollector:
    """The state read at scrape time (see the module docstring)."""

    def __init__(self, ws: Wenshu) -> None:
        self.ws = ws

    def collect(self) -> Iterator[Metric]:
        with self.ws.db.read() as s:
            by_type = s.execute(select(Document.type, func.count()).group_by(Document.type)).all()
            fixity_failures = s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "fixity.failure")
            )
            queue = pending_count(s)
        issued = CounterMetricFamily(
            "wenshu_documents_issued", "Documents issued (archived), by type.", labels=["type"]
        )
        for doc_type, count in sorted(by_type):
            issued.add_metric([doc_type], count)
        yield issued
        yield CounterMetricFamily(
            "wenshu_fixity_failures",
            "Problems found by fixity checks (recorded as fixity.failure audit events).",
            value=fixity_failures or 0,
        )
        yield GaugeMetricFamily(
            "wenshu_index_queue_depth", "Documents waiting to be indexed for search.", value=queue
        )
        yield from self._pool()

    def _pool(self) -> Iterator[Metric]:
        status = self.ws.converter.status()
        instances = GaugeMetricFamily(
            "wenshu_converter_instances",
            "LibreOffice instances by state: free (up, idle), busy (converting), down.",
            labels=["state"],
        )
        up, busy = status["up"], status["busy"]
        instances.add_metric(["free"], up - busy)
        instances.add_metric(["busy"], busy)
        instances.add_metric(["down"], status["instances"] - up)
        yield instances
        restarts = CounterMetricFamily(
            "wenshu_converter_restarts",
            "Instance restarts since the pool started (crash, timeout kill, recycling).",
            labels=["instance"],
        )
        for detail in status["detail"]:
            restarts.add_metric([str(detail["index"])], detail.get("restarts", 0))
        yield restarts
        yield GaugeMetricFamily(
            "wenshu_converter_supervised",
            "1 when the pool's supervisor (wenshu serve) is running.",
            value=1 if status["supervised"] else 0,
        )


def exposition(ws: Wenshu) -> bytes:
    """Event metrics (summed over workers when multi-process) followed by the scrape-time state."""
    if os.environ.get(MULTIPROC_ENV):
        events = CollectorRegistry()
        multiprocess.MultiProcessCollector(events)
        head = generate_latest(events)
    else:
        head = generate_latest(REGISTRY)
    state = CollectorRegistry(auto_describe=False)
    state.register(ArchiveCollector(ws))  # type: ignore[arg-type]
    return head + generate_latest(state)


def health(ws: Wenshu) -> tuple[list[str], dict[str, Any]]:
    """The names of the failing components, and every component's check in detail."""
    checks: dict[str, Any] = {}
    try:
        with ws.db.read() as s:
            s.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # reported, not raised: this endpoint is the report
        checks["database"] = f"error: {type(exc).__name__}"
    checks["archive"] = "ok" if ws.blobs.root.is_dir() else "missing"
    checks["converter"] = ws.converter.status()
    failing = [name for name in ("database", "archive") if checks[name] != "ok"]
    if checks["converter"].get("up", 0) == 0:
        failing.append("converter")
    return failing, checks


def _may_read_details() -> bool:
    """Anonymous callers get the status only; a token that is sent must be valid (else 401)."""
    try:
        who = auth.current()
    except Unauthorized:
        if request.headers.get("Authorization"):
            raise
        return False
    return policy.may(who.role, "metrics.read")


def init_app(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> Any:
        """Liveness and readiness: the database, the archive folder and the converter answer."""
        failing, checks = health(wenshu())
        body: dict[str, Any] = {"status": "degraded" if failing else "ok"}
        if failing:
            body["failing"] = failing
        if _may_read_details():
            body["checks"] = checks
        resp = jsonify(body)
        resp.status_code = 503 if failing else 200
        return resp

    @app.get("/metrics")
    def metrics() -> Any:
        """Prometheus text format; admins only (see the module docstring)."""
        auth.require("metrics.read")
        return Response(exposition(wenshu()), content_type=CONTENT_TYPE_LATEST)

    @app.after_request
    def _observe(response: Any) -> Any:
        started = g.get("request_started")
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            observe_request(
                request.method, rule, response.status_code, time.perf_counter() - started
            )
        return response
