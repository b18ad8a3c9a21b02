"""A notice's conversions and CPU: rendered again and converted again when odd (the old way:
``typeset`` with a plain ``convert``) against converted once (``typeset`` with
``Converter.pdf_maker``, whose ``to_pdf_even`` lays the notice out and, when odd, moves the 版记
to a new page before the one export), in one run, alternating, with a bare conversion of the
notice's text (one load, one export) as the yardstick.

Usage: scripts/bench_notice_once [ROUNDS]

One pool of one instance. The notices: text of 1 page (the common case: the 版记 then needs
the next page), of 3, of 2 (even already) and one whose 版记 falls alone on an odd page (two
blank pages). LibreOffice's CPU is read from /proc (the processes of the pool's run
directory), ours (render, pypdf, the client) with ``time.process_time``.
"""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.harness.service import cpu_seconds_of  # noqa: E402

CASES = {"1 page of text": 1, "3 pages of text": 13, "2 pages (even)": 18, "版记 alone": 9}
MIX = {"1 page of text": 5, "3 pages of text": 1, "2 pages (even)": 2, "版记 alone": 1}
"""Weights of a mixed load of notices: mostly one page."""
PARAGRAPH = (
    "为了加强医疗保障基金监管工作，进一步引深打击欺诈骗保专项治理行动，切实保障参保群众"
    "合法权益，维护基金安全可持续运行，根据安排部署。"
)


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def measure(rounds: int) -> None:
    from schemas.notice import NoticeSchema
    from service.doctypes import DOCTYPES
    from service.documents.convert.client import Converter
    from service.documents.convert.instance import FONTS_CONF, PoolSettings
    from service.documents.convert.pool import ConverterPool
    from service.documents.render import Letterhead
    from service.documents.seal import make_seal_png

    notice = DOCTYPES["notice"]
    org = Letterhead(name="吕梁市医疗保障局", mark="吕梁市医疗保障局文件", zihao="吕医保发")
    seal = make_seal_png(org.name)
    kw: dict[str, Any] = dict(org=org, wenhao="吕医保发〔2026〕1号", issue_date=dt.date(2026, 12, 1),
                              seal_png=seal, archive_no="J041-2026-D30-BGS-0001")  # fmt: skip
    datas = {
        case: NoticeSchema().load(
            {
                "title": "关于开展专项检查的通知",
                "addressees": ["各县（市、区）医疗保障局"],
                "body": [{"text": PARAGRAPH}] * n,
                "cc": ["山西省医疗保障局"],
                "date": "2026-12-01",
            }
        )  # fmt: skip
        for case, n in CASES.items()
    }
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "pool"
        settings = PoolSettings(run_dir=run_dir, size=1, max_conversions=100_000,
                                fontconfig_file=FONTS_CONF if FONTS_CONF.exists() else None)  # fmt: skip
        pool = ConverterPool(settings)
        pool.start()
        converter = Converter(settings)
        counts = {"loads": 0, "exports": 0}

        class Plain:
            def __call__(self, docx: bytes) -> bytes:
                counts["loads"] += 1
                counts["exports"] += 1
                return converter.to_pdf(docx, pdfa=True)

        class Once(Plain):
            def to_pdf_even(self, docx: bytes) -> Any:
                counts["loads"] += 1
                counts["exports"] += 1
                return converter.to_pdf_even(docx, pdfa=True)

        modes = {
            "bare": lambda d: converter.to_pdf(notice.render(d, **kw), pdfa=True),
            "before": lambda d: notice.typeset(d, Plain(), **kw),
            "after": lambda d: notice.typeset(d, Once(), **kw),
        }
        load = [_uptime()]
        rows: dict[tuple[str, str], list[tuple[float, float, float, int, int]]] = {}
        try:
            for data in datas.values():
                for run in modes.values():
                    run(data)  # warm: caches, fonts
            for r in range(rounds):
                for case, data in datas.items():
                    order = list(modes.items())
                    for name, run in order if r % 2 == 0 else order[::-1]:
                        counts.update(loads=0, exports=0)
                        lo, ours, wall = (
                            cpu_seconds_of(run_dir),
                            time.process_time(),
                            time.perf_counter(),
                        )
                        run(data)
                        rows.setdefault((case, name), []).append((
                            cpu_seconds_of(run_dir) - lo, time.process_time() - ours,
                            time.perf_counter() - wall, counts["loads"] or 1, counts["exports"] or 1,
                        ))  # fmt: skip
        finally:
            pool.stop()
        load.append(_uptime())
    print("load before:", load[0])
    print("load after: ", load[1])
    print(f"per notice, mean of {rounds} rounds (CPU: LibreOffice + ours; ms)")
    print(
        f"  {'':<16} {'mode':<7} {'loads':>5} {'exports':>7} {'LO cpu':>7} {'our cpu':>7} {'total':>6} {'wall':>6}"
    )
    mixed: dict[str, list[float]] = {m: [0.0, 0.0, 0.0] for m in modes}
    weight = sum(MIX.values())
    for case in CASES:
        for name in modes:
            lo, ours, wall, loads, calls = (
                statistics.mean(x) for x in zip(*rows[(case, name)], strict=True)
            )
            print(f"  {case:<16} {name:<7} {loads:5.2f} {calls:7.2f} {lo * 1000:7.0f} {ours * 1000:7.0f}"
                  f" {(lo + ours) * 1000:6.0f} {wall * 1000:6.0f}")  # fmt: skip
            mixed[name][0] += MIX[case] / weight * calls
            mixed[name][1] += MIX[case] / weight * (lo + ours)
            mixed[name][2] += MIX[case] / weight * loads
    bare = mixed["bare"][1]
    print(f"mixed load of notices ({', '.join(f'{MIX[c]}× {c}' for c in CASES)}):")
    for name in modes:
        calls, cpu, loads = mixed[name]
        print(f"  {name:<7} {loads:4.2f} loads {calls:4.2f} exports/notice  {cpu * 1000:5.0f} ms CPU/notice"
              f"  throughput {bare / cpu:4.2f} × bare conversions")  # fmt: skip


if __name__ == "__main__":
    measure(int(sys.argv[1]) if len(sys.argv) > 1 else 6)
