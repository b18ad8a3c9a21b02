"""A worker keeps what it derives from a template by the template's content: a template
replaced on disk (a new version, another org's) prints at once, and the old one still does."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import shutil
import zipfile
from pathlib import Path

from schemas.notice import NoticeSchema
from service.doctypes import DOCTYPES, sample_input
from service.documents.render import Letterhead, render_document

ORG = Letterhead(name="吕梁市医疗保障局", mark="吕梁市医疗保障局文件", zihao="吕医保发")


def _render(folder: Path) -> str:
    notice = DOCTYPES["notice"]
    data = NoticeSchema().load(sample_input("notice"))
    data["title"] = "关于开展专项检查的通知"
    docx = render_document(
        notice.renderer,
        dataclasses.replace(notice.template, folder=folder),
        "notice",
        data,
        org=ORG,
        wenhao="吕医保发〔2026〕1号",
        issue_date=dt.date(2026, 12, 1),
    )
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        return z.read("word/document.xml").decode("utf-8")


def _rewrite(template: Path, old: str, new: str) -> None:
    """The template with ``old`` replaced by ``new`` in its body (other parts as they were)."""
    with zipfile.ZipFile(template) as z:
        parts = {i: z.read(i) for i in z.infolist()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in parts.items():
            if info.filename == "word/document.xml":
                data = data.decode("utf-8").replace(old, new).encode("utf-8")
            z.writestr(info, data)
    template.write_bytes(out.getvalue())


def test_a_template_replaced_on_disk_prints_at_once(tmp_path: Path) -> None:
    template = DOCTYPES["notice"].template
    path = tmp_path / template.file
    shutil.copy(template.path, path)
    original = path.read_bytes()
    assert "第二版" not in _render(tmp_path)
    _rewrite(path, "{{ wenhao }}", "{{ wenhao }}第二版")
    assert "第二版" in _render(tmp_path)  # same path, new content: not the cached one
    path.write_bytes(original)
    assert "第二版" not in _render(tmp_path)  # and back


def test_a_changed_placeholder_is_compiled_anew(tmp_path: Path) -> None:
    template = DOCTYPES["notice"].template
    shutil.copy(template.path, tmp_path / template.file)
    _rewrite(tmp_path / template.file, "{{ title }}", "{{ title }}（修订）")
    assert "（修订）" in _render(tmp_path)
    assert "（修订）" not in _render(template.folder)
