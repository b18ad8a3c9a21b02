"""Load: N concurrent clients (issue, search, read) against `wenshu serve` for a fixed time, then
the same pool's bare warm conversions/s of the same one-page DOCX, in the same run.

Usage: scripts/bench_load [--clients 8] [--seconds 60] [--pool-size CORES] [--workers 2×CORES]
Prints throughput, p50/p95/p99 per operation, errors, the ratio issued/s ÷ bare conversions/s,
and whether numbering stayed gap-free and duplicate-free and `wenshu verify` passed; exits 1
if not, or on any error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.harness.load import run  # noqa: E402
from scripts.harness.service import Service  # noqa: E402


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    cores = os.cpu_count() or 2
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--pool-size", type=int, default=cores)
    parser.add_argument("--workers", type=int, default=2 * cores)
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="wenshu-load-"))
    print(f"load before: {uptime()}")
    try:
        service = Service.create(
            root,
            pool_size=args.pool_size,
            workers=args.workers,
            WENSHU_THREADS=str(args.threads),
        )
        report = run(service, clients=args.clients, seconds=args.seconds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"load after: {uptime()}")
    print(
        f"{args.clients} clients, {args.seconds:g} s, pool {args.pool_size}, "
        f"{args.workers} workers × {args.threads} threads"
    )
    for line in report.lines():
        print(line)
    account = report.account
    assert account is not None
    gap_free = not report.open_numbers and not account.problems
    print(
        f"numbering gap-free and duplicate-free, verify passed: {'yes' if gap_free else 'NO'}"
        f" ({account.documents} documents)"
    )
    for problem in account.problems[:20]:
        print("  PROBLEM:", problem)
    if report.open_numbers:
        print("  numbers not on a document:", report.open_numbers)
    return 0 if gap_free and not report.error_count() else 1


if __name__ == "__main__":
    sys.exit(main())
