"""检查记录单 (inspection record): the form an inspection team fills in on site and signs by
hand (DOCTYPES.md §2; seed 002, 附件 专项治理检查记录单). Every complete case holds one."""

from __future__ import annotations

from typing import Any

from schemas.inspection_record import InspectionRecordSchema
from service.doctypes.registry import CaseRole, DocType, FormText, OrgNames, region_of
from service.documents import render_record
from service.documents.templates import Template


def _title(data: dict[str, Any], org: OrgNames) -> str:
    return f"{region_of(org)}定点医疗机构专项治理检查记录单"


DOCTYPE = DocType(
    code="inspection_record",
    label="检查记录单",
    order=20,
    schema=InspectionRecordSchema,
    issuers=frozenset({"inspector"}),
    numbered=False,
    retention="D30",
    needs_approval=False,
    hand_signed=True,
    signatures=("被核查对象签名", "专家组签名", "记录人签名"),
    case_role=CaseRole(),
    renderer=render_record.INSPECTION_RECORD,
    template=Template(
        "inspection_record.docx",
        "inspection_record.sample.json",
        styles=frozenset({"WenshuBody"}),
        placeholders=frozenset(
            {
                "title",
                "location",
                "time_span",
                "recorder",
                "org_name",
                "matter",
                "s_name",
                "s_category",
                "s_address",
                "s_legal_rep",
                "s_phone",
                "s_id_code",
                "subject_is_person",
                "you",
                "inspectors",
                "witness",
                "findings",
            }
        ),
    ),
    default_title=_title,
    form=FormText(
        description="现场检查记录，检查人员至少 2 人",
        sections=(
            ("基本信息", ("title", "location", "started_at", "ended_at", "matter")),
            ("检查对象", ("subject",)),
            ("人员", ("inspectors", "recorder", "witness")),
            ("线索核查情况", ("findings",)),
        ),
        labels={
            "InspectionRecordSchema": {
                "title": ("标题", "留空则为“××定点医疗机构专项治理检查记录单”"),
                "location": ("检查地点", ""),
                "started_at": ("开始时间", ""),
                "ended_at": ("结束时间", ""),
                "subject": ("检查对象", ""),
                "inspectors": ("检查人员", "至少 2 人"),
                "recorder": ("记录人", ""),
                "matter": ("检查事项", "填入“现对你单位____进行检查”"),
                "findings": ("线索核查情况", "每段一项"),
                "witness": ("见证人", ""),
            },
            "SubjectSchema": {
                "kind": ("对象类别", ""),
                "name": ("单位全称或姓名", ""),
                "category": ("类别/性质", "个人填性别"),
                "address": ("地址", ""),
                "legal_rep": ("法定代表人", "个人填工作单位"),
                "phone": ("联系电话", ""),
                "id_code": ("统一社会信用代码或身份证号", "单位填信用代码，个人填身份证号"),
            },
        },
        items={
            "inspectors": ("检查人员", "{n}."),
            "findings": ("一段", "第 {n} 段"),
        },
        choices={"institution": "单位", "person": "个人"},
    ),
)
