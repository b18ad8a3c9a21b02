"""The supervisor of the LibreOffice pool: starts, watches, restarts and stops the instances.

One :class:`ConverterPool` runs per run directory (in gunicorn's master, or its own process);
clients in any process convert through :class:`service.documents.convert.client.Converter`.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import weakref
import xmlrpc.client
from pathlib import Path

import docx

from archive.errors import ConversionError
from service.documents.convert.instance import (
    BASE_PORT_FILE,
    CRASH_ERRORS,
    DOCX_IMPORT_FILTER,
    PDFA_2B_OPTIONS,
    Instance,
    PoolSettings,
    find_in_group,
    is_alive,
    try_lock,
    unlock,
)

logger = logging.getLogger("wenshu.convert")

_TICK = 0.25
_HEALTH_INTERVAL = 10.0


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
        forget = weakref.WeakMethod(self._forget_in_child)
        os.register_at_fork(after_in_child=lambda: (method := forget()) is not None and method())

    def start(self) -> None:
        """Spawn every instance and return once all of them convert (about 6 s)."""
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = try_lock(self.settings.run_dir / "supervisor.lock")
        if self._lock_fd is None:
            raise ConversionError(f"{self.settings.run_dir} 已由另一个转换进程池管理")
        self._stop.clear()
        if not self.settings.base_port:
            _publish_base_port(self.settings.run_dir, _free_port_block(2 * self.settings.size))
        self._supervisors = [
            _Supervisor(Instance(self.settings, i), self.settings, self._stop)
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
            unlock(self._lock_fd)
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

    def __init__(self, instance: Instance, settings: PoolSettings, stop: threading.Event):
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
            if not is_alive(state.get("soffice_pid")):
                return "soffice.bin died", None
            recycle = self.instance.conversions() >= self.settings.max_conversions
            if recycle or time.monotonic() >= next_health:
                fd = try_lock(self.instance.lock_path)
                if fd is None:
                    continue  # busy; check again next tick
                if recycle:
                    return f"reached {self.settings.max_conversions} conversions", fd
                next_health = time.monotonic() + _HEALTH_INTERVAL
                if not self.instance.responds():
                    return "health check failed", fd
                unlock(fd)
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
            instance.set_restarts(0 if reason == "pool start" else instance.restarts() + 1)
            assert self.proc is not None
            instance.write_state(
                state="up", pid=self.proc.pid, soffice_pid=soffice_pid, port=instance.port,
                uno_port=instance.uno_port, started_at=time.time(),
            )  # fmt: skip
        finally:
            if lock_fd is not None:
                unlock(lock_fd)

    def _wait_for_lock(self) -> int | None:
        # A client mid-conversion finishes or kills within conversion_timeout.
        deadline = time.monotonic() + self.settings.conversion_timeout + 5
        while not self.stop.is_set() and time.monotonic() < deadline:
            if (fd := try_lock(self.instance.lock_path)) is not None:
                return fd
            time.sleep(0.05)
        return None

    def _spawn(self) -> None:
        instance = self.instance
        for port in (instance.port, instance.uno_port):
            _require_free_port(port)
        command = [
            # unoserver, with the typesetting rule LibreOffice does not take from a DOCX (office.py)
            self.settings.python, "-m", "service.documents.convert.office",
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
        soffice_pid = find_in_group(self.proc.pid, "soffice.bin")
        if soffice_pid is None:
            raise ConversionError("soffice.bin not found in the instance's process group")
        try:
            # The first export loads the PDF filter (~0.7 s); pay that here, not in a request.
            self.instance.rpc(self.settings.conversion_timeout).convert(
                None, xmlrpc.client.Binary(_warmup_docx()), None, "pdf", None,
                PDFA_2B_OPTIONS, True, DOCX_IMPORT_FILTER, None,
            )  # fmt: skip
        except (*CRASH_ERRORS, xmlrpc.client.Fault) as exc:
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


def _free_port_block(count: int) -> int:
    """A first port with ``count`` free loopback ports from it on (asked of the kernel)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count >= 65536:
            continue
        if all(_port_is_free(port) for port in range(base, base + count)):
            return base
    raise ConversionError(f"找不到 {count} 个连续的空闲端口")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _publish_base_port(run_dir: Path, base: int) -> None:
    """Write the chosen block where every client reads it (atomically: clients read it often)."""
    tmp = run_dir / f".{BASE_PORT_FILE}.tmp"
    tmp.write_text(str(base))
    os.replace(tmp, run_dir / BASE_PORT_FILE)


def _require_free_port(port: int, wait: float = 5.0) -> None:
    """A foreign server on our port would answer our readiness probe: refuse to start.

    Waits a little first: a just-killed soffice.bin may hold its port for a moment.
    """
    deadline = time.monotonic() + wait
    while not _port_is_free(port):
        if time.monotonic() > deadline:
            raise ConversionError(f"port {port} is already in use")
        time.sleep(0.1)


def _warmup_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("预热 warm-up")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
