"""DOCX → PDF/A-2b through a pool of warm LibreOffice instances shared by all processes.

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
unoserver runs in its own session, so "the instance" is one process group (pgid = the
unoserver pid) that a client can kill on timeout without being its parent.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import http.client
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.errors import ConversionError, ConverterUnavailable
from service import metrics

logger = logging.getLogger("wenshu.convert")

DOCX_IMPORT_FILTER = "MS Word 2007 XML"
"""Forced import filter: without it LibreOffice happily renders garbage bytes as plain text."""
PDFA_2B_OPTIONS = ["SelectPdfVersion=2"]
"""unoserver 3.7 turns "Name=Value" strings into the writer_pdf_Export FilterData (2 → int)."""
_CRASH_ERRORS = (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError)
_TICK = 0.25
_HEALTH_INTERVAL = 10.0


@dataclass(frozen=True)
class PoolSettings:
    """How the pool is laid out; the supervisor and every client must use equal settings."""

    run_dir: Path
    """Shared state (locks, pids, counters, profiles); local disk, writable by all workers."""
    size: int = os.cpu_count() or 2
    """Number of LibreOffice instances, i.e. documents converted at the same time."""
    base_port: int = 2003
    """First XML-RPC port; instance i uses base_port + 2i and base_port + 2i + 1 (UNO)."""
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


# ---------------------------------------------------------------- shared state of one instance


def _try_lock(path: Path) -> int | None:
    """Non-blocking exclusive flock on a fresh open file (so threads of one process exclude
    each other too); returns the fd to pass to :func:`_unlock`, or None if someone holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int) -> None:
    # Explicit LOCK_UN: a forked child may still hold a duplicate of fd.
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _alive(pid: int | None) -> bool:
    """True if pid exists and is not a zombie (a zombie still answers kill(pid, 0))."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _cmdline_contains(pid: int | None, needle: str) -> bool:
    """Guards every kill against a recycled pid: only our own processes carry our ports."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return needle in raw.replace(b"\0", b" ").decode(errors="replace")


def _find_in_group(pgid: int, comm: str) -> int | None:
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


