"""OCR time per page of a scanned signed transcript, against baselines measured in the same run.

Usage: scripts/bench_ocr [--dpi 300] [--rounds 2] [--extra-qa 11]
Issues an interview transcript (four pages with the default 11 extra questions), renders its
PDF to page images with pdftoppm as a scanner would, assembles them as an upload is assembled,
and runs the recogniser's ocrmypdf call with one worker process and with one per core. Prints
seconds per page and the ratio to one bare warm LibreOffice conversion (DOCX → PDF/A) of the
same transcript and to one pdftoppm page render. Uses a temporary data dir and its own pool.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import create_app  # noqa: E402
from service.documents.convert.pool import ConverterPool  # noqa: E402
from service.documents.scan import inspect_upload  # noqa: E402
from service.ops.cli import initialise  # noqa: E402
from service.workers.ocr import recognise  # noqa: E402
from service.workflows.accounts import add_user  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1]) + 1000 if s.getsockname()[1] < 60000 else 20000


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


def timed(fn, rounds: int) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dpi", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--extra-qa", type=int, default=11)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores; load average at start {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "DATA_DIR": Path(tmp) / "data",
                "CONVERTER_POOL_SIZE": 1,
            }
        )
        ws = app.extensions["wenshu"]
        initialise(ws)
        headers = {
            "Authorization": f"Bearer {add_user(ws, name='bench', role='inspector', org_code='llyb')}"
        }
        pool = ConverterPool(ws.pool_settings)
        pool.start()
        try:
            client = app.test_client()
            body = json.dumps(transcript(args.extra_qa), ensure_ascii=False)
            doc = client.post(
                "/api/v1/documents", data=body, content_type="application/json", headers=headers
            ).get_json()
            pdf = client.get(f"/api/v1/documents/{doc['id']}/pdf", headers=headers).data
            docx = client.get(f"/api/v1/documents/{doc['id']}/docx", headers=headers).data
            for _ in range(2):  # warm
                ws.converter.to_pdf(docx, pdfa=True)
            bare = timed(lambda: ws.converter.to_pdf(docx, pdfa=True), max(3, args.rounds))
        finally:
            pool.stop()
        src = Path(tmp) / "doc.pdf"
        src.write_bytes(pdf)

        def render() -> None:
            for old in Path(tmp).glob("page-*.png"):
                old.unlink()
            cmd = ["pdftoppm", "-r", str(args.dpi), "-png", str(src), str(Path(tmp) / "page")]
            subprocess.run(cmd, check=True)

        render_s = timed(render, max(3, args.rounds))
        images = sorted(Path(tmp).glob("page-*.png"))
        pages = len(images)
        t0 = time.perf_counter()
        scan = inspect_upload([(p.name, "image/png", p.read_bytes()) for p in images])
        inspect_s = time.perf_counter() - t0
        print(
            f"transcript: {pages} pages, scanned at {args.dpi} dpi ({sum(p.stat().st_size for p in images) / 1e6:.1f} MB of PNG)"
        )
        print(f"bare warm LibreOffice conversion DOCX→PDF/A (whole transcript): {bare:6.2f} s")
        print(
            f"pdftoppm render of the {pages} pages:                     {render_s:6.2f} s ({render_s / pages:.2f} s/page)"
        )
        print(f"upload checks + img2pdf assembly:                       {inspect_s:6.2f} s")
        for jobs in sorted({1, cores}):
            ocr_s = timed(lambda j=jobs: recognise(scan.pdf, pages=pages, jobs=j), args.rounds)
            per_page = ocr_s / pages
            print(
                f"OCR (ocrmypdf -l chi_sim --rotate-pages, PDF/A-2b), jobs={jobs}: {ocr_s:6.2f} s"
                f" = {per_page:.2f} s/page; per page ×{per_page / bare:.1f} a bare conversion,"
                f" ×{per_page / (render_s / pages):.1f} a page render"
            )
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
