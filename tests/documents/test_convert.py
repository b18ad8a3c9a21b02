"""The LibreOffice pool with real LibreOffice: conversions, hangs, crashes, recycling, limits.

One pool of two instances is shared by the module (starting LibreOffice takes ~6 s); the
tests that break an instance wait for the supervisor to bring it back before returning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import io
import json
import os
import signal
import stat
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pypdf
import pytest
from docx import Document

from archive.errors import ConversionError, ConverterUnavailable
from service.documents.convert.client import Converter
from service.documents.convert.instance import PoolSettings
from service.documents.convert.pool import ConverterPool
from tests.support import ROOT

MARKER = "WENSHU-MARKER-42"
PROJECT_ROOT = ROOT


def _docx(paragraphs: int = 1) -> bytes:
    document = Document()
    document.add_heading("关于开展医保基金专项检查的通知", level=1)
    document.add_paragraph(f"各区医疗保障局：为加强基金监管，现将有关事项通知如下。{MARKER}")
    for _ in range(paragraphs - 1):
        document.add_paragraph("定点医药机构应当建立健全内部管理制度。" * 8)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _state(settings: PoolSettings, index: int) -> dict:
    return json.loads((settings.run_dir / f"lo-{index}" / "instance.json").read_text())


def _wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def _processes_under(run_dir: Path) -> list[int]:
    """Live processes whose command line mentions run_dir (unoserver, soffice.bin)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if entry.name.isdigit() and str(run_dir).encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@contextlib.contextmanager
def _holding(settings: PoolSettings, *indexes: int) -> Iterator[None]:
    """Claim instances the way a busy client would: the lock files of the run_dir layout."""
    fds = []
    try:
        for index in indexes:
            fd = os.open(settings.run_dir / f"lo-{index}" / "lock", os.O_RDWR)
            fds.append(fd)
            _wait_until(lambda fd=fd: _try_flock(fd), timeout=30)
        yield
    finally:
        for fd in fds:
            os.close(fd)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _pool_is_whole(settings: PoolSettings) -> bool:
    return Converter(settings).status()["up"] == settings.size


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> PoolSettings:
    return PoolSettings(
        run_dir=tmp_path_factory.mktemp("converter"),
        size=2,
        conversion_timeout=4.0,
        acquire_timeout=20.0,
    )


@pytest.fixture(scope="module")
def converter(settings: PoolSettings) -> Iterator[Converter]:
    pool = ConverterPool(settings)
    pool.start()
    try:
        yield Converter(settings)
    finally:
        pool.stop()


@pytest.fixture(scope="module")
def one_page() -> bytes:
    return _docx()


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    (tmp_path / "out.pdf").write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", str(tmp_path / "out.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_converts_docx_to_pdfa_2b(converter, one_page, tmp_path):
    pdf = converter.to_pdf(one_page)

    xmp = pypdf.PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Metadata"].get_object()
    xmp_text = xmp.get_data().decode()
    assert "<pdfaid:part>2</pdfaid:part>" in xmp_text
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp_text
    text = _pdftotext(pdf, tmp_path)
    assert MARKER in text and "医保基金专项检查" in text
    fonts = subprocess.run(["pdffonts", str(tmp_path / "out.pdf")], capture_output=True, text=True)
    embedded_column = [line.split()[-5] for line in fonts.stdout.splitlines()[2:]]
    assert embedded_column and set(embedded_column) == {"yes"}, fonts.stdout


def test_plain_pdf_makes_no_pdfa_claim(converter, one_page, tmp_path):
    pdf = converter.to_pdf(one_page, pdfa=False)
    assert b"pdfaid" not in pdf
    assert MARKER in _pdftotext(pdf, tmp_path)


def test_status_reports_every_instance(converter, settings):
    status = converter.status()
    assert (status["instances"], status["up"], status["busy"]) == (2, 2, 0)
    assert status["supervised"] and converter.ping()


def test_not_a_docx_is_refused_before_libreoffice(converter):
    with pytest.raises(ConversionError, match="DOCX"):
        converter.to_pdf(b"%PDF-1.7 this is not a docx")


