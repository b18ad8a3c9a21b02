"""gunicorn hooks: warm each worker before it takes requests."""

from __future__ import annotations

from typing import Any


def post_worker_init(worker: Any) -> None:
    """Pay the one-time costs (jieba's dictionary ≈ 1 s, pyHanko and docxtpl imports, the seal
    font) before the first request, so no request — least of all a read sharing the worker's
    GIL — waits for them."""
    from archive.analysis import warm_up
    from service import issuing  # noqa: F401  (imports render, sign, seal, watermark)
    from service.seal import make_seal_png

    warm_up()
    make_seal_png("预热")
