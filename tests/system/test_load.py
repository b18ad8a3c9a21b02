"""Short load run: a few clients for a few seconds against `wenshu serve`, asserting no error
and gap-free, duplicate-free numbering (not speed: that is scripts/bench_load's job)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT
from tests.support.harness import Service
from tests.support.load import run


def test_bench_load_needs_nothing_beyond_the_plain_install() -> None:
    """`scripts/bench_load` runs after `scripts/run`'s install: no requests, no pytest."""
    code = (
        "import runpy, sys\n"
        "for name in ('requests', 'pytest', 'tests'):\n"
        "    sys.modules[name] = None  # importing it raises ImportError\n"
        "runpy.run_path('scripts/bench_load.py', run_name='bench_load')\n"
        "runpy.run_path('scripts/bench_issue_cpu.py', run_name='bench_issue_cpu')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_mixed_load_has_no_errors_and_numbering_stays_gap_free(tmp_path: Path) -> None:
    service = Service.create(tmp_path / "svc", WENSHU_CONVERTER_ACQUIRE_TIMEOUT="120")
    report = run(service, clients=4, seconds=10)
    assert report.error_count() == 0, dict(report.errors)
    assert len(report.issued) >= 4
    assert {"issue", "search", "read"} <= set(report.latencies)
    assert report.open_numbers == {}  # every number handed out is on a document
    assert report.account is not None and report.account.problems == []
    assert report.account.documents == len(report.issued) + 4  # + the warm-up
    assert report.bare_conversions > 0
