"""Crash consistency: SIGKILL workers, the master, the pool's supervisor and LibreOffice while
documents are issued, and check the archive after every kill (see tests/chaos.py).

Usage: scripts/crash_harness [--kills 100] [--clients 4] [--lease 60] [--minutes M] [--keep DIR]
Prints one line per kill and a summary; exits 1 on any inconsistency.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.chaos import run  # noqa: E402
from tests.support.harness import Service  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--pool-size", type=int, default=2)
    parser.add_argument("--lease", type=int, default=60, help="reservation lease (seconds)")
    parser.add_argument("--minutes", type=float, default=None, help="stop killing after this")
    parser.add_argument("--keep", type=Path, default=None, help="data dir to keep afterwards")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="wenshu-crash-"))
    started = time.monotonic()
    print(
        f"load before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}"
    )
    service = Service.create(
        root,
        pool_size=args.pool_size,
        WENSHU_RESERVATION_LEASE_SECONDS=str(args.lease),
        WENSHU_CONVERSION_TIMEOUT="20",
    )
    try:
        report = run(
            service,
            kills=args.kills,
            clients=args.clients,
            pool_size=args.pool_size,
            lease_seconds=args.lease,
            stop_after=args.minutes * 60 if args.minutes else None,
            log=lambda line: print(line, flush=True),
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(
        f"load after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}"
    )
    print(f"{report.summary()}; {time.monotonic() - started:.0f} s")
    for problem in report.inconsistencies:
        print("  INCONSISTENT:", problem)
    return 1 if report.inconsistencies else 0


if __name__ == "__main__":
    sys.exit(main())
