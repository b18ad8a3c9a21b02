"""/metrics (Prometheus text format) and the structured JSON logs with their request id."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from service import policy
from service.http.logs import JsonFormatter
from service.policy import ROLES
from tests.support import ROOT, free_port_block, sample, start_server, stop_server

WENSHU = str(Path(sys.executable).with_name("wenshu"))


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} from a Prometheus text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_only_for_the_system_administrator(users: dict[str, Any]) -> None:
    refused = ("anonymous", "clerk", "inspector", "auditor", "other_auditor")
    for role in (*refused, "secadmin", "auditadmin"):
        r = users[role].get("/metrics")
        assert r.status_code == (401 if role == "anonymous" else 403), role
        assert b"wenshu_" not in r.data
    bad = users["clerk"].flask.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    r = users["sysadmin"].get("/metrics")
    assert r.status_code == 200
    assert r.content_type.startswith("text/plain; version=")


def test_healthz_tells_anyone_the_status_and_only_monitoring_the_details(
    users: dict[str, Any],
) -> None:
    for role in ("anonymous", "clerk", "auditor"):
        r = users[role].get("/healthz")
        assert (r.status_code, r.get_json()) == (200, {"status": "ok"}), role
    monitor = [r for r in ROLES if policy.may(r, "metrics.read")]
    assert monitor
    for role in monitor:
        detail = users[role].get("/healthz").get_json()
        assert detail["status"] == "ok"
        assert detail["checks"]["database"] == "ok"
        assert all(d["pid"] for d in detail["checks"]["converter"]["detail"])
    forged = users["anonymous"].flask.get("/healthz", headers={"Authorization": "Bearer x"})
    assert forged.status_code == 401 and b"pid" not in forged.data


def test_healthz_names_what_fails_and_nothing_more(users: dict[str, Any], ws: Any) -> None:
    ws.blobs.root.rename(ws.blobs.root.with_name("moved"))
    try:
        r = users["anonymous"].get("/healthz")
        assert (r.status_code, r.get_json()) == (
            503,
            {"status": "degraded", "failing": ["archive"]},
        )
        assert users["sysadmin"].get("/healthz").get_json()["checks"]["archive"] == "missing"
    finally:
        ws.blobs.root.with_name("moved").rename(ws.blobs.root)


def test_metrics_count_an_issue(users: dict[str, Any]) -> None:
    admin = users["sysadmin"]
    before = scrape(admin.get("/metrics").get_data(as_text=True))
    r = users["clerk"].post(
        "/api/v1/documents", {"type": "notice", "org": "llyb", "data": sample("notice")}
    )
    assert r.status_code == 201, r.get_json()
    doc_id = r.get_json()["id"]
    assert users["clerk"].get(f"/api/v1/documents/{doc_id}/verify").status_code == 200
    after = scrape(admin.get("/metrics").get_data(as_text=True))

    assert value(after, "wenshu_documents_issued_total", type="notice") == 1
    # event counters are per process in tests (many apps), so compare before and after
    assert (
        value(after, "wenshu_conversions_total", outcome="ok")
        - value(before, "wenshu_conversions_total", outcome="ok")
        >= 1
    )
    issued = dict(method="POST", endpoint="/api/v1/documents", status="201")
    assert (
        value(after, "wenshu_http_request_duration_seconds_count", **issued)
        - value(before, "wenshu_http_request_duration_seconds_count", **issued)
        == 1
    )
    verify = dict(method="GET", endpoint="/api/v1/documents/<string:doc_id>/verify", status="200")
    assert value(after, "wenshu_http_request_duration_seconds_count", **verify) >= 1
    # a sound document is not a verification failure
    assert value(after, "wenshu_document_verify_failures_total") == value(
        before, "wenshu_document_verify_failures_total"
    )
    pool = [value(after, "wenshu_converter_instances", state=s) for s in ("free", "busy", "down")]
    assert sum(pool) == 2 and pool[0] >= 1  # the test pool: two instances, idle now
    assert value(after, "wenshu_converter_supervised") == 1
    assert ("wenshu_index_queue_depth", ()) in after
    assert value(after, "wenshu_fixity_failures_total") == 0


def test_request_id_is_returned_and_logged(
    users: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    clerk = users["clerk"]
    with caplog.at_level(logging.INFO, logger="wenshu.request"):
        given = clerk.flask.get(
            "/api/v1/documents",
            headers={"Authorization": f"Bearer {clerk.token}", "X-Request-Id": "abc-123"},
        )
        generated = clerk.get("/api/v1/cases")
        hostile = clerk.flask.get("/healthz", headers={"X-Request-Id": 'x" {"level":"ERROR"}'})
    assert given.headers["X-Request-Id"] == "abc-123"
    assert len(generated.headers["X-Request-Id"]) == 32
    assert hostile.headers["X-Request-Id"] != 'x" {"level":"ERROR"}'  # replaced, not echoed

    records = {r.request_id: r for r in caplog.records if r.name == "wenshu.request"}
    line = json.loads(JsonFormatter().format(records["abc-123"]))
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/documents", 200)
    assert line["user"] == "u-clerk" and line["org"] == "llyb" and line["user_id"] > 0
    assert line["duration_ms"] >= 0
    anon = json.loads(JsonFormatter().format(records[hostile.headers["X-Request-Id"]]))
    assert anon["user"] is None and anon["path"] == "/healthz"


def test_log_lines_never_carry_the_query_string(
    users: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="wenshu.request"):
        users["clerk"].get("/api/v1/search?id_number=11010519491231002X")
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "/api/v1/search" in text and "11010519491231002X" not in text


@pytest.mark.soffice
def test_served_metrics_add_up_across_workers_and_logs_are_json(tmp_path: Path) -> None:
    """Under `wenshu serve` with three workers every scrape, whichever worker answers it,
    counts every request; the pool's state comes from its supervisor's run directory."""
    port = free_port_block(1)
    env = dict(os.environ)
    env.update(
        WENSHU_DATA=str(tmp_path / "data"),
        WENSHU_CONVERTER_POOL_SIZE="1",
        WENSHU_WORKERS="3",
    )
    env.pop("DATABASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([WENSHU, "init"], env=env, cwd=ROOT, check=True, capture_output=True)
    token = subprocess.run(
        [WENSHU, "user-add", "prom", "--role", "sysadmin", "--org", "llyb"],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    clerk = subprocess.run(
        [WENSHU, "user-add", "obs-clerk", "--role", "clerk", "--org", "llyb"],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    log_path = tmp_path / "server.log"
    proc = start_server(env, port, log_path)
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    as_clerk = {"Authorization": f"Bearer {clerk}"}
    try:
        from tests.support.server import wait_healthy

        wait_healthy(url, proc)
        for _ in range(30):
            assert requests.get(url + "/api/v1/doctypes", headers=as_clerk, timeout=30).ok
        counts = []
        for _ in range(6):  # several scrapes land on different workers: all must agree
            samples = scrape(requests.get(url + "/metrics", headers=headers, timeout=30).text)
            counts.append(
                value(
                    samples,
                    "wenshu_http_request_duration_seconds_count",
                    method="GET",
                    endpoint="/api/v1/doctypes",
                    status="200",
                )
            )
        assert counts == [30.0] * 6
        assert value(samples, "wenshu_converter_instances", state="free") == 1
        assert value(samples, "wenshu_converter_supervised") == 1
        assert value(samples, "wenshu_converter_restarts_total", instance="0") == 0
        assert len(list((tmp_path / "data" / "run" / "metrics").glob("*.db"))) >= 1
    finally:
        stop_server(proc)
    lines = [ln for ln in log_path.read_text().splitlines() if ln.startswith("{")]
    requests_logged = [
        json.loads(ln) for ln in lines if json.loads(ln).get("logger") == "wenshu.request"
    ]
    assert len([r for r in requests_logged if r["path"] == "/api/v1/doctypes"]) == 30
    users = {"prom", "obs-clerk"}
    assert all(r["request_id"] and r["user"] in users for r in requests_logged if r["user"])
    assert any(json.loads(ln)["logger"] == "gunicorn.error" for ln in lines)
