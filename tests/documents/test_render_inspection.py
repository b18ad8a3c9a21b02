"""Rendering the inspection forms and report: 检查记录单, 询问笔录, 检查报告.

What a reader of the paper would check: every value typed is printed (as typed, never as a
template), the form's labels follow the kind of subject, the report's table shows the review
level and total the schema computes, and on paper — converted by the real LibreOffice pool —
every page says 第 i 页 共 n 页 and a transcript has the interviewee's signature line on each.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import docx
import pytest
from lxml import etree
from marshmallow import Schema
from pypdf import PdfReader

from schemas.inspection_record import InspectionRecordSchema
from schemas.inspection_report import InspectionReportSchema, review_level
from schemas.interview_transcript import InterviewTranscriptSchema
from service.doctypes import DOCTYPES as TYPES
from service.doctypes import render_docx, sample_input, template_path
from service.documents.convert.client import Converter
from service.documents.convert.instance import PoolSettings
from service.documents.layout import date_span, time_span
from service.documents.render import Letterhead
from service.documents.seal import make_seal_png

ORG = Letterhead(name="吕梁市医疗保障局", mark="吕梁市医疗保障局文件", zihao="吕医保发")
ISSUED = dt.date(2021, 5, 20)
SEAL = make_seal_png(ORG.name)
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
SCHEMAS: dict[str, type[Schema]] = {
    "inspection_record": InspectionRecordSchema,
    "interview_transcript": InterviewTranscriptSchema,
    "inspection_report": InspectionReportSchema,
}
DOCTYPES = list(SCHEMAS)
NASTY = "{{ 7*7 }}<b>&{% if x %}"


def load(doctype: str, data: dict[str, Any]) -> dict[str, Any]:
    return SCHEMAS[doctype]().load(data)  # type: ignore[no-any-return]


def render(doctype: str, data: dict[str, Any] | None = None, *, seal: bool = True) -> bytes:
    raw = sample_input(doctype) if data is None else data
    return render_docx(
        doctype,
        load(doctype, raw),
        org=ORG,
        wenhao="",
        issue_date=ISSUED,
        seal_png=SEAL if seal else None,
    )


def parts(blob: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml")}


def paragraphs(xml: str) -> list[str]:
    """Text of every paragraph (table cells included), in order; line breaks left out."""
    root = etree.fromstring(xml.encode())
    return ["".join(t.text or "" for t in p.iter(f"{W}t")) for p in root.iter(f"{W}p")]


def body_text(blob: bytes) -> list[str]:
    return paragraphs(parts(blob)["word/document.xml"])


def story_text(blob: bytes, prefix: str) -> str:
    """All headers (``word/header``) or footers (``word/footer``) as one string."""
    return "".join(
        "".join(paragraphs(xml)) for name, xml in parts(blob).items() if name.startswith(prefix)
    )


def printed(value: Any) -> list[str]:
    """How a loaded value is printed: text line by line, dates and times in Chinese with
    Arabic numerals, amounts in yuan with thousands separators."""
    if isinstance(value, str):
        return [line.strip() for line in value.split("\n") if line.strip()]
    if isinstance(value, bool):
        return []
    if isinstance(value, dt.datetime):
        return [
            f"{value.year}年{value.month}月{value.day}日",
            f"{value.hour}时{value.minute:02d}分",
        ]
    if isinstance(value, dt.date):
        return [f"{value.month}月{value.day}日"]
    if isinstance(value, Decimal):
        return [f"{value:,.2f}"]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, dict):
        # kind is an enum shown by the labels, not printed as such.
        return [s for k, v in value.items() if k != "kind" for s in printed(v)]
    if isinstance(value, list):
        return [s for v in value for s in printed(v)]
    raise TypeError(type(value))


def table_rows(blob: bytes, header: str) -> list[list[str]]:
    """The rows of the table whose first row contains ``header``, as cell texts."""
    document = docx.Document(io.BytesIO(blob))
    for table in document.tables:
        rows = [[cell.text for cell in row.cells] for row in table.rows]
        if any(header in cell for cell in rows[0]):
            return rows
    raise AssertionError(f"no table headed {header}")


# ----------------------------------------------------------------------------- the templates


@pytest.mark.parametrize("doctype", DOCTYPES)
def test_the_committed_template_keeps_its_contract(doctype: str) -> None:
    """The committed file is the source (edited in Word or WPS, not generated): what is
    asked of it is the contract of ``wenshu template check``, not bytes."""
    assert TYPES[doctype].template.problems() == []


@pytest.mark.parametrize("doctype", DOCTYPES)
def test_template_is_a4_with_official_fonts_and_unbreakable_rows(doctype: str) -> None:
    xml = parts(template_path(doctype).read_bytes())
    styles, document = xml["word/styles.xml"], xml["word/document.xml"]
    assert '<w:pgSz w:w="11906" w:h="16838"/>' in document
    assert re.search(
        r'<w:pgMar w:top="2098" w:right="1474" w:bottom="1984" w:left="1587"', document
    )
    for font in ("仿宋_GB2312", "方正小标宋简体", "黑体"):
        assert f'w:eastAsia="{font}"' in styles
    assert 'w:eastAsia="zh-CN"' in styles
    rows = etree.fromstring(document.encode()).iter(f"{W}tr")
    assert all(row.find(f"{W}trPr/{W}cantSplit") is not None for row in rows)


@pytest.mark.parametrize("doctype", ["inspection_record", "interview_transcript"])
def test_forms_count_pages_with_real_fields_in_the_header(doctype: str) -> None:
    xml = parts(template_path(doctype).read_bytes())
    headers = [v for k, v in xml.items() if k.startswith("word/header")]
    assert len(headers) == 1
    assert " PAGE " in headers[0] and " NUMPAGES " in headers[0]
    assert "".join(paragraphs(headers[0])) == "第 1 页　共 1 页"


def test_report_table_header_repeats_on_every_page() -> None:
    document = parts(template_path("inspection_report").read_bytes())["word/document.xml"]
    first_row = next(etree.fromstring(document.encode()).iter(f"{W}tr"))
    assert first_row.find(f"{W}trPr/{W}tblHeader") is not None
    assert "审理" in "".join(t.text or "" for t in first_row.iter(f"{W}t"))


def test_report_headings_keep_with_the_next_paragraph() -> None:
    styles = etree.fromstring(
        parts(template_path("inspection_report").read_bytes())["word/styles.xml"].encode()
    )
    for style_id in ("WenshuHeading1", "WenshuHeading2", "WenshuTitle"):
        style = styles.find(f'{W}style[@{W}styleId="{style_id}"]')
        assert style is not None and style.find(f"{W}pPr/{W}keepNext") is not None, style_id


# ----------------------------------------------------------------------------- samples


@pytest.mark.parametrize("doctype", DOCTYPES)
def test_sample_passes_its_schema(doctype: str) -> None:
    load(doctype, sample_input(doctype))


@pytest.mark.parametrize("doctype", DOCTYPES)
def test_no_template_tag_survives(doctype: str) -> None:
    for name, xml in parts(render(doctype)).items():
        assert "{{" not in xml and "{%" not in xml and "{#" not in xml, name


@pytest.mark.parametrize("doctype", DOCTYPES)
def test_every_sample_value_is_on_paper(doctype: str) -> None:
    text = "".join(body_text(render(doctype)))
    for value in printed(load(doctype, sample_input(doctype))):
        assert value in text, value
    assert ORG.name in text


@pytest.mark.parametrize("doctype", DOCTYPES)
def test_equal_input_gives_identical_bytes(doctype: str) -> None:
    assert render(doctype) == render(doctype)


# ----------------------------------------------------------------------------- literal text


def test_record_prints_user_text_literally() -> None:
    data = sample_input("inspection_record")
    data["title"] = f"记录单{NASTY}"
    data["location"] = f"会议室{NASTY}"
    data["subject"]["name"] = f"医院{NASTY}"
    data["matter"] = NASTY
    data["findings"] = [f"发现{NASTY}", "{_{ 和 %_}"]
    data["witness"] = "<i>"
    blob = render("inspection_record", data)
    text = "".join(body_text(blob))
    for expected in (
        f"记录单{NASTY}",
        f"会议室{NASTY}",
        f"医院{NASTY}",
        f"现对你单位{NASTY}进行检查",
    ):
        assert expected in text, expected
    assert f"发现{NASTY}" in body_text(blob) and "{_{ 和 %_}" in body_text(blob)
    assert "见证人：<i>" in text
    assert "49" not in text
    for xml in parts(blob).values():
        etree.fromstring(xml.encode())


def test_transcript_prints_user_text_literally() -> None:
    data = sample_input("interview_transcript")
    data["interviewee"]["position"] = NASTY
    data["matter"] = NASTY
    data["qa"] = [{"q": NASTY, "a": f"第一行{NASTY}\n第二行 &amp;"}]
    blob = render("interview_transcript", data)
    texts = body_text(blob)
    assert NASTY in texts  # the position cell
    assert f"问：{NASTY}" in texts
    assert f"答：第一行{NASTY}" in texts and "第二行 &amp;" in texts
    assert f"现对{NASTY}之事进行调查询问" in "".join(texts)
    assert "49" not in "".join(texts)


def test_report_prints_user_text_literally() -> None:
    data = sample_input("inspection_report")
    data["region"] = NASTY
    data["basic_situation"] = [NASTY]
    data["violations"][0]["institution"] = f"医院{NASTY}"
    data["violations"][0]["issue"] = f"问题一{NASTY}\n问题二"
    blob = render("inspection_report", data)
    texts = body_text(blob)
    assert f"在{NASTY}开展了现场检查" in "".join(texts)
    assert NASTY in texts
    row = table_rows(blob, "审理")[1]
    assert row[1] == f"医院{NASTY}"
    assert row[4] == f"问题一{NASTY}\n问题二"  # a line break in the cell, as typed
    assert "49" not in "".join(texts)


# ----------------------------------------------------------------------------- 检查记录单


def test_record_for_an_institution_uses_the_institution_labels() -> None:
    blob = render("inspection_record")
    texts = body_text(blob)
    rows = table_rows(blob, "单位全称")
    labels = [row[i].replace("\n", "") for row in rows for i in (0, 2)]
    for label in ("单位全称", "类别（性质）", "单位地址", "电话", "法定代表人", "统一社会信用代码"):
        assert label in labels, label
    assert "身份证号" not in labels and "姓名" not in labels
    assert rows[-1][-1] == "52141102MJY836214P"
    assert "时间：2021年5月11日9时05分至11时30分" in texts
    assert "记录人：刘芳见证人：赵志明" in texts  # on one line, a tab between
    assert (
        "我们（张建国、李晓燕、王海涛）是吕梁市医疗保障局医保基金监管和稽核审核服务专家组成员，"
        "负责本次稽核审核工作，现对你单位2019年1月1日至2020年12月31日期间医保基金使用情况进行检查。"
    ) in texts
    i = texts.index("线索核查情况：")
    assert texts[i + 1].startswith("检查组依据") and "以上记录情况属实。" in texts[i:]
    signatures = [t for t in texts if t.endswith("签名：年　　月　　日")]
    assert [s.split("：")[0] for s in signatures] == [
        "被核查对象签名",
        "见证人签名",
        "专家组签名",
        "记录人签名",
    ]


def test_record_for_a_person_uses_the_person_labels() -> None:
    data = sample_input("inspection_record")
    data["subject"] = {
        "kind": "person",
        "name": "王某某",
        "category": "女",
        "address": "吕梁市离石区城北街道",
        "legal_rep": "离石区城北社区卫生服务站",
        "phone": "13835812476",
        "id_code": "11010519491231002x",
    }
    del data["witness"]
    data["ended_at"] = "2021-05-12T01:10:00"
    blob = render("inspection_record", data)
    texts = body_text(blob)
    rows = table_rows(blob, "姓名")
    assert [row[0] for row in rows] == ["姓名", "工作单位", "住址", "联系电话"]
    assert rows[0][2] == "性别" and rows[0][3] == "女"
    assert rows[-1][2:] == ["身份证号", "11010519491231002X"]
    assert "时间：2021年5月11日9时05分至5月12日1时10分" in texts
    assert "记录人：刘芳" in texts and not any("见证人：" in t for t in texts)
    assert "见证人签名：年　　月　　日" in texts  # still there, to be signed by hand
    assert any("现对你2019年1月1日" in t for t in texts)


def test_forms_carry_no_seal_even_when_one_is_given() -> None:
    for doctype in ("inspection_record", "interview_transcript"):
        blob = render(doctype, seal=True)
        assert "<wp:anchor" not in parts(blob)["word/document.xml"]
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            assert not [n for n in z.namelist() if n.startswith("word/media/")]


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        (dt.datetime(2021, 5, 11, 9, 5), dt.datetime(2021, 5, 11, 11, 30), "2021年5月11日9时05分至11时30分"),
        (dt.datetime(2021, 5, 11, 23, 0), dt.datetime(2021, 5, 12, 0, 40), "2021年5月11日23时00分至5月12日0时40分"),
        (dt.datetime(2021, 12, 31, 22, 0), dt.datetime(2022, 1, 1, 1, 0), "2021年12月31日22时00分至2022年1月1日1时00分"),
        # With a zone: printed in China Standard Time.
        (dt.datetime(2021, 5, 11, 1, 5, tzinfo=dt.UTC), dt.datetime(2021, 5, 11, 3, 30, tzinfo=dt.UTC), "2021年5月11日9时05分至11时30分"),
    ],
)  # fmt: skip
def test_time_span(start: dt.datetime, end: dt.datetime, text: str) -> None:
    assert time_span(start, end) == text


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        (dt.date(2021, 5, 11), dt.date(2021, 5, 14), "5月11日至5月14日"),
        (dt.date(2021, 5, 11), dt.date(2021, 5, 11), "5月11日"),
        (dt.date(2021, 12, 28), dt.date(2022, 1, 5), "2021年12月28日至2022年1月5日"),
    ],
)
def test_date_span(start: dt.date, end: dt.date, text: str) -> None:
    assert date_span(start, end) == text


# ----------------------------------------------------------------------------- 询问笔录


def test_transcript_reads_out_rights_and_prints_questions_and_answers() -> None:
    blob = render("interview_transcript")
    texts = body_text(blob)
    assert (
        "告知（宣读）：我们是吕梁市医疗保障局医保基金监管和稽核审核服务专家组成员（张建国、李晓燕），"
        "负责本次稽核审核工作，现对吕梁市离石区康宁医院涉嫌挂床住院、串换药品之事进行调查询问。"
        "你享有以下权利：专家组人员少于 2 人，有权拒绝调查询问。你应该承担以下义务：如实提供有关"
        "材料、回答询问，不得拒绝、阻挠调查。请你配合我们。"
    ) in texts
    assert "承办人：张建国、李晓燕" in texts and "记录人：刘芳" in texts
    rows = table_rows(blob, "姓名")
    assert [row[0] for row in rows] == ["姓名", "工作岗位", "联系地址", "联系电话"]
    assert rows[-1][2:] == ["身份证号", "141102197803150320"]
    qa = sample_input("interview_transcript")["qa"]
    start = texts.index("询问内容：") + 1
    expected = [s for pair in qa for s in (f"问：{pair['q']}", f"答：{pair['a']}")]
    assert texts[start : start + len(expected)] == expected
    assert texts[start + len(expected)] == "以上记录情况属实。"
    assert "被询问人签名：年　　月　　日" in texts and "承办人签名：年　　月　　日" in texts
    assert story_text(blob, "word/footer") == "被询问人签名："


# ----------------------------------------------------------------------------- 检查报告


def test_report_opening_sections_and_signature() -> None:
    texts = body_text(render("inspection_report"))
    assert (
        "根据吕梁市医疗保障局关于开展专项检查的工作安排，我们检查组一行5人于5月11日至5月14日"
        "在离石区开展了现场检查。现将工作情况报告如下："
    ) in texts
    headings = [t for t in texts if re.match(r"^[一二三四五]、|^（[一二]）", t)]
    assert headings == [
        "一、基本情况",
        "二、主要做法",
        "三、发现的问题",
        "（一）共性问题",
        "（二）典型问题",
        "四、专项检查结果和处理情况",
        "五、意见和建议",
    ]
    assert texts[-2:] == ["吕梁市医疗保障局", "2021年5月20日"]


def test_report_table_prints_review_levels_and_total() -> None:
    blob = render("inspection_report")
    rows = table_rows(blob, "审理")
    assert rows[0] == [
        "序号",
        "机构名称",
        "统一社会\n信用代码",
        "机构类型",
        "违规问题",
        "金额（元）",
        "处理措施",
        "审理\n级别",
    ]
    body, total = rows[1:-1], rows[-1]
    assert [r[0] for r in body] == ["1", "2", "3"]
    assert [r[5] for r in body] == ["86,420.00", "12,600.00", "3,280.50"]
    # 重大 by amount (a hospital, ≥ 30000), 重大 by measure (暂停医保), 一般.
    assert [r[7] for r in body] == ["重大", "重大", "一般"]
    assert body[1][6] == "暂停医保、\n拒付（追回）\n医保基金"
    assert total[0] == "合计" and total[5] == "102,300.50"
    assert "本次检查共查处3家，其中重大2件、一般1件，涉及金额102,300.50元。" in body_text(blob)


@pytest.mark.parametrize(
    ("institution_type", "amount", "measures", "level"),
    [
        ("定点医院", "30000.00", ["限期整改"], "重大"),
        ("定点医院", "29999.99", ["限期整改"], "一般"),
        ("定点连锁药店", "30000", ["通报批评"], "重大"),
        ("单体定点零售药店", "5000", ["限期整改"], "重大"),
        ("诊所", "4999.99", ["拒付（追回）医保基金"], "一般"),
        ("诊所", "10", ["解除医保"], "重大"),
        ("定点医院", "0", ["暂停医保"], "重大"),
    ],
)
def test_report_review_level_is_computed_not_typed(
    institution_type: str, amount: str, measures: list[str], level: str
) -> None:
    data = sample_input("inspection_report")
    data["violations"] = [
        {
            "institution": "某机构",
            "institution_type": institution_type,
            "issue": "违规问题。",
            "amount": amount,
            "measures": measures,
        }
    ]
    loaded = load("inspection_report", data)
    assert review_level(loaded["violations"][0]) == level
    blob = render_docx("inspection_report", loaded, org=ORG, wenhao="", issue_date=ISSUED)
    row = table_rows(blob, "审理")[1]
    assert row[2] == "" and row[7] == level  # no code given: the cell stays empty
    major, general = (1, 0) if level == "重大" else (0, 1)
    sentence = (
        f"本次检查共查处1家，其中重大{major}件、一般{general}件，涉及金额{Decimal(amount):,.2f}元。"
    )
    assert sentence in body_text(blob)


def test_empty_report_sections_say_none() -> None:
    data = sample_input("inspection_report")
    for key in (
        "main_practices",
        "common_problems",
        "typical_problems",
        "violations",
        "suggestions",
    ):
        del data[key]
    blob = render("inspection_report", data)
    texts = body_text(blob)
    for heading in (
        "二、主要做法",
        "（一）共性问题",
        "（二）典型问题",
        "四、专项检查结果和处理情况",
        "五、意见和建议",
    ):
        assert texts[texts.index(heading) + 1] == "无。", heading
    assert not docx.Document(io.BytesIO(blob)).tables
    assert "共查处" not in "".join(texts)


def test_report_is_sealed_only_when_a_seal_is_given() -> None:
    sealed = parts(render("inspection_report", seal=True))["word/document.xml"]
    assert "<wp:anchor" in sealed and "<wp:wrapNone/>" in sealed
    assert "<wp:anchor" not in parts(render("inspection_report", seal=False))["word/document.xml"]


# ----------------------------------------------------------------------------- on paper


@pytest.fixture(scope="module")
def converter(converter_dir: dict[str, Any]) -> Converter:
    return Converter(
        PoolSettings(
            run_dir=converter_dir["CONVERTER_DIR"],
            size=2,
        )
    )


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[str]:
    """The text of each page (pdftotext), whitespace removed."""
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    out = []
    for i in range(1, len(PdfReader(io.BytesIO(pdf)).pages) + 1):
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-f", str(i), "-l", str(i), str(path), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        out.append(re.sub(r"\s+", "", text))
    return out


needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="no poppler-utils")


@pytest.mark.soffice
@needs_poppler
def test_three_page_transcript_counts_pages_and_is_signed_on_each(
    converter: Converter, tmp_path: Path
) -> None:
    data = sample_input("interview_transcript")
    qa = data["qa"]
    data["qa"] = [qa[0], *qa[1:-1], *qa[1:3], qa[-1]]  # eight questions: three pages
    pages = pdf_pages(converter.to_pdf(render("interview_transcript", data)), tmp_path)
    assert len(pages) == 3
    for i, page in enumerate(pages, start=1):
        assert f"第{i}页共3页" in page, page[:40]
        assert "被询问人签名：" in page
    assert "以上记录情况属实。" in pages[-1] and "承办人签名：" in pages[-1]
    assert "问：你还有什么需要补充说明的吗？" in pages[-1]  # the last answer goes with them


@pytest.mark.soffice
@needs_poppler
@pytest.mark.parametrize("doctype", DOCTYPES)
def test_sample_converts_to_a4_pdf_with_embedded_fonts(
    doctype: str, converter: Converter, tmp_path: Path
) -> None:
    pdf = converter.to_pdf(render(doctype))
    reader = PdfReader(io.BytesIO(pdf))
    for page in reader.pages:
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    pages = pdf_pages(pdf, tmp_path)
    n = len(pages)
    for i, page in enumerate(pages, start=1):
        if doctype == "inspection_report":
            assert f"—{i}—" in page
        else:
            assert f"第{i}页共{n}页" in page
    title = sample_input(doctype)["title"]
    assert title in pages[0]
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    fonts = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    column = fonts[0].index("emb")
    rows = [line for line in fonts[2:] if line.strip()]
    assert rows and all(line[column : column + 3] == "yes" for line in rows), fonts
    assert "DejaVu" not in " ".join(rows)


@pytest.mark.soffice
@needs_poppler
def test_long_findings_run_over_several_pages_with_signatures_at_the_end(
    converter: Converter, tmp_path: Path
) -> None:
    data = sample_input("inspection_record")
    data["findings"] = copy.deepcopy(data["findings"]) * 4
    pages = pdf_pages(converter.to_pdf(render("inspection_record", data)), tmp_path)
    n = len(pages)
    assert n >= 3
    assert all(f"第{i}页共{n}页" in page for i, page in enumerate(pages, start=1))
    assert "记录人签名：" in pages[-1] and "被核查对象签名：" in pages[-1]
    assert not any("签名：" in page for page in pages[:-1])
