"""The service's components, wired once per process from the configuration.

Flask views, the ``wenshu`` command and tests all go through one ``Wenshu`` object, so there is
one way to reach the database, the blob store, the keys, the index and the converter.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from archive.blobs import BlobStore
from archive.db import Database
from archive.indexer import Indexer
from archive.keys import KeyStore
from archive.search import SearchBackend, open_backend
from service import settings
from service.doctypes import DOCTYPES
from service.documents.convert.client import Converter
from service.documents.convert.instance import FONTS_CONF, PoolSettings
from service.documents.render import register_doctype

log = logging.getLogger(__name__)

# The document types of the registry, declared to the layers below it that answer by a type's
# code alone: its renderer and template (service/documents/render.py) and its default
# retention (service/settings.py, which WENSHU_RETENTION overrides). Whatever builds a Wenshu
# has imported this module, so it holds for the server, the command, the workers and tests.
for _doctype in DOCTYPES.values():
    register_doctype(_doctype.code, _doctype.renderer, _doctype.template)
    settings.DEFAULT_RETENTION[_doctype.code] = _doctype.retention


class BackgroundIndexing(Protocol):
    """What a serving process attaches to drain the index queue (``service/workers/indexing.py``)."""

    def wake(self) -> None: ...

    def stop(self, timeout: float = 30.0) -> None: ...


class Wenshu:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.db = Database(config["DATABASE_URL"])
        self.blobs = BlobStore(config["ARCHIVE_DIR"])
        self.keys = KeyStore(config["KEYS_DIR"])
        self.tz = ZoneInfo(config["TIMEZONE"])
        self.indexing: BackgroundIndexing | None = None
        """Set by a serving process; without one, a search drains the queue itself."""

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
    def index(self) -> SearchBackend:
        """The search index of the configured backend (``SEARCH_BACKEND``)."""
        return open_backend(
            self.config.get("SEARCH_BACKEND") or "whoosh",
            index_dir=self.config.get("INDEX_DIR"),
            engine=self.db.engine,
        )

    @cached_property
    def indexer(self) -> Indexer:
        return Indexer(self.db, self.blobs, self.index, Path(self.config["RUN_DIR"]) / "index.lock")

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
