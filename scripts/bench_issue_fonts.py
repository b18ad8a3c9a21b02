"""LibreOffice CPU per conversion by font format: the Fandol faces as installed (OpenType with
CFF outlines) against TrueType copies of them, in one run, alternating.

Usage:
  python scripts/bench_issue_fonts.py truetype DIR   # with fontTools importable (a scratch venv:
                                                     # pip install fonttools==4.68.0): writes
                                                     # DIR/fandol/*.ttf and DIR/fonts.conf
  scripts/bench_issue_fonts DIR [ROUNDS]             # the measurement (.venv, no fontTools)

The TrueType copies have the same glyphs, names and advances: outlines converted from cubic to
quadratic curves (cu2qu, at most 1 unit of 1,000 per em off). Both pools convert the one-page
documents of the four types (PDF/A-2b); the CPU of each pool's processes is read from /proc.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the measurement imports the service; the conversion, fontTools only


FANDOL = Path("/usr/local/share/wenshu/fonts/fandol")
FONTS_CONF = ROOT / "service" / "documents" / "fonts" / "fonts.conf"


def truetype(out: Path) -> None:
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    (out / "fandol").mkdir(parents=True, exist_ok=True)
    for src in sorted(FANDOL.glob("*.otf")):
        font = TTFont(src)
        order = font.getGlyphOrder()
        glyphs = font.getGlyphSet()
        glyf = newTable("glyf")
        glyf.glyphOrder, glyf.glyphs = order, {}
        for name in order:
            pen = TTGlyphPen(glyphs)
            glyphs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
            glyf[name] = pen.glyph()
        font["loca"], font["glyf"] = newTable("loca"), glyf
        del font["CFF "]
        if "VORG" in font:
            del font["VORG"]
        maxp = font["maxp"]
        maxp.tableVersion = 0x00010000
        for field in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                      "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):  # fmt: skip
            setattr(maxp, field, 0)
        maxp.maxZones = 1
        font["head"].indexToLocFormat = font["head"].glyphDataFormat = 0
        post = font["post"]
        post.formatType, post.extraNames, post.mapping, post.glyphOrder = 2.0, [], {}, order
        font.sfntVersion = "\x00\x01\x00\x00"
        font.save(out / "fandol" / (src.stem + ".ttf"))
    conf = FONTS_CONF.read_text(encoding="utf-8")
    conf = conf.replace("<dir>/usr/local/share/wenshu/fonts</dir>", f"<dir>{out}</dir>")
    (out / "fonts.conf").write_text(conf, encoding="utf-8")
    subprocess.run(["fc-cache", "-f", str(out)], env={**os.environ, "FONTCONFIG_FILE": str(out / "fonts.conf")}, check=True)  # fmt: skip


def measure(ttf_dir: Path, rounds: int) -> None:
    import datetime as dt

    from scripts.harness.inputs import DOCTYPES, one_page_input
    from scripts.harness.service import cpu_seconds_of
    from service.doctypes import DOCTYPES as REGISTRY
    from service.doctypes import render_docx
    from service.documents.convert.client import Converter
    from service.documents.convert.instance import PoolSettings
    from service.documents.convert.pool import ConverterPool
    from service.documents.render import Letterhead

    org = Letterhead(name="吕梁市医疗保障局", mark="吕梁市医疗保障局文件", zihao="吕医保发")
    docs = {}
    for t in DOCTYPES:
        data = {**REGISTRY[t].schema().load(one_page_input(t)), "title": "关于开展专项检查的通知"}
        docs[t] = render_docx(t, data, org=org, wenhao="吕医保发〔2026〕1号",
                              issue_date=dt.date(2026, 12, 1), archive_no="J041-2026-D30-BGS-0001")  # fmt: skip
    confs = {"OpenType/CFF": FONTS_CONF, "TrueType": ttf_dir / "fonts.conf"}
    pools, converters, runs = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, conf) in enumerate(confs.items()):
            runs[name] = Path(tmp) / f"pool{i}"
            settings = PoolSettings(run_dir=runs[name], size=1, fontconfig_file=conf)
            pools[name] = ConverterPool(settings)
            pools[name].start()
            converters[name] = Converter(settings)
        print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())  # fmt: skip
        try:
            cpu: dict[tuple[str, str], list[float]] = {(n, t): [] for n in confs for t in docs}
            for name in confs:
                for docx in docs.values():
                    converters[name].to_pdf(docx)  # warm
            for _ in range(rounds):
                for t, docx in docs.items():
                    for name in confs:
                        before = cpu_seconds_of(runs[name])
                        converters[name].to_pdf(docx)
                        cpu[(name, t)].append(cpu_seconds_of(runs[name]) - before)
        finally:
            for pool in pools.values():
                pool.stop()
    print("load after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"LibreOffice CPU per PDF/A-2b conversion, mean of {rounds}:")
    totals = {n: 0.0 for n in confs}
    for t in docs:
        row = {n: statistics.mean(cpu[(n, t)]) * 1000 for n in confs}
        for n in confs:
            totals[n] += row[n]
        cff, ttf = row.values()
        print(
            f"  {t:<22} OpenType/CFF {cff:6.0f} ms  TrueType {ttf:6.0f} ms  ratio {ttf / cff:.2f}"
        )
    cff, ttf = totals.values()
    print(
        f"  {'all four':<22} OpenType/CFF {cff:6.0f} ms  TrueType {ttf:6.0f} ms  ratio {ttf / cff:.2f}"
    )


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "truetype":
        truetype(Path(sys.argv[2]).resolve())
    else:
        measure(Path(sys.argv[1]).resolve(), int(sys.argv[2]) if len(sys.argv) > 2 else 8)
