"""The LibreOffice instances of the conversion pool: their settings, files and processes.

Why a pool: a cold ``soffice --convert-to`` costs about a second per document, a warm
instance kept by unoserver a fifth of that. One LibreOffice converts one document at a
time and may hang or crash, so one supervisor (:class:`ConverterPool`) keeps N instances
alive, and clients (:class:`Converter`, in any gunicorn worker, CLI or test) claim an idle
instance with a file lock. The run directory is the only thing they share:

    supervisor.lock        flock held by the one ConverterPool running on this run_dir
    lo-<i>/lock            flock held by whoever uses instance i (a client converting,
                           or the supervisor restarting it)
    lo-<i>/instance.json   {"state": "starting"|"up"|"dead"|"stopped", "pid", "soffice_pid", …}
    lo-<i>/count           conversions since the instance started (restart at max_conversions)
    lo-<i>/restarts        restarts since the pool started (read by /metrics)
    lo-<i>/profile/        its LibreOffice user profile
    lo-<i>/tmp/            unoserver's temporary copies of the documents being converted
    lo-<i>/unoserver.log   output of the current run (previous run in unoserver.log.1)

Instance i serves XML-RPC on ``base_port + 2i`` and LibreOffice UNO on ``base_port + 2i + 1``.
With ``base_port`` 0 (the default) the supervisor picks a free block when it starts and
publishes it in ``base_port`` in the run directory, so two services on one host never collide.
unoserver runs in its own session, so "the instance" is one process group (pgid = the
unoserver pid) that a client can kill on timeout without being its parent.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import logging
import os
import signal
import sys
import threading
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("wenshu.convert")

FONTS_CONF = Path(__file__).resolve().parent.parent / "fonts" / "fonts.conf"
"""fontconfig aliases of the official font names (仿宋_GB2312 …) to the installed free faces."""
DOCX_IMPORT_FILTER = "MS Word 2007 XML"
"""Forced import filter: without it LibreOffice happily renders garbage bytes as plain text."""
IMAGE_OPTIONS = ["UseLosslessCompression=true", "ReduceImageResolution=false"]
"""Pictures (the seal) go into the PDF as they are: not re-encoded as JPEG, not downsampled,
so the seal on paper is the bureau's image pixel for pixel."""
PDFA_2B_OPTIONS = ["SelectPdfVersion=2", *IMAGE_OPTIONS]
"""unoserver 3.7 turns "Name=Value" strings into the writer_pdf_Export FilterData (2 → int)."""
CRASH_ERRORS = (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError)


@dataclass(frozen=True)
class PoolSettings:
    """How the pool is laid out; the supervisor and every client must use equal settings."""

    run_dir: Path
    """Shared state (locks, pids, counters, profiles); local disk, writable by all workers."""
    size: int = os.cpu_count() or 2
    """Number of LibreOffice instances, i.e. documents converted at the same time."""
    base_port: int = 0
    """First XML-RPC port; instance i uses base_port + 2i and base_port + 2i + 1 (UNO).
    0: the supervisor chooses a free block at start (``WENSHU_CONVERTER_BASE_PORT`` fixes one)."""
    max_conversions: int = 200
    """Restart an instance after this many conversions, to bound LibreOffice's memory growth."""
    conversion_timeout: float = 30.0
    """Seconds one conversion may take before the instance is killed and the request fails."""
    acquire_timeout: float = 10.0
    """Seconds a client waits for an idle instance before ConverterUnavailable."""
    fontconfig_file: Path | None = None
    """FONTCONFIG_FILE for LibreOffice (aliases for 仿宋_GB2312 and friends)."""
    python: str = sys.executable
    """Interpreter that can ``import uno`` (Debian's python3 or a venv built from it)."""
    startup_timeout: float = 60.0
    """Seconds an instance may take to answer after being spawned."""


BASE_PORT_FILE = "base_port"


def published_base_port(run_dir: Path) -> int:
    """The first port of the block the supervisor chose (0 if none was published yet)."""
    try:
        return int((run_dir / BASE_PORT_FILE).read_text())
    except (OSError, ValueError):
        return 0


