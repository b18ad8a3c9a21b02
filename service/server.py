"""``wenshu serve``: the converter pool and gunicorn under one process that stops both cleanly."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from typing import Any

from service.convert import ConverterPool
from service.core import Wenshu

log = logging.getLogger(__name__)


def serve(ws: Wenshu, *, host: str | None, port: int | None, workers: int | None) -> int:
    host = host or os.environ.get("WENSHU_HOST", "127.0.0.1")
    port = port or int(os.environ.get("WENSHU_PORT", "8000"))
    workers = workers or int(
        os.environ.get("WENSHU_WORKERS", str(max(2, (os.cpu_count() or 2) * 2)))
    )
    pool = ConverterPool(ws.pool_settings)
    log.info("starting %d LibreOffice instance(s)", ws.pool_settings.size)
    pool.start()
    from service.fixity import RecurringChecks

    upkeep = RecurringChecks(
        ws,
        fixity_every=ws.config["FIXITY_INTERVAL_SECONDS"],
        checkpoint_every=ws.config["CHECKPOINT_INTERVAL_SECONDS"],
    )
    upkeep.start()
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
        os.environ.get("WENSHU_THREADS", "8"),
        "--timeout",
        str(int(ws.config["CONVERSION_TIMEOUT"] + ws.config["CONVERTER_ACQUIRE_TIMEOUT"] + 30)),
        "--graceful-timeout",
        "20",
        "--access-logfile",
        "-",
        "--config",
        "python:service.gunicorn_conf",
        "wsgi:app",
    ]
    gunicorn = subprocess.Popen(
        cmd, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
        pool.stop()
        log.info("stopped")
    return 0 if stopping["sig"] else code
