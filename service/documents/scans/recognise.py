"""Recognise a scan: ocrmypdf makes the PDF/A (pages turned upright), the engine reads the text.

Two engines, chosen by ``WENSHU_OCR_ENGINE`` (``scripts/bench_ocr`` measures both):

- ``rapidocr`` (default): PP-OCRv4 through ``rapidocr-onnxruntime``, its models inside the wheel.
  ocrmypdf loads the plugin :mod:`.ocrmypdf_rapidocr`, which runs :mod:`.rapid_page` per page;
  the lines come back with their boxes (``Recognised.page_lines``) for the comparison and the
  signature check.
- ``tesseract``: Tesseract's ``chi_sim``, ocrmypdf's own engine; text per page only.

The process runs at a lower CPU priority (``nice``) with ``jobs`` pages at a time: issuing
documents keeps the cores it needs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENGINES = ("rapidocr", "tesseract")
LANGUAGE = "chi_sim"
JOBS = max(1, (os.cpu_count() or 2) // 2)
"""Pages at a time (and ONNX Runtime threads): half the cores, so requests keep the rest."""
NICENESS = 10
MAX_IMAGE_MPIXELS = 100
PERMANENT_EXIT_CODES = {2: "输入文件无法处理", 6: "文件已含文字层", 8: "PDF 已加密"}
"""ocrmypdf exit codes that retrying cannot cure (input file, prior OCR, encryption)."""
PLUGIN = Path(__file__).with_name("ocrmypdf_rapidocr.py")
_ROTATED = re.compile(r"^\s*(\d+)\s+page is facing .*will rotate", re.MULTILINE)
_SKIPPED = re.compile(r"^\[OCR skipped on page\(s\) [0-9, -]+\]$", re.MULTILINE)
"""ocrmypdf's note in the sidecar for pages that already carry text (``--skip-text``)."""
_CJK = "\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"
_GAP = re.compile(rf"(?<=[{_CJK}0-9])[ \t]*\n?[ \t]*(?=[{_CJK}])|(?<=[{_CJK}])[ \t]+(?=[0-9])")


