"""A real ``wenshu serve`` on a scratch data dir, driven over HTTP: set up, start, kill, account.

Shared by ``scripts/crash_harness``, ``scripts/bench_load`` and their short versions in
``tests/``: one way to start the service, issue one-page documents of the four types for two
orgs, find its processes, and check that the archive is whole.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from service.doctypes import DOCTYPES as REGISTRY
from service.policy import roles_for
from tests.support import ROOT, sample, start_server

WENSHU = str(Path(sys.executable).with_name("wenshu"))
ORGS = {"llyb": None, "tyyb": ("太原市医疗保障局", "并医保发", "太原市")}
ISSUER = {
    "notice": "clerk",
    "inspection_record": "inspector",
    "interview_transcript": "inspector",
    "inspection_report": "clerk",
}
DOCTYPES = tuple(ISSUER)
NEEDS_APPROVAL = frozenset(code for code, t in REGISTRY.items() if t.needs_approval)
"""The types that need 签发 under the default settings."""


def one_page_input(doctype: str) -> dict[str, Any]:
    """The type's sample cut down to one page: one short item per list, no attachments."""
    data = sample(doctype)
    # no 成文日期: it is the day of the 签发 (the sample's 2021 would not match the 文号's year)
    for optional in ("attachments", "contact", "note", "cc", "printed_by", "print_date", "date"):
        data.pop(optional, None)
    for key, value in data.items():
        if isinstance(value, list) and value and key not in ("inspectors", "interviewers"):
            data[key] = [_shortened(item) for item in value[:1]]
    return data


def _shortened(item: Any) -> Any:
    if isinstance(item, str) and len(item) > 40:
        return item[:39] + "。"
    if isinstance(item, dict):
        return {k: _shortened(v) if k in ("text", "a") else v for k, v in item.items()}
    return item


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: The role whose token reads /healthz's detail (the converter pool) and /metrics.
MONITOR = roles_for("metrics.read")[0]


