"""Issue throughput of two app servers on one PostgreSQL against one, in the same run.

Usage: scripts/bench_scaleout [--docs 80] [--clients 8] [--pool N] [--workers N]

Makes a scratch PostgreSQL database (``scripts/bench_pg.py``) and one shared data dir, then:
one ``wenshu serve`` takes ``--docs`` notices from ``--clients`` concurrent clients; then two
``wenshu serve`` on other ports (each with its own LibreOffice pool of ``--pool`` instances and
its own run dir, sharing the database, the archive folder and the search table) take as many,
the clients alternating between them. Prints documents per second of each phase, their ratio,
latency p50/p95 and the load average around each phase; checks that the numbers are
consecutive and that ``wenshu verify`` passes over everything issued.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_pg import scratch_database  # noqa: E402
from service.policy import roles_for  # noqa: E402

WENSHU = str(ROOT / ".venv" / "bin" / "wenshu")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_block(n: int) -> int:
    """A base port with ``n`` free ports above it (a converter pool of n/2 instances)."""
    for base in range(21000, 60000, 97):
        try:
            for p in range(base, base + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port block")


def wenshu(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([WENSHU, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"wenshu {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


@contextmanager
def server(env: dict[str, str], name: str, tmp: Path, pool: int, monitor: str) -> Iterator[str]:
    """One ``wenshu serve`` with its own run dir and converter ports; yields its URL."""
    port = free_port()
    run_env = dict(
        env,
        WENSHU_RUN=str(tmp / f"run-{name}"),
    )
    with open(tmp / f"{name}.log", "w") as log:
        proc = subprocess.Popen(
            [WENSHU, "serve", "--port", str(port)],
            env=run_env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server {name} exited; see {tmp / (name + '.log')}")
            try:
                # The pool's detail is for monitoring only (metrics.read): its token.
                health = urllib.request.Request(
                    url + "/healthz", headers={"Authorization": f"Bearer {monitor}"}
                )
                with urllib.request.urlopen(health, timeout=5) as r:
                    up = json.load(r).get("checks", {}).get("converter", {}).get("up", pool)
                    if up >= pool:
                        break
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server {name} did not become healthy")
            time.sleep(0.5)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def issue(url: str, token: str, body: bytes) -> tuple[float, dict[str, Any]]:
    request = urllib.request.Request(
        url + "/api/v1/documents",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as r:
        answer = json.load(r)
    return time.perf_counter() - started, answer


def phase(urls: list[str], token: str, body: bytes, docs: int, clients: int) -> dict[str, Any]:
    targets = [urls[i % len(urls)] for i in range(docs)]
    before = load()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(lambda u: issue(u, token, body), targets))
    wall = time.perf_counter() - started
    latencies = [t for t, _ in results]
    return {
        "rate": docs / wall,
        "wall": wall,
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "load": f"{before} -> {load()}",
        "numbers": [int(a["wenhao"].split("〕")[1].rstrip("号")) for _, a in results],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=80, help="notices per phase")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument(
        "--pool", type=int, default=os.cpu_count() or 2, help="LibreOffice per server"
    )
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers per server")
    args = parser.parse_args()
    sample = json.loads((ROOT / "doc_templates" / "notice.sample.json").read_text("utf-8"))
    body = json.dumps({"type": "notice", "org": "llyb", "data": sample}, ensure_ascii=False)
    payload = body.encode("utf-8")
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        url = stack.enter_context(scratch_database("wenshu_scaleout"))
        env = dict(os.environ, DATABASE_URL=url, WENSHU_DATA=str(tmp / "data"))
        env["WENSHU_CONVERTER_POOL_SIZE"] = str(args.pool)
        env.pop("WENSHU_SEARCH_BACKEND", None)
        env["WENSHU_APPROVAL"] = "notice=no"  # the issue is measured, not the 签发 before it
        if args.workers:
            env["WENSHU_WORKERS"] = str(args.workers)
        wenshu(env, "init")
        token = wenshu(env, "user-add", "bench", "--role", "clerk", "--org", "llyb").split()[-1]
        role = roles_for("metrics.read")[0]
        monitor = wenshu(env, "user-add", "monitor", "--role", role, "--org", "llyb").split()[-1]
        warm = 2 * args.pool
        print(
            f"{args.docs} notices per phase, {args.clients} clients, {args.pool} LibreOffice "
            f"per server, {os.cpu_count()} cores; PostgreSQL, shared data dir"
        )
        with server(env, "a", tmp, args.pool, monitor) as a:
            warm_one = phase([a], token, payload, warm, warm)
            one = phase([a], token, payload, args.docs, args.clients)
        with (
            server(env, "a2", tmp, args.pool, monitor) as a,
            server(env, "b", tmp, args.pool, monitor) as b,
        ):
            warm_two = phase([a, b], token, payload, 2 * warm, 2 * warm)
            two = phase([a, b], token, payload, args.docs, args.clients)
        for label, r in (("one server ", one), ("two servers", two)):
            print(
                f"{label}: {r['rate']:.2f} docs/s ({r['wall']:.0f} s); latency p50 "
                f"{r['p50'] * 1000:.0f} ms, p95 {r['p95'] * 1000:.0f} ms; load {r['load']}"
            )
        print(f"ratio two / one: {two['rate'] / one['rate']:.2f}")
        numbers = sorted(n for r in (warm_one, one, warm_two, two) for n in r["numbers"])
        assert numbers == list(range(1, len(numbers) + 1)), "numbers not consecutive"
        report = subprocess.run(
            [WENSHU, "verify"], env=env, cwd=ROOT, capture_output=True, text=True
        )
        print(
            f"numbers 1..{len(numbers)} each issued once (warm-up included); "
            f"wenshu verify: {'OK' if report.returncode == 0 else 'FAILED'}"
        )
        if report.returncode != 0:
            print(report.stdout + report.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
