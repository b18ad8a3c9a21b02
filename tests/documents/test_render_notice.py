"""Rendering a notice: the DOCX a clerk downloads and the PDF LibreOffice makes of it."""

from __future__ import annotations

import copy
import datetime as dt
import io
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import docx
import pytest
from lxml import etree
from PIL import Image
from pypdf import PdfReader, PdfWriter

from archive.errors import NotFoundError, ValidationError
from schemas.notice import NoticeSchema
from service.doctypes import DOCTYPES, render_docx, sample_input, template_path
from service.documents.render import (
    Letterhead,
    balance_title,
    chinese_date,
    heading_number,
)
from service.documents.seal import make_seal_png
from service.documents.watermark import watermark_draft
from tests.support import ROOT

FONTS_CONF = ROOT / "service" / "documents" / "fonts" / "fonts.conf"
ORG = Letterhead(name="吕梁市医疗保障局", mark="吕梁市医疗保障局文件", zihao="吕医保发")
WENHAO = "吕医保发〔2021〕44号"
ISSUED = dt.date(2026, 11, 22)
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def render(data: dict[str, Any], *, seal: bool = True, wenhao: str = WENHAO) -> bytes:
    return render_docx(
        "notice",
        NoticeSchema().load(data),
        org=ORG,
        wenhao=wenhao,
        issue_date=ISSUED,
        seal_png=SEAL if seal else None,
    )


