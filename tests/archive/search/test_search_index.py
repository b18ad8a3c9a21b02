"""The search index against real Whoosh in tmp_path: what a user searching the archive sees."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from whoosh.util.filelock import FileLock

from archive.errors import IntegrityError, ValidationError
from archive.search.docs import IndexBusy, IndexedDoc, SearchResult
from archive.search.whoosh.index import SearchIndex
from tests.support.search_backends import SEARCH_BACKENDS, doc, open_index

# Excerpts of tests/support/seeds 002 and 003 (real documents).
LVLIANG_2021_44 = """吕梁市医疗保障局文件
吕医保发〔2021〕44号
吕梁市医疗保障局 关于印发《吕梁市进一步引深打击欺诈骗保 专项治理行动工作方案》的通知
各县（市、区）医疗保障局，市医疗保险管理服务中心：
为了加强医疗保障基金监管工作，进一步引深打击欺诈骗取医疗保障基金专项治理行动，切实保障参保群众合法权益，维护基金安全可持续运行，根据国家局和省局安排部署，结合我市工作实际，经市局党组研究，决定在全市范围深入开展打击欺诈骗保专项治理行动。现将《吕梁市进一步引深打击欺诈骗保专项治理行动工作方案》印发给你们，请认真
贯彻落实。
(此件依申请公开)
吕梁市进一步引深打击欺诈骗保专项治理行动工作方案
为了加强医疗保障基金监管工作，进一步引深打击欺诈骗保专项治理行动，切实保障参保群众合法权益，维护基金安全可持续运行，根据国家局和省局安排部署，按照市委第一巡察组对市医保局党组政治巡察中发现的问题及整改要求，结合当前工作实际，经市局党组研究，决定在全市范围深入开展打击欺诈骗保专项治理行动，特制订本工作方案。
一、工作目标
通过专项行动，既全面督导定点医药机构自查自纠工作，对整改不认真、走过场、"""
ZHEJIANG_TRADITIONAL = """??? 為貫徹落實(shí)黨中央、國(guó)務(wù)院決策部署,加強(qiáng)醫(yī)療保障基金使用常態(tài)化監(jiān)管,規(guī)范醫(yī)療服務(wù)行為,切實(shí)減輕人民群眾看病就醫(yī)負(fù)擔(dān),結(jié)合我省實(shí)際,我局牽頭起草了《關(guān)于強(qiáng)化醫(yī)療保障基金使用常態(tài)化監(jiān)管的通知(征求意見稿)》,現(xiàn)公開向社會(huì)征求意見。如有修改意見或建議,請(qǐng)于2024年7月15日(周一)前通過(guò)電子郵件、信函等形式反饋至我局基金監(jiān)管處。以單位名義提出的修改意見或建議,請(qǐng)加蓋公章。
??? 郵箱:zjsjjjgc@126.com
??? 電話:0571-81051015
??? 聯(lián)系地址:浙江省醫(yī)療保障局基金監(jiān)管處(杭州市密渡橋路51-1號(hào),郵編310005)"""
ID_CARD = "11010519491231002X"
CREDIT_CODE = "91110000802100433B"


DOCS = [
    doc(
        "lvliang-44",
        LVLIANG_2021_44,
        wenhao="吕医保发〔2021〕44号",
        archive_no="J041-2021-D30-JGK-0044",
        title="关于印发《吕梁市进一步引深打击欺诈骗保专项治理行动工作方案》的通知",
        issued_at=datetime(2021, 4, 2, 10, 0),
    ),
    doc("cites-44", "根据吕医保发〔2021〕44号文件要求，现将有关事项通知如下。", type="report"),
    doc("no-44", "关于第44号案件的处理意见：责令退回医保基金。"),
    doc(
        "no-4",
        "关于第4号案件的处理意见：予以警告。",
        type="decision",
        case_no="吕医保稽〔2021〕4号",
    ),
    doc("adjacent", "本月将开展专项检查工作。", issued_at=datetime(2021, 3, 1, 23, 59)),
    doc("apart", "本月将开展专项治理和检查。", issued_at=datetime(2021, 3, 2, 0, 0)),
    doc("name", "经查，张三丰于2021年3月在某药店套取医保基金。", org="tyyb"),
    doc("latin", "设备编号ABC123已封存。", org="tyyb", issued_at=datetime(2022, 1, 5)),
    doc(
        "person",
        f"当事人王五，身份证号{ID_CARD}，违规使用医保基金，处罚如下。",
        title=f"行政处罚决定书（{ID_CARD}）",
        identifiers=(ID_CARD,),
    ),
    doc("company", "某医药公司违规结算。", identifiers=(CREDIT_CODE,)),
    doc("html", "<script>alert(1)</script> & 医保基金 <b>监管</b>"),
    doc("traditional", ZHEJIANG_TRADITIONAL, org="zjyb", issued_at=datetime(2024, 7, 4)),
]


@pytest.fixture(scope="module", params=SEARCH_BACKENDS)
def index(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Shared by the read-only tests, on both backends; a test that writes uses ``fresh_index``."""
    with open_index(request.param, tmp_path_factory.mktemp("shared")) as ix:
        assert ix.add(DOCS) == len(DOCS)
        yield ix