def test_corrupt_docx_fails_cleanly_and_keeps_the_instance(converter, settings):
    pids = {_state(settings, i)["pid"] for i in range(2)}
    with pytest.raises(ConversionError, match="无法转换"):
        converter.to_pdf(b"PK\x03\x04" + b"\x00" * 200)
    assert {_state(settings, i)["pid"] for i in range(2)} == pids, "no restart for a bad file"


def test_concurrent_threads_all_succeed(converter, one_page):
    with ThreadPoolExecutor(max_workers=6) as executor:
        results = list(executor.map(lambda _: converter.to_pdf(one_page), range(6)))
    assert all(pdf.startswith(b"%PDF-") for pdf in results)


_CHILD = """
import sys
from pathlib import Path
from service.documents.convert.client import Converter
from service.documents.convert.instance import PoolSettings
settings = PoolSettings(run_dir=Path(sys.argv[1]), size=2, conversion_timeout=4.0,
                        acquire_timeout=20.0)
pdf = Converter(settings).to_pdf(Path(sys.argv[2]).read_bytes())
sys.stdout.write(str(pdf.startswith(b"%PDF-") and b"pdfaid:part" in pdf))
"""


def test_concurrent_processes_all_succeed(converter, settings, one_page, tmp_path):
    (tmp_path / "in.docx").write_bytes(one_page)
    args = [str(settings.run_dir), str(tmp_path / "in.docx")]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, *args],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    outputs = [child.communicate(timeout=60) for child in children]
    assert [out for out, _ in outputs] == ["True"] * 4, [err for _, err in outputs]


def test_hung_instance_times_out_is_killed_and_replaced(converter, settings, one_page):
    old = _state(settings, 0)
    try:
        with _holding(settings, 1):  # force the request onto instance 0
            os.kill(old["soffice_pid"], signal.SIGSTOP)
            started = time.monotonic()
            with pytest.raises(ConversionError, match="超时"):
                converter.to_pdf(one_page)
            elapsed = time.monotonic() - started
        assert settings.conversion_timeout <= elapsed < settings.conversion_timeout + 2
        assert converter.to_pdf(one_page).startswith(b"%PDF-"), "the other instance serves"
        _wait_until(lambda: _pool_is_whole(settings))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(old["soffice_pid"], signal.SIGCONT)
    new = _state(settings, 0)
    assert new["pid"] != old["pid"]
    assert not any(
        p in _processes_under(settings.run_dir) for p in (old["pid"], old["soffice_pid"])
    )
    with _holding(settings, 1):
        assert converter.to_pdf(one_page).startswith(b"%PDF-"), "the new instance 0 works"


def test_soffice_killed_mid_conversion_is_retried_and_replaced(
    converter, settings, one_page, tmp_path, caplog
):
    slow = _docx(paragraphs=150)  # ~1.5 s: long enough to be killed halfway
    old = _state(settings, 0)
    with ThreadPoolExecutor(max_workers=1) as executor:
        with _holding(settings, 1):  # the request must start on instance 0
            request = executor.submit(converter.to_pdf, slow)
            _wait_until(lambda: converter.status()["detail"][0]["busy"], timeout=5)
            time.sleep(0.3)
            os.kill(old["soffice_pid"], signal.SIGKILL)
        pdf = request.result(timeout=30)  # retried on instance 1 once it was released

    assert MARKER in _pdftotext(pdf, tmp_path)
    assert "retrying once" in caplog.text, "the kill must have hit the conversion"
    assert converter.to_pdf(one_page).startswith(b"%PDF-"), "the next request succeeds too"
    _wait_until(lambda: _pool_is_whole(settings) and _state(settings, 0).get("pid") != old["pid"])
    with _holding(settings, 1):
        assert converter.to_pdf(one_page).startswith(b"%PDF-"), "the new instance 0 works"


