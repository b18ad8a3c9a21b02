"""检查报告 (inspection report): the report on an inspection, with the violations found and
the figures computed from them (DOCTYPES.md §4; seed 002, 附件3 检查报告（模板）; seed 001).
It is kept permanently (永久), and every complete case holds one."""

from __future__ import annotations

from typing import Any

from schemas.inspection_report import InspectionReportSchema, report_facts
from service.doctypes.registry import CaseRole, DocType, FormText, OrgNames
from service.documents import render_report
from service.documents.templates import Template


def _title(data: dict[str, Any], org: OrgNames) -> str:
    return f"{org.name}关于定点医药机构{data['inspection_type']}情况的报告"


DOCTYPE = DocType(
    code="inspection_report",
    label="检查报告",
    order=40,
    schema=InspectionReportSchema,
    issuers=frozenset({"inspector", "clerk"}),
    numbered=False,
    retention="Y",
    needs_approval=True,
    hand_signed=False,
    case_role=CaseRole(),
    renderer=render_report.RENDERER,
    template=Template(
        "inspection_report.docx",
        "inspection_report.sample.json",
        styles=frozenset({"WenshuBody", "WenshuSignature", "WenshuDate"}),
        placeholders=frozenset(
            {
                "title",
                "org_name",
                "inspection_type",
                "team_size",
                "period",
                "region",
                "basic_situation",
                "main_practices",
                "common_problems",
                "typical_problems",
                "violations",
                "institutions",
                "major",
                "general",
                "total_amount",
                "suggestions",
                "signature",
            }
        ),
    ),
    default_title=_title,
    facts=report_facts,
    form=FormText(
        description="专项检查情况报告，自动计算金额与审议级别",
        sections=(
            (
                "基本信息",
                ("title", "inspection_type", "team_size", "started_on", "ended_on", "region"),
            ),
            ("正文", ("basic_situation", "main_practices", "common_problems", "typical_problems")),
            ("违规机构及处理", ("violations",)),
            ("意见和建议", ("suggestions",)),
        ),
        labels={
            "InspectionReportSchema": {
                "title": ("标题", "留空则按机构和检查方式生成"),
                "inspection_type": ("检查方式", ""),
                "team_size": ("检查组人数", ""),
                "started_on": ("开始日期", ""),
                "ended_on": ("结束日期", ""),
                "region": ("检查地区", "如：离石区"),
                "basic_situation": ("一、基本情况", "每段一项"),
                "main_practices": ("二、主要做法", ""),
                "common_problems": ("（一）共性问题", ""),
                "typical_problems": ("（二）典型问题", ""),
                "violations": ("四、检查结果和处理情况", "审议级别（重大/一般）与合计金额自动计算"),
                "suggestions": ("五、意见和建议", ""),
            },
            "ViolationSchema": {
                "institution": ("机构名称", ""),
                "id_code": ("统一社会信用代码", ""),
                "institution_type": ("机构类型", ""),
                "issue": ("违规问题", ""),
                "amount": ("涉及金额（元）", ""),
                "measures": ("处理措施", "可多选"),
            },
        },
        items={"violations": ("违规机构", "违规机构 {n}")},
    ),
)
