"""OCR engines measured on scans of generated documents: character error rate, time, memory.

Usage: scripts/bench_ocr [--dpi 150,300] [--pages 2] [--engines rapidocr,tesseract]
                         [--pipeline] [--keep DIR]

Issues an interview transcript and an inspection record (the two types signed by hand), renders
their PDFs to page images as scanners and phone cameras hand them over — each page gets one of
the profiles below, in turn — and recognises every image with each engine, the way the
recogniser calls it: PP-OCRv4 through ``python -m service.documents.scans.rapid_page`` (models
inside the ``rapidocr-onnxruntime`` wheel, loaded for each page as in production) and Tesseract
``chi_sim`` through its own command. Every page is stamped over its text and bears
handwriting-like strokes in its signature boxes.

- ``scanner``: grey paper, a 0.4° turn, sensor noise, JPEG quality 85;
- ``phone``: a 1.2° turn and a slight skew, uneven light, more noise, JPEG quality 70.

The known text is the generated page's printed text (its lines from ``pdftotext -bbox-layout``
in reading order), spaces removed and full-width forms folded on both sides; the rows that carry
a signature are left out on both sides, as the page-by-page check leaves them out (what is
written there is handwriting, not print). CER = edit distance / known length, over all pages of
a run. Time is wall time per page of the engine's process, peak memory that process's maximum
resident size (GNU ``time``).
``--pipeline`` also times the whole recognition (ocrmypdf, PDF/A, text layer) of the transcript
at the highest resolution with each engine. Uses a temporary data dir and its own pool.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import create_app  # noqa: E402
from service.documents.convert.pool import ConverterPool  # noqa: E402
from service.documents.scan import inspect_upload  # noqa: E402
from service.documents.scans import signatures  # noqa: E402
from service.documents.scans.pages import PageLine, normalise, text_lines  # noqa: E402
from service.documents.scans.rapid_page import page_text, reading_order  # noqa: E402
from service.documents.scans.recognise import recognise  # noqa: E402
from service.ops.cli import initialise  # noqa: E402
from service.workflows.accounts import add_user  # noqa: E402

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
HAND = "/usr/share/fonts/truetype/arphic/ukai.ttc"
PROFILES = ("scanner", "phone")
LABELS = {
    "interview_transcript": ("被询问人签名", "承办人签名"),
    "inspection_record": ("被核查对象签名", "见证人签名", "专家组签名", "记录人签名"),
}


def transcript(extra: int) -> dict[str, object]:
    data = json.loads((ROOT / "doc_templates" / "interview_transcript.sample.json").read_text())
    more = [
        {
            "q": f"请说明该院第{i}季度住院病历的管理情况。",
            "a": f"第{i}季度的住院病历由病案室统一保管，医保办每周抽查，本月共抽查住院病历"
            "四十份，未发现伪造病历的情况。",
        }
        for i in range(1, extra + 1)
    ]
    data["qa"] = data["qa"][:-1] + more + data["qa"][-1:]
    return {"type": "interview_transcript", "org": "llyb", "data": data}


def record() -> dict[str, object]:
    data = json.loads((ROOT / "doc_templates" / "inspection_record.sample.json").read_text())
    return {"type": "inspection_record", "org": "llyb", "data": data}


def issue(docs: list[dict[str, object]]) -> list[bytes]:
    """The PDFs of ``docs`` issued by a temporary service."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATA_DIR": Path(tmp) / "data", "CONVERTER_POOL_SIZE": 1})
        ws = app.extensions["wenshu"]
        initialise(ws)
        token = add_user(ws, name="bench", role="inspector", org_code="llyb")
        headers = {"Authorization": f"Bearer {token}"}
        pool = ConverterPool(ws.pool_settings)
        pool.start()
        try:
            client = app.test_client()
            out = []
            for body in docs:
                r = client.post(
                    "/api/v1/documents",
                    data=json.dumps(body, ensure_ascii=False),
                    content_type="application/json",
                    headers=headers,
                )
                doc = r.get_json()
                assert r.status_code == 201, doc
                out.append(client.get(f"/api/v1/documents/{doc['id']}/pdf", headers=headers).data)
            return out
        finally:
            pool.stop()


