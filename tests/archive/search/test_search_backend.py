"""The public surface of archive.search: what callers may import, and the one interface both
backends answer to (mypy checks it statically through ``open_backend``; this checks it at run
time too, so a backend cannot drift from the Protocol unnoticed)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import archive.search
from archive.search import SearchBackend, open_backend
from archive.search.postgres.backend import PgSearchIndex
from archive.search.whoosh.index import SearchIndex

BACKENDS = (SearchIndex, PgSearchIndex)


def test_the_public_surface_is_listed() -> None:
    assert sorted(archive.search.__all__) == [
        "COUNT_BOUND",
        "IndexBusy",
        "IndexedDoc",
        "SearchBackend",
        "SearchFilters",
        "SearchHit",
        "SearchResult",
        "open_backend",
    ]
    for name in archive.search.__all__:
        assert getattr(archive.search, name) is not None


def _members() -> list[str]:
    return sorted(name for name in vars(SearchBackend) if not name.startswith("_"))


def test_the_protocol_declares_what_callers_use() -> None:
    assert _members() == [
        "add",
        "check",
        "compact",
        "delete",
        "doc_count",
        "exclusive",
        "rebuild",
        "search",
        "warm",
    ]


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("member", _members())
def test_each_backend_takes_what_the_protocol_passes(backend: type, member: str) -> None:
    wanted = inspect.signature(getattr(SearchBackend, member)).parameters
    given = inspect.signature(getattr(backend, member)).parameters
    for name, param in wanted.items():
        assert name in given, f"{backend.__name__}.{member} lacks {name}"
        assert given[name].kind == param.kind, f"{backend.__name__}.{member}({name})"
        if param.default is not inspect.Parameter.empty:
            assert given[name].default == param.default, f"{backend.__name__}.{member}({name})"
    for name, param in given.items():  # what the protocol does not pass must be optional
        if name not in wanted and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            assert param.default is not inspect.Parameter.empty, f"{backend.__name__}.{member}"


def test_open_backend_makes_a_whoosh_folder(tmp_path: Path) -> None:
    index = open_backend("whoosh", index_dir=tmp_path / "index", engine=None)
    assert isinstance(index, SearchIndex) and index.check() and index.doc_count() == 0
    assert (tmp_path / "index" / "CURRENT").is_file()


@pytest.mark.parametrize(
    ("kind", "index_dir"), [("whoosh", None), ("postgresql", "somewhere"), ("sqlite", "x")]
)
def test_open_backend_refuses_what_it_cannot_open(kind: str, index_dir: str | None) -> None:
    with pytest.raises(ValueError):
        open_backend(kind, index_dir=index_dir, engine=None)
