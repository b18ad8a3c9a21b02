"""gunicorn hooks: warm each worker before it takes requests; gunicorn's own log lines in the
same JSON as the service's (service/logs.py); metrics files of dead workers kept summable."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger

from service.logs import JsonFormatter


class JsonLogger(Logger):
    """gunicorn's error log as one JSON object per line (requests are logged by the app)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if os.environ.get("WENSHU_LOG_FORMAT", "json") == "json":
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())


logger_class = JsonLogger


def child_exit(_server: Any, worker: Any) -> None:
    """A worker's counters stay in its files; only its live gauges must go."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    """Pay the one-time costs (jieba's dictionary ≈ 1 s, pyHanko and docxtpl imports, the seal
    font) before the first request, so no request — least of all a read sharing the worker's
    GIL — waits for them."""
    from archive.analysis import warm_up
    from service import issuing  # noqa: F401  (imports render, sign, seal, watermark)
    from service.seal import make_seal_png

    warm_up()
    make_seal_png("预热")
