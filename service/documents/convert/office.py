"""The process of one pool instance: unoserver, with Wenshu's typesetting rule applied to every
document LibreOffice loads. Run as ``python -m service.documents.convert.office`` with
unoserver's own arguments, by an interpreter that can ``import uno`` (:mod:`.pool` does).

The rule: no extra space between Chinese and Western characters (GB/T 9704-2012 sets
``〔2026〕2号`` and ``2021年4月23日`` solid). Word and WPS read it from ``w:autoSpaceDE`` and
``w:autoSpaceDN`` = 0, which the templates set; LibreOffice's DOCX import ignores both and keeps
its own default, "apply spacing between Asian and non-Asian text", which puts 0.2 em between
every digit and the Chinese beside it. So after each load the document's default for that
paragraph property (``ParaIsCharacterDistance``) is turned off, before the PDF is made.

How: unoserver offers no hook between loading and exporting. Its server makes its converter
as ``unoserver.converter.UnoConverter`` when it starts, and the converter loads through its
``desktop`` attribute; a subclass whose desktop turns the property off is put in that place.
Both are unoserver internals, so the version is checked against the one this was written for
(``constraints.txt`` pins it) and anything else refuses to start.
"""

from __future__ import annotations

import logging
import sys
from importlib import metadata
from typing import Any

from unoserver import converter, server

logger = logging.getLogger("wenshu.convert")

UNOSERVER_VERSION = "3.7"
"""The unoserver whose internals this module relies on (``constraints.txt``)."""


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


class _Converter(converter.UnoConverter):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.desktop: Any = _Desktop(self.desktop)


def main() -> int:
    version = metadata.version("unoserver")
    if version != UNOSERVER_VERSION:
        sys.stderr.write(
            f"service.documents.convert.office was written for unoserver {UNOSERVER_VERSION}, "
            f"found {version}: check that it still loads through UnoConverter.desktop\n"
        )
        return 2
    converter.UnoConverter = _Converter
    return int(server.main() or 0)


if __name__ == "__main__":
    sys.exit(main())
