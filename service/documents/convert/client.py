"""DOCX → PDF/A-2b through the pool of warm LibreOffice instances, from any process.

:class:`Converter` claims an idle instance of the pool (:mod:`service.documents.convert.pool`) by its
file lock and converts on it; the run directory the instances share is described in
:mod:`service.documents.convert.instance`. A hung conversion is killed at ``conversion_timeout``; a
crash is retried once on another instance.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import random
import time
import xmlrpc.client
from collections.abc import Iterator
from typing import Any, cast

from pypdf import PdfReader

from archive.errors import ConversionError, ConverterUnavailable
from service import telemetry
from service.documents.convert.instance import (
    CRASH_ERRORS,
    Instance,
    PoolSettings,
    try_lock,
    unlock,
)
from service.documents.pdfmeta import complete_metadata, docx_language

logger = logging.getLogger("wenshu.convert")


class Converter:
    """Converts through whichever instance is idle; safe in any process and thread."""

    def __init__(self, settings: PoolSettings) -> None:
        self.settings = settings
        self._instances = [Instance(settings, i) for i in range(settings.size)]

    def to_pdf(self, docx: bytes, *, pdfa: bool = True) -> bytes:
        """Render ``docx`` to PDF (PDF/A-2b unless ``pdfa=False``).

        Raises ConversionError when LibreOffice fails, crashes or exceeds conversion_timeout,
        and ConverterUnavailable when no instance frees up within acquire_timeout.
        """
        return self.to_pdf_counted(docx, pdfa=pdfa).pdf

    def to_pdf_counted(self, docx: bytes, *, pdfa: bool = True) -> EvenPdf:
        """As :meth:`to_pdf`, with the PDF's pages counted (``added`` is 0). Raises as
        :meth:`to_pdf`."""
        return self._timed(_Request(docx, pdfa, even=False))

    def to_pdf_even(self, docx: bytes, *, pdfa: bool = True) -> EvenPdf:
        """As :meth:`to_pdf`, but when LibreOffice lays ``docx`` out on an odd number of pages
        and its last paragraph anchors a floating table (a notice's 版记), that paragraph starts
        a new page before the export, in the same conversion (``convert_even`` in :mod:`.endpoint`). Raises as :meth:`to_pdf`."""
        return self._timed(_Request(docx, pdfa, even=True))

    def pdf_maker(self, *, pdfa: bool = True) -> PdfMaker:
        """``to_pdf`` with ``pdfa`` bound, as a callable, that also offers ``to_pdf_even``
        (what :func:`service.documents.render.typeset` looks for)."""
        return PdfMaker(self, pdfa)

    def _timed(self, request: _Request) -> EvenPdf:
        started = time.perf_counter()
        try:
            result = self._to_pdf(request)
        except ConversionError as exc:
            telemetry.conversion_finished(_outcome(exc), time.perf_counter() - started)
            raise
        telemetry.conversion_finished("ok", time.perf_counter() - started)
        return result

    def _to_pdf(self, request: _Request) -> EvenPdf:
        if not request.docx.startswith(b"PK\x03\x04"):
            raise ConversionError("输入不是 DOCX 文件（缺少 ZIP 文件头）")
        deadline = time.monotonic() + self.settings.acquire_timeout
        crashed = False
        while True:
            with self._claim(deadline) as instance:
                try:
                    return self._convert_on(instance, request)
                except _InstanceGone as exc:
                    if exc.before_request:
                        continue  # nothing reached LibreOffice: try another instance
                    if crashed:
                        raise ConversionError("LibreOffice 在转换时崩溃") from exc
                    # Templates are trusted, so a crash is more likely the instance (killed,
                    # out of memory) than the document: retry once, on another instance.
                    logger.warning("instance %d crashed; retrying once elsewhere", instance.index)
                    crashed = True
                    deadline = time.monotonic() + self.settings.acquire_timeout

    def status(self) -> dict[str, Any]:
        """Health summary for /healthz: instances up, busy, and per-instance detail."""
        detail = []
        for instance in self._instances:
            state = instance.read_state()
            up = instance.is_usable(state)
            busy = False
            if up:  # probing the lock is how we learn whether someone is converting
                fd = try_lock(instance.lock_path)
                busy = fd is None
                if fd is not None:
                    unlock(fd)
            detail.append(
                {
                    "index": instance.index,
                    "state": state.get("state"),
                    "up": up,
                    "busy": busy,
                    "conversions": instance.conversions(),
                    "restarts": instance.restarts(),
                    "pid": state.get("pid"),
                }
            )
        return {
            "instances": len(detail),
            "up": sum(d["up"] for d in detail),
            "busy": sum(d["busy"] for d in detail),
            "supervised": self._supervisor_running(),
            "detail": detail,
        }

    def ping(self) -> bool:
        """True when at least one instance can take a conversion now or soon."""
        return self.status()["up"] > 0

    @contextlib.contextmanager
    def _claim(self, deadline: float) -> Iterator[Instance]:
        count = len(self._instances)
        start = random.randrange(count)  # spread wear (memory growth) over all instances
        while True:
            every_stopped = True
            for offset in range(count):
                instance = self._instances[(start + offset) % count]
                if not instance.lock_path.parent.is_dir():
                    continue
                fd = try_lock(instance.lock_path)
                if fd is None:
                    every_stopped = False
                    continue
                state = instance.read_state()
                every_stopped &= state.get("state") == "stopped"
                usable = instance.is_usable(state)
                if usable and instance.conversions() < self.settings.max_conversions:
                    try:
                        yield instance
                        return
                    finally:
                        unlock(fd)
                unlock(fd)
                if state.get("state") == "up" and not usable:
                    instance.kill("process died while idle")
            if every_stopped or not self._supervisor_running():
                raise ConverterUnavailable("文档转换服务未启动", retry_after=30)
            if time.monotonic() >= deadline:
                up = sum(i.is_usable(i.read_state()) for i in self._instances)
                raise ConverterUnavailable(
                    f"{self.settings.acquire_timeout:g} 秒内没有空闲的转换实例（{up} 个在运行）",
                    retry_after=2 if up else 10,
                )
            time.sleep(0.02)

    def _convert_on(self, instance: Instance, request: _Request) -> EvenPdf:
        timeout = self.settings.conversion_timeout
        pdfa = request.pdfa
        started = time.perf_counter()
        try:
            # Bytes in, bytes out: the endpoint takes no path (endpoint.py).
            rpc = instance.rpc(timeout)
            added, pages, result = 0, 0, None
            if request.even:
                added, pages, result = cast(
                    list[Any], rpc.convert_even(xmlrpc.client.Binary(request.docx), pdfa)
                )
            else:
                result = rpc.convert(xmlrpc.client.Binary(request.docx), pdfa)
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            instance.kill("refused the connection")
            raise _InstanceGone(before_request=True) from exc
        except PermissionError as exc:
            raise ConverterUnavailable(
                "无权连接文档转换服务（服务用户须属于转换用户的组，见 docs/deployment.md）",
                retry_after=30,
            ) from exc
        except TimeoutError as exc:
            instance.kill(f"conversion exceeded {timeout:g} s")
            raise ConversionTimeout(f"文档转换超时（{timeout:g} 秒）") from exc
        except CRASH_ERRORS as exc:
            instance.kill(f"connection lost during conversion: {exc!r}")
            raise _InstanceGone(before_request=False) from exc
        except xmlrpc.client.Fault as exc:
            instance.set_conversions(instance.conversions() + 1)
            if not instance.responds():
                instance.kill(f"failed and no longer answers: {exc.faultString[:200]}")
                raise _InstanceGone(before_request=False) from exc
            raise ConversionError(f"LibreOffice 无法转换该文档：{exc.faultString[:300]}") from exc
        instance.set_conversions(instance.conversions() + 1)
        pdf = bytes(cast(xmlrpc.client.Binary, result).data)  # XML-RPC carries it base64
        docx = request.docx
        logger.debug(
            "instance %d converted %d bytes in %.0f ms",
            instance.index, len(docx), (time.perf_counter() - started) * 1000,
        )  # fmt: skip
        if not pdf.startswith(b"%PDF-"):
            raise ConversionError("LibreOffice 返回的不是 PDF")
        if pdfa and not has_pdfa2_identification(pdf):
            raise ConversionError("LibreOffice 输出缺少 PDF/A-2 标识（pdfaid:part=2）")
        language = docx_language(docx)
        if language:
            pdf, counted = complete_metadata(pdf, language=language)
        else:
            counted = len(PdfReader(io.BytesIO(pdf)).pages)
        return EvenPdf(int(added), int(pages) if request.even else counted, pdf)

    def _supervisor_running(self) -> bool:
        path = self.settings.run_dir / "supervisor.lock"
        if not path.exists():
            return False
        fd = try_lock(path)
        if fd is None:
            return True
        unlock(fd)
        return False


@dataclasses.dataclass(frozen=True)
class EvenPdf:
    """What :meth:`Converter.to_pdf_even` made: ``added`` pages (0 or 1) before the last
    paragraph, ``pages`` as LibreOffice laid the PDF out (from :meth:`Converter.to_pdf_counted`:
    counted in the PDF, ``added`` 0)."""

    added: int
    pages: int
    pdf: bytes


@dataclasses.dataclass(frozen=True)
class _Request:
    docx: bytes
    pdfa: bool
    even: bool


class PdfMaker:
    """:meth:`Converter.to_pdf` with ``pdfa`` bound (call it with the DOCX), and
    :meth:`to_pdf_even` and :meth:`to_pdf_counted` likewise."""

    def __init__(self, converter: Converter, pdfa: bool) -> None:
        self._converter = converter
        self._pdfa = pdfa

    def __call__(self, docx: bytes) -> bytes:
        return self._converter.to_pdf(docx, pdfa=self._pdfa)

    def to_pdf_even(self, docx: bytes) -> EvenPdf:
        return self._converter.to_pdf_even(docx, pdfa=self._pdfa)

    def to_pdf_counted(self, docx: bytes) -> EvenPdf:
        return self._converter.to_pdf_counted(docx, pdfa=self._pdfa)


def _outcome(exc: ConversionError) -> str:
    if isinstance(exc, ConverterUnavailable):
        return "unavailable"
    return "timeout" if isinstance(exc, ConversionTimeout) else "failed"


class ConversionTimeout(ConversionError):
    """The conversion exceeded conversion_timeout; the instance was killed and restarts."""


class _InstanceGone(Exception):
    """The claimed instance died; ``before_request`` if LibreOffice never saw the document."""

    def __init__(self, *, before_request: bool) -> None:
        super().__init__("LibreOffice instance died")
        self.before_request = before_request


def has_pdfa2_identification(pdf: bytes) -> bool:
    """LibreOffice writes the XMP packet uncompressed; both XMP spellings are accepted."""
    return b"<pdfaid:part>2</pdfaid:part>" in pdf or b'pdfaid:part="2"' in pdf


__all__ = ["ConversionTimeout", "Converter", "EvenPdf", "PdfMaker", "has_pdfa2_identification"]
