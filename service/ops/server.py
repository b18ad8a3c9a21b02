"""``wenshu serve``: the converter pool and gunicorn under one process that stops both cleanly."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from service.documents.convert.pool import ConverterPool
from service.settings import Settings
from service.telemetry import MULTIPROC_ENV
from service.wiring import Wenshu, pool_settings
from service.workers.indexing import attach_indexing
from service.workers.integrity import RecurringChecks
from service.workers.ocr import Recogniser

log = logging.getLogger(__name__)


def serve(ws: Wenshu, *, host: str | None, port: int | None, workers: int | None) -> int:
    host = host or ws.settings.server.host
    port = port or ws.settings.server.port
    workers = workers or ws.settings.server.workers
    run_dir_lock = _own_run_dir(ws.settings.paths.run)
    if run_dir_lock is None:
        return 1
    _private_tmp(ws.settings.paths.run)
    pool: ConverterPool | None = None
    if ws.settings.converter.separate:
        if not _wait_for_converter(ws, timeout=ws.pool_settings.startup_timeout + 30):
            return 1
    else:
        pool = ConverterPool(ws.pool_settings)
        log.info("starting %d LibreOffice instance(s)", ws.pool_settings.size)
        pool.start()
    upkeep = RecurringChecks(
        ws,
        fixity_every=ws.settings.integrity.fixity_interval,
        checkpoint_every=ws.settings.integrity.checkpoint_interval,
    )
    upkeep.start()
    attach_indexing(ws)  # the recogniser queues recognised text for the index
    # A first round now: an index that is missing, damaged or from another version of the
    # analysis (an upgrade) is rebuilt from the archive before searches need it.
    ws.index_soon()
    recogniser = Recogniser(ws)  # scans of signed originals queued by uploads
    recogniser.start()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        # Threads let a worker answer reads while its other requests wait on LibreOffice.
        "--worker-class",
        "gthread",
        "--threads",
        str(ws.settings.server.threads),
        "--timeout",
        str(
            int(
                ws.settings.converter.conversion_timeout
                + ws.settings.converter.acquire_timeout
                + 30
            )
        ),
        "--graceful-timeout",
        "20",
        "--config",
        "python:service.ops.gunicorn_conf",
        # gunicorn's control socket is one fixed path per user: every server on the machine
        # would take it from the one before. Nothing here uses it.
        "--no-control-socket",
        "wsgi:app",
    ]
    if setpriv := shutil.which("setpriv"):
        # If this process is SIGKILLed, gunicorn gets SIGTERM and shuts its workers down
        # instead of serving on, orphaned, without a converter pool and holding the port.
        cmd = [setpriv, "--pdeathsig", "TERM", *cmd]
    _wait_for_free_port(host, port, timeout=60)
    gunicorn = subprocess.Popen(
        cmd,
        cwd=str(Path(__file__).resolve().parents[2]),  # the project root, where wsgi.py is
        env={**os.environ, MULTIPROC_ENV: str(_fresh_metrics_dir(ws))},
    )
    stopping: dict[str, Any] = {"sig": None}

    def _stop(signum: int, _frame: Any) -> None:
        stopping["sig"] = signum
        if gunicorn.poll() is None:
            gunicorn.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        code = gunicorn.wait()
    finally:
        if gunicorn.poll() is None:
            gunicorn.kill()
        upkeep.stop()
        recogniser.stop()
        if pool is not None:
            pool.stop()
        log.info("stopped")
    return 0 if stopping["sig"] else code


def run_converter(settings: Settings) -> int:
    """``wenshu converter``: the LibreOffice pool alone, until SIGTERM or SIGINT.

    Needs nothing but the pool's run directory: run as the converter's user, it never opens
    the database, the keys or the archive (docs/deployment.md)."""
    pool = ConverterPool(pool_settings(settings))
    stop = threading.Event()

    def _stop(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    pool.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        pool.stop()
        log.info("converter pool stopped")
    return 0


def _wait_for_converter(ws: Wenshu, timeout: float) -> bool:
    """``WENSHU_CONVERTER_SEPARATE``: the pool is ``wenshu converter``'s; wait until it converts."""
    deadline = time.monotonic() + timeout
    log.info("waiting for the converter pool in %s", ws.pool_settings.run_dir)
    while not ws.converter.ping():
        if time.monotonic() > deadline:
            log.error("no converter pool answers in %s", ws.pool_settings.run_dir)
            print(
                f"文档转换服务未在 {timeout:g} 秒内启动（{ws.pool_settings.run_dir}）："
                "请先启动 wenshu converter",
                file=sys.stderr,
            )
            return False
        time.sleep(0.5)
    return True


def _wait_for_free_port(host: str, port: int, timeout: float) -> None:
    """After a crash, the previous gunicorn's workers may still be finishing their requests
    (up to the graceful timeout) with the port open; gunicorn itself gives up after 5 s."""
    deadline = time.monotonic() + timeout
    waiting = False
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
                return
            except OSError:
                if time.monotonic() > deadline:
                    return  # let gunicorn report the port in use
        if not waiting:
            log.warning("port %s:%d still in use (previous server stopping?); waiting", host, port)
            waiting = True
        time.sleep(0.5)


def _private_tmp(run_dir: Path) -> None:
    """This process's and its children's temporary files (jieba's dictionary cache, gunicorn's,
    OCR's) in ``RUN_DIR/tmp`` (0700), not the shared /tmp: there a cache another local user
    made first would be loaded (and ours could not replace it: "Dump cache file failed")."""
    tmp = run_dir / "tmp"
    tmp.mkdir(mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again


def _own_run_dir(run_dir: Path) -> Any:
    """Hold ``RUN_DIR/serve.lock`` for as long as this process lives (the kernel lets go when
    it dies, however it dies): a second server on the same run dir — its converter pool,
    metrics and locks — would pull them from under the first. None if another holds it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    fh = open(run_dir / "serve.lock", "a+")  # noqa: SIM115 (kept open on purpose)
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "?"
        fh.close()
        log.error(
            "run dir %s is in use by another wenshu serve (pid %s): each server needs its own "
            "WENSHU_RUN (docs/scale-out.md)",
            run_dir,
            holder,
        )
        print(
            f"运行目录 {run_dir} 已被另一个 wenshu serve（pid {holder}）使用："
            "每个服务进程须有自己的 WENSHU_RUN",
            file=sys.stderr,
        )
        return None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def _fresh_metrics_dir(ws: Wenshu) -> Path:
    """The workers' metric files (gunicorn access log replaced by the app's JSON request log):
    emptied at each start, so counters begin at zero with the service, as Prometheus expects."""
    path = ws.settings.paths.run / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
