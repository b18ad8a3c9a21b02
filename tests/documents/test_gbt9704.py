"""GB/T 9704-2012 rules a bureau's document checker looks for on the issued PDF, measured on
the pages LibreOffice makes: the 版记 on the last page, an even one (§7.4–7.5)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from schemas.inspection_report import InspectionReportSchema
from schemas.notice import NoticeSchema
from service.doctypes import DOCTYPES, render_docx, sample_input
from service.documents.convert.client import Converter
from service.documents.convert.instance import PoolSettings
from service.documents.render import Letterhead
from service.documents.seal import make_seal_png
from tests.support.glyphs import MM, pages, runs

ORG = Letterhead(name="吕梁市医疗保障局", mark="吕梁市医疗保障局文件", zihao="吕医保发")
PARAGRAPH = (
    "为了加强医疗保障基金监管工作，进一步引深打击欺诈骗保专项治理行动，切实保障参保群众"
    "合法权益，维护基金安全可持续运行，根据安排部署。"
)

pytestmark = pytest.mark.soffice


@pytest.fixture(scope="module")
def converter(converter_dir: dict[str, Any]) -> Converter:
    return Converter(PoolSettings(run_dir=converter_dir["CONVERTER_DIR"], size=2))


def notice(**fields: Any) -> dict[str, Any]:
    data = {
        "title": "关于开展专项检查的通知",
        "addressees": ["各县（市、区）医疗保障局"],
        "body": [{"text": PARAGRAPH}],
        "cc": ["山西省医疗保障局", "吕梁市人民政府办公室"],
        "date": "2021-04-23",
        **fields,
    }
    return NoticeSchema().load(data)  # type: ignore[no-any-return]


def typeset(converter: Converter, data: dict[str, Any]) -> bytes:
    made = DOCTYPES["notice"].typeset(
        data,
        converter.to_pdf,
        org=ORG,
        wenhao="吕医保发〔2021〕44号",
        issue_date=dt.date(2021, 4, 23),
        seal_png=make_seal_png(ORG.name),
    )
    return made.pdf


def test_imprint_ends_on_the_last_page_an_even_one(converter: Converter) -> None:
    """Bodies of 1 to 9 pages: the 版记 is on the last page, and that page is even; when the
    text ends on an odd page the 版记 takes the next page, when the 版记 alone would fall on
    an odd page a blank page comes before it, and neither page is numbered."""
    text_pages, blanks = set(), 0
    for paragraphs in (1, 5, 9, 13, 18, 24, 31, 38, 45, 52, 59):
        pdf = typeset(converter, notice(body=[{"text": PARAGRAPH}] * paragraphs))
        printed = pages(pdf)
        texts = [p.text.replace(" ", "") for p in printed]
        on = [p.number for p, t in zip(printed, texts, strict=True) if "2021年4月23日印发" in t]
        signed = [
            p.number
            for p, t in zip(printed, texts, strict=True)
            if "2021年4月23日" in t.replace("2021年4月23日印发", "")
        ]
        assert on == [len(printed)], (paragraphs, on)
        assert len(printed) % 2 == 0, (paragraphs, len(printed))
        text_pages.add(signed[0])
        between = texts[signed[0] : len(printed) - 1]
        assert all(t == "" for t in between), between  # blank, not even a page number
        # after a blank page the 版记 page has no page number either; else it has one
        assert ("—" in texts[-1]) is not bool(between), (paragraphs, texts[-1])
        blanks += len(between)
    assert text_pages == set(range(1, 10))
    assert blanks >= 1


A4_HEIGHT_PT = 297 * MM
TEXT_TOP_PT = A4_HEIGHT_PT - 37 * MM  # 天头 37 mm
TEXT_LEFT_PT = 28 * MM  # 订口 28 mm


def test_copy_number_secrecy_and_urgency_head_a_classified_notice(converter: Converter) -> None:
    """份号 first, at the top left of the 版心 on line 1, then 密级★保密期限, then 紧急程度,
    one line each (§7.2.1–7.2.3); the red mark stays where it is without them (35 mm under
    the top of the 版心), the three lines being kept, empty, on every notice."""
    secret = pages(
        typeset(
            converter,
            notice(copy_no="000012", secrecy="秘密", secrecy_term="1年", urgency="特急"),
        )
    )[0]
    plain = pages(typeset(converter, notice()))[0]
    (number,) = secret.find("000012")
    (secrecy,) = secret.find("秘密★1年")
    (urgency,) = secret.find("特急")
    assert abs(number[0].x0 - TEXT_LEFT_PT) < 0.5 * MM
    assert abs(secrecy[0].x0 - TEXT_LEFT_PT) < 0.5 * MM
    assert abs(urgency[0].x0 - TEXT_LEFT_PT) < 0.5 * MM
    top = number[0].y0 + number[0].size
    assert TEXT_TOP_PT - 29 < top <= TEXT_TOP_PT + 1  # inside line 1
    assert abs(number[0].y0 - secrecy[0].y0 - 28.95) < 1
    assert abs(secrecy[0].y0 - urgency[0].y0 - 28.95) < 1
    marks = [page.find("吕梁市医疗保障局文件")[0][0] for page in (secret, plain)]
    assert abs(marks[0].y0 - marks[1].y0) < 0.1 and abs(marks[0].x0 - marks[1].x0) < 0.1
    assert plain.text.replace(" ", "").startswith("吕梁市医疗保障局文件")


def test_cc_continuation_hangs_under_the_first_name(converter: Converter) -> None:
    """抄送 one character in from the rule, its second line under the first character after
    the colon, not under 抄 (§7.4.2)."""
    cc = ["山西省医疗保障局", "吕梁市人民政府办公室", "吕梁市财政局", "吕梁市卫生健康委员会"]
    cc += ["吕梁市市场监督管理局", "吕梁市公安局"]
    page = pages(typeset(converter, notice(cc=cc)))[-1]
    (lead,) = page.find("抄送：")
    first_name = page.find("山西省")[0][0]
    lines = sorted(
        {round(g.y0, 1) for g in page.glyphs if g.size < 15 and g.y0 < lead[0].y0 - 5},
        reverse=True,
    )
    assert lines, "the 抄送 line does not wrap"
    below = [g for g in page.glyphs if round(g.y0, 1) == lines[0] and g.text.strip()]
    assert "印发" not in "".join(g.text for g in below)  # the continuation, not the 印发 line
    assert abs(lead[0].x0 - TEXT_LEFT_PT - 14) < 0.5 * MM  # 左空一字 (4号)
    assert abs(min(g.x0 for g in below) - first_name.x0) < 0.3 * MM


ATTACHMENT_TITLES = [
    "吕梁市进一步引深打击欺诈骗保专项治理行动工作方案",
    "定点医药机构自查自纠情况统计表",
    "专项治理检查记录单及询问笔录格式（供各县市区医疗保障局参照使用）",
    "检查报告模板",
]


def test_attachment_list_is_kept_together_with_the_signature(converter: Converter) -> None:
    """However the body ends, the 附件说明 is on one page, the page of the 署名 and seal."""
    line = "各县市区要高度重视，认真组织本次检查工作。"  # one line of the body
    for lines in range(12, 22):
        body = [{"text": line}] * lines
        data = notice(body=body, attachments=[{"title": t} for t in ATTACHMENT_TITLES])
        texts = [p.text.replace(" ", "") for p in pages(typeset(converter, data))]
        on = {n for n, t in enumerate(texts, 1) for title in ATTACHMENT_TITLES if title[:8] in t}
        signed = {n for n, t in enumerate(texts, 1) if "2021年4月23日" in t.replace("日印发", "")}
        assert len(on) == 1 and on == signed, (lines, on, signed)


def test_report_measures_break_between_words(converter: Converter) -> None:
    """The 处理措施 column of the report's table prints 拒付（追回） on a line and 医保基金 whole
    on the next, one measure a line, not 拒付（追 / 回）医保基 / 金."""
    docx = render_docx(
        "inspection_report",
        InspectionReportSchema().load(sample_input("inspection_report")),
        org=ORG,
        wenhao="",
        issue_date=dt.date(2021, 5, 20),
    )
    lines = [r for page in pages(converter.to_pdf(docx)) for r in runs(page) if r[0].size < 11]
    starts = [r for r in lines if r[0].text == "拒"]
    assert len(starts) == 3  # three violations, each with this measure
    for first in starts:
        assert "".join(g.text for g in first) == "拒付（追回）"
        (below,) = [
            r for r in lines if abs(r[0].x0 - first[0].x0) < 0.5 and 10 < first[0].y0 - r[0].y0 < 20
        ]
        assert "".join(g.text for g in below).rstrip("、") == "医保基金"
    measures = {"".join(g.text for g in r) for r in lines if abs(r[0].x0 - starts[0][0].x0) < 0.5}
    assert measures <= {"拒付（追回）", "医保基金、", "医保基金", "限期整改、", "行政罚款"} | {
        "暂停医保、",
        "通报批评",
    }, measures


@pytest.mark.parametrize(
    ("title", "expected", "trapezoid"),
    [
        (
            "吕梁市医疗保障局关于开展定点医药机构专项治理检查的通知",
            ["吕梁市医疗保障局关于开展", "定点医药机构专项治理检查的通知"],
            True,
        ),
        (
            "关于做好定点医药机构医保基金使用自查自纠工作的通知",
            ["关于做好定点医药机构医保基金", "使用自查自纠工作的通知"],
            True,
        ),
        # Two lines of 15 ems: every other break is inside a word or far from even.
        (
            "吕梁市医疗保障局关于开展2021年定点医药机构专项治理检查的通知",
            ["吕梁市医疗保障局关于开展2021年", "定点医药机构专项治理检查的通知"],
            False,
        ),
    ],
)
def test_title_breaks_between_words_in_a_trapezoid(
    converter: Converter, title: str, expected: list[str], trapezoid: bool
) -> None:
    """Lines of the printed title: whole words (never 定点医药 / 机构, never 2021 / 年), centred,
    of different lengths (a 梯形, not a 长方形) (§7.3.1)."""
    page = pages(typeset(converter, notice(title=title)))[0]
    lines = [r for r in runs(page) if abs(r[0].size - 22) < 0.5]
    assert ["".join(g.text for g in r) for r in lines] == expected
    widths = [r[-1].x1 - r[0].x0 for r in lines]
    centres = [(r[-1].x1 + r[0].x0) / 2 for r in lines]
    assert (abs(widths[0] - widths[1]) >= 2 * 22 - 1) is trapezoid  # two characters or more
    assert max(centres) - min(centres) < 1 * MM
