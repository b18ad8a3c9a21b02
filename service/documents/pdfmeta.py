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
from typing import cast
from xml.sax.saxutils import escape

from lxml import etree
from pypdf import PdfReader
from pypdf.generic import (
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

_DC = "http://purl.org/dc/elements/1.1/"
_BAD_ZULU = re.compile(r"^(D:\d{14})Z'$")
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")


def docx_language(docx: bytes) -> str | None:
    """The ``dc:language`` of a DOCX's core properties, e.g. zh-CN (None if it has none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(docx)) as z:
            core = etree.fromstring(z.read("docProps/core.xml"))
    except (KeyError, zipfile.BadZipFile, etree.XMLSyntaxError):
        return None
    found = core.find(f"{{{_DC}}}language")
    return found.text.strip() if found is not None and found.text else None


def complete_metadata(pdf: bytes, *, language: str) -> tuple[bytes, int]:
    """``pdf`` with ``/Lang`` and ``dc:language`` set to ``language`` and its Info dates well
    formed, appended as one incremental update; and its number of pages, counted on the way
    (the update adds none).

    The update is written by hand: the catalog, the XMP stream and the Info dictionary (the
    three objects it changes) and a cross-reference section for them. pypdf reads only those
    objects; its incremental writer would clone the whole file first (≈ 35 ms a page on these
    PDFs, against ≈ 2 ms for this).
    """
    reader = PdfReader(io.BytesIO(pdf))
    trailer = reader.trailer
    changed: dict[int, bytes] = {}
    root_ref = trailer.raw_get("/Root")
    root = DictionaryObject(root_ref.get_object())
    root[NameObject("/Lang")] = TextStringObject(language)
    changed[root_ref.idnum] = _serialised(root)
    metadata = root.raw_get("/Metadata") if "/Metadata" in root else None  # a plain PDF
    if isinstance(metadata, IndirectObject):
        stream = metadata.get_object()
        assert isinstance(stream, StreamObject)
        packet = _with_language(stream.get_data(), language)
        head = DictionaryObject(
            (k, v) for k, v in stream.items() if k not in ("/Filter", "/DecodeParms", "/Length")
        )
        head[NameObject("/Length")] = NumberObject(len(packet))
        changed[metadata.idnum] = _serialised(head) + b"\nstream\n" + packet + b"\nendstream"
    info_ref = trailer.raw_get("/Info") if "/Info" in trailer else None
    if isinstance(info_ref, IndirectObject):
        info = DictionaryObject(cast(DictionaryObject, info_ref.get_object()))
        fixed = False
        for key in ("/CreationDate", "/ModDate"):
            value = str(info.get(key) or "")
            if _BAD_ZULU.match(value):
                info[NameObject(key)] = TextStringObject(_BAD_ZULU.sub(r"\1Z", value))
                fixed = True
        if fixed:
            changed[info_ref.idnum] = _serialised(info)
    out = io.BytesIO()
    out.write(pdf)
    if not pdf.endswith(b"\n"):
        out.write(b"\n")
    offsets = {}
    for number, body in sorted(changed.items()):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    # The head of the free list first, as full writers do (readers that expect a section to
    # start at object 0 then take it as it is); then one subsection per object.
    out.write(b"xref\n0 1\n0000000000 65535 f \n")
    for number, offset in offsets.items():
        out.write(b"%d 1\n%010d 00000 n \n" % (number, offset))
    new_trailer = DictionaryObject(
        (NameObject(k), trailer.raw_get(k)) for k in ("/Root", "/Info", "/ID") if k in trailer
    )
    new_trailer[NameObject("/Size")] = NumberObject(cast(int, trailer["/Size"]))
    new_trailer[NameObject("/Prev")] = NumberObject(_startxref(pdf))
    out.write(b"trailer\n" + _serialised(new_trailer) + b"\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue(), len(reader.pages)


def _serialised(obj: DictionaryObject) -> bytes:
    buf = io.BytesIO()
    obj.write_to_stream(buf)
    return buf.getvalue()


def _startxref(pdf: bytes) -> int:
    found = _STARTXREF.search(pdf[-1024:])
    if found is None:
        raise ValueError("PDF without startxref")
    return int(found.group(1))


def _with_language(xmp: bytes, language: str) -> bytes:
    """The XMP packet with ``dc:language`` (an rdf:Bag) in its Dublin Core description."""
    text = xmp.decode("utf-8")
    # "[ \t]*" and not "\s*": the packet ends in ~2 KB of padding, over which "\s*<dc:…" is
    # quadratic (≈ 25 ms a call).
    text = re.sub(r"\n?[ \t]*<dc:language>.*?</dc:language>", "", text, flags=re.S)
    entry = f"<dc:language><rdf:Bag><rdf:li>{escape(language)}</rdf:li></rdf:Bag></dc:language>"
    dc = re.search(r'<rdf:Description[^>]*xmlns:dc="http://purl.org/dc/elements/1.1/"[^>]*>', text)
    if dc is not None:
        text = text[: dc.end()] + "\n   " + entry + text[dc.end() :]
    else:
        description = f'<rdf:Description rdf:about="" xmlns:dc="{_DC}">{entry}</rdf:Description>\n'
        text = text.replace("</rdf:RDF>", description + " </rdf:RDF>", 1)
    return text.encode("utf-8")
