"""Crash consistency: issue documents from several clients while SIGKILLing parts of the service.

Four kinds of kill, in the order of ``ROTATION``, each at a random moment while clients issue:

    worker      one gunicorn worker (gunicorn starts another)
    master      the gunicorn master (``wenshu serve`` then exits and is started again)
    supervisor  the ``wenshu serve`` process itself, owner of the LibreOffice pool (its
                gunicorn and LibreOffice are orphaned and must not block the restart)
    soffice     one LibreOffice process (the pool restarts it)

After each kill the clients pause and :func:`tests.support.harness.check_archive` runs: ``wenshu
verify``, the numbering account, the blobs of every issue event, every acknowledged document
archived, and the new documents (plus a sample of older ones) found by search.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from tests.support.harness import DOCTYPES, ORGS, Account, Service, archived_ids, check_archive

KINDS = ("worker", "master", "supervisor", "soffice")
ROTATION = ("worker", "soffice", "master", "worker", "soffice", "supervisor")
"""The order of kills: the kinds that take the whole service down cost a restart (≈ 15–40 s
on two cores), so they come a third of the time."""


@dataclass
class CrashReport:
    kills: Counter[str] = field(default_factory=Counter)
    survived: int = 0
    inconsistencies: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    restart_seconds: list[float] = field(default_factory=list)
    final: Account | None = None

    def summary(self) -> str:
        restarts = sorted(self.restart_seconds)
        mid = restarts[len(restarts) // 2] if restarts else 0.0
        return (
            f"kills {sum(self.kills.values())} ({dict(self.kills)}), survived {self.survived}, "
            f"inconsistencies {len(self.inconsistencies)}; documents "
            f"{self.final.documents if self.final else '?'}; responses {dict(self.outcomes)}; "
            f"restart median {mid:.1f} s, max {max(restarts, default=0):.1f} s"
        )


class Clients:
    """``n`` threads issuing random types for random orgs until stopped; pausable."""

    def __init__(self, service: Service, n: int) -> None:
        self.service = service
        self.acknowledged: dict[str, str] = {}
        self.outcomes: Counter[str] = Counter()
        self._run = threading.Event()
        self._stop = threading.Event()
        self._busy = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(n)]

    def start(self) -> None:
        self._run.set()
        for t in self._threads:
            t.start()

    def pause(self, timeout: float = 300) -> None:
        """Stop taking new requests and wait for the ones in flight to end."""
        self._run.clear()
        deadline = time.monotonic() + timeout
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.1)

    def resume(self) -> None:
        self._run.set()

    def stop(self) -> None:
        self._stop.set()
        self._run.set()
        for t in self._threads:
            t.join(timeout=300)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._run.wait()
            if self._stop.is_set():
                return
            with self._lock:
                self._busy += 1
            try:
                self._one()
            finally:
                with self._lock:
                    self._busy -= 1

    def _one(self) -> None:
        doctype, org = random.choice(DOCTYPES), random.choice(list(ORGS))
        try:
            r = self.service.issue(doctype, org, timeout=180)
        except requests.RequestException as exc:
            with self._lock:
                self.outcomes[type(exc).__name__] += 1
            time.sleep(0.3)  # the service is down: do not spin
            return
        with self._lock:
            self.outcomes[str(r.status_code)] += 1
            if r.status_code == 201:
                self.acknowledged[r.json()["id"]] = r.json()["archive_no"]
        if r.status_code >= 500:
            time.sleep(0.3)


def kill(service: Service, kind: str) -> bool:
    """SIGKILL one process of ``kind``; False if there was none to kill."""
    import os
    import signal

    if kind == "worker":
        pids = service.worker_pids()
    elif kind == "master":
        pids = service.master_pids()
    elif kind == "supervisor":
        pids = [p for p in [service.serve_pid()] if p]
    else:
        pids = service.libreoffice_pids()
    if not pids:
        return False
    try:
        os.kill(random.choice(pids), signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def recover(service: Service, kind: str, pool_size: int) -> float:
    """Bring the service back after a kill; returns the seconds it took."""
    started = time.monotonic()
    if kind in ("master", "supervisor"):
        assert service.proc is not None
        service.proc.wait(timeout=120)  # without its master, `wenshu serve` stops and exits
        service.proc = None
        service.start(timeout=180)
    service.wait_healthy(180, instances=pool_size)
    return time.monotonic() - started


def run(
    service: Service,
    *,
    kills: int,
    clients: int = 4,
    pool_size: int = 2,
    kinds: tuple[str, ...] = ROTATION,
    lease_seconds: float = 0,
    stop_after: float | None = None,
    log: Callable[[str], None] = print,
) -> CrashReport:
    """Kill ``kills`` times (kinds in turn; fewer if ``stop_after`` seconds run out), checking
    the archive after each; then wait out the lease, issue until every reclaimed number is
    used, and check everything once more."""
    report = CrashReport()
    give_up = time.monotonic() + stop_after if stop_after else float("inf")
    service.start(timeout=180)
    crowd = Clients(service, clients)
    crowd.start()
    checked: set[str] = set()
    try:
        for i in range(kills):
            if time.monotonic() > give_up:
                log(f"time is up after {i} kills")
                break
            kind = kinds[i % len(kinds)]
            time.sleep(random.uniform(0.5, 3.0))  # the clients' requests are in flight
            if not kill(service, kind):
                log(f"[{i + 1}/{kills}] no {kind} process to kill; skipped")
                continue
            report.kills[kind] += 1
            crowd.pause()
            try:
                report.restart_seconds.append(recover(service, kind, pool_size))
            except (RuntimeError, TimeoutError) as exc:
                report.inconsistencies.append(f"kill {i + 1} ({kind}): no recovery: {exc}")
                log(f"[{i + 1}/{kills}] {kind}: NO RECOVERY {exc}")
                break
            check_started = time.monotonic()
            problems = _check(service, crowd, checked)
            report.inconsistencies += [f"kill {i + 1} ({kind}): {p}" for p in problems]
            report.survived += not problems
            log(
                f"[{i + 1}/{kills}] {kind}: {'ok' if not problems else problems[:3]} "
                f"(back in {report.restart_seconds[-1]:.1f} s, checked in "
                f"{time.monotonic() - check_started:.1f} s, {len(checked)} documents)"
            )
            crowd.resume()
        crowd.pause()
        report.final = _settle(service, crowd, lease_seconds, log)
        report.inconsistencies += [f"final: {p}" for p in report.final.problems]
    finally:
        crowd.stop()
        report.outcomes = crowd.outcomes
        service.stop()
    return report


def _check(service: Service, crowd: Clients, checked: set[str]) -> list[str]:
    """Full check, searching for the documents new since the last one plus 10 older ones."""
    ids = archived_ids(service)
    new = ids - checked
    sample = set(random.sample(sorted(checked), min(10, len(checked))))
    account = check_archive(service, dict(crowd.acknowledged), search_ids=new | sample)
    checked |= ids
    return account.problems


def _settle(
    service: Service, crowd: Clients, lease_seconds: float, log: Callable[[str], None]
) -> Account:
    """Wait out the lease, then issue where numbers are reserved or released: those are reused
    first, so afterwards every number of every series is on a document."""
    from tests.support.harness import open_numbers

    pending = open_numbers(service)
    log(f"settling: numbers not on a document {pending}; waiting {lease_seconds:g} s")
    time.sleep(lease_seconds)
    for _ in range(3):
        for (doctype, org), count in pending.items():
            for _ in range(count):
                r = service.issue(doctype, org)
                if r.status_code == 201:
                    crowd.acknowledged[r.json()["id"]] = r.json()["archive_no"]
        pending = open_numbers(service)
        if not pending:
            break
    account = check_archive(service, dict(crowd.acknowledged))
    if pending:
        account.problems.append(f"numbers never reused: {pending}")
    return account
