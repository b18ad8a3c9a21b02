"""The index worker of a serving process: drains the durable index queue into the search backend.

A request that queued a document wakes it (``Wenshu.index_soon``), so the request need not wait
for the index; a search waits for what was issued before it (``Wenshu.catch_up_index``).
"""

from __future__ import annotations

from service.wiring import Wenshu
from service.workers.base import Worker


class IndexingWorker(Worker):
    name = "wenshu-indexer"
    interval = 5.0

    def __init__(self, ws: Wenshu) -> None:
        super().__init__()
        self.ws = ws

    def run_once(self) -> None:
        self.ws.indexer.drain(timeout=5.0, gather=True)


def attach_indexing(ws: Wenshu) -> IndexingWorker:
    """Give ``ws`` its background index worker (started on the first document queued)."""
    worker = IndexingWorker(ws)
    ws.indexing = worker
    return worker
