"""The signed paper against the document: the ``signed_copy.comparison`` of a recognised scan.

:func:`compare_scan` takes the generated PDF, the recognised scan (its upright PDF/A and each
page's text and lines) and the labels of the signatures the type requires, and returns::

    {"status": "一致" | "有出入", "out_of_order", "missing_pages", "extra_pages",
     "pages": [{"page", "matches_page", "similarity", "signature_present", "signatures",
                "differences": [{"kind", "expected", "found", "before"}]}],
     "missing_signatures": [scanned page numbers]}

The rows that carry a signature (the label's line) are left out of the text comparison on both
sides — what is written there by hand is the ink check's business, and OCR reads stray
characters into empty 年 月 日 blanks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.documents.scans import compare, signatures
from service.documents.scans.pages import PageLine, normalise, render_grey, text_lines

MATCHED = "一致"
DIFFERS = "有出入"
INK_DPI = 100


def compare_scan(
    generated_pdf: bytes,
    scan_pdf: bytes,
    page_texts: Sequence[str],
    page_lines: Sequence[Sequence[dict[str, Any]]],
    labels: Sequence[str],
) -> dict[str, Any]:
    generated = text_lines(generated_pdf)
    places = [signatures.places(lines, labels) for lines in generated]
    gen_texts = [_text(lines, pl) for lines, pl in zip(generated, places, strict=True)]
    scanned_full = [normalise(t) for t in page_texts]
    found = compare.align(gen_texts, scanned_full)
    scans = render_grey(scan_pdf, INK_DPI)
    printed = render_grey(generated_pdf, INK_DPI)
    pages: list[dict[str, Any]] = []
    missing_signatures = []
    for i, match in enumerate(found.matches):
        entry: dict[str, Any] = {
            "page": i + 1,
            "matches_page": match,
            "similarity": found.similarity[i],
            "signature_present": None,
            "signatures": [],
            "differences": [],
        }
        if match is not None:
            j = match - 1
            lines = page_lines[i] if i < len(page_lines) else []
            where = signatures.placement(generated[j], lines)
            text = _scan_text(lines, places[j], where) if lines else scanned_full[i]
            entry["differences"] = [d.as_json() for d in compare.differences(gen_texts[j], text)]
            if places[j] and i < len(scans):
                marks = [
                    {"label": p.label, "present": signatures.signed(scans[i], printed[j], p, where)}
                    for p in places[j]
                ]
                entry["signatures"] = marks
                entry["signature_present"] = all(m["present"] for m in marks)
                if not entry["signature_present"]:
                    missing_signatures.append(i + 1)
        pages.append(entry)
    clean = not (
        found.out_of_order
        or found.missing_pages
        or found.extra_pages
        or missing_signatures
        or any(p["differences"] for p in pages)
    )
    return {
        "status": MATCHED if clean else DIFFERS,
        "out_of_order": found.out_of_order,
        "missing_pages": found.missing_pages,
        "extra_pages": found.extra_pages,
        "pages": pages,
        "missing_signatures": missing_signatures,
    }


def _in_band(y0: float, y1: float, bands: Sequence[tuple[float, float]]) -> bool:
    mid = (y0 + y1) / 2
    return any(top - 0.004 <= mid <= bottom + 0.004 for top, bottom in bands)


def _text(lines: Sequence[PageLine], places: Sequence[signatures.Place]) -> str:
    bands = [p.band for p in places]
    return "".join(normalise(ln.text) for ln in lines if not _in_band(ln.box[1], ln.box[3], bands))


def _scan_text(
    lines: Sequence[dict[str, Any]],
    places: Sequence[signatures.Place],
    where: signatures.Placement,
) -> str:
    bands = []
    for p in places:
        _x0, top, _x1, bottom = where.box((0.0, p.band[0], 1.0, p.band[1]))
        bands.append((top, bottom))
    kept = [ln for ln in lines if not _in_band(ln["box"][1], ln["box"][3], bands)]
    return "".join(normalise(ln["text"]) for ln in kept)
