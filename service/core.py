"""The service's components, wired once per process from the configuration.

Flask views, the ``wenshu`` command and tests all go through one ``Wenshu`` object, so there is
one way to reach the database, the blob store, the keys, the index and the converter.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from archive.blobs import BlobStore
from archive.db import Database
from archive.keys import KeyStore
from service.convert import Converter, PoolSettings

log = logging.getLogger(__name__)

FONTS_CONF = Path(__file__).with_name("fonts") / "fonts.conf"


class Wenshu:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.db = Database(config["DATABASE_URL"])
        self.blobs = BlobStore(config["ARCHIVE_DIR"])
        self.keys = KeyStore(config["KEYS_DIR"])
        self.tz = ZoneInfo(config["TIMEZONE"])

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
        from archive.search_index import SearchIndex

        return SearchIndex(self.config["INDEX_DIR"])

    def now(self) -> datetime:
        return datetime.now(UTC)

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def local_time(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at.astimezone(self.tz)
