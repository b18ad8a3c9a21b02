"""Backup while documents are being issued; restore into a fresh data dir serves the same files."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from service import create_app
from service.ops.cli import initialise
from service.workflows.accounts import add_user
from service.workflows.backup import backup, restore
from service.workflows.integrity.fixity import verify_archive
from tests.support import sample
from tests.support.apps import Client


def test_backup_during_issue_and_restore(
    users: dict[str, Any], ws: Any, tmp_path: Path, converter_dir: dict[str, Any]
) -> None:
    clerk = users["clerk"]
    body = {"type": "notice", "org": "llyb", "data": sample("notice")}
    first = [clerk.post("/api/v1/documents", body).get_json() for _ in range(2)]
    issued: list[Any] = []
    worker = threading.Thread(
        target=lambda: issued.extend(
            clerk.post("/api/v1/documents", body).get_json() for _ in range(2)
        )
    )
    worker.start()
    summary = backup(ws, tmp_path / "bk")
    worker.join()
    assert (
        tmp_path / "bk" / "wenshu.db"
    ).is_file() and summary.blobs >= 5  # identical inputs share one blob
    assert oct((tmp_path / "bk" / "keys").stat().st_mode & 0o777) == "0o700"

    fresh = tmp_path / "restored" / "data"
    restored = create_app(
        {"DATA_DIR": fresh, "DATABASE_URL": f"sqlite:///{fresh / 'wenshu.db'}", **converter_dir}
    )
    rws = restored.extensions["wenshu"]
    restore(rws, tmp_path / "bk")
    initialise(rws)  # migrations are idempotent on the restored database
    assert verify_archive(rws).failures == []
    auditor = Client(restored, add_user(rws, name="r-auditor", role="auditor", org_code="llyb"))
    for doc in first:
        got = auditor.get(doc["links"]["self"]).get_json()
        assert "sha256" in got, got
        assert got["sha256"] == doc["sha256"] and got["wenhao"] == doc["wenhao"]
        assert auditor.get(doc["links"]["verify"]).get_json()["sha256_ok"]
