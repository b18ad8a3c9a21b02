"""The private attributes of python-docx and pypdf that document production needs, in one place.

python-docx offers no public way to reach the XML element behind a paragraph, a run, a header
or a section (``_p``, ``_r``, ``_element``, ``_sectPr``) nor to replace a part's bytes
(``_blob``), and the layout sets style ids, indents and grids on that XML directly; pypdf's
writer adds an indirect object only through ``_add_object``. Every such use goes through the
functions below, so an upgrade of either library is checked here: the template, rendering and
watermark tests exercise each one on real documents.
"""

from __future__ import annotations

from typing import Any

from docx.oxml.text.paragraph import CT_P
from docx.oxml.text.run import CT_R
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from pypdf import PdfWriter
from pypdf.generic import IndirectObject, PdfObject


def paragraph_xml(paragraph: Paragraph) -> CT_P:
    """The ``<w:p>`` element of a paragraph."""
    return paragraph._p


def run_xml(run: Run) -> CT_R:
    """The ``<w:r>`` element of a run."""
    return run._r


def story_xml(story: Any) -> Any:
    """The element of a header, footer or other block container (``<w:hdr>``, ``<w:ftr>``)."""
    return story._element


def section_xml(section: Any) -> Any:
    """The ``<w:sectPr>`` element of a section."""
    return section._sectPr


def replace_part_bytes(part: Any, data: bytes) -> None:
    """Replace the serialised bytes of a package part (e.g. the font table)."""
    part._blob = data


def add_pdf_object(writer: PdfWriter, obj: PdfObject) -> IndirectObject:
    """Add ``obj`` to ``writer`` as an indirect object and return its reference."""
    return writer._add_object(obj)