def try_lock(path: Path) -> int | None:
    """Non-blocking exclusive flock on a fresh open file (so threads of one process exclude
    each other too); returns the fd to pass to :func:`unlock`, or None if someone holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def unlock(fd: int) -> None:
    # Explicit LOCK_UN: a forked child may still hold a duplicate of fd.
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def is_alive(pid: int | None) -> bool:
    """True if pid exists and is not a zombie (a zombie still answers kill(pid, 0))."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def cmdline_contains(pid: int | None, needle: str) -> bool:
    """Guards every kill against a recycled pid: only our own processes carry our ports."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return needle in raw.replace(b"\0", b" ").decode(errors="replace")


def find_in_group(pgid: int, comm: str) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat.rpartition(")")[2].split()
        if name == comm and int(fields[2]) == pgid:
            return int(entry.name)
    return None


class TimeoutTransport(xmlrpc.client.Transport):
    """xmlrpc.client has no timeout of its own; a hung LibreOffice would block us forever."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


class Instance:
    """The files and processes of instance ``index``; holds no state of its own."""

    def __init__(self, settings: PoolSettings, index: int) -> None:
        self.index = index
        self.settings = settings
        self.dir = settings.run_dir / f"lo-{index}"
        self.lock_path = self.dir / "lock"
        self.profile_dir = self.dir / "profile"
        self.log_path = self.dir / "unoserver.log"
        self.temp_dir = self.dir / "tmp"

    @property
    def port(self) -> int:
        """This instance's XML-RPC port (0 while no supervisor has published its block)."""
        base = self.settings.base_port or published_base_port(self.settings.run_dir)
        return base + 2 * self.index if base else 0

    @property
    def uno_port(self) -> int:
        return self.port + 1 if self.port else 0

    def rpc(self, timeout: float) -> xmlrpc.client.ServerProxy:
        return xmlrpc.client.ServerProxy(
            f"http://127.0.0.1:{self.port}", transport=TimeoutTransport(timeout), allow_none=True
        )

    def responds(self, timeout: float = 3.0) -> bool:
        """``info()`` goes through UNO, so it fails when LibreOffice itself is dead or stuck."""
        try:
            self.rpc(timeout).info()
        except (*CRASH_ERRORS, xmlrpc.client.Fault):
            return False
        return True

    def read_state(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.dir / "instance.json").read_text()))
        except (OSError, ValueError):
            return {"state": "stopped"}

    def write_state(self, **state: Any) -> None:
        self._write_atomic("instance.json", json.dumps({"index": self.index, **state}))

    def conversions(self) -> int:
        try:
            return int((self.dir / "count").read_text())
        except (OSError, ValueError):
            return 0

    def set_conversions(self, count: int) -> None:
        self._write_atomic("count", str(count))

    def set_restarts(self, count: int) -> None:
        self._write_atomic("restarts", str(count))

    def restarts(self) -> int:
        try:
            return int((self.dir / "restarts").read_text())
        except (OSError, ValueError):
            return 0

    def is_usable(self, state: dict[str, Any]) -> bool:
        return (
            state.get("state") == "up"
            and is_alive(state.get("pid"))
            and is_alive(state.get("soffice_pid"))
        )

    def kill(self, reason: str) -> None:
        """Kill this instance's process groups (SIGKILL works on hung and stopped processes)
        and mark it dead; the supervisor notices and starts a fresh one."""
        state = self.read_state()
        targets = [
            (state.get("pid"), f"--port {self.port} "),
            (state.get("soffice_pid"), f"port={self.uno_port},"),
        ]
        for pid, needle in targets:
            if pid and cmdline_contains(pid, needle):
                logger.warning(
                    "killing LibreOffice instance %d (pid %d): %s", self.index, pid, reason
                )
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
        if state.get("state") != "stopped":
            self.write_state(**{**state, "state": "dead", "reason": reason})

    def _write_atomic(self, name: str, text: str) -> None:
        tmp = self.dir / f".{name}.{os.getpid()}.{threading.get_ident()}"
        tmp.write_text(text)
        os.replace(tmp, self.dir / name)
