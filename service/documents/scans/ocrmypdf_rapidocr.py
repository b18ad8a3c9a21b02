"""ocrmypdf plugin: PP-OCRv4 (RapidOCR) reads the text, Tesseract still turns the pages upright.

Loaded by ``ocrmypdf --plugin <this file>``, so it runs in Debian's Python where ocrmypdf lives,
and imports nothing of Wenshu. For each page image it runs :mod:`.rapid_page` with the
virtualenv's Python (``WENSHU_OCR_PYTHON``), which writes the page's text-only PDF (grafted by
ocrmypdf's sandwich renderer), its text (the sidecar) and, into ``WENSHU_OCR_PAGES``, the lines
with their boxes as ``<page>.json`` — which also tells the recogniser how far it has got.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from ocrmypdf import hookimpl
from ocrmypdf.builtin_plugins.tesseract_ocr import TesseractOcrEngine
from ocrmypdf.exceptions import SubprocessOutputError

_PAGE = re.compile(r"^(\d+)_")


class RapidOcrEngine(TesseractOcrEngine):
    """Tesseract's orientation and deskew, RapidOCR's text."""

    @staticmethod
    def version():
        return "rapidocr-onnxruntime"

    @staticmethod
    def creator_tag(options):
        return "RapidOCR PP-OCRv4"

    def __str__(self):
        return "RapidOCR PP-OCRv4"

    @staticmethod
    def generate_hocr(input_file, output_hocr, output_text, options):
        raise NotImplementedError("use --pdf-renderer sandwich")

    @staticmethod
    def generate_pdf(input_file, output_pdf, output_text, options):
        page = _PAGE.match(Path(input_file).name)
        cmd = [
            os.environ["WENSHU_OCR_PYTHON"],
            "-m",
            "service.documents.scans.rapid_page",
            str(input_file),
            "--pdf",
            str(output_pdf),
            "--text",
            str(output_text),
        ]
        pages = os.environ.get("WENSHU_OCR_PAGES")
        if pages and page:
            cmd += ["--json", str(Path(pages) / f"{int(page.group(1))}.json")]
        done = subprocess.run(cmd, capture_output=True, timeout=600)
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise SubprocessOutputError("rapid_page failed: " + " | ".join(tail))


@hookimpl
def get_ocr_engine():
    return RapidOcrEngine()
