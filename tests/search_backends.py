"""The two search backends, for tests that must hold on both: Whoosh in a folder, and
PostgreSQL in a fresh database (from WENSHU_TEST_PG, as the database-facing tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SEARCH_BACKENDS = ("whoosh", "postgresql")


@contextmanager
def open_index(kind: str, tmp_path: Path) -> Iterator[Any]:
    """An empty search index of ``kind``; a PostgreSQL one is dropped with its database."""
    if kind == "whoosh":
        from archive.search_index import SearchIndex

        yield SearchIndex(tmp_path / "index")
        return
    from archive.db import make_engine
    from archive.search_pg import PgSearchIndex
    from tests.conftest import fresh_database

    with fresh_database("postgresql", tmp_path) as url:
        engine = make_engine(url)
        try:
            yield PgSearchIndex(engine)
        finally:
            engine.dispose()
