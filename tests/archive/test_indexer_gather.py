"""The background indexer gathers a batch for the backend's ``gather_seconds`` after a commit,
unless a search is waiting: then it commits at once (a search waits for one commit, not for
the gathering as well)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive import indexer as indexer_module
from archive.blobs import BlobStore
from archive.db import Database
from archive.indexer import Indexer
from archive.migrate import upgrade
from archive.models import IndexQueueEntry
from archive.search.whoosh.index import SearchIndex

GATHER_SECONDS = SearchIndex.gather_seconds


def _indexer(tmp_path: Path) -> Indexer:
    url = f"sqlite:///{tmp_path / 'wenshu.db'}"
    upgrade(url)
    db = Database(url)
    with db.write() as s:  # a commit just now
        now = datetime.now(UTC)
        s.add(IndexQueueEntry(document_id="a" * 20, enqueued_at=now, done_at=now))
    index = SearchIndex(tmp_path / "index")
    return Indexer(db, BlobStore(tmp_path / "blobs"), index, tmp_path / "index.lock")


def _gather_seconds(indexer: Indexer) -> float:
    started = time.monotonic()
    indexer._gather()  # noqa: SLF001 (the gathering itself is what is timed)
    return time.monotonic() - started


def test_a_stream_of_documents_gathers_after_a_commit(tmp_path: Path) -> None:
    assert _gather_seconds(_indexer(tmp_path)) > GATHER_SECONDS * 0.6


def test_a_waiting_search_cuts_the_gathering_short(tmp_path: Path, monkeypatch: Any) -> None:
    indexer = _indexer(tmp_path)
    slept = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:  # the search arrives during the gathering
        slept.append(seconds)
        if len(slept) == 3:
            Indexer(indexer.db, indexer.blobs, indexer.index, indexer.lock_path).hurry()
        real_sleep(seconds)

    monkeypatch.setattr(indexer_module.time, "sleep", sleep)
    assert _gather_seconds(indexer) < GATHER_SECONDS / 2


def test_a_search_before_the_last_commit_does_not_cut_the_next_gathering(tmp_path: Path) -> None:
    first = _indexer(tmp_path)
    first.hurry()
    time.sleep(0.05)
    with first.db.write() as s:  # then a commit took what that search waited for
        now = datetime.now(UTC)
        s.add(IndexQueueEntry(document_id="b" * 20, enqueued_at=now, done_at=now))
    assert _gather_seconds(first) > GATHER_SECONDS * 0.6
