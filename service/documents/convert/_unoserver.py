"""unoserver's converter over a UNO pipe: the one place that leans on unoserver's internals.

unoserver 3.7's ``UnoConverter`` connects to LibreOffice over a TCP socket only, and its own
XML-RPC server opens any path it is given. We keep its conversion (filters, index update, PDF
export) and replace both ends: LibreOffice listens on a named pipe, and our endpoint
(:mod:`service.documents.convert.endpoint`) passes bytes only. The attributes set here are
those ``UnoConverter.__init__`` sets in 3.7; hence the exact pin in ``constraints.txt`` and the
check below.

The typesetting rule LibreOffice does not take from a DOCX is applied here too, after each
load: no extra space between Chinese and Western characters (GB/T 9704-2012 sets ``〔2026〕2号``
and ``2021年4月23日`` solid). Word and WPS read it from ``w:autoSpaceDE``/``w:autoSpaceDN`` = 0,
which the templates set; LibreOffice's DOCX import ignores both and keeps its own default
("apply spacing between Asian and non-Asian text", 0.2 em at every digit beside Chinese), so
the loaded document's ``ParaIsCharacterDistance`` is turned off before the PDF is made. The
converter loads through its ``desktop`` attribute, which is wrapped for that.
"""

from __future__ import annotations

import os
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import uno  # Debian's python3-uno, linked into the virtualenv by scripts/install
from com.sun.star.beans import PropertyValue  # UNO types: after ``import uno``
from com.sun.star.connection import NoConnectException
from unoserver.converter import TempFileIfNeeded, UnoConverter

UNOSERVER_VERSION = "3.7"


def pipe_url(pipe_name: str) -> str:
    return f"pipe,name={pipe_name};urp;StarOffice.ComponentContext"


class PipeConverter(UnoConverter):  # type: ignore[misc]
    """``UnoConverter`` connected to the LibreOffice that accepts on ``pipe_name``."""

    def __init__(self, pipe_name: str, temp_dir: Path, timeout: float) -> None:
        installed = metadata.version("unoserver")
        if installed != UNOSERVER_VERSION:
            raise RuntimeError(
                f"unoserver {installed} is installed; this module is written against "
                f"{UNOSERVER_VERSION} (constraints.txt)"
            )
        self.local_context = uno.getComponentContext()
        self.resolver = self.local_context.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", self.local_context
        )
        self.context = _resolve(self.resolver, f"uno:{pipe_url(pipe_name)}", timeout)
        self.service = self.context.ServiceManager
        self.desktop = _Desktop(
            self.service.createInstanceWithContext("com.sun.star.frame.Desktop", self.context)
        )
        self.filter_service = self.service.createInstanceWithContext(
            "com.sun.star.document.FilterFactory", self.context
        )
        self.type_service = self.service.createInstanceWithContext(
            "com.sun.star.document.TypeDetection", self.context
        )
        self.temp_dir = str(temp_dir)
        self._export_filters = None
        self._import_filters = None


def apply_house_rules(document: Any) -> None:
    """Turn off the space LibreOffice adds between Chinese and Western characters, in the
    document's defaults (which every paragraph style inherits: DOCX import sets none)."""
    if document is None or not document.supportsService("com.sun.star.text.TextDocument"):
        return
    defaults = document.createInstance("com.sun.star.text.Defaults")
    defaults.setPropertyValue("ParaIsCharacterDistance", False)
    styles = document.getStyleFamilies().getByName("ParagraphStyles")
    for i in range(styles.getCount()):
        style = styles.getByIndex(i)
        if style.getPropertyValue("ParaIsCharacterDistance"):
            style.setPropertyValue("ParaIsCharacterDistance", False)


class _Desktop:
    """LibreOffice's desktop, applying :func:`apply_house_rules` to what it loads."""

    def __init__(self, desktop: Any) -> None:
        self._desktop = desktop

    def loadComponentFromURL(self, *args: Any) -> Any:  # noqa: N802 (the UNO name)
        document = self._desktop.loadComponentFromURL(*args)
        apply_house_rules(document)
        return document

    def __getattr__(self, name: str) -> Any:
        return getattr(self._desktop, name)


