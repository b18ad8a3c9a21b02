"""询问笔录 (interview transcript): the questions put to a person and the answers, signed by
the interviewee on every page (DOCTYPES.md §3; seed 002, 附件 专项治理检查询问笔录). Every
complete case holds one."""

from __future__ import annotations

from typing import Any

from schemas.interview_transcript import InterviewTranscriptSchema
from service.doctypes.registry import CaseRole, DocType, FormText, OrgNames, region_of
from service.documents import render_record
from service.documents.templates import Template


def _title(data: dict[str, Any], org: OrgNames) -> str:
    return f"{region_of(org)}定点医疗机构专项治理检查询问笔录"


DOCTYPE = DocType(
    code="interview_transcript",
    label="询问笔录",
    order=30,
    schema=InterviewTranscriptSchema,
    issuers=frozenset({"inspector"}),
    numbered=False,
    retention="D30",
    needs_approval=False,
    hand_signed=True,
    signatures=("被询问人签名", "承办人签名"),
    case_role=CaseRole(),
    renderer=render_record.INTERVIEW_TRANSCRIPT,
    template=Template(
        "interview_transcript.docx",
        "interview_transcript.sample.json",
        styles=frozenset({"WenshuQuestion", "WenshuAnswer", "WenshuLabelChar"}),
        placeholders=frozenset(
            {
                "title",
                "location",
                "time_span",
                "recorder",
                "org_name",
                "matter",
                "p_name",
                "p_gender",
                "p_address",
                "p_position",
                "p_phone",
                "p_id_number",
                "interviewers",
                "qa",
            }
        ),
    ),
    default_title=_title,
    form=FormText(
        description="询问被检查对象的笔录，承办人至少 2 人",
        sections=(
            ("基本信息", ("title", "location", "started_at", "ended_at", "matter")),
            ("被询问人", ("interviewee",)),
            ("人员", ("interviewers", "recorder")),
            ("询问内容", ("qa",)),
        ),
        labels={
            "InterviewTranscriptSchema": {
                "title": ("标题", "留空则为“××定点医疗机构专项治理检查询问笔录”"),
                "location": ("询问地点", ""),
                "started_at": ("开始时间", ""),
                "ended_at": ("结束时间", ""),
                "interviewee": ("被询问人", ""),
                "interviewers": ("承办人", "至少 2 人，否则被询问人有权拒绝回答"),
                "recorder": ("记录人", ""),
                "matter": ("调查询问之事", "填入“现对____之事进行调查询问”"),
                "qa": ("询问内容", "按顺序记录每一组问答"),
            },
            "IntervieweeSchema": {
                "name": ("姓名", ""),
                "gender": ("性别", ""),
                "address": ("联系地址", ""),
                "position": ("工作岗位", ""),
                "phone": ("联系电话", ""),
                "id_number": ("身份证号", ""),
            },
            "QASchema": {
                "q": ("问", ""),
                "a": ("答", ""),
            },
        },
        items={
            "interviewers": ("承办人", "{n}."),
            "qa": ("一组问答", "第 {n} 组问答"),
        },
    ),
)
