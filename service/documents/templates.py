"""A document type's DOCX template, the example input kept next to it, and what the template
and its renderer agree on.

The templates are built by ``scripts/build_templates.py``; a renderer fills their docxtpl
placeholders and adds paragraphs in their named styles. python-docx gives a paragraph whose
style the template lacks the default look without a word, and a placeholder dropped from a
template drops a value from paper, so each type states the styles and placeholders it relies
on (:class:`Template`) and :meth:`Template.problems` checks a template file against them.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docxtpl import DocxTemplate
from jinja2.sandbox import SandboxedEnvironment

from archive.errors import NotFoundError

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "doc_templates"

_STYLE_ID = re.compile(r'w:styleId="([^"]+)"')


@dataclass(frozen=True)
class Template:
    """One type's template and example input, and the contract between template and renderer."""

    file: str
    """The DOCX template, e.g. ``notice.docx`` (in ``folder``)."""
    sample: str
    """The realistic example input kept next to it, e.g. ``notice.sample.json``: the API's
    ``GET /api/v1/doctypes`` and the web form show it, the tests render it."""
    styles: frozenset[str] = frozenset()
    """Paragraph and character styles the renderer builds paragraphs in (style ids)."""
    placeholders: frozenset[str] = frozenset()
    """The docxtpl variables of the template: the renderer's context has exactly these."""
    folder: Path = field(default=TEMPLATES_DIR)
    """Where both files are: ``doc_templates/``."""

    @property
    def path(self) -> Path:
        return self.folder / self.file

    @property
    def sample_path(self) -> Path:
        return self.folder / self.sample

    def sample_input(self) -> dict[str, Any]:
        """The example input (a fresh copy each call)."""
        try:
            data: dict[str, Any] = json.loads(self.sample_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise NotFoundError(f"没有示例输入 {self.sample}") from exc
        return data

    def problems(self) -> list[str]:
        """What the template file lacks of this contract, or has beyond it (empty: it fits)."""
        if not self.path.exists():
            return [f"没有模板文件 {self.file}"]
        with zipfile.ZipFile(self.path) as z:
            styles = set(_STYLE_ID.findall(z.read("word/styles.xml").decode("utf-8")))
        found = DocxTemplate(self.path).get_undeclared_template_variables(SandboxedEnvironment())
        out = [f"模板 {self.file} 缺少样式 {s}" for s in sorted(self.styles - styles)]
        out += [f"模板 {self.file} 缺少占位符 {p}" for p in sorted(self.placeholders - found)]
        out += [f"模板 {self.file} 有未约定的占位符 {p}" for p in sorted(found - self.placeholders)]
        return out