def render(pdf: bytes, dpi: int, tmp: Path) -> list[Image.Image]:
    src = tmp / "doc.pdf"
    src.write_bytes(pdf)
    for old in tmp.glob("r-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(src), str(tmp / "r")], check=True)
    pages = sorted(tmp.glob("r-*.png"), key=lambda p: int(p.stem.split("-")[1]))
    return [Image.open(p).convert("RGB") for p in pages]


def stamp(im: Image.Image, rng: random.Random, dpi: int) -> None:
    """A red seal over the text: a ring and its words, half transparent like ink."""
    r = int(dpi * 0.8)
    cx = int(im.width * rng.uniform(0.55, 0.75))
    cy = int(im.height * rng.uniform(0.3, 0.6))
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(200, 25, 25, 200), width=max(3, dpi // 40))
    font = ImageFont.truetype(FONT, max(10, dpi // 6))
    d.text((cx, cy), "吕梁市医疗保障局", fill=(200, 25, 25, 200), font=font, anchor="mm")
    d.text((cx, cy - r // 2), "★", fill=(200, 25, 25, 200), font=font, anchor="mm")
    im.paste(layer, (0, 0), layer)


def sign(im: Image.Image, places: list[signatures.Place], rng: random.Random) -> None:
    """Handwriting-like strokes in each signature box: a name in a brush hand and a flourish."""
    d = ImageDraw.Draw(im)
    w, h = im.size
    for place in places:
        x0, y0, x1, y1 = place.box
        bx, by = int(x0 * w) + 6, int(y0 * h)
        size = int((y1 - y0) * h * 0.75)
        d.text((bx, by), "赵志明", fill=(20, 20, 60), font=ImageFont.truetype(HAND, size))
        points = []
        for k in range(12):
            t = k / 11
            points.append(
                (
                    bx + t * (x1 - x0) * w * 0.6,
                    by + size * (0.9 + 0.25 * math.sin(t * 7 + rng.random())),
                )
            )
        d.line(points, fill=(20, 20, 60), width=max(2, size // 12))


def distort(im: Image.Image, profile: str, rng: random.Random, dpi: int) -> bytes:
    """The page as the device hands it over: a JPEG."""
    grey = 232 if profile == "scanner" else 214
    paper = Image.new("RGB", im.size, (grey, grey, grey - 6))
    im = Image.composite(im, paper, im.convert("L").point(lambda v: 255 - v))
    if profile == "phone":  # uneven light: darker towards one corner
        shade = Image.linear_gradient("L").resize(im.size).point(lambda v: 255 - v // 6)
        im = Image.composite(im, Image.new("RGB", im.size, (150, 150, 145)), shade)
        im = im.transform(im.size, Image.AFFINE, (1, 0.012, 0, 0.004, 1, 0), fillcolor=(grey,) * 3)
    angle = 0.4 if profile == "scanner" else 1.2
    im = im.rotate(angle * rng.choice((-1, 1)), expand=False, fillcolor=(grey,) * 3)
    noise = Image.effect_noise(im.size, 10 if profile == "scanner" else 18).convert("RGB")
    im = Image.blend(im, noise, 0.06 if profile == "scanner" else 0.09)
    if profile == "phone":
        im = im.filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    im.save(out, format="JPEG", quality=85 if profile == "scanner" else 70, dpi=(dpi, dpi))
    return out.getvalue()


@dataclass
class Page:
    doc: str
    number: int
    dpi: int
    profile: str
    path: Path
    known: str
    bands: list[tuple[float, float]]
    """The signature rows (top, bottom as fractions of the page): left out of the CER."""


@dataclass
class Reading:
    text: str
    seconds: float
    max_rss_kb: int


def run_measured(cmd: list[str]) -> tuple[bytes, float, int]:
    """The command's stdout, wall time and peak resident size in kB (GNU time reports it: a
    child forked from this large process would count the parent's pages too)."""
    t0 = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {done.returncode}: {done.stderr[-300:]!r}")
    return done.stdout, seconds, int(done.stderr.decode().strip().splitlines()[-1])


def printed_only(lines: list[dict[str, Any]], page: Page, size: tuple[int, int]) -> str:
    """The text of the lines (boxes in pixels of ``size``) outside the signature rows."""
    h = size[1]
    kept = [
        line
        for line in lines
        if not any(
            top - 0.012 <= (line["box"][1] + line["box"][3]) / 2 / h <= bottom + 0.012
            for top, bottom in page.bands
        )
    ]
    return page_text(reading_order(kept))


def read_rapidocr(page: Page) -> Reading:
    cmd = [sys.executable, "-m", "service.documents.scans.rapid_page", str(page.path)]
    out, seconds, rss = run_measured(cmd)
    found = json.loads(out)
    text = printed_only(found["lines"], page, (found["width"], found["height"]))
    return Reading(text, seconds, rss)


def read_tesseract(page: Page) -> Reading:
    cmd = ["tesseract", str(page.path), "-", "-l", "chi_sim", "tsv"]
    out, seconds, rss = run_measured(cmd)
    lines: dict[tuple[int, int, int], dict[str, object]] = {}
    for row in out.decode("utf-8", "replace").splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or not cols[11].strip() or float(cols[10]) < 0:
            continue
        key = (int(cols[2]), int(cols[3]), int(cols[4]))  # block, paragraph, line
        x, y, w, h = (int(c) for c in cols[6:10])
        line = lines.setdefault(key, {"text": "", "box": [x, y, x + w, y + h]})
        line["text"] = str(line["text"]) + cols[11]
        box = line["box"]
        assert isinstance(box, list)
        line["box"] = [min(box[0], x), min(box[1], y), max(box[2], x + w), max(box[3], y + h)]
    with Image.open(page.path) as im:
        size = im.size
    return Reading(printed_only(list(lines.values()), page, size), seconds, rss)


ENGINES = {"rapidocr": read_rapidocr, "tesseract": read_tesseract}


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def known_text(lines: list[PageLine], bands: list[tuple[float, float]]) -> str:
    """The page's printed text in reading order, signature rows left out."""
    kept = [
        {"text": ln.text, "box": [v * 1000 for v in ln.box]}  # reading_order works in pixels
        for ln in lines
        if not any(
            top - 0.004 <= (ln.box[1] + ln.box[3]) / 2 <= bottom + 0.004 for top, bottom in bands
        )
    ]
    return normalise(page_text(reading_order(kept)))


def corpus(
    pdfs: dict[str, bytes], dpis: list[int], pages: int, tmp: Path, keep: Path | None
) -> list[Page]:
    rng = random.Random(21)
    out = []
    n = 0
    for doc, pdf in pdfs.items():
        layout = text_lines(pdf)
        for dpi in dpis:
            images = render(pdf, dpi, tmp)
            for number, im in enumerate(images[:pages], 1):
                profile = PROFILES[n % len(PROFILES)]
                n += 1
                places = signatures.places(layout[number - 1], LABELS[doc])
                bands = [p.band for p in places]
                stamp(im, rng, dpi)
                sign(im, places, rng)
                path = (keep or tmp) / f"{doc}-p{number}-{dpi}dpi-{profile}.jpg"
                path.write_bytes(distort(im, profile, rng, dpi))
                known = known_text(layout[number - 1], bands)
                out.append(Page(doc, number, dpi, profile, path, known, bands))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dpi", default="150,300")
    ap.add_argument("--pages", type=int, default=2, help="pages of each document")
    ap.add_argument("--engines", default="rapidocr,tesseract")
    ap.add_argument("--extra-qa", type=int, default=11)
    ap.add_argument("--pipeline", action="store_true")
    ap.add_argument("--keep", type=Path, help="keep the corpus images in this folder")
    args = ap.parse_args()
    dpis = [int(d) for d in args.dpi.split(",")]
    engines = [e for e in args.engines.split(",") if e]
    print(f"machine: {os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.2f}")
    transcript_pdf, record_pdf = issue([transcript(args.extra_qa), record()])
    pdfs = {"interview_transcript": transcript_pdf, "inspection_record": record_pdf}
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        pages = corpus(pdfs, dpis, args.pages, tmp, args.keep)
        print(f"corpus: {len(pages)} page images ({', '.join(str(d) for d in dpis)} dpi)")
        results: dict[tuple[str, int], list[tuple[Page, Reading, int]]] = {}
        for engine in engines:
            for page in pages:
                reading = ENGINES[engine](page)
                errors = edit_distance(page.known, normalise(reading.text))
                results.setdefault((engine, page.dpi), []).append((page, reading, errors))
                print(
                    f"  {engine:9} {page.path.name:45} CER {errors / len(page.known):6.2%}"
                    f"  {reading.seconds:5.1f} s  {reading.max_rss_kb / 1024:5.0f} MB",
                    flush=True,
                )
        print()
        print("| engine | dpi | pages | CER | s/page | peak MB |")
        print("|---|---|---|---|---|---|")
        for (engine, dpi), rows in sorted(results.items()):
            errors = sum(e for _, _, e in rows)
            known = sum(len(p.known) for p, _, _ in rows)
            seconds = sum(r.seconds for _, r, _ in rows) / len(rows)
            peak = max(r.max_rss_kb for _, r, _ in rows) / 1024
            print(
                f"| {engine} | {dpi} | {len(rows)} | {errors / known:.2%} | {seconds:.1f} |"
                f" {peak:.0f} |"
            )
        if args.pipeline:
            print()
            dpi = max(dpis)
            images = [p for p in pages if p.doc == "interview_transcript" and p.dpi == dpi]
            scan = _assemble([p.path for p in images])
            for engine in engines:
                t0 = time.perf_counter()
                recognise(scan, pages=len(images), engine=engine)
                per_page = (time.perf_counter() - t0) / len(images)
                print(
                    f"whole recognition (ocrmypdf, PDF/A, text layer), {engine}, {dpi} dpi:"
                    f" {per_page:.1f} s/page"
                )
    print(f"load average at end {os.getloadavg()[0]:.2f}")


def _assemble(paths: list[Path]) -> bytes:
    scan = inspect_upload([(p.name, "image/jpeg", p.read_bytes()) for p in paths])
    return scan.pdf


if __name__ == "__main__":
    main()
