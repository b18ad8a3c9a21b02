"""Servers for system tests: `wenshu serve` processes, health waits, two servers on one PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.support import (
    APPROVAL_OFF,
    ROOT,
    free_port_block,
    start_server,
    stop_server,
)

WENSHU = str(Path(sys.executable).with_name("wenshu"))


def wait_healthy(url: str, proc: subprocess.Popen[Any], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited during start-up"
        try:
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError("service did not become healthy")


@contextmanager
def two_servers(pg_url: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], str, list[str]]]:
    """Two `wenshu serve` (each its own converter pool) on one PostgreSQL and one data dir:
    yields their environment, a clerk's token and the two base URLs; stops both after."""
    env = dict(
        os.environ,
        WENSHU_DATA=str(tmp_path / "data"),
        DATABASE_URL=pg_url,
        WENSHU_CONVERTER_POOL_SIZE="1",
        WENSHU_WORKERS="2",
        WENSHU_APPROVAL=APPROVAL_OFF,  # servers sharing one database are under test, not 签发
    )
    env.pop("WENSHU_SEARCH_BACKEND", None)  # the default on PostgreSQL
    subprocess.run([WENSHU, "init"], env=env, cwd=ROOT, check=True, capture_output=True)
    token = subprocess.run(
        [WENSHU, "user-add", "c2", "--role", "clerk", "--org", "llyb"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()[-1]
    servers = []
    try:
        for i in range(2):
            server_env = dict(  # each server its own run dir, as docs/scale-out.md says
                env,
                WENSHU_RUN=str(tmp_path / f"run{i}"),
                WENSHU_CONVERTER_DIR=str(tmp_path / f"conv{i}"),
            )
            port = free_port_block(1)
            proc = start_server(server_env, port, tmp_path / f"server{i}.log")
            servers.append((proc, f"http://127.0.0.1:{port}"))
        for proc, url in servers:
            wait_healthy(url, proc)
        yield env, token, [url for _, url in servers]
    finally:
        for proc, _ in servers:
            stop_server(proc)