class _TimeoutTransport(xmlrpc.client.Transport):
    """xmlrpc.client has no timeout of its own; a hung LibreOffice would block us forever."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


class _Instance:
    """The files and processes of instance ``index``; holds no state of its own."""

    def __init__(self, settings: PoolSettings, index: int) -> None:
        self.index = index
        self.dir = settings.run_dir / f"lo-{index}"
        self.port = settings.base_port + 2 * index
        self.uno_port = self.port + 1
        self.lock_path = self.dir / "lock"
        self.profile_dir = self.dir / "profile"
        self.log_path = self.dir / "unoserver.log"
        self.temp_dir = self.dir / "tmp"

    def rpc(self, timeout: float) -> xmlrpc.client.ServerProxy:
        return xmlrpc.client.ServerProxy(
            f"http://127.0.0.1:{self.port}", transport=_TimeoutTransport(timeout), allow_none=True
        )

    def responds(self, timeout: float = 3.0) -> bool:
        """``info()`` goes through UNO, so it fails when LibreOffice itself is dead or stuck."""
        try:
            self.rpc(timeout).info()
        except (*_CRASH_ERRORS, xmlrpc.client.Fault):
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

    def restarts(self) -> int:
        try:
            return int((self.dir / "restarts").read_text())
        except (OSError, ValueError):
            return 0

    def is_usable(self, state: dict[str, Any]) -> bool:
        return (
            state.get("state") == "up"
            and _alive(state.get("pid"))
            and _alive(state.get("soffice_pid"))
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
            if pid and _cmdline_contains(pid, needle):
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


# ---------------------------------------------------------------- client side


class Converter:
    """Converts through whichever instance is idle; safe in any process and thread."""

    def __init__(self, settings: PoolSettings) -> None:
        self.settings = settings
        self._instances = [_Instance(settings, i) for i in range(settings.size)]

    def to_pdf(self, docx: bytes, *, pdfa: bool = True) -> bytes:
        """Render ``docx`` to PDF (PDF/A-2b unless ``pdfa=False``).

        Raises ConversionError when LibreOffice fails, crashes or exceeds conversion_timeout,
        and ConverterUnavailable when no instance frees up within acquire_timeout.
        """
        started = time.perf_counter()
        try:
            pdf = self._to_pdf(docx, pdfa)
        except ConversionError as exc:
            metrics.conversion_finished(_outcome(exc), time.perf_counter() - started)
            raise
        metrics.conversion_finished("ok", time.perf_counter() - started)
        return pdf

    def _to_pdf(self, docx: bytes, pdfa: bool) -> bytes:
        if not docx.startswith(b"PK\x03\x04"):
            raise ConversionError("输入不是 DOCX 文件（缺少 ZIP 文件头）")
        deadline = time.monotonic() + self.settings.acquire_timeout
        crashed = False
        while True:
            with self._claim(deadline) as instance:
                try:
                    return self._convert_on(instance, docx, pdfa)
                except _InstanceGone as exc:
                    if exc.before_request:
                        continue  # nothing reached LibreOffice: try another instance
                    if crashed:
                        raise ConversionError("LibreOffice 在转换时崩溃") from exc
                    # Templates are trusted, so a crash is more likely the instance (killed,
                    # out of memory) than the document: retry once, on another instance.
                    logger.warning("instance %d crashed; retrying once elsewhere", instance.index)
                    crashed = True
                    deadline = time.monotonic() + self.settings.acquire_timeout

    def status(self) -> dict[str, Any]:
        """Health summary for /healthz: instances up, busy, and per-instance detail."""
        detail = []
        for instance in self._instances:
            state = instance.read_state()
            up = instance.is_usable(state)
            busy = False
            if up:  # probing the lock is how we learn whether someone is converting
                fd = _try_lock(instance.lock_path)
                busy = fd is None
                if fd is not None:
                    _unlock(fd)
            detail.append(
                {
                    "index": instance.index,
                    "state": state.get("state"),
                    "up": up,
                    "busy": busy,
                    "conversions": instance.conversions(),
                    "restarts": instance.restarts(),
                    "pid": state.get("pid"),
                }
            )
        return {
            "instances": len(detail),
            "up": sum(d["up"] for d in detail),
            "busy": sum(d["busy"] for d in detail),
            "supervised": self._supervisor_running(),
            "detail": detail,
        }

    def ping(self) -> bool:
        """True when at least one instance can take a conversion now or soon."""
        return self.status()["up"] > 0

    @contextlib.contextmanager
    def _claim(self, deadline: float) -> Iterator[_Instance]:
        count = len(self._instances)
        start = random.randrange(count)  # spread wear (memory growth) over all instances
        while True:
            every_stopped = True
            for offset in range(count):
                instance = self._instances[(start + offset) % count]
                if not instance.lock_path.parent.is_dir():
                    continue
                fd = _try_lock(instance.lock_path)
                if fd is None:
                    every_stopped = False
                    continue
                state = instance.read_state()
                every_stopped &= state.get("state") == "stopped"
                usable = instance.is_usable(state)
                if usable and instance.conversions() < self.settings.max_conversions:
                    try:
                        yield instance
                        return
                    finally:
                        _unlock(fd)
                _unlock(fd)
                if state.get("state") == "up" and not usable:
                    instance.kill("process died while idle")
            if every_stopped or not self._supervisor_running():
                raise ConverterUnavailable("文档转换服务未启动", retry_after=30)
            if time.monotonic() >= deadline:
                up = sum(i.is_usable(i.read_state()) for i in self._instances)
                raise ConverterUnavailable(
                    f"{self.settings.acquire_timeout:g} 秒内没有空闲的转换实例（{up} 个在运行）",
                    retry_after=2 if up else 10,
                )
            time.sleep(0.02)

    def _convert_on(self, instance: _Instance, docx: bytes, pdfa: bool) -> bytes:
        timeout = self.settings.conversion_timeout
        options = PDFA_2B_OPTIONS if pdfa else []
        started = time.perf_counter()
        try:
            result = instance.rpc(timeout).convert(
                None, xmlrpc.client.Binary(docx), None, "pdf", None, options, True,
                DOCX_IMPORT_FILTER, None,
            )  # fmt: skip
        except ConnectionRefusedError as exc:
            instance.kill("refused the connection")
            raise _InstanceGone(before_request=True) from exc
        except TimeoutError as exc:
            instance.kill(f"conversion exceeded {timeout:g} s")
            raise ConversionTimeout(f"文档转换超时（{timeout:g} 秒）") from exc
        except _CRASH_ERRORS as exc:
            instance.kill(f"connection lost during conversion: {exc!r}")
            raise _InstanceGone(before_request=False) from exc
        except xmlrpc.client.Fault as exc:
            instance.set_conversions(instance.conversions() + 1)
            if "TimeoutError" in exc.faultString:  # unoserver's own backstop fired
                instance.kill("unoserver reported a conversion timeout")
                raise ConversionTimeout(f"文档转换超时（{timeout:g} 秒）") from exc
            if not instance.responds():
                instance.kill(f"failed and no longer answers: {exc.faultString[:200]}")
                raise _InstanceGone(before_request=False) from exc
            raise ConversionError(f"LibreOffice 无法转换该文档：{exc.faultString[:300]}") from exc
        instance.set_conversions(instance.conversions() + 1)
        pdf = bytes(result.data)
        logger.debug(
            "instance %d converted %d bytes in %.0f ms",
            instance.index, len(docx), (time.perf_counter() - started) * 1000,
        )  # fmt: skip
        if not pdf.startswith(b"%PDF-"):
            raise ConversionError("LibreOffice 返回的不是 PDF")
        if pdfa and not has_pdfa2_identification(pdf):
            raise ConversionError("LibreOffice 输出缺少 PDF/A-2 标识（pdfaid:part=2）")
        return pdf

    def _supervisor_running(self) -> bool:
        path = self.settings.run_dir / "supervisor.lock"
        if not path.exists():
            return False
        fd = _try_lock(path)
        if fd is None:
            return True
        _unlock(fd)
        return False


def _outcome(exc: ConversionError) -> str:
    if isinstance(exc, ConverterUnavailable):
        return "unavailable"
    return "timeout" if isinstance(exc, ConversionTimeout) else "failed"


class ConversionTimeout(ConversionError):
    """The conversion exceeded conversion_timeout; the instance was killed and restarts."""


class _InstanceGone(Exception):
    """The claimed instance died; ``before_request`` if LibreOffice never saw the document."""

    def __init__(self, *, before_request: bool) -> None:
        super().__init__("LibreOffice instance died")
        self.before_request = before_request


def has_pdfa2_identification(pdf: bytes) -> bool:
    """LibreOffice writes the XMP packet uncompressed; both XMP spellings are accepted."""
    return b"<pdfaid:part>2</pdfaid:part>" in pdf or b'pdfaid:part="2"' in pdf


# ---------------------------------------------------------------- supervisor side


class ConverterPool:
    """Owns the LibreOffice instances of one run_dir: starts, watches, restarts, stops them.

    Run exactly one per run_dir (e.g. in gunicorn's master via ``on_starting``, or as its
    own process); a second start() on the same run_dir raises ConversionError.
    """

    def __init__(self, settings: PoolSettings) -> None:
        self.settings = settings
        self._stop = threading.Event()
        self._supervisors: list[_Supervisor] = []
        self._lock_fd: int | None = None
        me = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (pool := me()) and pool._forget_in_child())

    def start(self) -> None:
        """Spawn every instance and return once all of them convert (about 6 s)."""
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _try_lock(self.settings.run_dir / "supervisor.lock")
        if self._lock_fd is None:
            raise ConversionError(f"{self.settings.run_dir} 已由另一个转换进程池管理")
        self._stop.clear()
        self._supervisors = [
            _Supervisor(_Instance(self.settings, i), self.settings, self._stop)
            for i in range(self.settings.size)
        ]
        for supervisor in self._supervisors:
            supervisor.thread.start()
        deadline = time.monotonic() + self.settings.startup_timeout + 5
        for supervisor in self._supervisors:
            supervisor.first_start.wait(max(0.0, deadline - time.monotonic()))
        failures = [s.failure or "timed out" for s in self._supervisors if not s.started_ok]
        if failures:
            self.stop()
            raise ConversionError(f"LibreOffice 无法启动：{failures[0]}")
        atexit.register(self.stop)
        logger.info(
            "converter pool up: %d instances in %s", len(self._supervisors), self.settings.run_dir
        )

    def stop(self) -> None:
        """Terminate every instance (whole process groups) and release the run_dir."""
        self._stop.set()
        for supervisor in self._supervisors:
            supervisor.thread.join(timeout=self.settings.conversion_timeout + 15)
        self._supervisors = []
        if self._lock_fd is not None:
            _unlock(self._lock_fd)
            self._lock_fd = None
        atexit.unregister(self.stop)

    def _forget_in_child(self) -> None:
        # A forked gunicorn worker must not keep the supervisor lock alive after we die.
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self._supervisors = []


class _Supervisor:
    """One thread per instance: start it, watch it, restart it; kill it on pool stop."""

    def __init__(self, instance: _Instance, settings: PoolSettings, stop: threading.Event):
        self.instance = instance
        self.settings = settings
        self.stop = stop
        self.proc: subprocess.Popen[bytes] | None = None
        self.first_start = threading.Event()
        self.started_ok = False
        self.failure: str | None = None
        self.thread = threading.Thread(
            target=self._run, name=f"lo-supervisor-{instance.index}", daemon=True
        )

    def _run(self) -> None:
        self.instance.dir.mkdir(parents=True, exist_ok=True)
        self.instance.kill("left over from a previous supervisor")
        reason, lock_fd, backoff = "pool start", None, 1.0
        try:
            while not self.stop.is_set():
                try:
                    self._restart(reason, lock_fd)
                except (ConversionError, OSError) as exc:
                    if self.stop.is_set():
                        return
                    logger.error("instance %d failed to start: %s", self.instance.index, exc)
                    self.failure = str(exc)
                    if not self.first_start.is_set():
                        return
                    self.stop.wait(backoff)
                    reason, lock_fd, backoff = (
                        "retry after failed start",
                        None,
                        min(backoff * 2, 30),
                    )
                    continue
                self.started_ok, backoff = True, 1.0
                self.first_start.set()
                reason, lock_fd = self._watch()
        finally:
            self._terminate(graceful=True)
            self.instance.write_state(state="stopped")
            self.first_start.set()

    def _watch(self) -> tuple[str, int | None]:
        """Block until the instance needs a restart; return why (and the lock, if held)."""
        next_health = time.monotonic() + _HEALTH_INTERVAL
        while not self.stop.wait(_TICK):
            assert self.proc is not None
            if (code := self.proc.poll()) is not None:
                return f"unoserver exited with {code}", None
            state = self.instance.read_state()
            if state.get("state") == "dead":
                return f"killed by a client ({state.get('reason')})", None
            if not _alive(state.get("soffice_pid")):
                return "soffice.bin died", None
            recycle = self.instance.conversions() >= self.settings.max_conversions
            if recycle or time.monotonic() >= next_health:
                fd = _try_lock(self.instance.lock_path)
                if fd is None:
                    continue  # busy; check again next tick
                if recycle:
                    return f"reached {self.settings.max_conversions} conversions", fd
                next_health = time.monotonic() + _HEALTH_INTERVAL
                if not self.instance.responds():
                    return "health check failed", fd
                _unlock(fd)
        return "pool stopping", None

    def _restart(self, reason: str, lock_fd: int | None) -> None:
        """Replace the instance while holding its lock, so no client claims it half-started."""
        instance = self.instance
        logger.info("(re)starting LibreOffice instance %d: %s", instance.index, reason)
        if lock_fd is None:
            lock_fd = self._wait_for_lock()
        try:
            instance.write_state(state="starting", reason=reason)
            self._terminate(graceful=reason.startswith("reached"))
            self._spawn()
            soffice_pid = self._wait_until_ready()
            instance.set_conversions(0)
            instance._write_atomic(
                "restarts", "0" if reason == "pool start" else str(instance.restarts() + 1)
            )
            assert self.proc is not None
            instance.write_state(
                state="up", pid=self.proc.pid, soffice_pid=soffice_pid, port=instance.port,
                uno_port=instance.uno_port, started_at=time.time(),
            )  # fmt: skip
        finally:
            if lock_fd is not None:
                _unlock(lock_fd)

    def _wait_for_lock(self) -> int | None:
        # A client mid-conversion finishes or kills within conversion_timeout.
        deadline = time.monotonic() + self.settings.conversion_timeout + 5
        while not self.stop.is_set() and time.monotonic() < deadline:
            if (fd := _try_lock(self.instance.lock_path)) is not None:
                return fd
            time.sleep(0.05)
        return None

    def _spawn(self) -> None:
        instance = self.instance
        for port in (instance.port, instance.uno_port):
            _require_free_port(port)
        command = [
            self.settings.python, "-m", "unoserver.server",
            "--interface", "127.0.0.1", "--uno-interface", "127.0.0.1",
            "--port", str(instance.port), "--uno-port", str(instance.uno_port),
            # unoserver 3.7 turns this into a file:// URI itself: pass a plain path.
            "--user-installation", str(instance.profile_dir),
            # Backstop for a client that died mid-conversion and so cannot kill the instance.
            "--conversion-timeout", str(int(self.settings.conversion_timeout) + 5),
            # Documents carry personal data: keep unoserver's temporary copies out of /tmp.
            "--temp-dir", str(instance.temp_dir),
        ]  # fmt: skip
        if setpriv := shutil.which("setpriv"):
            # If the supervisor dies without stop(), unoserver gets SIGTERM and ends LibreOffice.
            command = [setpriv, "--pdeathsig", "TERM", *command]
        env = dict(os.environ)
        if self.settings.fontconfig_file is not None:
            env["FONTCONFIG_FILE"] = str(self.settings.fontconfig_file)
        shutil.rmtree(instance.temp_dir, ignore_errors=True)  # left behind by a killed run
        instance.temp_dir.mkdir()
        if instance.log_path.exists():
            os.replace(instance.log_path, instance.log_path.with_suffix(".log.1"))
        with instance.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, start_new_session=True,
            )  # fmt: skip

    def _wait_until_ready(self) -> int:
        """Poll until unoserver answers through UNO, then warm it up with one conversion."""
        assert self.proc is not None
        deadline = time.monotonic() + self.settings.startup_timeout
        while not self.instance.responds(timeout=2.0):
            if self.proc.poll() is not None:
                raise ConversionError(
                    f"unoserver exited ({self.proc.returncode}), see {self.instance.log_path}"
                )
            if self.stop.is_set() or time.monotonic() > deadline:
                raise ConversionError(f"instance {self.instance.index} did not answer in time")
            time.sleep(_TICK)
        soffice_pid = _find_in_group(self.proc.pid, "soffice.bin")
        if soffice_pid is None:
            raise ConversionError("soffice.bin not found in the instance's process group")
        try:
            # The first export loads the PDF filter (~0.7 s); pay that here, not in a request.
            self.instance.rpc(self.settings.conversion_timeout).convert(
                None, xmlrpc.client.Binary(_warmup_docx()), None, "pdf", None,
                PDFA_2B_OPTIONS, True, DOCX_IMPORT_FILTER, None,
            )  # fmt: skip
        except (*_CRASH_ERRORS, xmlrpc.client.Fault) as exc:
            raise ConversionError(f"warm-up conversion failed: {exc!r}") from exc
        return soffice_pid

    def _terminate(self, *, graceful: bool) -> None:
        """End the whole process group (unoserver, oosplash, soffice.bin) and reap unoserver."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        # proc is our unreaped child, so its pid (= pgid) cannot have been recycled yet.
        if graceful and proc.poll() is None:
            # Only unoserver: it forwards SIGTERM to LibreOffice and exits in ~1 s. SIGTERM to
            # the whole group leaves oosplash and unoserver hanging (measured).
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _require_free_port(port: int, wait: float = 5.0) -> None:
    """A foreign server on our port would answer our readiness probe: refuse to start.

    Waits a little first: a just-killed soffice.bin may hold its port for a moment.
    """
    deadline = time.monotonic() + wait
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise ConversionError(f"port {port} is already in use") from exc
        time.sleep(0.1)


def _warmup_docx() -> bytes:
    import io

    import docx  # python-docx; imported lazily, only the supervisor needs it

    document = docx.Document()
    document.add_paragraph("预热 warm-up")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


__all__ = ["Converter", "ConverterPool", "PoolSettings", "has_pdfa2_identification"]
