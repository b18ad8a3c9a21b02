"""Relevance: what inspectors type, over a small archive of the four types, and what they find.

The documents are built the way the indexer builds them (text on paper + the facts of the
input JSON via ``archive.search.extract.input_facts``). Every query runs as a user of 吕梁
(``llyb``) unless it says otherwise, and every result is checked for two things a user must
never see: another org's document, and an ID number or credit code in clear.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from archive.search.docs import IndexedDoc, SearchResult
from archive.search.extract import input_facts
from archive.search.whoosh.index import SearchIndex
from tests.support.search_backends import SEARCH_BACKENDS, open_index

ZHAO_ID = "141102197803150320"
YU_ID = "14110219820302814X"
KANGNING_CODE = "52141102MJY836214P"
RENHETANG_CODE = "91141102Y7L1W53BFJ"
TONGJI_CODE = "911411026D85XUQC5E"
CLEAR_ID = re.compile(r"[0-9]{17}[0-9Xx]|[0-9A-Y]{2}[0-9]{6}[0-9A-Y]{10}")


def make(doc_id: str, doc_type: str, data: dict[str, Any], text: str, **kw: Any) -> IndexedDoc:
    facts = input_facts(doc_type, data)
    fields: dict[str, Any] = {
        "id": doc_id,
        "type": doc_type,
        "org": "llyb",
        "case_no": None,
        "wenhao": None,
        "archive_no": None,
        "title": data.get("title", ""),
        "body": text,
        "issued_at": datetime(2021, 5, 11, 9, 5),
        "identifiers": facts.identifiers,
        "institutions": facts.institutions,
        "persons": facts.persons,
        "inspectors": facts.inspectors,
        "amount": facts.amount,
    }
    fields.update(kw)
    return IndexedDoc(**fields)


def record(
    doc_id: str, subject: dict[str, str], inspectors: list[str], findings: list[str], **kw: Any
) -> IndexedDoc:
    data = {
        "title": kw.pop("title", "吕梁市定点医疗机构专项治理检查记录单"),
        "subject": subject,
        "inspectors": inspectors,
        "recorder": kw.pop("recorder", "刘芳"),
        "witness": kw.pop("witness", None),
        "findings": findings,
    }
    text = "\n".join(
        [
            data["title"],
            f"对象：{subject['name']}  法定代表人：{subject.get('legal_rep', '')}  证件号码：{subject['id_code']}",
            f"检查人员：{'、'.join(inspectors)}  记录人：{data['recorder']}",
            *findings,
            "以上记录情况属实。",
            f"见证人：{data['witness'] or ''}",
        ]
    )
    return make(doc_id, "inspection_record", data, text, **kw)


def transcript(
    doc_id: str,
    person: dict[str, str],
    interviewers: list[str],
    qa: list[tuple[str, str]],
    **kw: Any,
) -> IndexedDoc:
    data = {
        "title": "吕梁市定点医疗机构专项治理检查询问笔录",
        "interviewee": person,
        "interviewers": interviewers,
        "recorder": "刘芳",
        "qa": [{"q": q, "a": a} for q, a in qa],
    }
    text = "\n".join(
        [
            data["title"],
            f"被询问人：{person['name']}  身份证号：{person['id_number']}",
            f"承办人：{'、'.join(interviewers)}  记录人：刘芳",
            *(f"问：{q}\n答：{a}" for q, a in qa),
        ]
    )
    return make(doc_id, "interview_transcript", data, text, **kw)


def report(
    doc_id: str, title: str, violations: list[dict[str, Any]], paragraphs: list[str], **kw: Any
) -> IndexedDoc:
    data = {"title": title, "violations": violations}
    rows = [
        f"{v['institution']} {v['id_code']} {v['issue']} {v['amount']}元 {'、'.join(v['measures'])}"
        for v in violations
    ]
    text = "\n".join([title, *paragraphs, "四、专项检查结果和处理情况", *rows])
    return make(doc_id, "inspection_report", data, text, **kw)


def notice(doc_id: str, title: str, wenhao: str, paragraphs: list[str], **kw: Any) -> IndexedDoc:
    text = "\n".join(["吕梁市医疗保障局文件", wenhao, title, *paragraphs])
    return make(
        doc_id, "notice", {"title": title, "contact": {"name": "高建华"}}, text, wenhao=wenhao, **kw
    )


KANGNING = {
    "kind": "institution",
    "name": "吕梁市离石区康宁医院",
    "legal_rep": "冯建明",
    "id_code": KANGNING_CODE,
}
CASE_7 = "吕医保稽〔2021〕7号"

DOCS = [
    notice(
        "notice-44",
        "关于印发《吕梁市进一步引深打击欺诈骗保专项治理行动工作方案》的通知",
        "吕医保发〔2021〕44号",
        [
            "为了加强医疗保障基金监管工作，进一步引深打击欺诈骗取医疗保障基金专项治理行动，切实保障参保群众合法权益，维护基金安全可持续运行。",
            "通过专项行动，既全面督导定点医药机构自查自纠工作，对整改不认真、走过场的，要跟踪督办。",
        ],
        issued_at=datetime(2021, 4, 2, 10, 0),
        archive_no="J041-2021-D30-JGK-0044",
    ),
    notice(
        "notice-45",
        "关于开展2021年医保基金飞行检查的通知",
        "吕医保发〔2021〕45号",
        [
            "根据吕医保发〔2021〕44号文件要求，决定对定点医药机构开展飞行检查。",
            "重点检查挂床住院、虚假住院、过度诊疗等违规使用医保基金行为。",
        ],
        issued_at=datetime(2021, 5, 6, 9, 0),
    ),
    notice(
        "notice-4",
        "关于报送2019年医保基金监管工作总结的通知",
        "吕医保发〔2019〕4号",
        ["请各县（市、区）医疗保障局于12月20日前报送年度工作总结。"],
        issued_at=datetime(2019, 11, 28, 15, 0),
    ),
    record(
        "record-kangning",
        KANGNING,
        ["张建国", "李晓燕"],
        [
            "一、挂床住院。检查组对内科、外科病区在院患者逐床核对，不在床的15人均无请假记录。",
            "二、串换药品。该院购进非医保目录药品复方氨基酸口服液，却以复方氨基酸注射液（18AA）名义结算312人次，涉及医保基金46,380.00元。",
        ],
        witness="赵志明",
        case_no=CASE_7,
    ),
    transcript(
        "transcript-zhao",
        {"name": "赵志明", "id_number": ZHAO_ID, "position": "吕梁市离石区康宁医院医保办主任"},
        ["张建国", "李晓燕"],
        [
            (
                "你院是否存在挂床住院的情况？",
                "这15名患者白天输液治疗，晚上回家住，科室没有严格执行请假制度。",
            ),
            (
                "复方氨基酸注射液是谁决定串换的？",
                "是药剂科维护医保药品对照关系时对应错了，不是有意串换药品。",
            ),
        ],
        case_no=CASE_7,
        issued_at=datetime(2021, 5, 11, 14, 30),
    ),
    report(
        "report-lishi",
        "吕梁市医疗保障局关于离石区定点医药机构专项检查情况的报告",
        [
            {
                "institution": "吕梁市离石区康宁医院",
                "id_code": KANGNING_CODE,
                "issue": "挂床住院15人次；串换药品312人次",
                "amount": "46380.00",
                "measures": ["拒付（追回）医保基金", "限期整改"],
            },
            {
                "institution": "山西仁和堂大药房连锁有限公司离石滨河店",
                "id_code": RENHETANG_CODE,
                "issue": "以医保药品名义结算保健食品",
                "amount": "12800.00",
                "measures": ["通报批评"],
            },
        ],
        [
            "检查组一行5人于2021年5月11日至14日在离石区开展专项检查。",
            "一是数据先行，精准锁定疑点。",
        ],
        case_no=CASE_7,
        issued_at=datetime(2021, 5, 20, 16, 0),
    ),
    record(
        "record-yu",
        {"kind": "person", "name": "于是非", "legal_rep": "吕梁市离石区惠民诊所", "id_code": YU_ID},
        ["王海涛", "孙丽"],
        [
            "经查，于是非于2022年3月持他人医保卡在吕梁市离石区惠民诊所冒名就医，涉及医保基金1,200.00元。"
        ],
        issued_at=datetime(2022, 3, 15, 10, 0),
    ),
    report(
        "report-fenyang",
        "吕梁市医疗保障局关于汾阳市定点医药机构飞行检查情况的报告",
        [
            {
                "institution": "汾阳市同济医院",
                "id_code": TONGJI_CODE,
                "issue": "虚假住院42人次",
                "amount": "350000.00",
                "measures": ["暂停医保", "移交司法机关"],
            },
        ],
        ["本次专项检查和综合治理相结合，检查组调阅病历120份。"],
        issued_at=datetime(2023, 8, 9, 11, 0),
    ),
    transcript(
        "transcript-hao",
        {"name": "郝文博", "id_number": "141102199110107943", "position": "汾阳市同济医院院长"},
        ["王海涛", "孙丽"],
        [("你院是否存在虚假住院问题？", "汾阳市同济医院存在虚假住院，共42人次。")],
        issued_at=datetime(2023, 8, 10, 9, 30),
    ),
    record(
        "record-traditional",
        {
            "kind": "institution",
            "name": "吕梁市交城縣仁愛醫院",
            "legal_rep": "孟德福",
            "id_code": "91141102U7CH3J70PQ",
        },
        ["張建國", "李曉燕"],
        ["經查，該院存在掛床住院問題，涉及醫保基金8,600.00元，責令限期整改。"],
        issued_at=datetime(2020, 11, 3, 9, 0),
    ),
    # Another org's documents: same names, same violation, same ID number.
    record(
        "tyyb-record",
        {
            "kind": "institution",
            "name": "太原市小店区康宁医院",
            "legal_rep": "冯建明",
            "id_code": "91140105MA0K3XYZ1A",
        },
        ["张建国", "李晓燕"],
        [
            "经查，太原市小店区康宁医院存在挂床住院、串换药品问题。于是非为该院医保办主任，身份证号"
            + YU_ID
            + "。"
        ],
        org="tyyb",
        witness="赵志明",
    ),
    transcript(
        "tyyb-transcript",
        {"name": "赵志明", "id_number": ZHAO_ID, "position": "太原市小店区康宁医院医生"},
        ["张建国", "周敏"],
        [("你院是否存在挂床住院？", "存在挂床住院问题。吕医保发〔2021〕44号")],
        org="tyyb",
    ),
    make(
        "zjyb-traditional",
        "notice",
        {"title": "關於強化醫療保障基金使用常態化監管的通知（徵求意見稿）"},
        "為貫徹落實黨中央、國務院決策部署，加強醫療保障基金使用常態化監管，規範醫療服務行為。",
        org="zjyb",
        title="關於強化醫療保障基金使用常態化監管的通知（徵求意見稿）",
        issued_at=datetime(2024, 7, 4, 9, 0),
    ),
]
LLYB = {d.id for d in DOCS if d.org == "llyb"}


@pytest.fixture(scope="module", params=SEARCH_BACKENDS)
def index(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The relevance set holds on both backends (Whoosh, PostgreSQL full text)."""
    with open_index(request.param, tmp_path_factory.mktemp("relevance")) as ix:
        ix.add(DOCS)
        yield ix