def test_all_instances_busy_gives_converter_unavailable(settings, converter, one_page):
    impatient = Converter(dataclasses.replace(settings, acquire_timeout=0.5))
    with _holding(settings, 0, 1):
        started = time.monotonic()
        with pytest.raises(ConverterUnavailable) as caught:
            impatient.to_pdf(one_page)
        elapsed = time.monotonic() - started
        assert converter.status()["busy"] == 2
    assert 0.5 <= elapsed < 1.5
    assert caught.value.retry_after > 0


def test_second_supervisor_on_the_same_run_dir_is_refused(settings, converter):
    with pytest.raises(ConversionError, match="另一个"):
        ConverterPool(settings).start()
    assert _pool_is_whole(settings)


def test_warm_conversion_time(converter, one_page, capsys):
    timings: dict[str, float] = {}
    for label, pdfa in (("plain PDF", False), ("PDF/A-2b", True)):
        samples = []
        for _ in range(10):
            started = time.perf_counter()
            converter.to_pdf(one_page, pdfa=pdfa)
            samples.append(time.perf_counter() - started)
        timings[label] = statistics.median(samples) * 1000
    with capsys.disabled():
        print(
            "\nwarm 1-page conversion p50: "
            + ", ".join(f"{k} {v:.0f} ms" for k, v in timings.items())
        )
    assert all(ms < 2000 for ms in timings.values())


def test_instance_is_recycled_after_max_conversions_and_stop_cleans_up(tmp_path, one_page):
    settings = PoolSettings(
        run_dir=tmp_path / "run", size=1, max_conversions=2,
        conversion_timeout=5.0, acquire_timeout=20.0,
    )  # fmt: skip
    pool = ConverterPool(settings)
    pool.start()
    try:
        converter = Converter(settings)
        first = _state(settings, 0)
        converter.to_pdf(one_page)
        converter.to_pdf(one_page)
        _wait_until(
            lambda: (
                _state(settings, 0).get("pid") not in (None, first["pid"])
                and _pool_is_whole(settings)
            )
        )
        assert converter.to_pdf(one_page).startswith(b"%PDF-")
        assert converter.status()["detail"][0]["conversions"] == 1
        assert first["pid"] not in _processes_under(settings.run_dir)
    finally:
        pool.stop()

    assert _processes_under(settings.run_dir) == [], "stop() must leave no LibreOffice behind"
    assert Converter(settings).status()["up"] == 0
    started = time.monotonic()
    with pytest.raises(ConverterUnavailable):
        Converter(settings).to_pdf(one_page)
    assert time.monotonic() - started < 1, "a stopped pool is reported at once"


def _listening_tcp_sockets(pids: list[int]) -> list[str]:
    """The TCP sockets in LISTEN state (IPv4 and IPv6) held open by any of ``pids``."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                listening.add(f"socket:[{fields[9]}]")
    held = []
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if (target := os.readlink(fd)) in listening:
                    held.append(f"{pid}: {target}")
    return held


def test_two_pools_on_one_host_convert_without_any_tcp_port(tmp_path, one_page):
    """Two services on one host, nothing to choose: each pool answers on its own Unix socket,
    LibreOffice speaks UNO on a pipe, and no process of either pool listens on TCP."""
    pools, clients = [], []
    try:
        for name in ("a", "b"):
            settings = PoolSettings(run_dir=tmp_path / name, size=1)
            pool = ConverterPool(settings)
            pool.start()
            pools.append(pool)
            clients.append(Converter(settings))
        for client in clients:
            assert _pdftotext(client.to_pdf(one_page), tmp_path).count(MARKER) == 1
        processes = _processes_under(tmp_path)
        assert len(processes) >= 4, processes  # an endpoint and a soffice.bin per pool
        assert _listening_tcp_sockets(processes) == []
        for name in ("a", "b"):
            sock = tmp_path / name / "lo-0" / "rpc.sock"
            assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o660
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o2770
            scratch = (tmp_path / name / "lo-0" / "tmp").stat().st_mode
            assert scratch & 0o777 == 0o700  # the converter's alone (setgid from the folder)
    finally:
        for pool in pools:
            pool.stop()
