"""通知 (notice): the numbered official document in the GB/T 9704-2012 red-header format
(DOCTYPES.md §1; seeds 000, 002). A clerk issues it; its 发文字号 is allocated at issue."""

from __future__ import annotations

from typing import Any

from schemas.notice import NoticeSchema, is_upward
from service.doctypes.registry import DocType, FormText
from service.documents import render_notice
from service.documents.templates import Template


def _approver_field(data: dict[str, Any]) -> str | None:
    """GB/T 9704 7.2.4: a 上行文 names its 签发人 in the 版头."""
    return "signer" if is_upward(data) else None


DOCTYPE = DocType(
    code="notice",
    label="通知",
    order=10,
    schema=NoticeSchema,
    issuers=frozenset({"clerk"}),
    numbered=True,
    retention="D30",
    needs_approval=True,
    approver_field=_approver_field,
    hand_signed=False,
    case_role=None,
    renderer=render_notice.RENDERER,
    template=Template(
        "notice.docx",
        "notice.sample.json",
        styles=frozenset(
            {
                "WenshuBody",
                "WenshuBodyChar",
                "WenshuHeading1",
                "WenshuHeading2",
                "WenshuHeading3",
                "WenshuHeading4",
                "WenshuAttachmentList",
                "WenshuAttachmentListMore",
                "WenshuAttachmentLabel",
                "WenshuAttachmentTitle",
                "WenshuSignature",
                "WenshuDate",
                "WenshuMark",  # a long mark is narrowed in this style's paragraphs
            }
        ),
        placeholders=frozenset(
            {
                "copy_no_line",
                "secrecy_line",
                "urgency_line",
                "mark",
                "wenhao",
                "signer",
                "title",
                "addressee_line",
                "body",
                "attachment_list",
                "signature",
                "note",
                "attachment_pages",
                "cc_line",
                "printed_by",
                "print_date_text",
            }
        ),
    ),
    form=FormText(
        description="红头文件，签发时自动分配发文字号（文号）",
        sections=(
            ("基本信息", ("title", "addressees", "date", "note")),
            ("正文", ("body",)),
            ("附件", ("attachments",)),
            ("联系人与版记", ("contact", "cc", "printed_by", "print_date")),
            (
                "其他要素（可选）",
                ("direction", "signer", "urgency", "secrecy", "secrecy_term", "copy_no"),
            ),
        ),
        labels={
            "NoticeSchema": {
                "title": ("标题", "如：关于印发《……工作方案》的通知"),
                "addressees": ("主送机关", "每行一个机关，末尾不必加标点"),
                "body": ("正文", "标题序号（一、（一）1.（1））自动生成，不必输入"),
                "attachments": (
                    "附件",
                    "只填标题即列入附件说明；填写正文、附件文件或本机关文书则附在正文之后另页印出",
                ),
                "contact": ("联系人", ""),
                "direction": ("行文方向", "留空为下行文；上行文在版头印出签发人"),
                "signer": ("签发人", "仅上行文；经签发的公文留空，自动印签发人姓名"),
                "urgency": ("紧急程度", ""),
                "secrecy": ("密级", ""),
                "secrecy_term": ("保密期限", "如：1年、6个月、长期"),
                "copy_no": ("份号", "6 位数字，如 000001；涉密公文必填"),
                "date": ("成文日期", "留空则为签发当日"),
                "note": ("附注", "如：此件依申请公开（括号自动加）"),
                "cc": ("抄送机关", "每行一个机关"),
                "printed_by": ("印发机关", "留空则为本机关"),
                "print_date": ("印发日期", "留空则为签发当日"),
            },
            "BlockSchema": {
                "heading": ("标题", ""),
                "level": ("层级", ""),
                "text": ("内容", ""),
            },
            "AttachmentSchema": {
                "title": ("附件标题", ""),
                "body": ("附件正文", "可留空"),
                "upload_id": ("附件文件", "上传的 PDF 或 DOCX 的编号（POST /api/v1/uploads）"),
                "document_id": ("本机关文书", "以本机关已发文书作为附件：填文书编号"),
            },
            "ContactSchema": {
                "name": ("姓名", ""),
                "phone": ("电话", "如：0358-8221234 或 13835812476"),
                "email": ("电子邮箱", ""),
            },
        },
        items={
            "addressees": ("主送机关", "{n}."),
            "cc": ("抄送机关", "{n}."),
            "body": ("一段", "第 {n} 段"),
            "attachments": ("附件", "附件 {n}"),
        },
    ),
)
