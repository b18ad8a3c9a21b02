"""One real ``wenshu serve`` on a scratch data dir: set up, start, stop, find its processes,
and talk to it as its users would (issue the four types for two orgs, search, read).

Shared by ``scripts/bench_load``, ``scripts/crash_harness`` and their short versions in
``tests/``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.harness import http
from scripts.harness.inputs import ISSUER, NEEDS_APPROVAL, ORGS, ROOT, one_page_input
from service.policy import roles_for

WENSHU = str(Path(sys.executable).with_name("wenshu"))


def cpu_seconds_of(marker: Path) -> float:
    """CPU seconds (user + system, children reaped included) of every process whose command
    line names ``marker`` (e.g. a converter's run folder)."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if str(marker) not in (proc / "cmdline").read_bytes().decode(errors="replace"):
                continue
            fields = (proc / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def start_server(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """``wenshu serve`` in its own process group, logging to ``log_path``."""
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [WENSHU, "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


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
                r = http.get(self.url + "/healthz", headers=self.monitor(), timeout=5)
                up = r.json()["checks"]["converter"]["up"] if r.status_code == 200 else 0
                if r.status_code == 200 and (instances is None or up >= instances):
                    if self.proc is None or self.serves():
                        return
            except (http.TransportError, ValueError, KeyError):
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

    def issue(self, doctype: str, org: str, timeout: float = 180) -> http.Response:
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
    ) -> http.Response:
        return http.post_json(
            self.url + path, body, headers=self.headers(org, role), timeout=timeout
        )

    def search(self, org: str, q: str, timeout: float = 60) -> http.Response:
        return http.get(
            self.url + "/api/v1/search",
            params={"q": q, "facets": "false", "per_page": "20"},
            headers=self.headers(org, "auditor"),
            timeout=timeout,
        )


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
