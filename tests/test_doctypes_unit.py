"""A document type is one unit: its module in service/doctypes/, its schema, its template and
sample. Nothing else names a type's code, each declaration is checked against the files it
points at, the consumers answer from the registry, and a fifth type needs nothing more.
"""

from __future__ import annotations

import ast
import datetime as dt
import io
import re
import shutil
import zipfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from docxtpl import DocxTemplate

from archive.errors import NotFoundError
from archive.retention import YEARS
from archive.search.extract import input_facts
from schemas import INPUT_SCHEMAS
from schemas.fields import SEARCH_ROLES, WenshuSchema
from schemas.notice import NoticeSchema
from service import policy
from service.doctypes import DOCTYPES, HAND_SIGNED, DocType, FormText, sample_input, template_path
from service.doctypes.registry import build_registry
from service.documents.layout import Letterhead, RenderJob
from service.documents.templates import Template
from service.settings import load_settings
from service.workflows.cases import REQUIRED
from tests.support import ROOT

ORG = Letterhead(name="吕梁市医疗保障局", mark="吕梁市医疗保障局文件", zihao="吕医保发")
ISSUED = dt.date(2021, 5, 20)
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
SCANNED = ("service", "archive", "schemas")  # scripts/ may name sample types (benchmarks)


class Names:
    name = "吕梁市医疗保障局"
    region = "吕梁市"


def _loaded(doctype: DocType) -> dict:
    data = doctype.schema().load(doctype.sample_input())
    return {**data, "title": doctype.title(data, Names())}