def parts(blob: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml")}


def paragraphs(blob: bytes) -> list[str]:
    """Text of every paragraph of the body, in order, including the 版记 table; a line
    break inside a paragraph (the title's) is left out."""
    body = etree.fromstring(parts(blob)["word/document.xml"].encode())
    return ["".join(t.text or "" for t in p.iter(f"{W}t")) for p in body.iter(f"{W}p")]


def flat(blob: bytes) -> str:
    return "".join(paragraphs(blob))


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


SEAL = make_seal_png(ORG.name)
SAMPLE = sample_input("notice")


@pytest.fixture(scope="module")
def sample_docx() -> bytes:
    return render(SAMPLE)


# ----------------------------------------------------------------------------- the template


def test_the_committed_template_keeps_its_contract() -> None:
    """The committed file is the source (edited in Word or WPS, not generated): what is
    asked of it is the contract of ``wenshu template check``, not bytes."""
    assert DOCTYPES["notice"].template.problems() == []


def test_template_names_official_fonts_layout_and_language() -> None:
    xml = parts(template_path("notice").read_bytes())
    styles, document = xml["word/styles.xml"], xml["word/document.xml"]
    for font in ("仿宋_GB2312", "方正小标宋简体", "黑体", "楷体_GB2312", "宋体"):
        assert f'w:eastAsia="{font}"' in styles
    assert 'w:eastAsia="zh-CN"' in styles
    assert "E60000" in styles  # red mark and red rule
    assert '<w:pgSz w:w="11906" w:h="16838"/>' in document  # A4
    assert re.search(
        r'<w:pgMar w:top="2098" w:right="1474" w:bottom="1984" w:left="1587"', document
    )
    assert 'w:line="579" w:lineRule="exact"' in styles  # 22 lines of 28.95 pt
    assert "<w:evenAndOddHeaders/>" in xml["word/settings.xml"]
    footers = [v for k, v in xml.items() if k.startswith("word/footer")]
    assert len(footers) == 2 and all(" PAGE " in f and "— " in f for f in footers)
    styles_tree = etree.fromstring(styles.encode())
    ids = {s.get(f"{W}styleId") for s in styles_tree.iter(f"{W}style")}
    assert {"WenshuBody", "WenshuHeading1", "WenshuHeading4", "WenshuMark", "WenshuTitle"} <= ids


def test_sample_input_is_a_fresh_copy_and_paths_are_checked() -> None:
    first = sample_input("notice")
    first["title"] = "changed"
    assert sample_input("notice")["title"] != "changed"
    with pytest.raises(NotFoundError):
        template_path("../etc/passwd")
    with pytest.raises(NotFoundError):
        sample_input("no_such_type")


# ----------------------------------------------------------------------------- the DOCX


def test_no_template_tag_survives(sample_docx: bytes) -> None:
    for name, xml in parts(sample_docx).items():
        assert "{{" not in xml and "{%" not in xml and "{#" not in xml, name


def test_every_sample_value_is_on_paper(sample_docx: bytes) -> None:
    text = flat(sample_docx)
    loaded = NoticeSchema().load(SAMPLE)
    for value in strings(loaded):
        assert value in text, value
    for expected in (
        WENHAO,
        ORG.mark,
        ORG.name,
        "各县（市、区）医疗保障局，市医疗保险管理服务中心：",
        "2021年4月23日",  # 成文日期
        "2021年4月23日印发",
        "（此件依申请公开）",
        "抄送：山西省医疗保障局，吕梁市卫生健康委员会。",
        "联系人：高志礼",
        "附件：1.",
        "附件1",
    ):
        assert expected in text, expected


def test_title_is_broken_into_even_lines_at_word_boundaries(sample_docx: bytes) -> None:
    title = next(p for p in paragraphs(sample_docx) if p.startswith("吕梁市医疗保障局关于印发"))
    document = docx.Document(io.BytesIO(sample_docx))
    title_p = next(p for p in document.paragraphs if p.text.startswith("吕梁市医疗保障局关于印发"))
    lines = title_p.text.split("\n")
    assert "".join(lines) == title
    assert lines == [
        "吕梁市医疗保障局关于印发",
        "《吕梁市进一步引深打击欺诈骗保",
        "专项治理行动工作方案》的通知",
    ]
    assert balance_title("关于开展专项检查的通知") == "关于开展专项检查的通知"


def test_user_text_is_printed_literally() -> None:
    data = copy.deepcopy(SAMPLE)
    data["title"] = "关于{{ 7*7 }}与<b>&的通知"
    data["body"] = [
        {"text": "正文含有 {% if x %} 和 <b>& 以及 {{ 7*7 }}、{_{ 和 %_}。"},
        {"heading": "{{ 7*7 }}", "level": 1, "text": "<i>&amp;"},
    ]
    data["attachments"][0]["title"] = "{% raw %}<附件>"
    data["cc"] = ["{{ config }}"]
    blob = render(data)
    text = flat(blob)
    assert "关于{{ 7*7 }}与<b>&的通知" in text
    assert "正文含有 {% if x %} 和 <b>& 以及 {{ 7*7 }}、{_{ 和 %_}。" in text
    assert "一、{{ 7*7 }}。<i>&amp;" in text
    assert "{% raw %}<附件>" in text
    assert "抄送：{{ config }}。" in text
    assert "49" not in text
    for xml in parts(blob).values():
        etree.fromstring(xml.encode())  # still well-formed


def test_heading_numbers_are_generated_and_reset_under_their_parent() -> None:
    data = copy.deepcopy(SAMPLE)
    levels = [1, 2, 3, 4, 4, 3, 4, 2, 1, 2, 3]
    data["body"] = [{"heading": f"标题{i}", "level": lv} for i, lv in enumerate(levels)]
    data["body"].insert(3, {"text": "段落不影响编号。"})
    data["attachments"] = [{"title": "方案", "body": [{"heading": "附件标题", "level": 1}]}]
    texts = [t for t in paragraphs(render(data)) if "标题" in t]
    assert texts == [
        "一、标题0",
        "（一）标题1",
        "1.标题2",
        "（1）标题3",
        "（2）标题4",
        "2.标题5",
        "（1）标题6",
        "（二）标题7",
        "二、标题8",
        "（一）标题9",
        "1.标题10",
        "一、附件标题",  # an attachment counts from 一 again
    ]


@pytest.mark.parametrize(
    ("level", "n", "number"),
    [(1, 1, "一、"), (1, 10, "十、"), (1, 11, "十一、"), (1, 23, "二十三、"), (2, 4, "（四）"),
     (2, 12, "（十二）"), (3, 7, "7."), (4, 15, "（15）")],
)  # fmt: skip
def test_heading_number(level: int, n: int, number: str) -> None:
    assert heading_number(level, n) == number


def test_dates_use_arabic_numerals_without_leading_zeros() -> None:
    assert chinese_date(dt.date(2026, 1, 5)) == "2026年1月5日"


def test_defaults_come_from_the_org_and_the_issue_date() -> None:
    data = {"title": "关于x的通知", "addressees": ["各县局"], "body": [{"text": "正文。"}]}
    text = flat(render(data, seal=False, wenhao="吕医保发〔2026〕□号"))
    assert "吕医保发〔2026〕□号" in text
    assert "吕梁市医疗保障局2026年11月22日印发" in text  # printed_by and print_date (tab between)
    assert "2026年11月22日" in text.replace("2026年11月22日印发", "")  # 成文日期
    assert "抄送" not in text and "附件" not in text


def test_upward_document_shows_signer_secrecy_and_urgency() -> None:
    data = copy.deepcopy(SAMPLE)
    data.update(signer="张三", urgency="特急", secrecy="机密", secrecy_term="1年", copy_no="000012")
    texts = paragraphs(render(data))
    assert texts[:3] == ["000012", "机密★1年", "特急"]  # 份号, 密级★保密期限, 紧急程度
    assert texts[3] == ORG.mark
    assert texts[4] == f"{WENHAO}签发人：张三"


def test_seal_floats_in_front_of_signature_only_when_given(sample_docx: bytes) -> None:
    xml = parts(sample_docx)["word/document.xml"]
    anchor = re.search(r"<wp:anchor [^>]*>", xml)
    assert anchor and 'behindDoc="0"' in anchor.group(0)
    assert "<wp:inline" not in xml
    assert 'relativeFrom="paragraph"' in xml and "<wp:wrapNone/>" in xml
    with zipfile.ZipFile(io.BytesIO(sample_docx)) as z:
        media = [n for n in z.namelist() if n.startswith("word/media/")]
        assert len(media) == 1 and z.read(media[0]) == SEAL
    unsealed = render(SAMPLE, seal=False)
    assert "<wp:anchor" not in parts(unsealed)["word/document.xml"]


def test_equal_input_gives_identical_bytes(sample_docx: bytes) -> None:
    assert render(SAMPLE) == sample_docx


def test_unknown_doctype_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as info:
        render_docx("memo", {}, org=ORG, wenhao=WENHAO, issue_date=ISSUED)
    assert "type" in info.value.errors


def test_long_mark_is_narrowed_to_fit_the_type_area() -> None:
    org = Letterhead(
        name="吕梁市医疗保障局",
        mark="吕梁市医疗保障局吕梁市财政局吕梁市卫生健康委员会文件",
        zihao="吕医保发",
    )
    data = NoticeSchema().load(SAMPLE)
    blob = render_docx("notice", data, org=org, wenhao=WENHAO, issue_date=ISSUED)
    assert re.search(r'<w:w w:val="(\d+)"/>', parts(blob)["word/document.xml"])


# ----------------------------------------------------------------------------- seal, watermark


def test_seal_is_red_on_transparent() -> None:
    image = Image.open(io.BytesIO(SEAL))
    assert image.mode == "RGBA" and image.size == (600, 600)
    assert image.getpixel((2, 2))[3] == 0  # corner: transparent
    assert image.getpixel((300, 300))[3] == 0 or image.getpixel((300, 300))[:3] == (230, 0, 18)
    red = sum(1 for a in image.getchannel("A").tobytes() if a > 128)
    assert 0.08 < red / (600 * 600) < 0.5  # ring, star and characters, not a filled disc
    assert image.getpixel((300, 290))[3] > 128  # the star's centre
    assert make_seal_png(ORG.name, size_px=300) != make_seal_png("太原市医疗保障局", size_px=300)


def test_watermark_keeps_pages_and_sizes() -> None:
    writer = PdfWriter()
    writer.add_blank_page(595.3, 841.9)
    writer.add_blank_page(841.9, 595.3)
    buf = io.BytesIO()
    writer.write(buf)
    marked = PdfReader(io.BytesIO(watermark_draft(buf.getvalue())))
    assert [
        (round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in marked.pages
    ] == [
        (595, 842),
        (842, 595),
    ]
    for page in marked.pages:
        assert "/Draft" in str(page["/Resources"]["/XObject"])


# ----------------------------------------------------------------------------- LibreOffice


@pytest.mark.soffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_soffice_converts_sample_to_a4_pdf_with_embedded_fonts(
    sample_docx: bytes, tmp_path: Path
) -> None:
    source = tmp_path / "notice.docx"
    source.write_bytes(sample_docx)
    env = {**os.environ, "FONTCONFIG_FILE": str(FONTS_CONF), "HOME": str(tmp_path)}
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = (tmp_path / "notice.pdf").read_bytes()
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 5
    for page in reader.pages:
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)

    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(tmp_path / "notice.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    squeezed = re.sub(r"\s+", "", text)
    assert WENHAO in squeezed
    assert SAMPLE["title"] in squeezed
    assert "—1—" in squeezed and "2021年4月23日印发" in squeezed

    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "notice.pdf")], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    column = fonts[0].index("emb")
    rows = [line for line in fonts[2:] if line.strip()]
    assert rows and all(line[column : column + 3] == "yes" for line in rows), fonts
    names = " ".join(line.split()[0] for line in rows)
    for face in (
        "FandolFang",
        "FandolSong-Bold",
        "FandolHei",
        "FandolKai",
    ):  # 仿宋 小标宋 黑体 楷体
        assert face in names, names
    assert "Noto" not in names and "UKai" not in names
    assert "DejaVu" not in names  # every official font name found its alias

    marked = tmp_path / "preview.pdf"
    marked.write_bytes(watermark_draft(pdf))
    again = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(marked), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert WENHAO in re.sub(r"\s+", "", again)
    assert len(PdfReader(marked).pages) == len(reader.pages)
