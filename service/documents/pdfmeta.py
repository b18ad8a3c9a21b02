"""What LibreOffice 7.4 leaves out of, or gets wrong in, a PDF's metadata, completed as an
incremental update (the converted bytes stay a prefix, as PDF/A allows and as the signature
after it does too):

- the catalog's ``/Lang`` says the document's language (LibreOffice writes the Western one of
  the default style, ``en-US`` in a DOCX made in China) and the XMP packet says it too, as
  ``dc:language``;
- the Info dictionary's dates are well formed (LibreOffice writes ``D:20261201181633Z'``, a
  stray apostrophe after the ``Z``), equal to the XMP ``xmp:CreateDate``.

The language comes from the DOCX itself (``docProps/core.xml``, ``dc:language``: the renderer
sets it to zh-CN).
"""

from __future__ import annotations

import io
import re
import zipfile
from xml.sax.saxutils import escape

from lxml import etree
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, TextStringObject

_DC = "http://purl.org/dc/elements/1.1/"
_BAD_ZULU = re.compile(r"^(D:\d{14})Z'$")


def docx_language(docx: bytes) -> str | None:
    """The ``dc:language`` of a DOCX's core properties, e.g. zh-CN (None if it has none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(docx)) as z:
            core = etree.fromstring(z.read("docProps/core.xml"))
    except (KeyError, zipfile.BadZipFile, etree.XMLSyntaxError):
        return None
    found = core.find(f"{{{_DC}}}language")
    return found.text.strip() if found is not None and found.text else None


def complete_metadata(pdf: bytes, *, language: str) -> bytes:
    """``pdf`` with ``/Lang`` and ``dc:language`` set to ``language`` and its Info dates well
    formed, appended as one incremental update."""
    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    root = writer.root_object
    root[NameObject("/Lang")] = TextStringObject(language)
    metadata = root.get("/Metadata")
    if metadata is not None:
        stream = metadata.get_object()
        stream.set_data(_with_language(stream.get_data(), language))
    info = PdfReader(io.BytesIO(pdf)).metadata
    fixed: dict[str, str] = {}
    for key in ("/CreationDate", "/ModDate"):
        value = str(info.get(key) or "") if info is not None else ""
        if _BAD_ZULU.match(value):
            fixed[key] = _BAD_ZULU.sub(r"\1Z", value)
    if fixed:
        writer.add_metadata(fixed)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _with_language(xmp: bytes, language: str) -> bytes:
    """The XMP packet with ``dc:language`` (an rdf:Bag) in its Dublin Core description."""
    text = xmp.decode("utf-8")
    text = re.sub(r"\s*<dc:language>.*?</dc:language>", "", text, flags=re.S)
    entry = f"<dc:language><rdf:Bag><rdf:li>{escape(language)}</rdf:li></rdf:Bag></dc:language>"
    dc = re.search(r'<rdf:Description[^>]*xmlns:dc="http://purl.org/dc/elements/1.1/"[^>]*>', text)
    if dc is not None:
        text = text[: dc.end()] + "\n   " + entry + text[dc.end() :]
    else:
        description = f'<rdf:Description rdf:about="" xmlns:dc="{_DC}">{entry}</rdf:Description>\n'
        text = text.replace("</rdf:RDF>", description + " </rdf:RDF>", 1)
    return text.encode("utf-8")