class OcrFailed(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Recognised:
    pdf: bytes
    """The scan as PDF/A-2b with a text layer, pages turned upright."""
    text: str
    """All pages' text, tidied (what search indexes)."""
    rotated_pages: list[int]
    seconds: float
    engine: str = "tesseract"
    page_texts: list[str] = field(default_factory=list)
    """Each page's text, tidied, in page order."""
    page_lines: list[list[dict[str, Any]]] = field(default_factory=list)
    """Each page's lines ``{"text", "box": [x0, y0, x1, y1], "score"}``, the box in fractions of
    the upright page's width and height; empty lists when the engine gives no boxes."""


def tidy_text(text: str) -> str:
    """Tesseract's Chinese output has spaces between characters and a line break at every
    printed line: join them, so words and phrases read as they do on paper."""
    text = _SKIPPED.sub("", text.replace("\f", "\n"))
    return _GAP.sub("", text).strip()


def recognise(
    pdf: bytes,
    *,
    pages: int,
    jobs: int = JOBS,
    engine: str = "rapidocr",
    progress: Callable[[int], None] | None = None,
) -> Recognised:
    """Run ocrmypdf on ``pdf``: PDF/A output, rotation fixed, text per page. ``progress`` is
    called with the number of pages read so far as it grows (``rapidocr`` only)."""
    if engine not in ENGINES:
        raise OcrFailed(f"未知的识别引擎 {engine}（可选：{'、'.join(ENGINES)}）", permanent=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wenshu-ocr-") as tmp:
        src, out, side = Path(tmp) / "in.pdf", Path(tmp) / "out.pdf", Path(tmp) / "text.txt"
        lines_dir = Path(tmp) / "lines"
        lines_dir.mkdir()
        src.write_bytes(pdf)
        cmd = [
            "nice", "-n", str(NICENESS),
            "ocrmypdf",
            "-l", LANGUAGE,
            "--rotate-pages",
            "--skip-text",
            "--output-type", "pdfa-2",
            "--jobs", str(jobs),
            "--max-image-mpixels", str(MAX_IMAGE_MPIXELS),
            "--sidecar", str(side),
        ]  # fmt: skip
        env = dict(os.environ)
        if engine == "rapidocr":
            cmd += ["--plugin", str(PLUGIN), "--pdf-renderer", "sandwich"]
            env.update(
                WENSHU_OCR_PYTHON=sys.executable,
                WENSHU_OCR_PAGES=str(lines_dir),
                WENSHU_OCR_THREADS=str(jobs),
            )
        cmd += [str(src), str(out)]
        err = _run(cmd, env, timeout=120 + 120 * pages, lines_dir=lines_dir, progress=progress)
        if not out.is_file():
            raise OcrFailed(f"识别失败：ocrmypdf 未写出结果：{err[-300:]}")
        text = side.read_text(encoding="utf-8", errors="replace") if side.is_file() else ""
        if _SKIPPED.search(text):  # pages with a text layer of their own: take the output's
            text = _text_layer(out)
        page_texts = [tidy_text(t) for t in text.split("\f")][:pages]
        page_texts += [""] * (pages - len(page_texts))
        return Recognised(
            pdf=out.read_bytes(),
            text=tidy_text(text),
            rotated_pages=sorted({int(n) for n in _ROTATED.findall(err)}),
            seconds=round(time.perf_counter() - started, 3),
            engine=engine,
            page_texts=page_texts,
            page_lines=[_lines(lines_dir / f"{n}.json") for n in range(1, pages + 1)],
        )


def _run(
    cmd: list[str],
    env: dict[str, str],
    *,
    timeout: float,
    lines_dir: Path,
    progress: Callable[[int], None] | None,
) -> str:
    """Run ocrmypdf, reporting pages done while it works; its stderr on success."""
    deadline = time.monotonic() + timeout
    try:
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=False
        )
    except FileNotFoundError as exc:
        raise OcrFailed("未安装 ocrmypdf（scripts/install 会安装）") from exc
    done = -1
    while True:  # communicate() drains stderr; between its waits, count the pages done
        try:
            _out, err_bytes = proc.communicate(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline:
                proc.kill()
                proc.communicate()
                raise OcrFailed(f"识别超时（{timeout:.0f} 秒）") from None
            now = sum(1 for _ in lines_dir.glob("*.json"))
            if progress is not None and now != done:
                done = now
                progress(now)
    err = (err_bytes or b"").decode("utf-8", "replace")
    if proc.returncode == 127:  # nice found no ocrmypdf
        raise OcrFailed("未安装 ocrmypdf（scripts/install 会安装）")
    if proc.returncode != 0:
        reason = PERMANENT_EXIT_CODES.get(proc.returncode, "识别失败")
        last = err.strip().splitlines()[-1:] or [""]
        raise OcrFailed(
            f"{reason}（ocrmypdf 退出码 {proc.returncode}）：{last[0][:300]}",
            permanent=proc.returncode in PERMANENT_EXIT_CODES,
        )
    if progress is not None:
        progress(sum(1 for _ in lines_dir.glob("*.json")))
    return err


def _lines(path: Path) -> list[dict[str, Any]]:
    """A page's lines from :mod:`.rapid_page`, boxes made fractions of the page."""
    if not path.is_file():
        return []
    page = json.loads(path.read_text(encoding="utf-8"))
    w, h = float(page["width"]), float(page["height"])
    return [
        {
            "text": ln["text"],
            "box": [ln["box"][0] / w, ln["box"][1] / h, ln["box"][2] / w, ln["box"][3] / h],
            "score": ln["score"],
            "row": ln.get("row", 0),
        }
        for ln in page["lines"]
    ]


def _text_layer(pdf: Path) -> str:
    """The text layer of an uploaded PDF (after ocrmypdf), read by poppler's pdftotext in a
    process of its own with a time limit: the file came from a user."""
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, timeout=60, check=True
    )
    return out.stdout.decode("utf-8", errors="replace")
