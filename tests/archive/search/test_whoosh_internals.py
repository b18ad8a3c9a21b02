"""Whoosh's private API behind the pin: the fast paths run on the pinned release, and the
fallback to Whoosh's public writer and matchers answers exactly as they do.

A user must not be able to tell which ran: the same documents in the same order, the same
totals, facets, scores and snippets -- for an index written either way and read either way.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from whoosh.filedb.filestore import FileStorage

from archive.search import IndexedDoc, SearchResult
from archive.search.whoosh import _internals
from archive.search.whoosh.index import SearchIndex
from tests.support import ROOT
from tests.support.search_backends import doc

pinned = pytest.mark.skipif(
    not _internals.FAST, reason="the fast paths exist only on the pinned whoosh-reloaded"
)

ID_CARD = "11010519491231002X"
PIECES = (
    "本月将开展专项检查工作",
    "加强医疗保障基金监管",
    "挂床住院",
    "开展专项治理和检查",
    "督导定点医药机构自查自纠",
    "责令退回医保基金",
    "予以警告",
    "在某药店套取医保基金",
    "设备编号ABC123已封存",
    "维护基金安全可持续运行",
)
TYPES = ("notice", "inspection_record", "interview_transcript", "inspection_report")
ORGS = ("llyb", "tyyb", "zjyb")


def corpus() -> list[IndexedDoc]:
    """About 270 documents: common terms span several posting blocks (128 postings each);
    the words of ``"检查工作"`` are in every document, side by side in half of them, so the
    phrase is checked only for the documents shown (``PHRASE_CHECK_BUDGET``)."""
    docs = []
    for i in range(260):
        kind = TYPES[i % 4]
        parts = [PIECES[(i * k) % len(PIECES)] for k in (1, 3, 7)]
        parts.append("检查工作正常" if i % 2 else "检查了查工时，工作正常")
        docs.append(
            doc(
                f"d{i:03d}",
                f"第{i}号案件：" + "，".join(parts) + f"。涉及张{i % 7}丰。",
                type=kind,
                org=ORGS[i % 3],
                title=f"关于第{i}号案件的{'通报' if i % 5 else '专项检查报告'}",
                issued_at=datetime(2020, 1, 1, 8) + timedelta(days=3 * i, minutes=i),
                institutions=(f"康宁医院{i % 5}分院",) if i % 2 else (),
                persons=(f"李{i % 11}",),
                inspectors=(f"王{i % 4}", "赵六"),
                amount=Decimal(i * 37 % 1000) + Decimal("0.5")
                if kind == "inspection_report"
                else None,
                status="withdrawn" if i % 17 == 0 else "issued",
            )
        )
    docs += [
        doc(
            "wenhao",
            "根据吕医保发〔2021〕44号文件要求，现将有关事项通知如下：开展专项检查工作。",
            wenhao="吕医保发〔2021〕44号",
            archive_no="J041-2021-D30-JGK-0044",
            issued_at=datetime(2021, 4, 2, 10),
        ),
        doc(
            "person",
            f"当事人王五，身份证号{ID_CARD}，违规使用医保基金，处罚如下。",
            title=f"行政处罚决定书（{ID_CARD}）",
            identifiers=(ID_CARD,),
        ),
        doc("traditional", "為貫徹落實黨中央決策部署，加強醫療保障基金使用常態化監管。"),
        doc("scanned", "询问笔录正文。", scan_text="现场查看药房台账，未见异常。"),
    ]
    return docs


QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("工作", {"per_page": 100}),
    ("医保基金", {}),
    ("医保基金", {"page": 3, "per_page": 7}),
    ('"专项检查"', {}),
    ('"专项检查"', {"sort": "newest", "per_page": 50}),
    ('"检查工作"', {}),
    ('"检查工作"', {"sort": "oldest", "page": 2}),
    ("专项检查", {"sort": "oldest", "page": 2, "per_page": 9}),
    ("吕医保发[2021]44号", {}),
    ("j041-2021-d30-jgk-0044", {}),
    (ID_CARD, {}),
    ("", {"identifier": ID_CARD}),
    ("张3丰 挂床住院", {}),
    ("醫保基金 监管", {}),
    ("号", {"per_page": 100}),
    ("abc123", {}),
    ("药房台账", {}),
    ("", {"type": "inspection_report", "sort": "oldest"}),
    ("", {"amount_min": Decimal("100"), "amount_max": Decimal("500.5"), "per_page": 100}),
    ("检查", {"institution": "康宁医院", "per_page": 100}),
    ("", {"person": "李3", "inspector": "王1"}),
    ("", {"status": "withdrawn", "per_page": 100}),
    ("", {"date_from": date(2020, 6, 1), "date_to": date(2021, 2, 1), "per_page": 100}),
    ("基金", {"type": "notice", "facets": False}),
    ("改正", {}),
    ("督导定点", {"case_no": "不存在"}),
]


def build(path: Path) -> SearchIndex:
    """A rebuild, then incremental writes with merges, deletions and a replaced document, as
    an index lives: several segments, some with deleted documents."""
    docs = corpus()
    ix = SearchIndex(path)
    assert ix.rebuild(docs[:220]) == 220
    for n in range(12):  # one small segment each; the tenth compact merges them
        ix.add(docs[220 + 4 * n : 224 + 4 * n])
        ix.compact()
    ix.add(docs[268:])
    ix.delete(["d005", "d130", "d221", "no-such-id"])
    ix.add([doc("d007", "改正后的第7号案件：开展专项检查工作。", org="llyb")])
    return ix


def answers(path: Path) -> list[tuple[Any, ...]]:
    """Every query's whole answer, read by a fresh process's index (no cached bitsets)."""
    ix = SearchIndex(path)
    assert ix.check()
    ix.warm()
    return [_plain(ix.search(q, orgs=None, **kw)) for q, kw in QUERIES] + [
        _plain(ix.search("医保基金", orgs=["llyb", "zjyb"])),
        (ix.doc_count(),),
    ]


def _plain(result: SearchResult) -> tuple[Any, ...]:
    facets = {name: list(values.items()) for name, values in result.facets.items()}
    return result.total, [asdict(hit) for hit in result.hits], facets


PRIVATE = (
    "BulkSegmentWriter",
    "unlocked_writer",
    "finish_segment",
    "commit_segments",
    "segment_doc_counts",
    "deleted_docs",
    "has_blocks",
    "posting_blocks",
    "block_offset",
    "read_block",
    "skip_to_block",
)
"""What in ``_internals`` touches Whoosh's private API: the fallback must call none of it."""