@dataclass
class Service:
    """One ``wenshu serve`` (gunicorn + converter pool) over its own data dir and ports."""

    root: Path
    env: dict[str, str]
    port: int
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @classmethod
    def create(cls, root: Path, *, pool_size: int = 2, workers: int = 3, **env: str) -> Service:
        """Initialise a data dir with two orgs and a clerk, inspector and admin in each."""
        root.mkdir(parents=True, exist_ok=True)
        full = dict(os.environ)
        full.pop("DATABASE_URL", None)
        full.update(
            WENSHU_DATA=str(root / "data"),
            WENSHU_CONVERTER_POOL_SIZE=str(pool_size),
            WENSHU_WORKERS=str(workers),
            WENSHU_CONVERTER_ACQUIRE_TIMEOUT="60",
        )
        full.update(env)
        service = cls(root=root, env=full, port=free_port())
        service.wenshu("init")
        for code, spec in ORGS.items():
            if spec is not None:
                name, zihao, region = spec
                service.wenshu(
                    "org-add", code, "--name", name, "--zihao", zihao, "--region", region
                )
            for role in dict.fromkeys(("clerk", "inspector", "approver", "auditor", MONITOR)):
                out = service.wenshu("user-add", f"{code}-{role}", "--role", role, "--org", code)
                service.tokens[(code, role)] = out.strip().splitlines()[-1]
        return service

    # ------------------------------------------------------------------ running it

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def run_dir(self) -> Path:
        return self.root / "data" / "run"

    def wenshu(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [WENSHU, *args], env=self.env, cwd=ROOT, capture_output=True, text=True
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"wenshu {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def start(self, timeout: float = 120) -> float:
        """Start ``wenshu serve`` and wait until /healthz answers 200; returns seconds taken."""
        started = time.monotonic()
        self.starts += 1
        self.proc = start_server(self.env, self.port, self.root / f"server-{self.starts}.log")
        self.wait_healthy(timeout)
        return time.monotonic() - started

    def wait_healthy(self, timeout: float = 120, *, instances: int | None = None) -> None:
        """Until /healthz is 200 (and, if given, that many LibreOffice instances are up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"wenshu serve exited ({self.proc.returncode}), see server log")
            try:
                # The pool's detail is for monitoring (metrics.read), not for anyone.
                r = requests.get(self.url + "/healthz", headers=self.monitor(), timeout=5)
                up = r.json()["checks"]["converter"]["up"] if r.status_code == 200 else 0
                if r.status_code == 200 and (instances is None or up >= instances):
                    if self.proc is None or self.serves():
                        return
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"service not healthy after {timeout:g} s")

    def serves(self) -> bool:
        """True if the gunicorn answering on our port is the one our ``wenshu serve`` started
        (not an orphan of a killed predecessor)."""
        return self.proc is not None and any(_ppid(p) == self.proc.pid for p in self.master_pids())

    def stop(self) -> None:
        """SIGTERM as an operator would; SIGKILL whatever of the tree is left after 60 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        for pid in self.master_pids() + self.worker_pids() + self.soffice_pids():
            _kill(pid)

    # ------------------------------------------------------------------ its processes

    def serve_pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def master_pids(self) -> list[int]:
        """gunicorn masters serving our port (normally one, the child of ``wenshu serve``)."""
        ours = set(self._gunicorn_pids())
        return [p for p in ours if _ppid(p) not in ours]

    def worker_pids(self) -> list[int]:
        ours = set(self._gunicorn_pids())
        return [p for p in ours if _ppid(p) in ours]

    def _gunicorn_pids(self) -> list[int]:
        return [p for p in _pids_with(f"127.0.0.1:{self.port}") if "gunicorn" in _cmdline(p)]

    def soffice_pids(self) -> list[int]:
        """LibreOffice and endpoint processes of this service's converter pool."""
        return _pids_with(str(self.run_dir))

    def libreoffice_pids(self) -> list[int]:
        """The soffice.bin processes (LibreOffice itself) of the pool."""
        return [p for p in self.soffice_pids() if _comm(p) == "soffice.bin"]

    # ------------------------------------------------------------------ talking to it

    def monitor(self) -> dict[str, str]:
        """The headers of a user who may read /healthz's detail and /metrics."""
        return self.headers("llyb", MONITOR)

    def headers(self, org: str, role: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.tokens[(org, role)]}",
            "Content-Type": "application/json",
        }

    def issue(self, doctype: str, org: str, timeout: float = 180) -> requests.Response:
        """Issue one document as its issuer would: a type that needs 签发 goes draft → submit →
        approve (the org's approver) → issue; the others are issued at once."""
        body = {"type": doctype, "org": org, "data": one_page_input(doctype)}
        if doctype not in NEEDS_APPROVAL:
            return self._post("/api/v1/documents", body, org, ISSUER[doctype], timeout)
        draft = self._post("/api/v1/drafts", body, org, ISSUER[doctype], timeout)
        if draft.status_code != 201:
            return draft
        steps = "/api/v1/drafts/" + draft.json()["id"]
        for step, role in (("/submit", ISSUER[doctype]), ("/approve", "approver")):
            answer = self._post(steps + step, {}, org, role, timeout)
            if answer.status_code != 200:
                return answer
        return self._post(steps + "/issue", {}, org, ISSUER[doctype], timeout)

    def _post(
        self, path: str, body: dict[str, Any], org: str, role: str, timeout: float
    ) -> requests.Response:
        return requests.post(
            self.url + path,
            data=json.dumps(body, ensure_ascii=False).encode(),
            headers=self.headers(org, role),
            timeout=timeout,
        )

    def search(self, org: str, q: str, timeout: float = 60) -> requests.Response:
        return requests.get(
            self.url + "/api/v1/search",
            params={"q": q, "facets": "false", "per_page": "20"},
            headers=self.headers(org, "auditor"),
            timeout=timeout,
        )


# ---------------------------------------------------------------- the archive is whole


@dataclass
class Account:
    """What a consistency check found; ``problems`` empty means consistent."""

    documents: int = 0
    problems: list[str] = field(default_factory=list)
    in_flight: int = 0
    released: int = 0


