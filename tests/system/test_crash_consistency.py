"""Short crash-consistency run: a couple of SIGKILLs of each kind while four clients issue.

The full run (``scripts/crash_harness --kills 100``) and its figures are in docs/reliability.md.
After every kill: ``wenshu verify`` passes, every consumed number is on its archived document,
no issue event points at a missing blob, every acknowledged document is archived and found by
search; at the end, once the (shortened) lease has expired, the numbers of killed requests are
reused so that every series is gap-free.
"""

from __future__ import annotations

from pathlib import Path

from tests.support import chaos
from tests.support.harness import Service

LEASE = 20


def test_sigkill_of_workers_master_supervisor_and_libreoffice_loses_nothing(
    tmp_path: Path,
) -> None:
    service = Service.create(
        tmp_path / "svc",
        WENSHU_RESERVATION_LEASE_SECONDS=str(LEASE),
        WENSHU_CONVERSION_TIMEOUT="20",
    )
    lines: list[str] = []
    report = chaos.run(service, kills=8, clients=3, lease_seconds=LEASE, log=lines.append)
    assert sum(report.kills.values()) >= 6, lines  # a kind may find nothing to kill, rarely
    assert set(report.kills) == set(chaos.KINDS), lines
    assert report.inconsistencies == [], report.inconsistencies
    assert report.survived == sum(report.kills.values())
    assert report.final is not None and report.final.documents > 0
    assert report.outcomes["201"] > 0
    assert not service.soffice_pids() and not service.master_pids()  # nothing left running
