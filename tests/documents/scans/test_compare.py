"""Aligning scanned pages with generated ones and telling a hand's change from OCR noise."""

from __future__ import annotations

from service.documents.scans.compare import align, differences
from service.documents.scans.pages import normalise

PAGES = [
    "第1页共3页询问笔录时间地点被询问人赵志明告知我们是吕梁市医疗保障局医保基金监管人员",
    "第2页共3页问今天上午检查组在内科外科病区核对在院患者答这15名患者大部分是附近村里的",
    "第3页共3页问你院2020年购进复方氨基酸口服液1200盒答这是药剂科在维护对照关系时错了",
]


def test_pages_in_their_order_match_one_to_one() -> None:
    found = align(PAGES, PAGES)
    assert found.matches == [1, 2, 3]
    assert not found.out_of_order and found.missing_pages == [] and found.extra_pages == []


def test_swapped_pages_are_out_of_order_and_each_still_found() -> None:
    found = align(PAGES, [PAGES[0], PAGES[2], PAGES[1]])
    assert found.matches == [1, 3, 2] and found.out_of_order


def test_a_missing_page_and_a_page_of_another_document() -> None:
    other = "第1页共2页检查记录单地点吕梁市离石区康宁医院住院部三楼医生办公室对象信息单位全称"
    found = align(PAGES, [PAGES[0], other, PAGES[2]])
    assert found.matches == [1, None, 3]
    assert found.missing_pages == [2] and found.extra_pages == [2] and not found.out_of_order


def test_a_page_scanned_twice_is_an_extra_page() -> None:
    found = align(PAGES, [PAGES[0], PAGES[1], PAGES[1], PAGES[2]])
    assert found.matches == [1, 2, None, 3] and found.extra_pages == [3]


def test_a_misread_character_is_noise_but_a_changed_amount_is_not() -> None:
    printed = normalise("现场补记药房冷柜温度记录缺失，共购进1200盒。")
    assert differences(printed, normalise("现场补记药房准柜温度记录缺失，共购进1200盒。")) == []
    changed = differences(printed, normalise("现场补记药房冷柜温度记录缺失，共购进2100盒。"))
    assert [(d.kind, d.expected, d.found, d.before) for d in changed] == [
        ("changed", "12", "21", "记录缺失,共购进")
    ]


def test_an_added_sentence_and_a_changed_answer_are_reported() -> None:
    printed = normalise("问：医院是否知情？答：科室是知情的。问：持续了多长时间？")
    added = differences(printed, printed + normalise("另：以上内容系补充。"))
    assert [d.kind for d in added] == ["added"] and "以上内容系补充" in added[0].found
    answer = differences(
        printed, normalise("问：医院是否知情？答：医院完全不知道。问：持续了多长时间？")
    )
    assert len(answer) == 1 and answer[0].kind == "changed"
    assert "完全不知道" in answer[0].found and "知情的" in answer[0].expected