@pytest.fixture
def fresh_index(tmp_path: Path) -> SearchIndex:
    ix = SearchIndex(tmp_path / "index")
    ix.add(DOCS)
    return ix


def ids(result: SearchResult) -> list[str]:
    return [hit.id for hit in result.hits]


def found(ix: SearchIndex, q: str, **kw: object) -> set[str]:
    return set(ids(ix.search(q, orgs=None, per_page=100, **kw)))  # type: ignore[arg-type]


def test_a_word_of_the_body_finds_the_document(index: SearchIndex) -> None:
    assert "lvliang-44" in found(index, "引深")
    assert "lvliang-44" in found(index, "定点医药机构 自查自纠")


def test_4hao_does_not_find_44hao(index: SearchIndex) -> None:
    four = found(index, "4号")
    assert "no-4" in four
    assert not {"no-44", "lvliang-44", "cites-44"} & four
    assert {"no-44", "lvliang-44", "cites-44"} <= found(index, "44号")
    assert "no-4" not in found(index, "44号")


@pytest.mark.parametrize(
    "typed",
    [
        "吕医保发〔2021〕44号",
        "吕医保发[2021]44号",
        "吕医保发【2021】44号",
        "吕医保发［２０２１］４４号",
    ],
)
def test_a_wenhao_finds_its_document_first(index: SearchIndex, typed: str) -> None:
    result = index.search(typed, orgs=None)
    assert ids(result)[0] == "lvliang-44"
    assert result.hits[0].wenhao == "吕医保发〔2021〕44号"
    assert "no-44" not in ids(result)


def test_an_archive_number_and_a_case_number_match_exactly(index: SearchIndex) -> None:
    assert ids(index.search("j041-2021-d30-jgk-0044", orgs=None))[0] == "lvliang-44"
    assert ids(index.search("吕医保稽[2021]4号", orgs=None))[0] == "no-4"
    assert ids(index.search("", orgs=None, case_no="吕医保稽【2021】4号")) == ["no-4"]


def test_a_quoted_phrase_needs_the_words_side_by_side(index: SearchIndex) -> None:
    assert {"adjacent", "apart"} <= found(index, "专项检查")
    quoted = found(index, '"专项检查"')
    assert "adjacent" in quoted and "apart" not in quoted
    assert "adjacent" in found(index, "“专项检查”")


def test_traditional_and_simplified_find_each_other(index: SearchIndex) -> None:
    assert "no-44" in found(index, "醫保基金")
    assert "traditional" in found(index, "党中央")
    assert "traditional" in found(index, "密渡橋路")


