"""The registry of document types: schema, who may issue, retention, derived title and facts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema

from schemas.notice import NoticeSchema


def _no_facts(data: dict[str, Any]) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class DocType:
    code: str
    label: str
    schema: type[Schema]
    issuers: frozenset[str]  # roles that may issue it (admin may issue everything)
    numbered: bool  # carries a 发文字号
    default_title: Callable[[dict[str, Any], str], str] = field(default=lambda data, region: "")
    facts: Callable[[dict[str, Any]], dict[str, Any]] = _no_facts

    def title(self, data: dict[str, Any], org_region: str) -> str:
        return str(data.get("title") or self.default_title(data, org_region) or self.label)


DOCTYPES: dict[str, DocType] = {
    "notice": DocType("notice", "通知", NoticeSchema, frozenset({"clerk"}), numbered=True),
}


def get_doctype(code: str) -> DocType | None:
    return DOCTYPES.get(code)
