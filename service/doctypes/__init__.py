"""The registry of document types: schema, who may issue, derived title and computed facts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from marshmallow import Schema

from schemas.inspection_record import InspectionRecordSchema
from schemas.inspection_report import InspectionReportSchema, report_facts
from schemas.interview_transcript import InterviewTranscriptSchema
from schemas.notice import NoticeSchema


class OrgNames(Protocol):
    name: str
    region: str


def _no_facts(data: dict[str, Any]) -> dict[str, Any]:
    return {}


def _no_title(data: dict[str, Any], org: OrgNames) -> str:
    return ""


@dataclass(frozen=True)
class DocType:
    code: str
    label: str
    schema: type[Schema]
    issuers: frozenset[str]  # roles that may issue it (admin may issue everything)
    numbered: bool  # carries a 发文字号
    default_title: Callable[[dict[str, Any], OrgNames], str] = _no_title
    facts: Callable[[dict[str, Any]], dict[str, Any]] = _no_facts

    def title(self, data: dict[str, Any], org: OrgNames) -> str:
        """The title typed by the user, else the type's default for this org (seed 002)."""
        return str(data.get("title") or self.default_title(data, org) or self.label)


def _region(org: OrgNames) -> str:
    return org.region or org.name.removesuffix("医疗保障局")


DOCTYPES: dict[str, DocType] = {
    dt.code: dt
    for dt in (
        DocType("notice", "通知", NoticeSchema, frozenset({"clerk"}), numbered=True),
        DocType(
            "inspection_record",
            "检查记录单",
            InspectionRecordSchema,
            frozenset({"inspector"}),
            numbered=False,
            default_title=lambda data, org: f"{_region(org)}定点医疗机构专项治理检查记录单",
        ),
        DocType(
            "interview_transcript",
            "询问笔录",
            InterviewTranscriptSchema,
            frozenset({"inspector"}),
            numbered=False,
            default_title=lambda data, org: f"{_region(org)}定点医疗机构专项治理检查询问笔录",
        ),
        DocType(
            "inspection_report",
            "检查报告",
            InspectionReportSchema,
            frozenset({"inspector", "clerk"}),
            numbered=False,
            default_title=lambda data, org: (
                f"{org.name}关于定点医药机构{data['inspection_type']}情况的报告"
            ),
            facts=report_facts,
        ),
    )
}


def get_doctype(code: str) -> DocType | None:
    return DOCTYPES.get(code)
