"""The integrity timers of ``wenshu serve``: signed checkpoints and fixity checks at their intervals.

An interval of 0 turns that task off (both 0: no thread). Failures are logged and recorded by
the checks themselves, never raised; the task is tried again one interval later.
"""

from __future__ import annotations

import time

from service.wiring import Wenshu
from service.workers.base import Worker
from service.workflows.fixity import checkpoint_now, run_fixity


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
                run_fixity(self.ws, actor="system:fixity")
            else:
                checkpoint_now(
                    self.ws, actor="system:checkpoint", reason="interval", only_if_new=True
                )
