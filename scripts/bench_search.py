"""Search benchmark: a generated archive of the four document types, indexed and queried.

Usage: scripts/bench_search [--sizes 2000] [--seed 1] [--repeat 3] [--procs 2]
                            [--keep DIR [--query-only]] [--all-orgs]
                            [--backends whoosh,postgresql] [--copies N] [--index gin|rum|org]
e.g.   scripts/bench_search --sizes 10000,100000      (~10 min for 100,000 on 2 idle cores)
       scripts/bench_search --sizes 100000 --backends whoosh,postgresql

With several ``--backends`` the same corpus is indexed and queried by each in turn, and the
ratios of their query latencies are printed (PostgreSQL in a scratch database of the local
cluster, see ``scripts/bench_pg.py``; its indexing CPU includes the server's).

For each size it generates that many documents into a file (the "archive": seed text from
``tests/support/seeds``, the structure of ``doc_templates/*.sample.json``, random names,
institutions, ID numbers and credit codes with valid check characters, amounts and dates),
rebuilds an index from it in a temporary directory (or ``--keep DIR``) and prints: indexing
throughput (wall, and CPU of the indexing processes), index size on disk, peak RSS of the
parent and of the largest indexing process, query latency p50/p95 per query class and overall
over a fixed query set (drawn from the documents with a fixed seed), asked ``--repeat`` times
after the warm-up a server worker does at start (the first round reported apart), then another set drawn with another seed, and the time
from adding one document to finding it. ``--query-only`` queries an index kept earlier.
PostgreSQL only: ``--copies N`` analyses size/N documents and copies each row N times in the
server (a million rows in minutes; each copy its own id and date, no 文号 or 档号);
``--index`` replaces the index of the terms before querying (one GIN; RUM; the GIN and a
partial GIN per org, as ``rebuild`` makes them).
Figures and how to read them: docs/search.md.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive import search  # noqa: E402
from archive.search import IndexedDoc  # noqa: E402
from archive.search.analysis import warm_up  # noqa: E402
from archive.search.extract import input_facts  # noqa: E402
from scripts.bench_pg import (  # noqa: E402
    TERM_INDEXES,
    relation_mib,
    replicate_search_docs,
    scratch_database,
    server_cpu_seconds,
    use_term_index,
)

SEEDS = ROOT / "tests" / "support" / "seeds"
SAMPLES = ROOT / "doc_templates"

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
)
GIVEN = "建国晓燕海涛芳志明伟强磊军洋勇艳杰娟超秀英华平刚桂玉兰丽敏静丹霞红梅鹏飞宇浩然子轩欣怡雨涵思远嘉文博俊雅琪晨阳立新永春振庆淑珍凤翠莲德福"
ORGS = [  # code, name, 机关代字, city, districts, ID-card region code, share
    (
        "llyb",
        "吕梁市医疗保障局",
        "吕医保发",
        "吕梁市",
        "离石区 孝义市 汾阳市 文水县 交城县 兴县 临县 柳林县 岚县 方山县",
        "141102",
        4,
    ),
    (
        "tyyb",
        "太原市医疗保障局",
        "并医保发",
        "太原市",
        "小店区 迎泽区 杏花岭区 尖草坪区 万柏林区 晋源区 清徐县 阳曲县",
        "140105",
        3,
    ),
    (
        "akyb",
        "安康市医疗保障局",
        "安医保发",
        "安康市",
        "汉滨区 汉阴县 石泉县 宁陕县 紫阳县 岚皋县 平利县 镇坪县 旬阳市 白河县",
        "610902",
        2,
    ),
    (
        "dtyb",
        "大同市医疗保障局",
        "同医保发",
        "大同市",
        "平城区 云冈区 新荣区 云州区 阳高县 天镇县 广灵县 灵丘县 浑源县 左云县",
        "140213",
        1,
    ),
]
BRANDS = "康宁 仁和堂 济民 惠民 同仁 博爱 康泰 华康 益寿堂 百姓 德仁 福寿 康济 瑞康 安泰 长安 永康 健民 万家 同济 仁爱 广济 康乐 保元堂 天和".split()
INSTITUTION_TYPES = ["定点医院", "定点连锁药店", "单体定点零售药店", "诊所"]
VIOLATIONS = [
    "挂床住院",
    "串换药品",
    "虚假住院",
    "分解住院",
    "过度诊疗",
    "超标准收费",
    "重复收费",
    "虚记费用",
    "诱导住院",
    "冒名就医",
    "超量开药",
    "伪造医疗文书",
    "串换诊疗项目",
    "虚构医药服务",
]
MEASURES = [
    "通报批评",
    "限期整改",
    "暂停医保",
    "解除医保",
    "移交司法机关",
    "拒付（追回）医保基金",
    "行政罚款",
]
INSPECTION_TYPES = ["日常监督检查", "专项检查", "飞行检查", "交叉检查"]
TYPE_SHARE = [
    ("notice", 2),
    ("inspection_record", 3),
    ("interview_transcript", 3),
    ("inspection_report", 2),
]
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def id_card(rng: random.Random, region: str) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 50))
    body = f"{region}{born:%Y%m%d}{rng.randrange(0, 1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def credit_code(rng: random.Random, region: str) -> str:
    body = "91" + region + "".join(rng.choice(_CREDIT_CHARS) for _ in range(9))
    total = sum(_CREDIT_CHARS.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return body + _CREDIT_CHARS[(31 - total % 31) % 31]


@dataclass(frozen=True)
class Institution:
    name: str
    kind: str
    code: str
    legal_rep: str


class Corpus:
    """Deterministic documents of the four types for one ``seed``."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        simplified, traditional = [], []
        for path in sorted(SEEDS.glob("*.txt")):
            text = path.read_text(encoding="utf-8")
            pieces = [s.strip() + "。" for line in text.splitlines() for s in line.split("。")]
            pieces = [s for s in pieces if 12 <= len(s) <= 200]
            (traditional if path.name.startswith("003") else simplified).extend(pieces)
        self.sentences, self.traditional = simplified, traditional
        self.samples = {
            kind: json.loads((SAMPLES / f"{kind}.sample.json").read_text(encoding="utf-8"))
            for kind, _ in TYPE_SHARE
            if (SAMPLES / f"{kind}.sample.json").exists()
        }
        self.orgs = [o for o in ORGS for _ in range(o[6])]
        self.institutions = {o[0]: [self._institution(o) for _ in range(250)] for o in ORGS}
        self.inspectors = {o[0]: [self.name() for _ in range(30)] for o in ORGS}
        self.numbers: dict[tuple[str, int], int] = {}

    def name(self) -> str:
        r = self.rng
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2, 2))))

    def _institution(self, org: tuple[Any, ...]) -> Institution:
        r = self.rng
        district = r.choice(org[4].split())
        kind = r.choice(INSTITUTION_TYPES)
        brand = r.choice(BRANDS)
        suffix = {
            "定点医院": r.choice(["医院", "中医院", "骨科医院", "综合医院", "妇幼保健院"]),
            "定点连锁药店": f"大药房连锁有限公司{district[:2]}{r.randrange(1, 30)}店",
            "单体定点零售药店": r.choice(["大药房", "药店", "医药商店"]),
            "诊所": r.choice(["诊所", "中医诊所", "口腔诊所", "卫生所"]),
        }[kind]
        return Institution(
            f"{org[3]}{district}{brand}{suffix}", kind, credit_code(r, org[5]), self.name()
        )

    def paragraph(self, n: int, traditional: bool = False) -> str:
        pool = self.traditional if traditional else self.sentences
        return "".join(self.rng.choice(pool) for _ in range(n))

    def documents(self, count: int) -> Iterator[IndexedDoc]:
        kinds = [k for k, share in TYPE_SHARE for _ in range(share)]
        for i in range(count):
            org = self.rng.choice(self.orgs)
            kind = self.rng.choice(kinds)
            yield self.document(i, org, kind)

    def document(self, i: int, org: tuple[Any, ...], kind: str) -> IndexedDoc:
        r = self.rng
        issued = datetime(2018, 1, 1, 8) + timedelta(minutes=r.randrange(0, 8 * 365 * 24 * 60))
        traditional = r.random() < 0.02
        case_no = (
            f"{org[2][:2]}医保稽〔{issued.year}〕{r.randrange(1, 400)}号"
            if kind != "notice"
            else None
        )
        data, title, text = getattr(self, kind)(org, issued, traditional)
        wenhao = None
        if kind == "notice":
            n = self.numbers[(org[0], issued.year)] = self.numbers.get((org[0], issued.year), 0) + 1
            wenhao = f"{org[2]}〔{issued.year}〕{n}号"
            text = f"{org[1]}文件\n{wenhao}\n{text}"
        facts = input_facts(kind, data)
        return IndexedDoc(
            id=f"d{i:07d}",
            type=kind,
            org=org[0],
            case_no=case_no,
            wenhao=wenhao,
            archive_no=f"J{ORGS.index(org) + 41:03d}-{issued.year}-D30-JGK-{i % 10000:04d}",
            title=title,
            body=text,
            issued_at=issued,
            identifiers=facts.identifiers,
            institutions=facts.institutions,
            persons=facts.persons,
            inspectors=facts.inspectors,
            amount=facts.amount,
        )

    def notice(self, org: tuple[Any, ...], issued: datetime, trad: bool) -> tuple[Any, ...]:
        r = self.rng
        topic = r.choice(
            [
                "打击欺诈骗保专项治理",
                "医保基金监管",
                "定点医药机构自查自纠",
                "医保基金飞行检查",
                "违规使用医保基金问题专项整治",
            ]
        )
        title = r.choice(
            [
                f"关于开展{issued.year}年{topic}工作的通知",
                f"关于印发《{org[3]}{topic}行动工作方案》的通知",
            ]
        )
        contact = {"name": self.name(), "phone": f"0358-{r.randrange(1000000, 9999999)}"}
        paragraphs = [self.paragraph(r.randrange(3, 8), trad) for _ in range(r.randrange(4, 10))]
        data = {
            "title": title,
            "addressees": ["各县（市、区）医疗保障局"],
            "body": [{"text": p} for p in paragraphs],
            "contact": contact,
        }
        text = "\n".join(
            [
                title,
                "各县（市、区）医疗保障局：",
                *paragraphs,
                f"联系人：{contact['name']}，电话：{contact['phone']}",
                org[1],
                f"{issued.year}年{issued.month}月{issued.day}日",
            ]
        )
        return data, title, text

    def _findings(self, inst: Institution, issued: datetime, trad: bool) -> list[str]:
        r = self.rng
        out = []
        for violation in r.sample(VIOLATIONS, r.randrange(2, 5)):
            amount = Decimal(r.randrange(50000, 20000000)) / 100
            out.append(
                f"经核查，{inst.name}存在{violation}问题，涉及{r.randrange(2, 300)}人次，"
                f"涉及医保基金{amount:,.2f}元。患者{self.name()}（住院号{issued.year}{r.randrange(10**6, 10**7)}）"
                f"于{issued.month}月{r.randrange(1, 28)}日入院。"
                + self.paragraph(r.randrange(2, 6), trad)
            )
        return out

    def inspection_record(
        self, org: tuple[Any, ...], issued: datetime, trad: bool
    ) -> tuple[Any, ...]:
        r = self.rng
        inst = r.choice(self.institutions[org[0]])
        inspectors = r.sample(self.inspectors[org[0]], r.randrange(2, 4))
        recorder, witness = self.name(), self.name()
        subject: dict[str, Any] = {
            "kind": "institution",
            "name": inst.name,
            "legal_rep": inst.legal_rep,
            "id_code": inst.code,
        }
        if r.random() < 0.15:
            subject = {
                "kind": "person",
                "name": self.name(),
                "legal_rep": inst.name,
                "id_code": id_card(r, org[5]),
            }
        findings = self._findings(inst, issued, trad)
        data = {
            "location": inst.name,
            "subject": subject,
            "inspectors": inspectors,
            "recorder": recorder,
            "witness": witness,
            "findings": findings,
            "matter": f"{issued.year - 1}年度医保基金使用情况",
        }
        title = f"{org[3]}定点医疗机构专项治理检查记录单"
        text = "\n".join(
            [
                title,
                f"时间：{issued.year}年{issued.month}月{issued.day}日{issued.hour}时{issued.minute:02d}分",
                f"地点：{inst.name}",
                f"对象：{subject['name']}  法定代表人：{subject['legal_rep']}  证件号码：{subject['id_code']}",
                f"检查人员：{'、'.join(inspectors)}  记录人：{recorder}",
                f"现对你单位{data['matter']}进行检查。",
                *findings,
                "以上记录情况属实。",
                f"见证人：{witness}",
            ]
        )
        return data, title, text

    def interview_transcript(
        self, org: tuple[Any, ...], issued: datetime, trad: bool
    ) -> tuple[Any, ...]:
        r = self.rng
        inst = r.choice(self.institutions[org[0]])
        person = {
            "name": self.name(),
            "gender": r.choice("男女"),
            "position": f"{inst.name}医保办主任",
            "id_number": id_card(r, org[5]),
        }
        interviewers = r.sample(self.inspectors[org[0]], 2)
        recorder = self.name()
        violation = r.choice(VIOLATIONS)
        qa = [{"q": "以上告知的权利和义务你是否听清楚了？", "a": "听清楚了。"}]
        qa += [
            {"q": f"你院是否存在{violation}的情况？", "a": f"我院{self.paragraph(1)}"}
            for _ in range(r.randrange(1, 3))
        ]
        qa += [
            {"q": self.paragraph(1, trad), "a": self.paragraph(r.randrange(2, 5), trad)}
            for _ in range(r.randrange(3, 7))
        ]
        data = {
            "interviewee": person,
            "interviewers": interviewers,
            "recorder": recorder,
            "matter": f"{inst.name}涉嫌{violation}",
            "qa": qa,
        }
        title = f"{org[3]}定点医疗机构专项治理检查询问笔录"
        text = "\n".join(
            [
                title,
                f"被询问人：{person['name']}  性别：{person['gender']}  身份证号：{person['id_number']}",
                f"工作岗位：{person['position']}",
                f"承办人：{'、'.join(interviewers)}  记录人：{recorder}",
                f"我们是{org[1]}的执法人员，现对{data['matter']}之事进行调查询问。",
                *(f"问：{x['q']}\n答：{x['a']}" for x in qa),
                "以上记录情况属实。",
            ]
        )
        return data, title, text

    def inspection_report(
        self, org: tuple[Any, ...], issued: datetime, trad: bool
    ) -> tuple[Any, ...]:
        r = self.rng
        district = r.choice(org[4].split())
        kind = r.choice(INSPECTION_TYPES)
        violations = []
        for inst in r.sample(self.institutions[org[0]], r.randrange(1, 6)):
            violation = r.choice(VIOLATIONS)
            violations.append(
                {
                    "institution": inst.name,
                    "id_code": inst.code,
                    "institution_type": inst.kind,
                    "issue": f"{violation}{r.randrange(2, 200)}人次",
                    "amount": str(Decimal(r.randrange(10000, 50000000)) / 100),
                    "measures": r.sample(MEASURES, r.randrange(1, 3)),
                }
            )
        total = sum(Decimal(v["amount"]) for v in violations)
        title = f"{org[1]}关于{district}定点医药机构{kind}情况的报告"
        sections = [self.paragraph(r.randrange(3, 7), trad) for _ in range(r.randrange(4, 7))]
        rows = [
            f"{v['institution']} {v['id_code']} {v['institution_type']} {v['issue']} {Decimal(v['amount']):,.2f}元 {'、'.join(v['measures'])}"
            for v in violations
        ]
        data = {
            "title": title,
            "inspection_type": kind,
            "region": district,
            "violations": violations,
        }
        text = "\n".join(
            [
                title,
                f"检查组一行{r.randrange(3, 9)}人在{district}开展{kind}。",
                "一、基本情况",
                sections[0],
                "二、主要做法",
                *sections[1:],
                "四、专项检查结果和处理情况",
                *rows,
                f"合计{total:,.2f}元。",
            ]
        )
        return data, title, text