@pytest.fixture(params=SEARCH_BACKENDS)
def empty_index(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    with open_index(request.param, tmp_path) as ix:
        yield ix


def search(ix: SearchIndex, q: str = "", orgs: list[str] | None = None, **kw: Any) -> SearchResult:
    result = ix.search(q, orgs=["llyb"] if orgs is None else orgs, per_page=100, **kw)
    allowed = {d.id for d in DOCS if d.org in (orgs or ["llyb"])} if orgs != [] else set()
    for hit in result.hits:
        assert hit.id in allowed, f"{hit.id} of another org found by {q!r}"
        for value in (hit.title, hit.snippet, hit.wenhao, hit.archive_no, hit.case_no):
            assert not CLEAR_ID.search(value or ""), f"identifier in clear in {hit.id}: {value}"
    assert result.total == len(result.hits)
    return result


def ids(result: SearchResult) -> list[str]:
    return [h.id for h in result.hits]


# (query, filters, expectation): "only" = exactly these; "has" = at least these;
# "first" = this one ranks first; "not" = never these.
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # people
    ("赵志明", {}, {"only": {"record-kangning", "transcript-zhao"}}),
    ("张建国", {}, {"only": {"record-kangning", "transcript-zhao", "record-traditional"}}),
    ("", {"person": "赵志明"}, {"only": {"record-kangning", "transcript-zhao"}}),
    (
        "",
        {"inspector": "张建国"},
        {"only": {"record-kangning", "transcript-zhao", "record-traditional"}},
    ),
    ("冒名就医", {"inspector": "王海涛"}, {"only": {"record-yu"}}),
    ("", {"inspector": "孙丽"}, {"only": {"record-yu", "transcript-hao"}}),
    ("于是非", {}, {"only": {"record-yu"}}),  # jieba cuts it 于是 / 非
    ('"于是非"', {}, {"only": {"record-yu"}}),
    ("郝文博", {}, {"only": {"transcript-hao"}}),
    # identifiers: exact, in any width or case, and never shown
    (ZHAO_ID, {}, {"only": {"transcript-zhao"}}),
    ("５２１４１１０２ＭＪＹ８３６２１４Ｐ", {}, {"only": {"record-kangning", "report-lishi"}}),
    (KANGNING_CODE.lower(), {}, {"only": {"record-kangning", "report-lishi"}}),
    ("", {"identifier": YU_ID}, {"only": {"record-yu"}}),
    (ZHAO_ID[:-1], {}, {"only": set()}),
    # 文号, 档号, case numbers
    ("吕医保发〔2021〕44号", {}, {"first": "notice-44", "has": {"notice-45"}, "not": {"notice-4"}}),
    ("吕医保发【2021】44号", {}, {"first": "notice-44"}),
    ("吕医保发[2021]44号", {}, {"first": "notice-44"}),
    ("吕医保发[2019]4号", {}, {"first": "notice-4", "not": {"notice-44", "notice-45"}}),
    ("", {"wenhao": "吕医保发【2021】45号"}, {"only": {"notice-45"}}),
    ("j041-2021-d30-jgk-0044", {}, {"first": "notice-44"}),
    (
        "",
        {"case_no": "吕医保稽[2021]7号"},
        {"only": {"record-kangning", "transcript-zhao", "report-lishi"}},
    ),
    # violations, phrases
    (
        "挂床住院",
        {},
        {
            "only": {
                "record-kangning",
                "transcript-zhao",
                "report-lishi",
                "notice-45",
                "record-traditional",
            }
        },
    ),
    ("串换药品", {}, {"only": {"record-kangning", "transcript-zhao", "report-lishi"}}),
    # 专项治理 also stands in the records' and transcripts' titles; the report has 专项检查和综合治理
    ('"专项治理"', {"type": "notice"}, {"only": {"notice-44"}}),
    (
        '"专项治理"',
        {},
        {"has": {"notice-44", "record-yu"}, "not": {"report-fenyang", "report-lishi"}},
    ),
    ("专项治理", {}, {"has": {"notice-44", "report-fenyang"}}),  # words apart are enough
    ('"复方氨基酸注射液"', {}, {"only": {"record-kangning", "transcript-zhao"}}),
    ("１８ＡＡ", {}, {"only": {"record-kangning"}}),
    (
        "飞行检查",
        {},
        {"has": {"notice-45", "report-fenyang"}, "first_of": {"notice-45", "report-fenyang"}},
    ),
    # Traditional and Simplified find each other
    (
        "掛床住院",
        {},
        {
            "only": {
                "record-kangning",
                "transcript-zhao",
                "report-lishi",
                "notice-45",
                "record-traditional",
            }
        },
    ),
    ("仁爱医院", {}, {"only": {"record-traditional"}}),
    ("張建國", {}, {"has": {"record-kangning", "transcript-zhao", "record-traditional"}}),
    ("医疗保障基金", {}, {"only": {"zjyb-traditional"}}, ["zjyb"]),
    ("醫療保障基金", {}, {"has": {"notice-44"}}),
    # dates, amounts
    (
        "挂床住院",
        {"date_from": date(2021, 5, 1), "date_to": date(2021, 5, 31)},
        {"only": {"record-kangning", "transcript-zhao", "report-lishi", "notice-45"}},
    ),
    ("", {"date_from": date(2023, 1, 1)}, {"only": {"report-fenyang", "transcript-hao"}}),
    ("", {"date_to": date(2019, 12, 31)}, {"only": {"notice-4"}}),
    ("", {"amount_min": Decimal(100000)}, {"only": {"report-fenyang"}}),
    (
        "",
        {"amount_min": Decimal("50000"), "amount_max": Decimal("59180")},
        {"only": {"report-lishi"}},
    ),
    # combinations
    ("康宁医院 挂床住院", {"type": "inspection_report"}, {"only": {"report-lishi"}}),
    ("", {"institution": "康宁医院"}, {"only": {"record-kangning", "report-lishi"}}),
    ("", {"institution": "仁和堂"}, {"only": {"report-lishi"}}),
    ("同济医院 虚假住院", {}, {"only": {"report-fenyang", "transcript-hao"}}),
    (
        "虚假住院",
        {"type": "interview_transcript", "person": "郝文博"},
        {"only": {"transcript-hao"}},
    ),
    (
        "医保基金",
        {"inspector": "张建国", "date_to": date(2021, 5, 11)},
        {"only": {"record-kangning", "record-traditional"}},
    ),
    (
        "串换",
        {"inspector": "張建國", "date_from": date(2021, 1, 1)},
        {"only": {"record-kangning", "transcript-zhao"}},
    ),
]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{i:02d}-{c[0] or 'filters'}" for i, c in enumerate(CASES)]
)
def test_inspectors_find_what_they_remember(index: SearchIndex, case: tuple[Any, ...]) -> None:
    q, filters, expect = case[:3]
    orgs = case[3] if len(case) > 3 else None
    found = ids(search(index, q, orgs, **filters))
    if "only" in expect:
        assert set(found) == expect["only"], found
    if "has" in expect:
        assert expect["has"] <= set(found), found
    if "not" in expect:
        assert not expect["not"] & set(found), found
    if "first" in expect:
        assert found and found[0] == expect["first"], found
    if "first_of" in expect:
        assert set(found[: len(expect["first_of"])]) == expect["first_of"], found


