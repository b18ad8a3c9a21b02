"""The LibreOffice instances of the conversion pool: their settings, files and processes.

Why a pool: a cold ``soffice --convert-to`` costs about a second per document, a warm
instance a fifth of that. One LibreOffice converts one document at a time and may hang or
crash, so one supervisor (:class:`ConverterPool`) keeps N instances alive, and clients
(:class:`Converter`, in any gunicorn worker, CLI or test) claim an idle instance with a file
lock. The run directory is the only thing they share:

    supervisor.lock        flock held by the one ConverterPool running on this run_dir
    lo-<i>/lock            flock held by whoever uses instance i (a client converting,
                           or the supervisor restarting it)
    lo-<i>/instance.json   {"state": "starting"|"up"|"dead"|"stopped", "pid", "soffice_pid", …}
    lo-<i>/count           conversions since the instance started (restart at max_conversions)
    lo-<i>/restarts        restarts since the pool started (read by /metrics)
    lo-<i>/rpc.sock        the instance's endpoint: XML-RPC on a Unix socket, bytes in and out
    lo-<i>/profile/        its LibreOffice user profile            (the converter's only)
    lo-<i>/tmp/            its scratch: the documents being converted (the converter's only)
    lo-<i>/endpoint.log    output of the current run (previous run in endpoint.log.1)

No TCP port: the endpoint (:mod:`service.documents.convert.endpoint`) takes DOCX bytes and
returns PDF bytes, never a path, on a socket in this folder; LibreOffice speaks UNO to it on a
named pipe, a socket its own user alone may connect to. The folder is ``2770``: the converter
and the service (a member of the converter's group when they are two users) share it, nobody
else can even look up a name in it. Every shared file is written ``0660`` on purpose, whatever
the umask; the profile and the scratch stay ``0700``.

The endpoint runs in its own session, so "the instance" is one process group (pgid = the
endpoint's pid); the supervisor kills it on timeout, and so does a client running as the same
user (a client of another user marks it dead, and the supervisor kills it within a tick).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import gzip
import hashlib
import http.client
import json
import logging
import os
import re
import signal
import socket
import stat
import sys
import threading
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

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


SHARED_DIR_MODE = 0o2770
"""The run directory and each instance's folder: converter and service, nobody else."""
SHARED_FILE_MODE = 0o660
"""Locks, state and counters, read and written by the converter and the service alike."""
MAX_SOCKET_PATH = 107
"""sockaddr_un holds 108 bytes, the last a NUL."""


def share(path: Path) -> None:
    """Give ``path`` the mode both users of the run directory need (no-op if not ours)."""
    mode = SHARED_DIR_MODE if path.is_dir() else SHARED_FILE_MODE
    with contextlib.suppress(PermissionError):
        if stat.S_IMODE(path.stat().st_mode) != mode:
            os.chmod(path, mode)


def try_lock(path: Path) -> int | None:
    """Non-blocking exclusive flock on a fresh open file (so threads of one process exclude
    each other too); returns the fd to pass to :func:`unlock`, or None if someone holds it.
    Opened read-only: flock needs no write access, so a lock file of the other user serves."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, SHARED_FILE_MODE)
    with contextlib.suppress(PermissionError):
        if stat.S_IMODE(os.fstat(fd).st_mode) != SHARED_FILE_MODE:
            os.fchmod(fd, SHARED_FILE_MODE)
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
    """Guards every kill against a recycled pid: only our own processes carry our paths."""
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


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("converter", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._path))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class UnixTransport(xmlrpc.client.Transport):
    """XML-RPC over the instance's Unix socket, with a timeout (xmlrpc.client has none of its
    own; a hung LibreOffice would block us forever).

    The endpoint is on this machine, so the answer is not gzipped (compressing a PDF costs
    CPU at both ends and saves nothing on a socket), and its base64 values (the PDF) are cut
    out of the XML and decoded in one piece: fed to expat, the base64 of a one-page PDF
    arrives line by line, some 6000 callbacks.
    """

    accept_gzip_encoding = False

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__()
        self._path = path
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self._path, self._timeout)

    def parse_response(self, response: http.client.HTTPResponse) -> tuple[Any, ...]:
        body = response.read()
        if response.getheader("Content-Encoding", "") == "gzip":
            body = gzip.decompress(body)
        payloads: list[bytes] = []

        def cut(found: re.Match[bytes]) -> bytes:
            payloads.append(found.group(1))
            return b"<base64></base64>"

        parser, unmarshaller = self.getparser()
        parser.feed(_BASE64.sub(cut, body))
        parser.close()
        return cast(tuple[Any, ...], _with_payloads(unmarshaller.close(), iter(payloads)))


_BASE64 = re.compile(rb"<base64>([^<]*)</base64>")


def _with_payloads(value: Any, payloads: Iterator[bytes]) -> Any:
    """``value`` with each (emptied) Binary, in document order, given the next payload."""
    if isinstance(value, xmlrpc.client.Binary):
        return xmlrpc.client.Binary(base64.decodebytes(next(payloads)))
    if isinstance(value, list | tuple):
        return type(value)(_with_payloads(v, payloads) for v in value)
    if isinstance(value, dict):
        return {k: _with_payloads(v, payloads) for k, v in value.items()}
    return value


class Instance:
    """The files and processes of instance ``index``; holds no state of its own."""

    def __init__(self, settings: PoolSettings, index: int) -> None:
        self.index = index
        self.settings = settings
        self.dir = settings.run_dir / f"lo-{index}"
        self.lock_path = self.dir / "lock"
        self.profile_dir = self.dir / "profile"
        self.log_path = self.dir / "endpoint.log"
        self.temp_dir = self.dir / "tmp"
        self.socket_path = self.dir / "rpc.sock"

    @property
    def pipe_name(self) -> str:
        """The UNO pipe between the endpoint and its LibreOffice, unique per run_dir and index
        (LibreOffice makes it ``/tmp/OSL_PIPE_<uid>_<name>``, mode by the umask: 0700)."""
        digest = hashlib.sha256(str(self.settings.run_dir.resolve()).encode()).hexdigest()
        return f"wenshu-{digest[:16]}-{self.index}"

    def rpc(self, timeout: float) -> xmlrpc.client.ServerProxy:
        return xmlrpc.client.ServerProxy(
            "http://converter/RPC2", transport=UnixTransport(self.socket_path, timeout)
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
            (state.get("pid"), f"--socket {self.socket_path} "),
            (state.get("soffice_pid"), f"name={self.pipe_name};"),
        ]
        for pid, needle in targets:
            if pid and cmdline_contains(pid, needle):
                logger.warning(
                    "killing LibreOffice instance %d (pid %d): %s", self.index, pid, reason
                )
                # Another user's instance (the converter's) is killed by its supervisor, which
                # sees the state "dead" written below.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
        if state.get("state") != "stopped":
            self.write_state(**{**state, "state": "dead", "reason": reason})

    def _write_atomic(self, name: str, text: str) -> None:
        tmp = self.dir / f".{name}.{os.getpid()}.{threading.get_ident()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, SHARED_FILE_MODE)
        with os.fdopen(fd, "w") as fh:
            os.fchmod(fd, SHARED_FILE_MODE)  # whatever the umask: the other user reads it
            fh.write(text)
        os.replace(tmp, self.dir / name)
