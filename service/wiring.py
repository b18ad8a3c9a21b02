"""The service's components, wired once per process from the configuration.

Flask views, the ``wenshu`` command and tests all go through one ``Wenshu`` object, so there is
one way to reach the database, the blob store, the keys, the index and the converter.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Protocol
from zoneinfo import ZoneInfo

from archive.blobs import BlobStore
from archive.db import Database
from archive.indexer import Indexer
from archive.keys import KeyStore
from archive.search import SearchBackend, open_backend
from service.documents.convert.client import Converter
from service.documents.convert.instance import FONTS_CONF, PoolSettings
from service.settings import Settings

log = logging.getLogger(__name__)


class BackgroundIndexing(Protocol):
    """What a serving process attaches to drain the index queue (``service/workers/indexing.py``)."""

    def wake(self) -> None: ...

    def stop(self, timeout: float = 30.0) -> None: ...


def pool_settings(settings: Settings) -> PoolSettings:
    """The converter pool's layout, for its clients and for ``wenshu converter``, which runs it
    without the rest of the container (its user sees no database, key or archive)."""
    c = settings.converter
    return PoolSettings(
        run_dir=settings.paths.converter,
        size=c.pool_size,
        max_conversions=c.max_conversions,
        conversion_timeout=c.conversion_timeout,
        acquire_timeout=c.acquire_timeout,
        fontconfig_file=FONTS_CONF if FONTS_CONF.exists() else None,
    )


class Wenshu:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.blobs = BlobStore(settings.paths.archive)
        self.keys = KeyStore(settings.paths.keys)
        self.tz = ZoneInfo(settings.timezone)
        self.indexing: BackgroundIndexing | None = None
        """Set by a serving process; without one, a search drains the queue itself."""

    @cached_property
    def pool_settings(self) -> PoolSettings:
        return pool_settings(self.settings)

    @cached_property
    def converter(self) -> Converter:
        return Converter(self.pool_settings)

    @cached_property
    def index(self) -> SearchBackend:
        """The search index of the configured backend (``WENSHU_SEARCH_BACKEND``)."""
        return open_backend(
            self.settings.search.backend, index_dir=self.settings.paths.index, engine=self.db.engine
        )

    @cached_property
    def indexer(self) -> Indexer:
        return Indexer(self.db, self.blobs, self.index, self.settings.paths.run / "index.lock")

    def index_soon(self) -> None:
        """Wake this process's background indexer: the queue row is already committed, so the
        request need not wait for the index."""
        if self.indexing is not None:
            self.indexing.wake()

    def catch_up_index(self, timeout: float) -> int:
        """For a search: wait at most ``timeout`` until what was issued before it is
        searchable. Returns how many of those documents still are not (0: all are)."""
        upto = self.indexer.last_queued()
        if upto is None:
            return 0
        if self.indexing is None:
            self.indexer.drain(timeout=timeout, gather=True)
        else:
            self.indexing.wake()
        return self.indexer.wait_for(upto, timeout)

    def close(self) -> None:
        """Stop this process's background indexer (after its current drain) and close the
        database connections: for whoever made this object and is done with it."""
        if self.indexing is not None:
            self.indexing.stop(timeout=30)
        self.db.dispose()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def local_time(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at.astimezone(self.tz)
