"""Converter faults: a DOCX that hangs LibreOffice, LibreOffice dying or freezing mid-conversion.

The hanging input is real: tables nested 100 deep (measured: LibreOffice's layout does not
finish within 40 s; ten levels take well under a second). No input that makes LibreOffice 7.4 exit was found
(oversized grid spans, negative indents, 32,767 columns, 5,000 nested fields, 3,000 nested
content controls all convert or hang), so the crash is made by SIGKILLing soffice.bin while
it converts, and a freeze by SIGSTOPping it.

Each fault must fail within the conversion timeout, leave the pool able to convert the next
document, and — through the issue endpoint — answer 503 with Retry-After and consume no number.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import threading
import time
import xmlrpc.client
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive import numbering
from archive.errors import ConversionError
from service.documents.convert.client import Converter
from service.documents.convert.instance import (
    FONTS_CONF,
    PoolSettings,
    UnixTransport,
    try_lock,
    unlock,
)
from service.documents.convert.pool import ConverterPool
from service.workflows.accounts import add_user
from tests.support import sample
from tests.support.apps import Client, archive_counts, make_app

TIMEOUT = 8.0
SLACK = 45.0  # a loaded 2-core machine: the bound is "the timeout, not forever"

_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
    '"application/xml"/><Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)


def docx_with_body(body: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr(
            "word/document.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><w:document {_W}><w:body>{body}'
            "</w:body></w:document>",
        )
    return buffer.getvalue()


def nested_tables(depth: int) -> bytes:
    """A table in a cell of a table … ``depth`` deep: 100 levels hang LibreOffice's layout."""
    cell_open = (
        '<w:tbl><w:tblGrid><w:gridCol w:w="5000"/></w:tblGrid><w:tr><w:tc>'
        "<w:p><w:r><w:t>格</w:t></w:r></w:p>"
    )
    return docx_with_body(cell_open * depth + "<w:p/></w:tc></w:tr></w:tbl>" * depth + "<w:p/>")


@pytest.fixture(scope="module")
def pool_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A pool of its own, with a short conversion timeout, that these tests may break."""
    run_dir = tmp_path_factory.mktemp("faulty-pool")
    settings = PoolSettings(
        run_dir=run_dir,
        size=2,
        conversion_timeout=TIMEOUT,
        acquire_timeout=120,  # long enough to wait for a killed instance to come back
        fontconfig_file=FONTS_CONF if FONTS_CONF.exists() else None,
    )
    pool = ConverterPool(settings)
    pool.start()
    yield {
        "CONVERTER_DIR": run_dir,
        "CONVERTER_POOL_SIZE": 2,
        "CONVERSION_TIMEOUT": TIMEOUT,
        "CONVERTER_ACQUIRE_TIMEOUT": 120,
        "settings": settings,
    }
    pool.stop()


class Saboteur:
    """Freezes (SIGSTOP) the LibreOffice of every instance caught converting, at once, before
    even a one-page document is done; with ``sig=SIGKILL`` then kills it a moment later."""

    def __init__(self, run_dir: Path, sig: signal.Signals) -> None:
        self.run_dir, self.sig, self.hits = run_dir, sig, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Saboteur:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        struck: set[int] = set()
        while not self._stop.wait(0.01):
            for lock in self.run_dir.glob("lo-*/lock"):
                fd = try_lock(lock)
                if fd is not None:  # idle
                    unlock(fd)
                    continue
                state = json.loads((lock.parent / "instance.json").read_text())
                pid = state.get("soffice_pid")
                if state.get("state") == "up" and pid and pid not in struck and _converting(lock):
                    try:
                        os.kill(pid, signal.SIGSTOP)
                        if self.sig == signal.SIGKILL:
                            time.sleep(0.3)  # the document reaches the endpoint, then UNO dies
                            os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        continue
                    struck.add(pid)
                    self.hits += 1


def _converting(lock: Path) -> bool:
    """Held for a conversion, not for the supervisor's health check (which the saboteur must
    not freeze: the instance would pass as healthy, frozen, and fail the next test's issue):
    while LibreOffice converts, the document sits in the instance's scratch folder (as unoserver's
    ``tmp…`` file; LibreOffice's own ``lu….tmp`` folder is there all along)."""
    try:
        return any(
            p.name.startswith("tmp") and p.is_file() for p in (lock.parent / "tmp").iterdir()
        )
    except OSError:  # the folder is being made anew
        return False


def one_page_notice() -> dict[str, Any]:
    data = sample("notice")
    data["attachments"] = []
    return data


