"""gunicorn hooks: warm each worker before it takes requests; gunicorn's own log lines in the
same JSON as the service's (service/logs.py); metrics files of dead workers kept summable."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger
from prometheus_client import multiprocess

from archive.search.analysis import warm_up
from service.documents.seal import make_seal_png
from service.http.logs import JsonFormatter
from service.settings import load_settings
from service.workflows import issuing  # noqa: F401  (loads render, sign, seal, watermark once, before the fork)


class JsonLogger(Logger):
    """gunicorn's error log as one JSON object per line (requests are logged by the app)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if load_settings().web.log_format == "json":
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())


logger_class = JsonLogger


def child_exit(_server: Any, worker: Any) -> None:
    """A worker's counters stay in its files; only its live gauges must go."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    """Pay the one-time costs (jieba's dictionary ≈ 1 s, the seal font; pyHanko and docxtpl are
    imported above, in the master, before the fork) before the first request, so no request — least of all a read sharing the worker's
    GIL — waits for them."""
    warm_up()
    make_seal_png("预热")