def test_the_relevance_set_is_large_enough() -> None:
    assert len(CASES) >= 30


def test_another_orgs_documents_never_appear_but_an_administrator_sees_all(
    index: SearchIndex,
) -> None:
    for q in ("康宁医院", "赵志明", ZHAO_ID, YU_ID, "挂床住院", "吕医保发〔2021〕44号", ""):
        assert not {"tyyb-record", "tyyb-transcript"} & set(ids(search(index, q)))
    everyone = ids(index.search("挂床住院", orgs=None, per_page=100))
    assert {"tyyb-record", "tyyb-transcript", "record-kangning"} <= set(everyone)
    assert ids(search(index, "康宁医院", ["tyyb"])) and set(
        ids(search(index, "康宁医院", ["tyyb"]))
    ) <= {
        "tyyb-record",
        "tyyb-transcript",
    }
    assert search(index, "康宁医院", []).total == 0


def test_counts_and_facets_cover_only_the_callers_org(index: SearchIndex) -> None:
    result = search(index, "挂床住院")
    assert result.total == 5
    assert result.facets["org"] == {"llyb": 5}
    assert result.facets["type"] == {
        "inspection_record": 2,
        "inspection_report": 1,
        "interview_transcript": 1,
        "notice": 1,
    }
    assert result.facets["year"] == {"2021": 4, "2020": 1}
    assert index.search("挂床住院", orgs=["llyb"], facets=False).facets == {}


