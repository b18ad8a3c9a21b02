"""The two search backends, for tests that must hold on both: Whoosh in a folder, and
PostgreSQL in a fresh database (from WENSHU_TEST_PG, as the database-facing tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from archive.search import IndexedDoc, SearchBackend, open_backend

SEARCH_BACKENDS = ("whoosh", "postgresql")


@contextmanager
def open_index(kind: str, tmp_path: Path) -> Iterator[SearchBackend]:
    """An empty search index of ``kind``; a PostgreSQL one is dropped with its database."""
    if kind == "whoosh":
        yield open_backend(kind, index_dir=tmp_path / "index", engine=None)
        return
    from archive.db import make_engine
    from tests.support.apps import fresh_database

    with fresh_database("postgresql", tmp_path) as url:
        engine = make_engine(url)
        try:
            yield open_backend(kind, index_dir=None, engine=engine)
        finally:
            engine.dispose()


def doc(doc_id: str, body: str, **kw: object) -> IndexedDoc:
    fields: dict[str, object] = {
        "id": doc_id,
        "type": "notice",
        "org": "llyb",
        "case_no": None,
        "wenhao": None,
        "archive_no": None,
        "title": f"文书{doc_id}",
        "body": body,
        "issued_at": datetime(2021, 6, 1, 9, 30),
    }
    fields.update(kw)
    return IndexedDoc(**fields)  # type: ignore[arg-type]
