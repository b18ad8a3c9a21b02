from __future__ import annotations

from pathlib import Path

import pytest

from archive.blobs import Blobs, BlobStore, sha256_hex


def test_put_is_content_addressed_read_only_and_verifiable(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = store.put(b"hello")
    assert digest == sha256_hex(b"hello")
    assert store.put(b"hello") == digest
    p = store.path(digest)
    assert p.read_bytes() == b"hello" and oct(p.stat().st_mode & 0o777) == "0o400"
    assert store.verify(digest)
    p.chmod(0o644)
    p.write_bytes(b"hellp")
    assert not store.verify(digest)
    assert not list(p.parent.glob(".tmp-*"))


def test_the_local_folder_is_a_blob_store_and_refuses_names_that_are_not_hashes(
    tmp_path: Path,
) -> None:
    store = BlobStore(tmp_path)
    assert isinstance(store, Blobs)
    for bad in ("../../etc/passwd", "A" * 64, "abc"):
        with pytest.raises(ValueError):
            store.get(bad)
    assert not store.exists(sha256_hex(b"never stored"))
    assert not store.verify(sha256_hex(b"never stored"))