@pytest.mark.parametrize("typed", ["ＡＢＣ１２３", "abc123", "ABC123"])
def test_full_width_and_case_fold(index: SearchIndex, typed: str) -> None:
    assert found(index, typed) == {"latin"}


def test_one_character_is_found_wherever_it_stands(index: SearchIndex) -> None:
    assert "name" in found(index, "丰")  # inside a word
    assert "adjacent" in found(index, "作")  # before a full stop
    assert "name" not in found(index, "豐収")


def test_a_word_only_in_the_title_finds_the_document(fresh_index: SearchIndex) -> None:
    fresh_index.add([doc("titled", "正文不提此事。", title="关于稽核通报的说明")])
    assert "titled" in found(fresh_index, "稽核通报")
    assert found(fresh_index, '"稽核通报"') == {"titled"}


def test_withdrawn_documents_are_found_and_marked(fresh_index: SearchIndex) -> None:
    fresh_index.add([doc("gone", "已撤回的通知", status="withdrawn")])
    assert [h.status for h in fresh_index.search("撤回", orgs=None).hits] == ["withdrawn"]


@pytest.mark.parametrize("typed", ["张三丰", "三丰", '"张三丰"'])
def test_a_name_jieba_does_not_know_is_found(index: SearchIndex, typed: str) -> None:
    assert found(index, typed) == {"name"}


def test_org_filter_is_part_of_the_query(index: SearchIndex) -> None:
    result = index.search("医保基金", orgs=["tyyb"])
    assert ids(result) == ["name"]
    assert result.total == 1
    assert result.facets["org"] == {"tyyb": 1}
    assert index.search("医保基金", orgs=[]).total == 0
    assert index.search("", orgs=["zjyb"]).total == 1
    assert {"name", "no-44"} <= found(index, "医保基金")


def test_date_filters_are_inclusive_days(index: SearchIndex) -> None:
    day = date(2021, 3, 1)
    assert found(index, "专项", date_from=day, date_to=day) == {"adjacent"}
    assert found(index, "专项", date_from=date(2021, 3, 2), date_to=date(2021, 3, 2)) == {"apart"}
    assert "latin" not in found(index, "", date_to=date(2021, 12, 31))
    assert found(index, "", date_from=date(2022, 1, 1)) == {"latin", "traditional"}


