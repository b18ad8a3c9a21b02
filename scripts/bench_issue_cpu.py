"""CPU of Wenshu itself per issued one-page document (LibreOffice excluded), by step.

Usage: scripts/bench_issue_cpu [N per type] [--profile FILE]
Issues N one-page documents of each of the four types through the API in-process (one
converter instance, the index worker of the app), and prints this process's CPU per document
— LibreOffice runs in processes of its own and is not counted — and the wall time of a bare
warm conversion of the same one-page notice in the same run. ``--profile`` writes a cProfile
of the issues (``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.harness.inputs import DOCTYPES, ISSUER, one_page_input  # noqa: E402
from service import create_app  # noqa: E402
from service.documents.convert.pool import ConverterPool  # noqa: E402
from service.ops.cli import initialise  # noqa: E402
from service.workflows.accounts import add_user  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=10)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "DATA_DIR": Path(tmp) / "data",
                "CONVERTER_POOL_SIZE": 1,
                "APPROVAL": {code: False for code in DOCTYPES},
            }
        )
        ws = app.extensions["wenshu"]
        initialise(ws)
        tokens = {
            role: add_user(ws, name=f"bench-{role}", role=role, org_code="llyb")
            for role in set(ISSUER.values()) | {"auditor"}
        }
        pool = ConverterPool(ws.pool_settings)
        pool.start()
        try:
            client = app.test_client()
            bodies = {
                t: json.dumps(
                    {"type": t, "org": "llyb", "data": one_page_input(t)}, ensure_ascii=False
                )
                for t in DOCTYPES
            }

            def issue(doctype: str) -> str:
                r = client.post(
                    "/api/v1/documents",
                    data=bodies[doctype],
                    content_type="application/json",
                    headers={"Authorization": f"Bearer {tokens[ISSUER[doctype]]}"},
                )
                assert r.status_code == 201, r.get_json()
                return str(r.get_json()["id"])

            for t in DOCTYPES:  # warm every path
                issue(t)
            doc_id = issue("notice")
            docx = client.get(
                f"/api/v1/documents/{doc_id}/docx",
                headers={"Authorization": f"Bearer {tokens['auditor']}"},
            ).data
            bare = []
            for _ in range(5):
                t0 = time.perf_counter()
                ws.converter.to_pdf(docx, pdfa=True)
                bare.append(time.perf_counter() - t0)
            ws.index_soon()
            time.sleep(2)  # the index worker idle again
            # CPU time of the request thread, not wall time: waiting for LibreOffice costs nothing
            profile = cProfile.Profile(time.thread_time) if args.profile else None
            cpu0 = time.process_time()
            if profile:
                profile.enable()
            per_type: dict[str, list[float]] = {t: [] for t in DOCTYPES}
            for _ in range(args.n):
                for t in DOCTYPES:
                    c0 = time.thread_time()
                    issue(t)
                    per_type[t].append(time.thread_time() - c0)
            if profile:
                profile.disable()
                profile.dump_stats(args.profile)
            time.sleep(3)  # let the index worker finish what the issues queued
            cpu = time.process_time() - cpu0
        finally:
            pool.stop()
    count = args.n * len(DOCTYPES)
    print("load after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"{count} one-page documents ({args.n} of each type), one converter instance")
    for t, values in per_type.items():
        print(f"  {t:<22} request thread CPU p50 {statistics.median(values) * 1000:6.1f} ms")
    print(f"process CPU per document (requests + index worker): {cpu / count * 1000:.1f} ms")
    print(
        f"bare warm conversion of the one-page notice: p50 {statistics.median(bare) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
