"""Chinese words shared by pages and reports: role names, and a label (with a hint where one
helps) for every input field of the web forms.

Keyed by schema class and field name, so a nested schema used by two types (``BlockSchema``)
is labelled once. ``tests/test_web.py`` checks that every field of every schema has a label.
"""

from __future__ import annotations

#: role → its name on the pages
ROLE_LABELS = {"clerk": "文秘", "inspector": "检查员", "auditor": "审计员", "admin": "管理员"}

#: schema class → field → (label, hint)
FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "NoticeSchema": {
        "title": ("标题", "如：关于印发《……工作方案》的通知"),
        "addressees": ("主送机关", "每行一个机关，末尾不必加标点"),
        "body": ("正文", "标题序号（一、（一）1.（1））自动生成，不必输入"),
        "attachments": ("附件", "只填标题即列入附件说明；填写正文则另起一页印出"),
        "contact": ("联系人", ""),
        "signer": ("签发人", "仅上行文填写"),
        "urgency": ("紧急程度", ""),
        "secrecy": ("密级", ""),
        "secrecy_term": ("保密期限", "如：1年、6个月、长期"),
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
    },
    "ContactSchema": {
        "name": ("姓名", ""),
        "phone": ("电话", "如：0358-8221234 或 13835812476"),
        "email": ("电子邮箱", ""),
    },
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
}

#: Display words for coded choices (the stored value stays what the API expects).
CHOICES: dict[str, str] = {"institution": "单位", "person": "个人"}

#: A list's items: what the add button adds, and how an item is numbered ({n} from 1).
ITEM: dict[str, tuple[str, str]] = {
    "addressees": ("主送机关", "{n}."),
    "cc": ("抄送机关", "{n}."),
    "body": ("一段", "第 {n} 段"),
    "attachments": ("附件", "附件 {n}"),
    "inspectors": ("检查人员", "{n}."),
    "interviewers": ("承办人", "{n}."),
    "findings": ("一段", "第 {n} 段"),
    "qa": ("一组问答", "第 {n} 组问答"),
    "violations": ("违规机构", "违规机构 {n}"),
}
ITEM_DEFAULT = ("一项", "第 {n} 项")

#: Sections of each type's form, in order; fields not named fall into the last section.
#: A section whose title ends in "（可选）" starts folded.
SECTIONS: dict[str, list[tuple[str, list[str]]]] = {
    "notice": [
        ("基本信息", ["title", "addressees", "date", "note"]),
        ("正文", ["body"]),
        ("附件", ["attachments"]),
        ("联系人与版记", ["contact", "cc", "printed_by", "print_date"]),
        ("其他要素（可选）", ["urgency", "secrecy", "secrecy_term", "signer"]),
    ],
    "inspection_record": [
        ("基本信息", ["title", "location", "started_at", "ended_at", "matter"]),
        ("检查对象", ["subject"]),
        ("人员", ["inspectors", "recorder", "witness"]),
        ("线索核查情况", ["findings"]),
    ],
    "interview_transcript": [
        ("基本信息", ["title", "location", "started_at", "ended_at", "matter"]),
        ("被询问人", ["interviewee"]),
        ("人员", ["interviewers", "recorder"]),
        ("询问内容", ["qa"]),
    ],
    "inspection_report": [
        (
            "基本信息",
            ["title", "inspection_type", "team_size", "started_on", "ended_on", "region"],
        ),
        ("正文", ["basic_situation", "main_practices", "common_problems", "typical_problems"]),
        ("违规机构及处理", ["violations"]),
        ("意见和建议", ["suggestions"]),
    ],
}

TYPE_BLURBS: dict[str, str] = {
    "notice": "红头文件，签发时自动分配发文字号（文号）",
    "inspection_record": "现场检查记录，检查人员至少 2 人",
    "interview_transcript": "询问被检查对象的笔录，承办人至少 2 人",
    "inspection_report": "专项检查情况报告，自动计算金额与审议级别",
}

RETENTION = {"Y": "永久", "D30": "定期 30 年", "D10": "定期 10 年"}

ACTIONS: dict[str, str] = {
    "document.issue": "签发",
    "document.issue_failed": "签发失败",
    "document.preview": "预览",
    "document.view": "查阅",
    "document.download": "下载",
    "document.verify": "验证",
    "document.withdraw": "作废",
    "document.signed_copy": "上传签字原件",
    "document.signed_copy_ocr": "识别签字原件",
    "document.legal_hold": "诉讼保留",
    "document.legal_hold_release": "解除诉讼保留",
    "search": "检索",
    "case.create": "立案",
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.logout": "退出登录",
    "user.create": "新建用户",
    "user.update": "修改用户",
    "user.password": "设置密码",
    "org.create": "新建机构",
    "org.update": "修改机构设置",
    "org.certificate": "更换签章证书",
    "audit.events": "查阅审计事件",
    "audit.verify": "验证审计链",
    "audit.checkpoint": "签署检查点",
    "audit.export": "导出审计数据",
    "audit.report": "生成审计报告",
    "fixity.check": "固定性检查",
    "fixity.failure": "固定性异常",
    "numbers.gaps": "编号核对",
    "retention.review": "到期鉴定清单",
}
