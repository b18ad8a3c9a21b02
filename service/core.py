"""The service's components, wired once per process from the configuration.

Flask views, the ``wenshu`` command and tests all go through one ``Wenshu`` object, so there is
one way to reach the database, the blob store, the keys, the index and the converter.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from archive.blobs import BlobStore
from archive.db import Database
from archive.keys import KeyStore
from service.convert import Converter
from service.converter_instance import PoolSettings

log = logging.getLogger(__name__)

INDEX_POLL_SECONDS = 5.0
FONTS_CONF = Path(__file__).with_name("fonts") / "fonts.conf"


class Wenshu:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.db = Database(config["DATABASE_URL"])
        self.blobs = BlobStore(config["ARCHIVE_DIR"])
        self.keys = KeyStore(config["KEYS_DIR"])
        self.tz = ZoneInfo(config["TIMEZONE"])
        self._indexer_lock = threading.Lock()
        self._indexer_wake = threading.Event()
        self._closed = threading.Event()
        self._indexer_thread: threading.Thread | None = None

    @cached_property
    def pool_settings(self) -> PoolSettings:
        c = self.config
        return PoolSettings(
            run_dir=Path(c["CONVERTER_DIR"]),
            size=c["CONVERTER_POOL_SIZE"],
            base_port=c["CONVERTER_BASE_PORT"],
            max_conversions=c["CONVERTER_MAX_CONVERSIONS"],
            conversion_timeout=c["CONVERSION_TIMEOUT"],
            acquire_timeout=c["CONVERTER_ACQUIRE_TIMEOUT"],
            fontconfig_file=FONTS_CONF if FONTS_CONF.exists() else None,
        )

    @cached_property
    def converter(self) -> Converter:
        return Converter(self.pool_settings)

    @cached_property
    def index(self) -> Any:
        """The search index of the configured backend (``SEARCH_BACKEND``): the same methods."""
        if self.config.get("SEARCH_BACKEND") == "postgresql":
            from archive.search_pg import PgSearchIndex

            return PgSearchIndex(self.db.engine)
        from archive.search_index import SearchIndex

        return SearchIndex(self.config["INDEX_DIR"])

    @cached_property
    def indexer(self) -> Any:
        from archive.indexer import Indexer

        return Indexer(self.db, self.blobs, self.index, Path(self.config["RUN_DIR"]) / "index.lock")

    def index_soon(self) -> None:
        """Wake this process's background indexer: the queue row is already committed, so the
        request need not wait for the index."""
        with self._indexer_lock:
            if self._closed.is_set():
                return
            if self._indexer_thread is None or not self._indexer_thread.is_alive():
                self._indexer_thread = threading.Thread(
                    target=self._index_loop, name="wenshu-indexer", daemon=True
                )
                self._indexer_thread.start()
        self._indexer_wake.set()

    def catch_up_index(self, timeout: float) -> int:
        """For a search: wait at most ``timeout`` until what was issued before it is
        searchable. Returns how many of those documents still are not (0: all are)."""
        upto = self.indexer.last_queued()
        if upto is None:
            return 0
        self.index_soon()
        return self.indexer.wait_for(upto, timeout)

    def close(self) -> None:
        """Stop this process's background indexer (after its current drain) and close the
        database connections: for whoever made this object and is done with it."""
        self._closed.set()
        self._indexer_wake.set()
        with self._indexer_lock:
            thread = self._indexer_thread
        if thread is not None:
            thread.join(timeout=30)
        self.db.dispose()

    def _index_loop(self) -> None:
        while not self._closed.is_set():
            self._indexer_wake.wait(timeout=INDEX_POLL_SECONDS)
            self._indexer_wake.clear()
            if self._closed.is_set():
                return
            try:
                self.indexer.drain(timeout=5.0, gather=True)
            except Exception:  # the queue keeps the entry; the next round retries
                log.exception("background index drain failed")

    def now(self) -> datetime:
        return datetime.now(UTC)

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def local_time(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at.astimezone(self.tz)