# --------------------------------------------------------------------------- queries


def query_set(docs: list[IndexedDoc], rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """A fixed mix of what inspectors type, drawn from the documents: (class, search kwargs)."""
    reports = [d for d in docs if d.type == "inspection_report"]
    records = [d for d in docs if d.type == "inspection_record"]
    notices = [d for d in docs if d.wenhao]
    people = [d for d in docs if d.persons]
    out: list[tuple[str, dict[str, Any]]] = []
    for _ in range(10):
        out.append(("name", {"q": rng.choice(people).persons[0]}))
        out.append(("institution", {"q": rng.choice(records).institutions[0]}))
        out.append(("id", {"q": rng.choice([d for d in docs if d.identifiers]).identifiers[0]}))
        wenhao = rng.choice(notices).wenhao or ""
        out.append(
            (
                "wenhao",
                {
                    "q": wenhao.replace("〔", rng.choice("〔【[")).replace("〕", "]")
                    if rng.random() < 0.5
                    else wenhao
                },
            )
        )
    for violation in VIOLATIONS[:10]:
        out.append(("violation", {"q": violation}))
    for phrase in [
        '"专项治理"',
        '"医保基金"',
        '"定点医药机构"',
        '"欺诈骗保"',
        '"挂床住院"',
        '"自查自纠"',
        '"医疗保障"',
        '"飞行检查"',
    ]:
        out.append(("phrase", {"q": phrase}))
    for text in ["醫保基金", "欺詐騙保", "定點醫藥機構", "掛床住院", "監督檢查"]:
        out.append(("traditional", {"q": text}))
    for _ in range(8):
        start = date(rng.randrange(2018, 2025), rng.randrange(1, 13), 1)
        out.append(
            (
                "date",
                {
                    "q": rng.choice(VIOLATIONS),
                    "date_from": start,
                    "date_to": start + timedelta(days=90),
                },
            )
        )
    for _ in range(8):
        doc = rng.choice(reports)
        out.append(
            (
                "combination",
                {
                    "q": f"{doc.institutions[0][-6:]} {rng.choice(VIOLATIONS)}",
                    "type": "inspection_report",
                },
            )
        )
        out.append(
            (
                "combination",
                {"q": "医保基金", "inspector": rng.choice(records).inspectors[0], "sort": "newest"},
            )
        )
    for _ in range(4):
        out.append(
            ("amount", {"q": "", "amount_min": Decimal(100000), "type": "inspection_report"})
        )
        out.append(("browse", {"q": "", "date_from": date(2022, 1, 1), "sort": "newest"}))
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_corpus(size: int, seed: int, path: Path | None) -> tuple[list[IndexedDoc], float]:
    """Generate ``size`` documents into ``path`` (the "archive"), keeping a sample for queries."""
    sample: list[IndexedDoc] = []
    chars = 0
    with open(path or os.devnull, "wb") as fh:
        for n, doc in enumerate(Corpus(seed).documents(size)):
            if path is not None:
                pickle.dump(doc, fh, protocol=pickle.HIGHEST_PROTOCOL)
            chars += len(doc.title) + len(doc.body)
            if n % max(1, size // 2000) == 0:
                sample.append(doc)
    return sample, chars / size


def read_corpus(path: Path) -> Iterator[IndexedDoc]:
    with open(path, "rb") as fh:
        while True:
            try:
                yield pickle.load(fh)
            except EOFError:
                return


def bench(
    size: int,
    seed: int,
    repeat: int,
    keep: Path | None,
    orgs: list[str] | None,
    procs: int,
    query_only: bool = False,
    backends: tuple[str, ...] = ("whoosh",),
    copies: int = 1,
    term_index: str | None = None,
) -> None:
    path = keep or Path(tempfile.mkdtemp(prefix="bench-search-"))
    path.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        corpus = None if query_only else path / "corpus.pickle"
        unique = size // copies
        sample, chars = write_corpus(unique, seed, corpus)
        generated = time.perf_counter() - started
        print(
            f"\n== {size:,} documents (mean {chars:,.0f} characters; generated in {generated:.0f} s)"
            + (f"; {unique:,} distinct, each copied {copies} times" if copies > 1 else "")
        )
        figures = {}
        for backend in backends:
            print(f"\n-- {backend}  (load average {_load()})")
            with open_backend(backend, path, keep is not None) as (index, measure):
                if not query_only:
                    build(index, measure, path / "corpus.pickle", unique, procs)
                    if copies > 1:
                        grow(index, measure, copies)
                if term_index:
                    url = index.engine.url.render_as_string(hide_password=False)
                    took, mib = use_term_index(url, term_index)
                    print(f"terms indexed by {term_index}: {took:.0f} s, {mib:,.0f} MiB")
                figures[backend] = run_queries(index, sample, seed, repeat, orgs)
                incremental(index, sample)
        if corpus is not None:
            corpus.unlink()
        if len(figures) > 1:
            base, *others = backends
            for other in others:
                ratios = ", ".join(
                    f"{name} {figures[other][name] / figures[base][name]:.2f}"
                    for name in figures[base]
                )
                print(f"{other} / {base} latency: {ratios}  (load average {_load()})")
    finally:
        if keep is None:
            shutil.rmtree(path, ignore_errors=True)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextmanager
def open_backend(backend: str, path: Path, keep: bool) -> Iterator[tuple[Any, Any]]:
    """The index of ``backend`` with a function giving its size on disk (MiB)."""
    if backend == "whoosh":
        index = search.open_backend(backend, index_dir=path / "index", engine=None)
        yield index, lambda: dir_size(path / "index") / 2**20
        return
    from archive.db import make_engine
    from archive.search.postgres.backend import TABLE

    url_file = path / "postgresql-url"
    if keep and url_file.exists():
        url = url_file.read_text().strip()
        engine = make_engine(url)
        yield (
            search.open_backend(backend, index_dir=None, engine=engine),
            lambda: relation_mib(url, TABLE),
        )
        engine.dispose()
        return
    with scratch_database("wenshu_bench", keep=keep) as url:
        if keep:
            url_file.write_text(url + "\n")
        engine = make_engine(url)
        try:
            yield (
                search.open_backend(backend, index_dir=None, engine=engine),
                lambda: relation_mib(url, TABLE),
            )
        finally:
            engine.dispose()


def build(index: Any, measure: Any, corpus: Path, size: int, procs: int) -> None:
    rss_before = peak_rss_mb()
    server = server_cpu_seconds()
    started, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    index.rebuild(read_corpus(corpus), procs=procs)
    took = time.perf_counter() - started
    cpu_parent, cpu_children = time.process_time() - cpu, _children_cpu() - children
    cpu_server = server_cpu_seconds() - server
    busiest = max(cpu_parent, cpu_children / procs) if procs > 1 else cpu_parent
    print(
        f"indexing: {size / took:,.0f} docs/s wall ({took:.0f} s; {procs} process(es)); "
        f"CPU {cpu_parent:.0f} s parent + {cpu_children:.0f} s workers "
        f"= {size / busiest:,.0f} docs/s if each process had a core to itself"
        + (f"; PostgreSQL server CPU {cpu_server:.0f} s" if cpu_server >= 0.5 else "")
    )
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"index size: {measure():,.0f} MiB; peak RSS {peak_rss_mb():,.0f} MiB "
        f"(before indexing {rss_before:,.0f}), largest worker {child_rss:,.0f} MiB, "
        f"all processes at most {peak_rss_mb() + (procs if procs > 1 else 0) * child_rss:,.0f} MiB"
    )


def grow(index: Any, measure: Any, copies: int) -> None:
    """Copy every row of the PostgreSQL table ``copies`` - 1 times more (``--copies``)."""
    started = time.perf_counter()
    url = index.engine.url.render_as_string(hide_password=False)
    count = replicate_search_docs(url, copies)
    print(
        f"copied in the server to {count:,} rows, indexes built again: "
        f"{time.perf_counter() - started:.0f} s; table {measure():,.0f} MiB"
    )


def incremental(index: Any, sample: list[IndexedDoc], rounds: int = 12) -> None:
    """What a drain does after an issue: add one document, commit, find it (new searcher)."""
    took = []
    for n in range(rounds):
        doc = replace(sample[n % len(sample)], id=f"new{n:04d}", body=f"新增文书{n}号 甲乙丙{n}丁")
        started = time.perf_counter()
        index.add([doc])
        found = index.search(f"甲乙丙{n}丁", orgs=None).total
        took.append((time.perf_counter() - started) * 1000)
        assert found == 1, found
    print(
        f"issue -> searchable (add one document, commit, search it), {rounds} times: "
        f"p50 {pct(took, 50):,.0f} ms, max {max(took):,.0f} ms"
    )


def run_queries(
    index: Any, sample: list[IndexedDoc], seed: int, repeat: int, orgs: list[str] | None
) -> dict[str, float]:
    """Print latencies per class; return the overall p50/p95 (rounds 2+, other queries)."""
    queries = query_set(sample, random.Random(seed + 7))
    # As each server worker does when it starts, so no user's first search pays for it.
    t0 = time.perf_counter()
    index.warm()
    print(f"warm-up (what each worker does at start): {time.perf_counter() - t0:.1f} s")
    latencies: dict[str, list[float]] = {}
    cold: list[float] = []
    cold_by_class: dict[str, list[float]] = {}
    totals = []
    for round_ in range(repeat):
        for cls, kwargs in queries:
            kwargs = dict(kwargs)
            q = kwargs.pop("q")
            t0 = time.perf_counter()
            result = index.search(q, orgs=orgs, **kwargs)
            ms = (time.perf_counter() - t0) * 1000
            if round_ == 0:
                cold.append(ms)
                cold_by_class.setdefault(cls, []).append(ms)
                totals.append(result.total)
            else:
                latencies.setdefault(cls, []).append(ms)
    print(
        f"queries: {len(queries)} x {repeat} rounds; median total hits {statistics.median(totals):,.0f}, max {max(totals):,}"
    )
    print(f"{'class':<14}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'1st p95':>9}")
    everything = [ms for values in latencies.values() for ms in values]
    for cls, values in [*latencies.items(), ("overall", everything), ("first round", cold)]:
        if values:
            firsts = cold if cls == "overall" else cold_by_class.get(cls)  # that class, round 1
            first = f"{pct(firsts, 95):>9.1f}" if firsts else ""
            print(
                f"{cls:<14}{len(values):>5}{pct(values, 50):>9.1f}{pct(values, 95):>9.1f}"
                f"{max(values):>9.1f}{first}"
            )
    # Other names, IDs, numbers, dates (same violation words and phrases: inspectors' vocabulary
    # is small): caches warm, but not with these queries' own terms and blocks.
    unseen = []
    unseen_by_class: dict[str, list[float]] = {}
    for cls, kwargs in query_set(sample, random.Random(seed + 99)):
        kwargs = dict(kwargs)
        q = kwargs.pop("q")
        t0 = time.perf_counter()
        index.search(q, orgs=orgs, **kwargs)
        unseen.append((time.perf_counter() - t0) * 1000)
        unseen_by_class.setdefault(cls, []).append(unseen[-1])
    print(
        f"{'other queries':<14}{len(unseen):>5}{pct(unseen, 50):>9.1f}{pct(unseen, 95):>9.1f}"
        f"{max(unseen):>9.1f}   (drawn with another seed, process warm)"
    )
    for name, by_class in [("first round", cold_by_class), ("other queries", unseen_by_class)]:
        slowest = sorted(by_class.items(), key=lambda kv: -max(kv[1]))[:3]
        print(
            f"  slowest classes, {name} (max ms): "
            + ", ".join(f"{cls} {max(values):,.0f}" for cls, values in slowest)
        )
    print(f"peak RSS after queries: {peak_rss_mb():,.0f} MiB")
    return {
        "p50": pct(everything, 50),
        "p95": pct(everything, 95),
        "other p50": pct(unseen, 50),
        "other p95": pct(unseen, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000", help="comma-separated, e.g. 10000,100000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the index here and keep it")
    parser.add_argument("--all-orgs", action="store_true", help="query as an administrator")
    parser.add_argument("--procs", type=int, default=2, help="indexing processes (default 2)")
    parser.add_argument(
        "--query-only", action="store_true", help="query the index kept in --keep again"
    )
    parser.add_argument(
        "--backends",
        default="whoosh",
        help="comma-separated: whoosh, postgresql (the same corpus, one after the other)",
    )
    parser.add_argument(
        "--copies",
        type=int,
        default=1,
        help="PostgreSQL only: index size/COPIES documents, then copy the rows in the server",
    )
    parser.add_argument(
        "--index",
        choices=TERM_INDEXES,
        help="PostgreSQL only: index the terms so before querying (gin, rum, a GIN per org)",
    )
    args = parser.parse_args()
    backends = tuple(args.backends.split(","))
    if args.copies > 1 and backends != ("postgresql",):
        parser.error("--copies: with --backends postgresql only")
    if not set(backends) <= {"whoosh", "postgresql"}:
        parser.error("--backends: whoosh and/or postgresql")
    warm_up()
    for size in (int(s) for s in args.sizes.split(",")):
        keep = args.keep / str(size) if args.keep else None
        orgs = None if args.all_orgs else ["llyb"]
        bench(
            size,
            args.seed,
            args.repeat,
            keep,
            orgs,
            args.procs,
            args.query_only,
            backends,
            args.copies,
            args.index,
        )


if __name__ == "__main__":
    main()
