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

import time
from importlib import metadata
from pathlib import Path
from typing import Any

import uno  # Debian's python3-uno, linked into the virtualenv by scripts/install
from com.sun.star.connection import NoConnectException  # a UNO type: after ``import uno``
from unoserver.converter import UnoConverter

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