def converts(settings: PoolSettings) -> bool:
    import docx

    document = docx.Document()
    document.add_paragraph("恢复后的第一份文书")
    buffer = io.BytesIO()
    document.save(buffer)
    return Converter(settings).to_pdf(buffer.getvalue()).startswith(b"%PDF-")


def test_a_docx_that_hangs_libreoffice_fails_in_time_and_the_pool_recovers(
    pool_config: dict[str, Any],
) -> None:
    settings = pool_config["settings"]
    assert Converter(settings).to_pdf(nested_tables(10)).startswith(b"%PDF-")  # shallow: fine
    started = time.monotonic()
    with pytest.raises(ConversionError, match="超时"):
        Converter(settings).to_pdf(nested_tables(100))
    assert time.monotonic() - started < TIMEOUT + SLACK
    assert converts(settings)


def test_libreoffice_killed_mid_conversion_fails_cleanly_and_the_pool_recovers(
    pool_config: dict[str, Any],
) -> None:
    settings = pool_config["settings"]
    started = time.monotonic()
    with Saboteur(settings.run_dir, signal.SIGKILL) as saboteur:
        with pytest.raises(ConversionError, match="崩溃"):
            Converter(settings).to_pdf(nested_tables(100))
    # The document is retried once on the other instance: both were killed, no timeout waited.
    assert saboteur.hits >= 2
    assert time.monotonic() - started < TIMEOUT + SLACK
    assert converts(settings)


@pytest.mark.parametrize(
    "sig, message", [(signal.SIGKILL, "崩溃"), (signal.SIGSTOP, "超时")], ids=["crash", "freeze"]
)
def test_issue_during_a_converter_fault_is_503_and_consumes_no_number(
    tmp_path: Path, pool_config: dict[str, Any], sig: signal.Signals, message: str
) -> None:
    config = {k: v for k, v in pool_config.items() if k != "settings"}
    app = make_app(tmp_path, config)
    ws = app.extensions["wenshu"]
    clerk = Client(app, add_user(ws, name="clerk", role="clerk", org_code="llyb"))
    body = {"type": "notice", "org": "llyb", "data": one_page_notice()}
    try:
        before = archive_counts(ws)
        started = time.monotonic()
        with Saboteur(pool_config["CONVERTER_DIR"], sig):
            r = clerk.post("/api/v1/documents", body)
        assert r.status_code == 503, r.get_json()
        assert message in r.get_json()["message"]
        assert int(r.headers["Retry-After"]) > 0
        assert time.monotonic() - started < TIMEOUT + SLACK
        documents, _reservations, _events = archive_counts(ws)
        assert documents == before[0]  # nothing archived; the number was released on record

        r = clerk.post("/api/v1/documents", body)  # the pool has recovered
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["wenhao"].endswith("〕1号")  # the released number, reused
        with ws.db.read() as s:
            series = numbering.series_names(s, "wenhao/llyb/")
            account = numbering.account(s, series[0])
        assert (account.used, account.released, account.missing) == ([1], [], [])
    finally:
        ws.close()


class _Answer(io.BytesIO):
    """An endpoint's HTTP answer as parse_response reads it."""

    def __init__(self, body: bytes, encoding: str = "") -> None:
        super().__init__(body)
        self._encoding = encoding

    def getheader(self, name: str, default: str = "") -> str:
        return self._encoding if name == "Content-Encoding" and self._encoding else default


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzipped"])
def test_transport_reads_answers_as_xmlrpc_does(gzipped: bool) -> None:
    pdf, other = os.urandom(70_000), b"%PDF-1.7 second"
    answer = [1, 3, xmlrpc.client.Binary(pdf), {"a": xmlrpc.client.Binary(other), "n": "二"}]
    body = xmlrpc.client.dumps((answer,), methodresponse=True).encode()
    if gzipped:
        body = gzip.compress(body)
    transport = UnixTransport(Path("/nonexistent"), 1.0)

    (got,) = transport.parse_response(_Answer(body, "gzip" if gzipped else ""))  # type: ignore[arg-type]

    assert got == answer
    assert transport.accept_gzip_encoding is False


def test_transport_raises_the_endpoints_fault() -> None:
    body = xmlrpc.client.dumps(xmlrpc.client.Fault(1, "无法转换"), methodresponse=True).encode()
    with pytest.raises(xmlrpc.client.Fault, match="无法转换"):
        UnixTransport(Path("/nonexistent"), 1.0).parse_response(_Answer(body))  # type: ignore[arg-type]
