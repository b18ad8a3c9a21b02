"""Load: N clients issue, search and read against a real ``wenshu serve`` for a fixed time.

The mix per request: half issue (one of the four types, for one of two orgs), a quarter search
(by a word of the samples, or by the 文号/档号 of a document already issued), a quarter read
(a document's record and its signed PDF). Before and after, the same pool converts the one-page
notice's DOCX as fast as it can, bare, for the baseline: issued/s ÷ bare conversions/s.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scripts.harness import http
from scripts.harness.account import Account, check_archive, database, open_numbers
from scripts.harness.inputs import DOCTYPES, ORGS
from scripts.harness.service import Service

WORDS = ("医疗保障", "专项检查", "挂床住院", "康宁医院", "基金监管")


@dataclass
class LoadReport:
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    issued: dict[str, str] = field(default_factory=dict)
    bare_conversions: int = 0
    bare_seconds: float = 0.0
    account: Account | None = None
    open_numbers: dict[tuple[str, str], int] = field(default_factory=dict)
    index_backlog: int = 0
    """Documents issued but not yet in the search index when the clients stopped."""
    index_catch_up: float = 0.0
    """Seconds the background indexer then took to index them."""
    index_commits: list[int] = field(default_factory=list)
    """Documents per index commit, over the whole run."""
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds spent during the load by LibreOffice and by the gunicorn workers."""
    by_number: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    """Searches for the 文号/档号 of an already issued document: found, or not. A search drains
    the index queue before it queries, so each must find it; a miss counts as an error."""

    @property
    def issued_per_second(self) -> float:
        return len(self.issued) / self.seconds if self.seconds else 0.0

    @property
    def bare_per_second(self) -> float:
        return self.bare_conversions / self.bare_seconds if self.bare_seconds else 0.0

    def error_count(self) -> int:
        return sum(len(v) for v in self.errors.values())

    def lines(self) -> list[str]:
        out = [f"{'operation':<8} {'count':>6} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8} "
               f"{'p99 ms':>8} {'errors':>6}"]  # fmt: skip
        for op in ("issue", "search", "read"):
            values = sorted(self.latencies.get(op, []))
            out.append(
                f"{op:<8} {len(values):>6} {len(values) / self.seconds:>7.2f} "
                f"{_pct(values, 50):>8.0f} {_pct(values, 95):>8.0f} {_pct(values, 99):>8.0f} "
                f"{len(self.errors.get(op, [])):>6}"
            )
        out.append(
            f"issued {len(self.issued)} documents in {self.seconds:.0f} s: "
            f"{self.issued_per_second:.2f}/s; bare warm conversions of the one-page notice "
            f"through the same pool: {self.bare_per_second:.2f}/s; ratio "
            f"{self.issued_per_second / self.bare_per_second if self.bare_per_second else 0:.2f}"
        )
        if self.issued:
            out.append(
                "CPU per issued document: "
                + ", ".join(
                    f"{k} {v / len(self.issued) * 1000:.0f} ms" for k, v in self.cpu.items()
                )
                + f" (the machine has {os.cpu_count()} cores)"
            )
        out.append(
            f"search index: {self.index_backlog} documents not yet indexed when the clients "
            f"stopped, indexed {self.index_catch_up:.1f} s later; {len(self.index_commits)} "
            f"index commits of {statistics.mean(self.index_commits or [0]):.1f} documents on "
            f"average (largest {max(self.index_commits or [0])})"
        )
        out.append(
            f"searches by the number of an issued document: {sum(self.by_number.values())}, "
            f"of which did not find it: {self.by_number[False]}"
        )
        for op, messages in self.errors.items():
            out.append(f"  {op} errors: {len(messages)}, e.g. {messages[:3]}")
        return out


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] * 1000


def drive(service: Service, *, clients: int, seconds: float) -> LoadReport:
    """Run the mix for ``seconds``; every client's requests are timed and checked."""
    report = LoadReport()
    lock = threading.Lock()
    known: list[tuple[str, str, str]] = []  # (id, org, 文号 or 档号)
    deadline = time.monotonic() + seconds

    def record(op: str, started: float, error: str | None) -> None:
        with lock:
            report.latencies[op].append(time.perf_counter() - started)
            if error:
                report.errors[op].append(error)

    def client() -> None:
        rng = random.Random()
        while time.monotonic() < deadline:
            roll = rng.random()
            started = time.perf_counter()
            try:
                if roll < 0.5 or not known:
                    doctype, org = rng.choice(DOCTYPES), rng.choice(list(ORGS))
                    r = service.issue(doctype, org)
                    if r.status_code == 201:
                        doc = r.json()
                        with lock:
                            report.issued[doc["id"]] = doc["archive_no"]
                            known.append((doc["id"], org, doc["wenhao"] or doc["archive_no"]))
                    record("issue", started, None if r.status_code == 201 else r.text[:200])
                elif roll < 0.75:
                    doc_id, org, number = rng.choice(known)
                    query = rng.choice((number, rng.choice(WORDS)))
                    r = service.search(org, query)
                    record("search", started, None if r.status_code == 200 else r.text[:200])
                    if r.status_code == 200 and query == number:
                        answer = r.json()
                        found = doc_id in {h["id"] for h in answer["hits"]}
                        with lock:
                            report.by_number[found] += 1
                            if not found:  # issued before the search: it must be found
                                said = "said still indexing" if answer["indexing"] else "silently"
                                report.errors["search"].append(f"{number} missing ({said})")
                else:
                    doc_id, org, _ = rng.choice(known)
                    headers = service.headers(org, "auditor")
                    meta = http.get(
                        f"{service.url}/api/v1/documents/{doc_id}", headers=headers, timeout=60
                    )
                    pdf = http.get(
                        f"{service.url}/api/v1/documents/{doc_id}/pdf", headers=headers, timeout=60
                    )
                    ok = meta.status_code == 200 and pdf.content.startswith(b"%PDF-")
                    record("read", started, None if ok else f"{meta.status_code} {pdf.status_code}")
            except http.TransportError as exc:
                record("issue" if roll < 0.5 else "other", started, repr(exc)[:200])

    threads = [threading.Thread(target=client) for _ in range(clients)]
    meter = CpuMeter({"LibreOffice": service.libreoffice_pids, "workers": service.worker_pids})
    started = time.monotonic()
    meter.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report.seconds = time.monotonic() - started
    report.cpu = meter.stop()
    return report


