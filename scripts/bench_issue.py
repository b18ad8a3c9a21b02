"""End-to-end issue time vs a bare warm LibreOffice conversion of the same DOCX, in one run.

Usage: scripts/bench_issue [N]   (default 50 notices)
Prints p50/p95 of both and their ratio. Uses a temporary data dir and its own converter pool;
notices are issued without the 签发 steps (``WENSHU_APPROVAL=notice=no``): only the issue is timed.
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import create_app  # noqa: E402
from service.doctypes import render_docx, sample_input  # noqa: E402
from service.documents.convert.pool import ConverterPool  # noqa: E402
from service.documents.seal import make_seal_png  # noqa: E402
from service.ops.cli import initialise  # noqa: E402
from service.workflows.accounts import add_user  # noqa: E402
from service.workflows.issuing import letterhead  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1]) + 1000 if s.getsockname()[1] < 60000 else 20000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "DATA_DIR": Path(tmp) / "data",
                "CONVERTER_POOL_SIZE": 1,
                # What is timed is the issue itself (number → archive); the 签发 steps before
                # it are requests of their own, so the notice is issued without a draft here.
                "APPROVAL": {"notice": False},
            }
        )
        ws = app.extensions["wenshu"]
        initialise(ws)
        token = add_user(ws, name="bench", role="clerk", org_code="llyb")
        pool = ConverterPool(ws.pool_settings)
        pool.start()
        try:
            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}"}
            data = sample_input("notice")
            body = json.dumps({"type": "notice", "org": "llyb", "data": data}, ensure_ascii=False)
            from sqlalchemy import select

            from archive.models import Org
            from schemas.notice import NoticeSchema

            with ws.db.read() as s:
                org = s.scalar(select(Org).where(Org.code == "llyb"))
            docx = render_docx(
                "notice",
                NoticeSchema().load(data),
                org=letterhead(org),
                wenhao="吕医保发〔2026〕1号",
                issue_date=ws.local_date(ws.now()),
                seal_png=make_seal_png(org.seal_text),
            )
            for _ in range(3):  # warm both paths
                ws.converter.to_pdf(docx, pdfa=True)
            client.post(
                "/api/v1/documents", data=body, content_type="application/json", headers=headers
            )

            bare, plain, e2e = [], [], []
            for _ in range(n):
                t0 = time.perf_counter()
                ws.converter.to_pdf(docx, pdfa=True)
                bare.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                ws.converter.to_pdf(docx, pdfa=False)
                plain.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                r = client.post(
                    "/api/v1/documents", data=body, content_type="application/json", headers=headers
                )
                e2e.append(time.perf_counter() - t0)
                assert r.status_code == 201, r.get_json()
        finally:
            pool.stop()
    ms = lambda v: f"{v * 1000:7.1f} ms"  # noqa: E731
    print(f"notices issued: {n} (sequential, one LibreOffice instance, in-process API)")
    print(
        f"bare warm conversion DOCX→PDF/A-2b : p50 {ms(statistics.median(bare))}  p95 {ms(pct(bare, 95))}"
    )
    print(
        f"bare warm conversion DOCX→PDF      : p50 {ms(statistics.median(plain))}  p95 {ms(pct(plain, 95))}"
    )
    print(
        f"end-to-end issue (POST /documents) : p50 {ms(statistics.median(e2e))}  p95 {ms(pct(e2e, 95))}"
    )
    print(
        f"ratio end-to-end / bare PDF/A conversion: p50 {statistics.median(e2e) / statistics.median(bare):.2f}  p95 {pct(e2e, 95) / pct(bare, 95):.2f}"
    )


if __name__ == "__main__":
    main()
