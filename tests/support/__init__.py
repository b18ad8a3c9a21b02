"""What tests, the harness and the benchmarks share without pytest: the project root, sample
inputs, free ports, ``wenshu serve`` processes.

Apps, clients and databases for tests are in :mod:`tests.support.apps`; fixtures that use them
in ``tests/conftest.py``. No test imports another test module.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent


BACKENDS = ("sqlite", "postgresql")

#: ``WENSHU_APPROVAL`` of test apps and test servers unless a test says otherwise: no type needs
#: 签发, so tests about other things (numbering, search, servers, integrity) issue notices and
#: reports with one ``POST /api/v1/documents``. The 签发 path itself is tested with the types'
#: own rule (``APPROVAL=""``): tests/workflows/test_drafts.py, tests/http/test_drafts_api.py,
#: tests/http/test_web*.py, and every run of the harness (tests/support/harness.py).
APPROVAL_OFF = "notice=no,inspection_report=no"


def free_port_block(n: int) -> int:
    """A base port with ``n`` free ports above it (each instance uses two)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + 2 * n + 2 >= 65000:
            continue
        ok = True
        for p in range(base, base + 2 * n + 2):
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port block")


def sample(doctype: str) -> dict[str, Any]:
    return json.loads(
        (ROOT / "doc_templates" / f"{doctype}.sample.json").read_text(encoding="utf-8")
    )


def start_server(env: dict[str, str], port: int, log_path: Path) -> Any:
    """``wenshu serve`` in its own process group, logging to ``log_path``."""
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [str(Path(sys.executable).with_name("wenshu")), "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_server(proc: Any) -> None:
    """SIGTERM, as an operator would; SIGKILL the group only if it does not stop in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