class CpuMeter:
    """CPU of groups of processes over a stretch of time, restarts included: each group's
    processes are listed again every ``every`` seconds (an instance restarted after its
    conversions is a new pid), and each pid counts from its first sighting (0 for one born
    meanwhile) to its last. A process that ends loses at most its last ``every`` seconds."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]], every: float = 0.25) -> None:
        self.groups, self.every = groups, every
        self._first: dict[str, dict[int, float]] = {name: {} for name in groups}
        self._last: dict[str, dict[int, float]] = {name: {} for name in groups}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, *, initial: bool = False) -> None:
        for name, pids_of in self.groups.items():
            for pid in pids_of():
                used = _cpu_seconds(pid)
                if used is None:
                    continue
                self._first[name].setdefault(pid, used if initial else 0.0)
                self._last[name][pid] = used

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def start(self) -> None:
        self._sample(initial=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self._sample()
        return {
            name: sum(last - self._first[name][pid] for pid, last in self._last[name].items())
            for name in self.groups
        }


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU of ``pid`` so far, reaped children's included (None: it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _index_catch_up(service: Service, timeout: float = 300) -> tuple[int, float, list[int]]:
    """The backlog when the clients stopped, how long it took to index, and the size of each
    index commit (queue entries marked done together) since the service started."""
    from sqlalchemy import func, select

    from archive.indexer import pending_count
    from archive.models import IndexQueueEntry

    started = time.monotonic()
    with database(service) as db:
        with db.read() as s:
            backlog = pending_count(s)
        while time.monotonic() - started < timeout:
            with db.read() as s:
                if not pending_count(s):
                    break
            time.sleep(0.2)
        took = time.monotonic() - started
        with db.read() as s:
            batches = list(
                s.scalars(
                    select(func.count())
                    .select_from(IndexQueueEntry)
                    .where(IndexQueueEntry.done_at.is_not(None))
                    .group_by(IndexQueueEntry.done_at)
                )
            )
    return backlog, took, batches


def bare_conversions(service: Service, docx: bytes, *, seconds: float) -> tuple[int, float]:
    """Convert ``docx`` to PDF/A through the service's own pool, one thread per instance."""
    from service.documents.convert.client import Converter
    from service.documents.convert.instance import PoolSettings

    size = int(service.env["WENSHU_CONVERTER_POOL_SIZE"])
    converter = Converter(
        PoolSettings(
            run_dir=Path(service.env["WENSHU_DATA"]) / "run" / "converter",
            size=size,
            acquire_timeout=60,
        )
    )
    converter.to_pdf(docx)  # warm
    count = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        while time.monotonic() < deadline:
            converter.to_pdf(docx)
            with lock:
                count[0] += 1

    threads = [threading.Thread(target=loop) for _ in range(size)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count[0], time.monotonic() - started


def run(service: Service, *, clients: int, seconds: float, check_search: bool = True) -> LoadReport:
    """Start the service, drive it, measure the bare baseline, check the archive, stop.

    The baseline is measured half before and half after the load (the machine's load moves:
    one phase on either side gives both the same share of it)."""
    service.start(timeout=180)
    try:
        warm = {}
        for doctype in DOCTYPES:  # every worker path warm before the clock starts
            warm[doctype] = service.issue(doctype, "llyb")
        docx = http.get(
            f"{service.url}/api/v1/documents/{warm['notice'].json()['id']}/docx",
            headers=service.headers("llyb", "auditor"),
            timeout=60,
        ).content
        bare = min(seconds, 30) / 2
        before = bare_conversions(service, docx, seconds=bare)
        report = drive(service, clients=clients, seconds=seconds)
        report.index_backlog, report.index_catch_up, report.index_commits = _index_catch_up(service)
        after = bare_conversions(service, docx, seconds=bare)
        report.bare_conversions = before[0] + after[0]
        report.bare_seconds = before[1] + after[1]
        report.open_numbers = open_numbers(service)
        report.account = check_archive(
            service, report.issued, search_ids=None if check_search else set()
        )
    finally:
        service.stop()
    return report