def test_aware_datetimes_filter_by_beijing_day(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index")
    late_utc = datetime(2021, 3, 1, 17, 0, tzinfo=UTC)  # 2021-03-02 01:00 in Beijing
    ix.add([doc("utc", "医保基金", issued_at=late_utc)])
    assert found(ix, "医保", date_from=date(2021, 3, 2), date_to=date(2021, 3, 2)) == {"utc"}
    assert ix.search("医保", orgs=None).hits[0].issued_at == late_utc


@pytest.mark.parametrize(
    "typed", [ID_CARD, ID_CARD.lower(), "１１０１０５１９４９１２３１００２Ｘ"]
)
def test_an_id_number_finds_the_document_but_is_never_shown(index: SearchIndex, typed: str) -> None:
    result = index.search(typed, orgs=None)
    assert ids(result) == ["person"]
    hit = result.hits[0]
    assert "110105********002X" in hit.snippet
    assert "<mark>110105********002X</mark>" in hit.snippet
    assert ID_CARD not in hit.snippet and ID_CARD not in hit.title
    assert "110105********002X" in hit.title


def test_identifiers_not_in_the_text_match_exactly_and_only_whole(index: SearchIndex) -> None:
    assert ids(index.search(CREDIT_CODE, orgs=None)) == ["company"]
    assert ids(index.search(CREDIT_CODE.lower(), orgs=None)) == ["company"]
    assert index.search(CREDIT_CODE[:-1], orgs=None).total == 0


def test_snippets_escape_the_text_around_the_marks(index: SearchIndex) -> None:
    snippet = index.search("医保基金", orgs=None, type=None, per_page=100)
    html_hit = next(h for h in snippet.hits if h.id == "html")
    assert html_hit.snippet == (
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; <mark>医保基金</mark> &lt;b&gt;监管&lt;/b&gt;"
    )


@pytest.mark.parametrize(
    "typed",
    [
        '"unbalanced',
        "AND OR (",
        "*",
        "title:",
        ")(",
        "\\",
        '"" ""',
        "【】",
        "〔2021〕",
        "\x00医保",
        "🙂 医保",
        "医保" * 5000,
        '"a" "b" "c" ' * 100,
    ],
)
def test_hostile_queries_do_not_raise(index: SearchIndex, typed: str) -> None:
    result = index.search(typed, orgs=None)
    assert result.total == len(result.hits) or result.total > result.per_page


def test_a_query_with_nothing_searchable_lists_newest_first(index: SearchIndex) -> None:
    result = index.search("*", orgs=None, per_page=100)
    assert result.total == len(DOCS)
    dates = [hit.issued_at for hit in result.hits]
    assert dates == sorted(dates, reverse=True)


def test_sorting_paging_and_facets(index: SearchIndex) -> None:
    first = index.search("", orgs=None, sort="oldest", per_page=5)
    second = index.search("", orgs=None, sort="oldest", per_page=5, page=2)
    assert first.total == second.total == len(DOCS)
    assert not set(ids(first)) & set(ids(second))
    assert first.hits[0].id == "adjacent"
    assert first.hits[-1].issued_at <= second.hits[0].issued_at
    assert index.search("", orgs=None, page=9).hits == []
    assert first.facets["year"] == {"2021": 10, "2022": 1, "2024": 1}
    assert first.facets["type"] == {"notice": 10, "decision": 1, "report": 1}
    assert found(index, "", type="decision") == {"no-4"}


@pytest.mark.parametrize(
    "bad", [{"page": 0}, {"per_page": 0}, {"per_page": 1000}, {"sort": "random"}]
)
def test_bad_paging_or_sorting_is_a_validation_error(
    index: SearchIndex, bad: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        index.search("医保", orgs=None, **bad)  # type: ignore[arg-type]


def test_add_replaces_by_id_and_delete_removes(fresh_index: SearchIndex) -> None:
    count = fresh_index.doc_count()
    fresh_index.add([doc("latin", "设备编号XYZ789已解封。", org="tyyb")])
    assert fresh_index.doc_count() == count
    assert found(fresh_index, "abc123") == set()
    assert found(fresh_index, "xyz789") == {"latin"}
    fresh_index.delete(["latin", "no-such-id"])
    assert fresh_index.doc_count() == count - 1
    assert found(fresh_index, "xyz789") == set()


def corrupt(path: Path, which: str) -> None:
    for root, _, files in os.walk(path):
        for name in files:
            in_generation = Path(root) != path
            segment_file = in_generation and name.endswith((".seg", ".trm", "_stored.col"))
            if which == "everything" or (which == "segments" and segment_file):
                os.truncate(Path(root) / name, 0)
            if which == "half-segments" and segment_file:
                file = Path(root) / name
                os.truncate(file, file.stat().st_size // 2)
            if which == "toc" and in_generation and name.endswith(".toc"):
                os.truncate(Path(root) / name, 0)
            if which == "old analysis" and name == "ANALYSIS_VERSION":
                (Path(root) / name).write_text("0")
            if which == "pointer" and name == "CURRENT":
                (Path(root) / name).write_text("garbage")


@pytest.mark.parametrize(
    "which", ["everything", "segments", "half-segments", "toc", "pointer", "old analysis"]
)
def test_a_corrupt_index_is_reported_and_rebuild_fixes_it(tmp_path: Path, which: str) -> None:
    path = tmp_path / "index"
    ix = SearchIndex(path)
    ix.add(DOCS)
    assert ix.check()
    corrupt(path, which)
    fresh = SearchIndex(path)  # a restarting worker: opening must not fail
    assert not fresh.check()
    if which == "old analysis":  # readable, merely stale: search keeps working until rebuilt
        assert fresh.search("医保基金", orgs=None).total > 0
    else:
        with pytest.raises(IntegrityError):
            fresh.search("医保基金", orgs=None)
    progress: list[int] = []
    assert fresh.rebuild(iter(DOCS), progress.append) == len(DOCS)
    assert progress[-1] == len(DOCS)
    assert fresh.check() and ix.check()
    assert ids(ix.search("张三丰", orgs=None)) == ["name"]  # the old handle follows the swap
    assert len([p for p in path.iterdir() if p.is_dir()]) <= 2


def test_rebuild_replaces_the_whole_content(fresh_index: SearchIndex) -> None:
    other = SearchIndex(fresh_index.path)
    assert other.doc_count() == len(DOCS)
    fresh_index.rebuild([doc("only", "唯一的文件")])
    assert other.doc_count() == 1
    assert found(other, "唯一") == {"only"}


def test_a_failed_rebuild_leaves_the_live_index_alone(fresh_index: SearchIndex) -> None:
    def broken() -> Iterator[IndexedDoc]:
        yield doc("first", "第一份")
        raise RuntimeError("archive read failed")

    with pytest.raises(RuntimeError):
        fresh_index.rebuild(broken())
    assert fresh_index.check() and fresh_index.doc_count() == len(DOCS)
    with pytest.raises(ValidationError):
        fresh_index.rebuild([doc("twice", "一"), doc("twice", "二")])
    assert fresh_index.doc_count() == len(DOCS)


def test_a_busy_writer_lock_gives_up_in_bounded_time_without_damage(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index", lock_timeout=0.3)
    ix.add(DOCS[:3])
    other_process = FileLock(str(ix.path / "WRITELOCK"))
    assert other_process.acquire()
    try:
        started = datetime.now()
        with pytest.raises(IndexBusy):
            ix.add(DOCS[3:])
        with pytest.raises(IndexBusy):
            ix.rebuild(DOCS)
        assert datetime.now() - started < timedelta(seconds=3)
    finally:
        other_process.release()
    assert ix.check() and ix.doc_count() == 3
    assert ix.add(DOCS[3:]) == len(DOCS) - 3


def test_writers_racing_from_two_threads_lose_nothing(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index")
    other = SearchIndex(tmp_path / "index")  # as another worker would open it

    def write(target: SearchIndex, prefix: str) -> None:
        for n in range(5):
            target.add([doc(f"{prefix}{n}-{k}", f"第{n}批第{k}件") for k in range(4)])

    threads = [
        threading.Thread(target=write, args=(ix, "a")),
        threading.Thread(target=write, args=(other, "b")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ix.check()
    assert ix.doc_count() == other.doc_count() == 40


def _postings(reader: Any) -> list[tuple[Any, ...]]:
    out = []
    for fieldname, term in reader.all_terms():
        m = reader.postings(fieldname, term)
        while m.is_active():
            out.append((fieldname, term, m.id(), m.weight(), m.value(), m.block_max_weight()))
            m.next()
    return out


def test_the_fast_writer_writes_what_whoosh_would(tmp_path: Path) -> None:
    """BulkSegmentWriter relies on Whoosh internals: its segments must read back the same."""
    from whoosh import index as whoosh_index

    from archive.search.whoosh._internals import BulkSegmentWriter
    from archive.search.whoosh.schema import SCHEMA, document_fields

    many = [
        doc(f"n{i}", LVLIANG_2021_44[i * 7 :] + f"第{i}号", org=f"o{i % 3}") for i in range(150)
    ]
    (tmp_path / "plain").mkdir()
    (tmp_path / "fast").mkdir()
    plain = whoosh_index.create_in(str(tmp_path / "plain"), SCHEMA)
    fast = whoosh_index.create_in(str(tmp_path / "fast"), SCHEMA)
    for writer in (plain.writer(), BulkSegmentWriter(fast)):
        for d in [*DOCS, *many]:
            writer.add_document(**document_fields(d))
        writer.commit()
    with plain.reader() as a, fast.reader() as b:
        assert _postings(a) == _postings(b)
        assert [a.stored_fields(n) for n in range(a.doc_count_all())] == [
            b.stored_fields(n) for n in range(b.doc_count_all())
        ]
        assert a.doc_field_length(3, "body") == b.doc_field_length(3, "body")


def test_small_segments_from_incremental_writes_are_merged(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index")
    for n in range(14):  # one drain per document, as issuing does
        ix.add(
            [doc(f"inc{n}", f"第{n}次专项检查，张三丰参加。", issued_at=datetime(2021, 1, 1 + n))]
        )
        ix.compact()
    ix.delete(["inc3"])
    ix.add([doc("inc4", "改正后的第4次专项检查。")])
    ix.compact()
    with ix._searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) <= 6  # 15 writes, merged by tens
    assert ix.doc_count() == 13
    assert found(ix, "张三丰") == {f"inc{n}" for n in range(14)} - {"inc3", "inc4"}
    assert found(ix, "改正") == {"inc4"}
    assert ix.search("专项检查", orgs=None).total == 13
    assert ix.check()


def test_a_parallel_rebuild_finds_the_same(tmp_path: Path) -> None:
    many = [
        doc(f"p{i}", f"第{i}号案件：挂床住院，涉及张{i % 7}丰。", org="llyb") for i in range(600)
    ]
    one, two = SearchIndex(tmp_path / "one"), SearchIndex(tmp_path / "two")
    assert one.rebuild(many) == two.rebuild(many, procs=2) == 600
    for q in ("挂床住院", "张3丰", "第17号", '"住院，涉及"'):
        a, b = one.search(q, orgs=None, per_page=100), two.search(q, orgs=None, per_page=100)
        assert a.total == b.total
        if a.total <= 100:
            assert {h.id for h in a.hits} == {h.id for h in b.hits}
    assert two.check() and two.doc_count() == 600


def test_snippets_join_the_lines_of_chinese_text_without_a_space(fresh_index: SearchIndex) -> None:
    """The words on paper come with the page's line breaks; a break inside Chinese text is no
    word boundary, elsewhere it is one."""
    fresh_index.add(
        [
            doc(
                "wrapped",
                "决定在全市范围深入开展打击欺诈骗\n保专项治理行动。\n\n—1—\n\nABC\ndef 2019 年 1\n月",
            )
        ]
    )
    hits = fresh_index.search("欺诈骗保", orgs=None, per_page=100).hits
    hit = next(h for h in hits if h.id == "wrapped")
    assert (
        hit.snippet
        == "决定在全市范围深入开展打击<mark>欺诈骗保</mark>专项治理行动。 —1— ABC def 2019 年 1 月"
    )


@pytest.mark.parametrize("kind", SEARCH_BACKENDS)
@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("身份证号码:141102197803150320", "身份证号码:141102********0320"),
        ("ID141102197803150320", "ID141102********0320"),
        ("1411021978031503201", "141102*********3201"),  # an extra digit read by OCR
        ("1411 0219 7803 1503 20", "1411 02** **** **03 20"),
    ],
)
def test_an_id_in_the_recognised_text_of_a_scan_is_masked_in_the_hit(
    kind: str, tmp_path: Path, written: str, shown: str
) -> None:
    scanned = doc(
        "scanned",
        "询问笔录正文。",
        title=f"询问笔录（{written}）",
        scan_text=f"被询问人手写补充：药房台账缺失，{written}，以上属实。",
    )
    with open_index(kind, tmp_path) as ix:
        ix.add([scanned])
        hits = ix.search("药房台账", orgs=None).hits
    assert [h.id for h in hits] == ["scanned"] and hits[0].from_scan
    assert shown in hits[0].snippet and shown in hits[0].title
    for hit_text in (hits[0].snippet, hits[0].title):
        assert "19780315" not in hit_text.replace(" ", "")
