"""``wenshu backup DIR`` / ``wenshu restore DIR``: a consistent copy made while the service runs.

Order matters. The database is copied first, as one snapshot (SQLite's online backup API), and
the blobs after it: blobs are written before the transaction that refers to them commits, so
every blob the snapshot names already exists when the copy of the archive folder runs. Blobs
are write-once, so copying them later can only add unreferenced ones, never miss one.
The signing keys go to their own folder (``DIR/keys``, mode 0700) so the archive copy can be
handed on without them; ``--keys`` puts them elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from archive.blobs import sha256_hex
from archive.errors import ConflictError, ValidationError
from service.wiring import Wenshu

MANIFEST = "wenshu-backup.json"


@dataclass(frozen=True)
class BackupSummary:
    directory: Path
    blobs: int
    database: str
    keys: Path


def _sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _copy_tree(src: Path, dst: Path) -> int:
    """Copy every file of ``src`` not yet in ``dst`` (blobs never change once written)."""
    n = 0
    for path in sorted(src.rglob("*")):
        if path.is_file() and not path.name.startswith(".tmp-"):
            target = dst / path.relative_to(src)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
            n += 1
    return n


def backup(ws: Wenshu, directory: Path, keys_dir: Path | None = None) -> BackupSummary:
    directory = directory.resolve()
    db_path = _sqlite_path(ws.db.url)
    if directory.exists() and any(directory.iterdir()):
        raise ConflictError(f"备份目录 {directory} 不是空的")
    directory.mkdir(parents=True, exist_ok=True)
    if db_path is not None:
        src = sqlite3.connect(db_path)
        dst = sqlite3.connect(directory / "wenshu.db")
        with dst:
            src.backup(dst)
        dst.close()
        src.close()
        database = "wenshu.db"
    else:
        database = "external (PostgreSQL: back it up with pg_dump before this command)"
    blobs = _copy_tree(ws.blobs.root, directory / "archive")
    keys = (keys_dir or directory / "keys").resolve()
    keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    _copy_tree(ws.keys.root, keys)
    os.chmod(keys, 0o700)
    manifest = {
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": database,
        "database_sha256": sha256_hex((directory / "wenshu.db").read_bytes()) if db_path else None,
        "blobs": blobs,
        "keys": str(keys),
    }
    (directory / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return BackupSummary(directory, blobs, database, keys)


def restore(ws: Wenshu, directory: Path, keys_dir: Path | None = None) -> int:
    """Restore into an empty data dir; returns the number of blobs restored."""
    directory = directory.resolve()
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ValidationError(f"{directory} 不是 wenshu 备份（缺少 {MANIFEST}）")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    db_path = _sqlite_path(ws.db.url)
    if db_path is not None:
        if db_path.exists() and db_path.stat().st_size > 0:
            raise ConflictError(f"数据库 {db_path} 已存在：只能恢复到新的数据目录")
        if (
            manifest.get("database_sha256")
            and sha256_hex((directory / "wenshu.db").read_bytes()) != manifest["database_sha256"]
        ):
            raise ValidationError("备份中的数据库文件与清单的哈希不符")
        db_path.parent.mkdir(parents=True, exist_ok=True)
        ws.db.dispose()  # no pooled connection may keep pointing at a file being replaced
        shutil.copy2(directory / "wenshu.db", db_path)
    n = _copy_tree(directory / "archive", ws.blobs.root)
    keys = (keys_dir or Path(manifest.get("keys") or directory / "keys")).resolve()
    ws.keys.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    for key in keys.rglob("*.pem"):
        target = ws.keys.root / key.relative_to(keys)
        if target.exists() and target.read_bytes() != key.read_bytes():
            raise ConflictError(f"密钥 {target} 已存在且与备份不同：只能恢复到新的数据目录")
    _copy_tree(keys, ws.keys.root)
    for key in ws.keys.root.rglob("signing-key.pem"):
        key.chmod(0o600)
    return n
