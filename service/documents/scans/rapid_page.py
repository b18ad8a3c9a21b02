"""Recognise page images with PP-OCRv4 (``rapidocr-onnxruntime``, models inside its wheel).

``python -m service.documents.scans.rapid_page IMAGE [--pdf P --text T --json J]`` — what the
ocrmypdf plugin (:mod:`.ocrmypdf_rapidocr`, run by Debian's Python) calls for each page, in
this virtualenv, where the engine is installed. It writes the page's invisible text layer
(``--pdf``, :mod:`.textlayer`), its text in reading order (``--text``) and its lines with their
boxes (``--json``); with none of them it prints the JSON. ``WENSHU_OCR_THREADS`` caps ONNX
Runtime's threads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from PIL import Image
from rapidocr_onnxruntime import RapidOCR

from service.documents.scans.textlayer import Line, text_page

MIN_SCORE = 0.5
"""Lines the recogniser is less sure of are dropped (stray strokes, stamps' rims)."""


def recognise_image(engine: Any, path: Path) -> dict[str, Any]:
    """The image's lines in reading order: ``{"width", "height", "dpi", "lines": [{"text",
    "box": [x0, y0, x1, y1], "score"}]}`` in pixels."""
    with Image.open(path) as im:
        width, height = im.size
        dpi = float((im.info.get("dpi") or (300, 300))[0]) or 300.0
    # No line classifier: ocrmypdf has turned the page upright, and the classifier takes some
    # long upright lines for upside down ones and reads nothing from them.
    found, _elapsed = engine(str(path), use_cls=False)
    lines = []
    for quad, text, score in found or []:
        if float(score) < MIN_SCORE or not str(text).strip():
            continue
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        box = [round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1)]
        lines.append({"text": str(text), "box": box, "score": round(float(score), 3)})
    return {"width": width, "height": height, "dpi": dpi, "lines": reading_order(lines)}


def reading_order(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Top to bottom in rows (boxes whose middles are within half a line of each other), left to
    right within a row: a form's label and its value read as they are printed."""
    rows: list[list[dict[str, Any]]] = []
    for line in sorted(lines, key=lambda ln: (ln["box"][1] + ln["box"][3]) / 2):
        mid = (line["box"][1] + line["box"][3]) / 2
        half = (line["box"][3] - line["box"][1]) / 2
        if rows:
            last = rows[-1][-1]
            if abs(mid - (last["box"][1] + last["box"][3]) / 2) <= max(half, 4):
                rows[-1].append(line)
                continue
        rows.append([line])
    ordered = []
    for n, row in enumerate(rows):
        for line in sorted(row, key=lambda ln: ln["box"][0]):
            ordered.append({**line, "row": n})
    return ordered


def page_text(lines: list[dict[str, Any]]) -> str:
    """Rows on lines of their own; the parts of a row joined without a space (Chinese)."""
    rows: dict[int, list[str]] = {}
    for line in lines:
        rows.setdefault(int(line.get("row", 0)), []).append(line["text"])
    return "\n".join("".join(parts) for _n, parts in sorted(rows.items()))


def load_engine() -> Any:
    threads = int(os.environ.get("WENSHU_OCR_THREADS", "0") or 0)
    return RapidOCR(intra_op_num_threads=threads or -1, inter_op_num_threads=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rapid_page")
    ap.add_argument("image", type=Path)
    ap.add_argument("--pdf", type=Path)
    ap.add_argument("--text", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    page = recognise_image(load_engine(), args.image)
    if args.pdf:
        lines = [Line(ln["text"], tuple(ln["box"])) for ln in page["lines"]]
        args.pdf.write_bytes(text_page(lines, page["width"], page["height"], page["dpi"]))
    if args.text:
        args.text.write_text(page_text(page["lines"]) + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(page, ensure_ascii=False), encoding="utf-8")
    if not (args.pdf or args.text or args.json):
        json.dump(page, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