def test_an_id_number_is_masked_wherever_it_shows(index: SearchIndex) -> None:
    hit = search(index, ZHAO_ID).hits[0]
    assert "141102********0320" in hit.snippet
    assert "<mark>141102********0320</mark>" in hit.snippet


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_sorting_by_date(index: SearchIndex, sort: str) -> None:
    hits = search(index, "医保基金", sort=sort).hits
    dates = [h.issued_at for h in hits]
    assert len(dates) >= 5
    assert dates == sorted(dates, reverse=sort == "newest")


def test_relevance_puts_title_matches_first(index: SearchIndex) -> None:
    found = ids(search(index, "专项检查"))
    assert found[0] == "report-lishi"  # 专项检查 in its title


def test_paging_walks_through_every_hit_once(index: SearchIndex) -> None:
    seen: list[str] = []
    total = None
    for page in range(1, 10):
        result = index.search("医保基金", orgs=["llyb"], per_page=2, page=page)
        total = result.total
        if not result.hits:
            break
        seen.extend(ids(result))
    assert total is not None and len(seen) == len(set(seen)) == total


def test_names_of_the_input_are_indexed_from_the_json(empty_index: SearchIndex) -> None:
    ix = empty_index
    # The text on paper does not carry the names here: only the input's facts do.
    ix.add(
        [
            make(
                "bare",
                "inspection_record",
                {"subject": KANGNING, "inspectors": ["欧阳建业", "钟敏"], "recorder": "韦一"},
                "检查记录",
            )
        ]
    )
    assert ids(ix.search("", orgs=None, inspector="欧阳建业")) == ["bare"]
    assert ids(ix.search("", orgs=None, inspector="韦一")) == ["bare"]
    assert ids(ix.search("", orgs=None, person="冯建明")) == ["bare"]
    assert ids(ix.search("", orgs=None, institution="离石区康宁")) == ["bare"]
    assert ids(ix.search("", orgs=None, identifier=KANGNING_CODE)) == ["bare"]
    assert ix.search("", orgs=None, inspector="欧阳").total == 1  # part of a name
    assert ix.search("", orgs=None, inspector="建业欧阳").total == 0


def test_the_api_takes_every_filter_from_the_query_string() -> None:
    from marshmallow import ValidationError as Invalid

    from service.http.api.search import SearchQuerySchema

    args = SearchQuerySchema().load(
        {
            "q": "挂床住院",
            "institution": "康宁医院",
            "person": "赵志明",
            "inspector": "张建国",
            "id_number": ZHAO_ID,
            "amount_min": "1000.5",
            "date_from": "2021-05-01",
            "facets": "false",
            "sort": "newest",
            "unknown": "ignored",
        }
    )
    assert args["amount_min"] == Decimal("1000.50") and args["facets"] is False
    assert args["date_from"] == date(2021, 5, 1) and "unknown" not in args
    for bad in ({"type": "memo"}, {"id_number": "123"}, {"sort": "random"}, {"amount_max": "-1"}):
        with pytest.raises(Invalid):
            SearchQuerySchema().load(bad)