def test_the_guard_covers_every_fast_path() -> None:
    """A function added to ``_internals`` is one the fallback must not call: list it above."""
    defined = {
        name
        for name, value in vars(_internals).items()
        if callable(value) and getattr(value, "__module__", None) == _internals.__name__
    }
    assert defined - {"installed_version", "supported", "report_fallback"} == set(PRIVATE) | {
        name for name in defined if name.startswith("_")
    }


def _forbidden(name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the fallback used _internals.{name}")

    return call


@contextmanager
def fallback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As on another Whoosh release: the version check failed, and the fast paths raise."""
    with monkeypatch.context() as patch:
        patch.setattr(_internals, "FAST", False)
        for name in PRIVATE:
            patch.setattr(_internals, name, _forbidden(name))
        yield


@pinned
def test_the_fallback_answers_exactly_as_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(tmp_path / "fast")
    fast = answers(tmp_path / "fast")
    with fallback(monkeypatch):
        build(tmp_path / "public")
        public = answers(tmp_path / "public")
        fast_read_publicly = answers(tmp_path / "fast")  # Whoosh upgraded under an index
    public_read_fast = answers(tmp_path / "public")  # and pinned back again
    assert fast[0][0] > 128, "the corpus must span posting blocks"
    phrases = [n for n, (q, _) in enumerate(QUERIES) if q.startswith('"')]
    assert all(fast[n][1] for n in phrases), "and find its quoted phrases"
    assert public == fast
    assert fast_read_publicly == fast
    assert public_read_fast == fast


@pinned
def test_the_fast_paths_run_on_the_pinned_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _internals.installed_version() == _internals.PINNED
    assert _internals.FAST
    calls: dict[str, int] = {}

    def counted(name: str) -> None:
        real = getattr(_internals, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] = calls.get(name, 0) + 1
            return real(*args, **kwargs)

        monkeypatch.setattr(_internals, name, call)

    for name in PRIVATE:
        counted(name)
    build(tmp_path / "index")
    answers(tmp_path / "index")
    assert set(calls) == set(PRIVATE)


def test_only_the_pinned_release_passes_the_version_check() -> None:
    assert _internals.supported(_internals.PINNED, (2, 7, 5))
    assert not _internals.supported("2.7.6", (2, 7, 6))
    assert not _internals.supported("2.7.5", (2, 7, 4))  # another distribution's whoosh
    assert not _internals.supported(None, (2, 7, 5))


def test_another_release_falls_back_at_import_and_says_so(tmp_path: Path) -> None:
    code = (
        "import importlib.metadata as m, sys\n"
        "real = m.version\n"
        "m.version = lambda d: '2.8.0' if d == 'whoosh-reloaded' else real(d)\n"
        "from archive.search import open_backend\n"
        "from archive.search.whoosh import _internals\n"
        "print(_internals.FAST, flush=True)\n"
        "for _ in range(2):\n"
        "    open_backend('whoosh', index_dir=sys.argv[1], engine=None)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "index")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "False"
    assert run.stderr.count("whoosh-reloaded 2.8.0 is installed") == 1  # once a process


def test_the_pin_in_setup_cfg_is_the_release_the_internals_are_for() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    requires = config["options"]["install_requires"].split()
    assert f"{_internals.DISTRIBUTION}=={_internals.PINNED}" in requires


def _postings(reader: Any) -> Iterator[tuple[Any, ...]]:
    for fieldname, term in reader.all_terms():
        m = reader.postings(fieldname, term)
        while m.is_active():
            yield fieldname, term, m.id(), m.weight(), m.value()
            m.next()


def _segments(path: Path) -> list[list[tuple[Any, ...]]]:
    """Every posting of each segment of the live generation, read by Whoosh itself."""
    live = (path / "CURRENT").read_text(encoding="ascii").strip()
    ix = FileStorage(str(path / live), supports_mmap=False).open_index()
    with ix.reader() as reader:
        return [list(_postings(leaf)) for leaf, _ in reader.leaf_readers()]


@pinned
def test_fast_merges_write_what_whoosh_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast writer merges segments by copying posting blocks through internals: each
    segment reads back posting for posting like the one Whoosh's public writer made."""
    build(tmp_path / "fast")
    with fallback(monkeypatch):
        build(tmp_path / "public")
    fast, public = _segments(tmp_path / "fast"), _segments(tmp_path / "public")
    assert len(fast) >= 3  # the rebuild's, the merged one, the later small ones
    assert fast == public
