"""Counters and histograms of events, counted where they happen (a leaf: anyone may import it).

Under ``wenshu serve`` every gunicorn worker is its own process; the supervisor gives them
``PROMETHEUS_MULTIPROC_DIR`` and a scrape (``service/http/metrics.py``) sums their files.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_SECONDS = Histogram(
    "wenshu_http_request_duration_seconds",
    "Time to answer a request, by endpoint (URL rule) and status.",
    ["method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CONVERSIONS = Counter(
    "wenshu_conversions",
    "DOCX → PDF conversions by outcome: ok, failed, timeout, unavailable (no free instance).",
    ["outcome"],
)
CONVERSION_SECONDS = Histogram(
    "wenshu_conversion_duration_seconds",
    "Time of successful conversions, waiting for an instance included.",
    buckets=(0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30),
)
VERIFY_FAILURES = Counter(
    "wenshu_document_verify_failures",
    "Document verifications (API or page) that found a problem: hash, signature or file.",
)


def conversion_finished(outcome: str, seconds: float) -> None:
    CONVERSIONS.labels(outcome).inc()
    if outcome == "ok":
        CONVERSION_SECONDS.observe(seconds)


def observe_request(method: str, endpoint: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(method, endpoint, str(status)).observe(seconds)


ACCESS_DENIED = Counter(
    "wenshu_access_denied",
    "Refused requests: 401 (no or unknown credential; reason unauthenticated) and 403 or a "
    "cross-org 404 by reason (role, org, csrf, rule), each counted, audited or not.",
    ["status", "reason"],
)