def _xml_parts(blob: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml")}


# ----------------------------------------------------------------------------- one place


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module that are not documentation (a bare string statement: a
    docstring, an attribute's docstring), with their line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def test_a_type_code_is_written_only_in_its_own_modules() -> None:
    codes = sorted(DOCTYPES, key=len, reverse=True)
    word = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(codes) + r")(?![A-Za-z0-9_])")
    stray = []
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            where = str(path.relative_to(ROOT))
            for line, text in _code_strings(path):
                for code in word.findall(text):
                    if where not in (f"schemas/{code}.py", f"service/doctypes/{code}.py"):
                        stray.append(f"{where}:{line}: {text!r}")
    assert stray == []


def test_the_scan_sees_a_code_in_code_and_not_in_documentation(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        '"""Mentions notice."""\n'
        "TYPES = ['notice']\n"
        "LABEL = f'{1}inspection_report'\n"
        "def f():\n"
        '    """Also inspection_record."""\n'
        "# interview_transcript\n",
        encoding="utf-8",
    )
    assert [text for _, text in _code_strings(module)] == ["notice", "inspection_report"]


def test_each_module_of_the_package_is_a_registered_type_named_by_its_code() -> None:
    modules = {
        p.stem for p in (ROOT / "service" / "doctypes").glob("*.py") if p.stem != "registry"
    } - {"__init__"}
    assert modules == set(DOCTYPES)
    assert list(DOCTYPES) == [
        "notice",
        "inspection_record",
        "interview_transcript",
        "inspection_report",
    ]


# ----------------------------------------------------------------------------- declarations


@pytest.mark.parametrize("code", list(DOCTYPES))
def test_a_declaration_fits_its_schema_template_and_sample(code: str) -> None:
    doctype = DOCTYPES[code]
    assert INPUT_SCHEMAS[code] is doctype.schema
    assert (ROOT / "schemas" / f"{code}.py").exists()
    assert doctype.retention in YEARS
    assert doctype.issuers <= policy.PERMISSIONS["documents.issue"]
    assert doctype.template.path.exists() and doctype.template.sample_path.exists()
    assert doctype.template.problems() == []
    doctype.schema().load(doctype.sample_input())  # the sample is valid input


@pytest.mark.parametrize("code", list(DOCTYPES))
def test_the_renderer_fills_exactly_the_placeholders_the_template_declares(code: str) -> None:
    doctype = DOCTYPES[code]
    tpl = DocxTemplate(doctype.template.path)
    job = RenderJob(code, _loaded(doctype), ORG, "吕医保发〔2021〕44号", ISSUED, None)
    assert set(doctype.renderer.build_context(tpl, job)) == doctype.template.placeholders


@pytest.mark.parametrize("code", list(DOCTYPES))
def test_every_style_on_paper_is_one_the_template_defines(code: str) -> None:
    """python-docx gives a paragraph of an undefined style the default look, silently."""
    doctype = DOCTYPES[code]
    xml = _xml_parts(doctype.render(_loaded(doctype), org=ORG, wenhao="", issue_date=ISSUED))
    defined = set(re.findall(r'w:styleId="([^"]+)"', xml["word/styles.xml"]))
    used = {
        value
        for name, text in xml.items()
        if name.startswith(("word/document", "word/header", "word/footer"))
        for value in re.findall(r'<w:[pr]Style w:val="([^"]+)"', text)
    }
    assert used and used <= defined
    assert doctype.template.styles <= defined


def test_a_template_that_breaks_its_contract_says_how(tmp_path: Path) -> None:
    notice = DOCTYPES["notice"].template
    shutil.copy(notice.path, tmp_path / "notice.docx")
    broken = replace(
        notice,
        folder=tmp_path,
        styles=notice.styles | {"WenshuNoSuchStyle"},
        placeholders=(notice.placeholders - {"cc_line"}) | {"no_such_field"},
    )
    assert broken.problems() == [
        "模板 notice.docx：缺少样式 WenshuNoSuchStyle（须保留模板原有的样式，勿删除或改名）",
        "模板 notice.docx：缺少占位符 {{ no_such_field }}",
        "模板 notice.docx：有本类文书没有的占位符 {{ cc_line }}"
        "（只能使用 docs/templates.md 所列的占位符）",
    ]
    assert replace(notice, file="gone.docx", folder=tmp_path).problems() == [
        "没有模板文件 gone.docx"
    ]


def test_every_search_role_in_a_schema_is_one_search_knows() -> None:
    seen: set[str] = set()

    def walk(schema: type[WenshuSchema]) -> None:
        for field in schema().fields.values():
            inner = getattr(field, "inner", field)
            for f in {id(field): field, id(inner): inner}.values():
                roles = [f.metadata.get("search")]
                roles += [
                    r for by in f.metadata.get("search_when", {}).values() for r in by.values()
                ]
                for role in filter(None, roles):
                    assert role in SEARCH_ROLES, (schema.__name__, role)
                    seen.add(role)
            nested = getattr(inner, "nested", None)
            if isinstance(nested, type):
                walk(nested)

    for schema in INPUT_SCHEMAS.values():
        walk(schema)
    assert seen == set(SEARCH_ROLES)


# ----------------------------------------------------------------------------- consumers


def test_the_lookups_by_code_answer_from_the_declarations() -> None:
    for code, doctype in DOCTYPES.items():
        assert (
            template_path(code) == doctype.template.path == ROOT / "doc_templates" / f"{code}.docx"
        )
        assert sample_input(code) == doctype.sample_input()
    with pytest.raises(NotFoundError):
        template_path("memo")


def test_retention_is_the_types_unless_the_environment_overrides_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WENSHU_RETENTION", "inspection_record=10年")
    overrides = load_settings({"DATA_DIR": "/nonexistent"}).retention
    assert {code: d.retention_in(overrides) for code, d in DOCTYPES.items()} == {
        "notice": "D30",
        "inspection_record": "D10",
        "interview_transcript": "D30",
        "inspection_report": "Y",
    }


def test_a_case_needs_a_record_a_transcript_and_a_report_and_the_forms_signed() -> None:
    assert REQUIRED == (
        ("inspection_record", "检查记录单", 1),
        ("interview_transcript", "询问笔录", 1),
        ("inspection_report", "检查报告", 1),
    )
    assert HAND_SIGNED == {"inspection_record", "interview_transcript"}


@pytest.mark.parametrize(
    ("code", "institutions", "persons", "inspectors", "amount"),
    [
        ("notice", (), ("高志礼",), (), None),
        (
            "inspection_record",
            ("吕梁市离石区康宁医院",),
            ("冯建明", "赵志明"),
            ("张建国", "李晓燕", "王海涛", "刘芳"),
            None,
        ),
        ("interview_transcript", (), ("赵志明",), ("张建国", "李晓燕", "刘芳"), None),
        (
            "inspection_report",
            ("吕梁市离石区康宁医院", "山西仁和堂大药房连锁有限公司离石滨河店", "离石区济民诊所"),
            (),
            (),
            Decimal("102300.5"),
        ),
    ],
)
def test_search_reads_each_sample_by_the_roles_its_schema_marks(
    code: str,
    institutions: tuple[str, ...],
    persons: tuple[str, ...],
    inspectors: tuple[str, ...],
    amount: Decimal | None,
) -> None:
    facts = input_facts(code, DOCTYPES[code].sample_input())
    assert (facts.institutions, facts.persons, facts.inspectors) == (
        institutions,
        persons,
        inspectors,
    )
    assert facts.amount == amount


def test_a_person_inspected_is_a_person_and_their_employer_an_institution() -> None:
    data = DOCTYPES["inspection_record"].sample_input()
    data["subject"] = {"kind": "person", "name": "于是非", "legal_rep": "吕梁市离石区惠民诊所"}
    facts = input_facts("inspection_record", data)
    assert facts.persons[0] == "于是非" and facts.institutions == ("吕梁市离石区惠民诊所",)
    report = input_facts("inspection_report", {"violations": []})
    assert report.amount == Decimal(0) and input_facts("memo", {}).amount is None


# ----------------------------------------------------------------------------- a fifth type


class MemoSchema(NoticeSchema):
    doctype = "memo"


def test_a_fifth_type_is_one_declaration_a_schema_a_template_and_a_sample(tmp_path: Path) -> None:
    """Declared as a module in service/doctypes/ would declare it (docs/doctypes.md), built
    into a registry of its own: the production registry and lookups stay as they are."""
    notice = DOCTYPES["notice"]
    shutil.copy(notice.template.path, tmp_path / "memo.docx")
    shutil.copy(notice.template.sample_path, tmp_path / "memo.sample.json")
    memo = DocType(
        code="memo",
        label="备忘录",
        order=50,
        schema=MemoSchema,
        issuers=frozenset({"clerk"}),
        numbered=False,
        retention="D10",
        hand_signed=False,
        case_role=None,
        renderer=notice.renderer,
        template=Template(
            "memo.docx",
            "memo.sample.json",
            styles=notice.template.styles,
            placeholders=notice.template.placeholders,
            folder=tmp_path,
        ),
        form=FormText("内部备忘", (("基本信息", ("title",)),), notice.form.labels),
    )
    registry = build_registry([*DOCTYPES.values(), memo])
    assert list(registry)[-1] == "memo" and "memo" not in DOCTYPES
    assert memo.template.problems() == []
    data = MemoSchema().load(memo.sample_input())
    docx = memo.render(
        {**data, "title": memo.title(data, Names())}, org=ORG, wenhao="", issue_date=ISSUED
    )
    assert data["title"] in "".join(
        re.findall(r"<w:t[^>]*>([^<]*)", _xml_parts(docx)["word/document.xml"])
    )
    assert memo.retention_in(load_settings({"DATA_DIR": "/nonexistent"}).retention) == "D10"
    with pytest.raises(NotFoundError):
        sample_input("memo")  # not in the production registry
    with pytest.raises(ValueError, match="two document types with the code"):
        build_registry([*DOCTYPES.values(), replace(memo, code="notice")])
    with pytest.raises(ValueError, match="two document types in the place"):
        build_registry([*DOCTYPES.values(), replace(memo, order=notice.order)])
    with pytest.raises(ValueError, match="says doctype"):
        build_registry([replace(memo, schema=NoticeSchema)])
