"""Least privilege on the machine: ``scripts/run`` started as root, then a local user's view.

The service runs from a fresh copy of the checkout (its files as they are now, ignored ones
left out; the virtualenv linked in from this checkout's, so the copy installs nothing) as root,
the way a bureau's administrator would start it. It must make the system users, drop to them, issue a
document — and then user ``nobody`` can neither reach the converter nor read the signing key,
the database, a blob or the search index. Each is asserted on its own, after checking that
the thing exists (as root), so a refusal is the permissions' doing and not a wrong path.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.support import ROOT, free_port_block, sample

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="scripts/run drops to the service's users only when started as root"
)

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
PROBE = """
import socket, sys
kind, path = sys.argv[1], sys.argv[2]
try:
    if kind == "read":
        open(path, "rb").read(1)
    else:
        socket.socket(socket.AF_UNIX).connect(path)
    print("ok")
except OSError as exc:
    print(type(exc).__name__)
"""


@dataclass
class RunningService:
    root: Path
    data: Path
    converter_dir: Path
    url: str
    output: Path
    started: float = field(default_factory=time.time)


def _checkout_files() -> list[Path]:
    """The tracked and new files of the checkout (every file, outside a git checkout)."""
    if not (ROOT / ".git").exists():
        skip = {".venv", "var", "__pycache__", ".mypy_cache", ".ruff_cache"}
        return [
            p.relative_to(ROOT)
            for p in ROOT.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(ROOT).parts)
        ]
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    return [Path(os.fsdecode(name)) for name in files if name]


def _copy_checkout(target: Path) -> None:
    """The tracked files as they are in the working tree, and the virtualenv running these
    tests (hard links where the filesystem allows, else a copy), its paths pointed at the copy."""
    for name in _checkout_files():
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    venv = Path(sys.prefix)
    if subprocess.run(["cp", "-al", str(venv), str(target / ".venv")]).returncode != 0:
        shutil.rmtree(target / ".venv", ignore_errors=True)
        subprocess.run(["cp", "-a", str(venv), str(target / ".venv")], check=True)
    old, new = str(venv.parent).encode(), str(target).encode()
    site = next((target / ".venv" / "lib").glob("python3*/site-packages"))
    rewrite = [*site.glob("__editable__*"), *(target / ".venv" / "bin").iterdir()]
    for path in rewrite:
        if path.is_file() and not path.is_symlink():
            content = path.read_bytes()
            if old in content:
                mode = path.stat().st_mode
                path.unlink()  # a hard link: write a file of our own, not the original's
                path.write_bytes(content.replace(old, new))
                path.chmod(stat.S_IMODE(mode))


@pytest.fixture(scope="module")
def running() -> Iterator[RunningService]:
    root = Path(tempfile.mkdtemp(prefix="wenshu-priv-", dir="/tmp"))
    root.chmod(0o755)  # as /opt/wenshu would be: the service's users read the code
    _copy_checkout(root)
    port = free_port_block(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WENSHU_")}
    env.pop("DATABASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        WENSHU_PORT=str(port), WENSHU_CONVERTER_POOL_SIZE="1", WENSHU_WORKERS="1",
        WENSHU_LOG_FORMAT="text",
    )  # fmt: skip
    output = root.parent / f"{root.name}.log"
    with output.open("wb") as log:
        proc = subprocess.Popen(
            [str(root / "scripts" / "run")], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    service = RunningService(root, root / "var", Path(f"/run/wenshu-convert-{port}"), url, output)
    try:
        _wait_healthy(url, proc, output)
        yield service
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(service.converter_dir, ignore_errors=True)
        output.unlink(missing_ok=True)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], output: Path) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, "scripts/run exited:\n" + output.read_text(errors="replace")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise AssertionError("service did not become healthy:\n" + output.read_text(errors="replace"))


def _demo(service: RunningService) -> dict[str, tuple[str, str]]:
    """name → (token, password), from the 0600 file scripts/run names."""
    lines = (service.data / "demo-tokens.txt").read_text().splitlines()
    return {f[0]: (f[2], f[3]) for f in (line.split() for line in lines)}


def _as_nobody(kind: str, path: Path) -> str:
    assert path.exists(), f"{path} must exist for the refusal to mean anything"
    result = subprocess.run(
        [*NOBODY, "/usr/bin/python3", "-c", PROBE, kind, str(path)],
        capture_output=True, text=True, check=True, cwd="/",
    )  # fmt: skip
    return result.stdout.strip()


def _owner(pid: int) -> str:
    return pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name


def _pids_with(*needles: str) -> list[int]:
    """Live processes whose command line holds every one of ``needles``."""
    pids = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if entry.name.isdigit() and all(n in cmdline for n in needles):
                pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def issued(running: RunningService) -> dict[str, str]:
    token = _demo(running)["demo-inspector"][0]
    reply = requests.post(
        running.url + "/api/v1/documents",
        json={"type": "inspection_record", "org": "llyb", "data": sample("inspection_record")},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def test_the_service_issues_as_its_own_users_and_prints_no_secret(running, issued):
    output = running.output.read_text(errors="replace")
    assert str(running.data / "demo-tokens.txt") in output and "demo-clerk" in output
    for name, (token, password) in _demo(running).items():
        assert token not in output and password not in output, name
    assert stat.S_IMODE((running.data / "demo-tokens.txt").stat().st_mode) == 0o600
    converters = _pids_with("soffice.bin", str(running.converter_dir))
    converters += _pids_with("service.documents.convert.endpoint", str(running.converter_dir))
    assert len(converters) >= 2 and {_owner(p) for p in converters} == {"wenshu-convert"}
    gunicorns = _pids_with("gunicorn", str(running.root))
    assert gunicorns and {_owner(p) for p in gunicorns} == {"wenshu"}
    assert stat.S_IMODE(running.data.stat().st_mode) == 0o700
    assert running.data.stat().st_uid == pwd.getpwnam("wenshu").pw_uid


def test_nobody_cannot_connect_to_the_converter(running, issued):
    sockets = sorted(running.converter_dir.glob("lo-*/rpc.sock"))
    assert sockets
    for sock in sockets:
        assert _as_nobody("connect", sock) == "PermissionError"
    convert_uid = pwd.getpwnam("wenshu-convert").pw_uid
    pipes = sorted(Path("/tmp").glob(f"OSL_PIPE_{convert_uid}_*"))  # LibreOffice's UNO pipes
    assert pipes
    for pipe in pipes:
        assert _as_nobody("connect", pipe) == "PermissionError"


def test_nobody_cannot_read_the_signing_key(running, issued):
    key = running.data / "keys" / "llyb" / "signing-key.pem"
    assert key.read_bytes().startswith(b"-----BEGIN")  # root can: the path is right
    assert _as_nobody("read", key) == "PermissionError"


def test_nobody_cannot_read_the_database(running, issued):
    assert _as_nobody("read", running.data / "wenshu.db") == "PermissionError"


def test_nobody_cannot_read_a_blob(running, issued):
    digest = issued["sha256"]
    blob = running.data / "archive" / digest[:2] / digest[2:4] / digest
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest
    assert stat.S_IMODE(blob.stat().st_mode) == 0o400
    assert _as_nobody("read", blob) == "PermissionError"


def test_nobody_cannot_read_the_index(running, issued):
    files = [p for p in (running.data / "index").rglob("*") if p.is_file()]
    assert files, "the index holds files once a document is issued"
    assert _as_nobody("read", files[0]) == "PermissionError"


def _inet_sockets(pid: int) -> set[str]:
    """The TCP/UDP sockets (local addresses) that process ``pid`` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    found.add(f"{table} {fields[1]}")
    return found