def check_archive(
    service: Service,
    acknowledged: dict[str, str],
    *,
    search_ids: set[str] | None = None,
    index_timeout: float = 90,
) -> Account:
    """``wenshu verify`` passes; every consumed number is on its document and every document's
    numbers are consumed by it; no number is missing from a series; every issue event's blobs
    exist; every document the clients were told about (``acknowledged``: id → 档号) is archived;
    and every document of ``search_ids`` (default: all) is found by searching its 文号/档号."""
    from sqlalchemy import select

    from archive import numbering
    from archive.blobs import BlobStore
    from archive.db import Database
    from archive.models import AuditEvent, Document, NumberReservation, Org

    acc = Account()
    verify = subprocess.run(
        [WENSHU, "verify"], env=service.env, cwd=ROOT, capture_output=True, text=True
    )
    if verify.returncode != 0:
        acc.problems.append("wenshu verify failed: " + (verify.stdout + verify.stderr)[-1500:])
    data = service.root / "data"
    db = Database(f"sqlite:///{data / 'wenshu.db'}")
    blobs = BlobStore(data / "archive")
    try:
        with db.read() as s:
            docs = {d.id: (d, code) for d, code in s.execute(select(Document, Org.code).join(Org))}
            acc.documents = len(docs)
            claimed: dict[str, list[str]] = {}
            for series in numbering.series_names(s, ""):
                a = numbering.account(s, series)
                acc.in_flight += len(a.in_flight)
                acc.released += len(a.released)
                if a.missing:
                    acc.problems.append(f"{series}: numbers {a.missing} have no record")
            for r in s.scalars(select(NumberReservation).where(NumberReservation.status == "used")):
                claimed.setdefault(str(r.document_id), []).append(f"{r.series}#{r.n}")
                hit = docs.get(str(r.document_id))
                if hit is None:
                    acc.problems.append(
                        f"{r.series}#{r.n} used by missing document {r.document_id}"
                    )
                elif _number_of(hit[0], r.series) != r.n:
                    acc.problems.append(
                        f"{r.series}#{r.n} used by {r.document_id} with other number"
                    )
            for doc_id, (doc, _code) in docs.items():
                expected = 2 if doc.wenhao else 1
                if len(claimed.get(doc_id, [])) != expected:
                    acc.problems.append(f"document {doc_id} holds numbers {claimed.get(doc_id)}")
            for ev in s.scalars(select(AuditEvent).where(AuditEvent.action == "document.issue")):
                details = json.loads(ev.details)
                for key in ("input_sha256", "docx_sha256", "pdf_sha256"):
                    if not blobs.exists(details[key]):
                        acc.problems.append(f"event {ev.seq} points at missing {key} blob")
        for doc_id, archive_no in acknowledged.items():
            if doc_id not in docs or docs[doc_id][0].archive_no != archive_no:
                acc.problems.append(
                    f"acknowledged document {doc_id} ({archive_no}) is not archived"
                )
        wanted = docs if search_ids is None else {i: docs[i] for i in search_ids if i in docs}
        acc.problems += _unfound(service, wanted, index_timeout)
    finally:
        db.dispose()
    return acc


def archived_ids(service: Service) -> set[str]:
    from sqlalchemy import select

    from archive.models import Document

    with database(service) as db, db.read() as s:
        return set(s.scalars(select(Document.id)))


def open_numbers(service: Service) -> dict[tuple[str, str], int]:
    """Numbers reserved or released (not yet on a document), by the (type, org) whose next
    issue would take them."""
    from sqlalchemy import func, select

    from archive import numbering
    from archive.models import NumberReservation, Org

    year = time.gmtime(time.time() + 8 * 3600).tm_year  # the series year is Asia/Shanghai's
    with database(service) as db, db.read() as s:
        feeders: dict[str, tuple[str, str]] = {}
        for org in s.scalars(select(Org)):
            for doctype in reversed(DOCTYPES):  # the notice feeds its org's 发文字号 and D30
                feeders[numbering.wenhao_series(org.code, org.zihao, year)] = (doctype, org.code)
                series = numbering.archive_series(
                    org.fonds_no, year, REGISTRY[doctype].retention, org.unit_code
                )
                feeders[series] = (doctype, org.code)
        counts: dict[tuple[str, str], int] = {}
        for series, n in s.execute(
            select(NumberReservation.series, func.count())
            .where(NumberReservation.status.in_(("reserved", "released")))
            .group_by(NumberReservation.series)
        ):
            key = feeders[series]
            counts[key] = max(counts.get(key, 0), int(n))
        return counts


@contextmanager
def database(service: Service) -> Iterator[Any]:
    from archive.db import Database

    db = Database(f"sqlite:///{service.root / 'data' / 'wenshu.db'}")
    try:
        yield db
    finally:
        db.dispose()


def _number_of(doc: Any, series: str) -> int | None:
    text = doc.wenhao if series.startswith("wenhao/") else doc.archive_no
    match = re.search(r"(\d+)号$" if series.startswith("wenhao/") else r"-(\d{4})$", text or "")
    return int(match.group(1)) if match else None


def _unfound(service: Service, docs: dict[str, Any], timeout: float) -> list[str]:
    """Documents not found by their 文号 (notices) or 档号 once the index has caught up."""
    pending = dict(docs)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for doc_id, (doc, org) in list(pending.items()):
            try:
                r = service.search(org, doc.wenhao or doc.archive_no)
            except requests.RequestException:
                continue
            if r.status_code == 200 and doc_id in {h["id"] for h in r.json()["hits"]}:
                del pending[doc_id]
        if pending:
            time.sleep(1)
    return [
        f"document {i} ({d.wenhao or d.archive_no}) not found by search"
        for i, (d, _) in pending.items()
    ]


# ---------------------------------------------------------------- /proc


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _pids_with(needle: str) -> list[int]:
    me = os.getpid()
    return [p for p in _all_pids() if p != me and needle in _cmdline(p)]


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