def _resolve(resolver: Any, url: str, timeout: float) -> Any:
    """LibreOffice opens its pipe a few seconds after it starts: retry until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return resolver.resolve(url)
        except NoConnectException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def page_count(document: Any) -> int:
    """The pages of a loaded text document as LibreOffice lays them out (what the PDF gets)."""
    document.refresh()  # unoserver's conversion refreshes too: lay out as the export will
    return int(document.getCurrentController().getPropertyValue("PageCount"))


def export_options(filter_options: list[str]) -> tuple[Any, ...]:
    """``writer_pdf_Export``'s properties from "Name=Value" strings, read as unoserver 3.7
    reads them ("true"/"false" → bool, digits → int)."""
    data = []
    for option in filter_options:
        name, _, text = option.partition("=")
        value: Any = text
        if text in ("true", "false"):
            value = text == "true"
        elif text.isdecimal():
            value = int(text)
        data.append(PropertyValue(Name=name, Value=value))
    return (
        PropertyValue(Name="FilterName", Value="writer_pdf_Export"),
        PropertyValue(Name="Overwrite", Value=True),
        PropertyValue(
            Name="FilterData", Value=uno.Any("[]com.sun.star.beans.PropertyValue", tuple(data))
        ),
    )


def break_before_last_paragraph(document: Any) -> bool:
    """Start the document's last paragraph on a new page if it anchors a table floating in a
    frame, and say whether it did. In a notice that is the 版记 (a table floating at the foot
    of the page, which LibreOffice imports as a frame anchored to the paragraph after it), so
    the 版记 moves to the next page: the layout of the notice rendered with one page left
    blank before it (``BLANK_PAGES`` = 1 in :mod:`service.documents.render_notice`, where an
    empty paragraph starts that page). A document of another shape (an org's template that
    places its 版记 otherwise) is left as it is."""
    text = document.getText()
    last = None
    paragraphs = text.createEnumeration()
    while paragraphs.hasMoreElements():
        element = paragraphs.nextElement()
        if element.supportsService("com.sun.star.text.Paragraph"):
            last = element
    if last is None or not _anchors_a_table(document, text, last):
        return False
    last.setPropertyValue("BreakType", uno.Enum("com.sun.star.style.BreakType", "PAGE_BEFORE"))
    return True


def _anchors_a_table(document: Any, text: Any, paragraph: Any) -> bool:
    frames = document.getTextFrames()
    for name in frames.getElementNames():
        frame = frames.getByName(name)
        anchor = frame.getAnchor()
        if anchor.getText() != text or text.compareRegionStarts(anchor, paragraph) != 0:
            continue
        inside = frame.getText().createEnumeration()
        while inside.hasMoreElements():
            if inside.nextElement().supportsService("com.sun.star.text.TextTable"):
                return True
    return False


def convert_even(
    converter: PipeConverter, data: bytes, filter_options: list[str], infiltername: str
) -> tuple[int, int, bytes]:
    """Load the DOCX ``data``, let LibreOffice lay it out and, when it takes an odd number of
    pages, start its last paragraph on a new page if it anchors the 版记
    (:func:`break_before_last_paragraph`);
    export the PDF once: ``(pages added before the last paragraph (0 or 1), pages, PDF)``."""
    infilters = converter.get_filter_names(converter.get_available_import_filters())
    input_props = (
        PropertyValue(Name="ReadOnly", Value=True),
        PropertyValue(Name="FilterName", Value=infilters[infiltername]),
    )
    with TempFileIfNeeded(None, data=data, temp_dir=converter.temp_dir) as input_path:
        url = uno.systemPathToFileUrl(os.path.abspath(input_path))
        document = converter.desktop.loadComponentFromURL(url, "_default", 0, input_props)
        if document is None:
            raise RuntimeError(f"Could not load the document with {infiltername}")
        try:
            pages, added = page_count(document), 0
            if pages % 2 and break_before_last_paragraph(document):
                pages, added = page_count(document), 1
            with TempFileIfNeeded(None, "pdf", temp_dir=converter.temp_dir) as output_path:
                document.storeToURL(
                    uno.systemPathToFileUrl(os.path.abspath(output_path)),
                    export_options(filter_options),
                )
                return added, pages, Path(output_path).read_bytes()
        finally:
            document.close(True)