def test_libreoffice_has_no_network(running, issued):
    """An uploaded DOCX goes to LibreOffice too: in a network namespace of its own (nothing in
    it), it can fetch no URL and be reached over no port; it holds no TCP or UDP socket."""
    converters = _pids_with("soffice.bin", str(running.converter_dir))
    converters += _pids_with("service.documents.convert.endpoint", str(running.converter_dir))
    assert converters
    ours = os.readlink("/proc/self/ns/net")
    for pid in converters:
        assert os.readlink(f"/proc/{pid}/ns/net") != ours, f"pid {pid} shares the host's network"
        assert _inet_sockets(pid) == set(), f"pid {pid} holds an internet socket"
    gunicorns = _pids_with("gunicorn", str(running.root))
    assert {os.readlink(f"/proc/{p}/ns/net") for p in gunicorns} == {ours}  # it serves HTTP


def test_the_service_writes_nothing_in_the_shared_tmp(running, issued):
    """Its temporary files — jieba's dictionary cache among them, which the service would load
    from whoever made it first — are in its own run folder, not in /tmp."""
    uid = pwd.getpwnam("wenshu").pw_uid
    ours = [p for p in Path("/tmp").iterdir() if p.lstat().st_uid == uid]
    assert [p for p in ours if p.lstat().st_mtime >= running.started - 1] == []
    assert any((running.data / "run" / "tmp").glob("jieba*.cache"))
