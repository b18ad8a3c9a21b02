"""gunicorn hooks: warm each worker before it takes requests."""

from __future__ import annotations

from typing import Any


def post_worker_init(worker: Any) -> None:
    # jieba loads its dictionary (~1 s) on first use; do it before the first search, not during it.
    from archive.analysis import warm_up

    warm_up()
