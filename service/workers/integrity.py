"""The integrity timers of ``wenshu serve``: signed checkpoints and fixity checks at their intervals.

A fixity run checks the next slice of the cycle over the whole archive
(``service/workflows/integrity/cycle.py``, ``WENSHU_FIXITY_CYCLE_DAYS``), logging its progress
chunk by chunk. An interval of 0 turns that task off (both 0: no thread). Failures are logged
and recorded by the checks themselves, never raised; the task is tried again one interval later.
"""

from __future__ import annotations

import logging
import time

from service.wiring import Wenshu
from service.workers.base import Worker
from service.workflows.integrity.cycle import SliceReport, run_slice
from service.workflows.integrity.fixity import SYSTEM_FIXITY, checkpoint_now

log = logging.getLogger(__name__)


def log_progress(report: SliceReport, position: int) -> None:
    log.info(
        "fixity cycle %d: %d documents checked, event %d of slice %d-%d",
        report.cycle,
        report.documents,
        position,
        report.after_seq + 1,
        report.through_seq,
    )


class RecurringChecks(Worker):
    name = "wenshu-fixity"

    def __init__(self, ws: Wenshu, *, fixity_every: float, checkpoint_every: float) -> None:
        super().__init__()
        self.ws = ws
        self.every = {"checkpoint": checkpoint_every, "fixity": fixity_every}
        now = time.monotonic()
        self.due = {task: now + every for task, every in self.every.items() if every > 0}

    def wanted(self) -> bool:
        return bool(self.due)

    def next_wait(self) -> float:
        return min(self.due.values()) - time.monotonic()

    def run_once(self) -> None:
        now = time.monotonic()
        for task, when in self.due.items():
            if when > now:
                continue
            self.due[task] = (
                now + self.every[task]
            )  # failed or not, the next try is one interval on
            if task == "fixity":
                report = run_slice(self.ws, actor=SYSTEM_FIXITY, progress=log_progress)
                if report.busy_until is not None:
                    log.info("fixity: another run holds the cycle until %s", report.busy_until)
            else:
                checkpoint_now(
                    self.ws, actor="system:checkpoint", reason="interval", only_if_new=True
                )
