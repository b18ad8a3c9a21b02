"""Chinese words shared by pages and reports: role names, retention periods, audit actions.

The words of one document type — its form's labels and hints, sections and one-line
description — belong to that type and are declared in its module in ``service/doctypes/``
(``FormText``); ``tests/http/test_web.py`` checks that every field of every schema has a label.
"""

from __future__ import annotations

#: role → its name on the pages
ROLE_LABELS = {
    "clerk": "文秘",
    "inspector": "检查员",
    "approver": "签发人",
    "auditor": "审计员",
    "sysadmin": "系统管理员",
    "secadmin": "安全管理员",
    "auditadmin": "审计管理员",
    "admin": "管理员（待拆分）",
}

#: A list's items when the type's form does not say (``FormText.items``): what the add button
#: adds, and how an item is numbered ({n} from 1).
ITEM_DEFAULT = ("一项", "第 {n} 项")

#: draft state → its name on the pages
DRAFT_STATES = {
    "draft": "草稿",
    "submitted": "待签发",
    "returned": "已退回",
    "approved": "已签发",
    "issued": "已编号发文",
    "withdrawn": "已撤回",
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
    "document.signed_copy_ocr_again": "重新识别签字原件",
    "document.signed_copy_review": "确认签字原件比对",
    "document.legal_hold": "诉讼保留",
    "document.legal_hold_release": "解除诉讼保留",
    "draft.create": "拟稿",
    "draft.update": "修改草稿",
    "draft.submit": "提交签发",
    "draft.return": "退回修改",
    "draft.approve": "审批签发",
    "draft.withdraw": "撤回草稿",
    "search": "检索",
    "case.create": "立案",
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.logout": "退出登录",
    "user.create": "新建用户",
    "user.update": "修改用户",
    "user.password": "设置密码",
    "user.password_reset": "重置密码（临时密码）",
    "user.token": "换发令牌",
    "admin.trail_read": "查阅管理日志",
    "org.create": "新建机构",
    "org.update": "修改机构设置",
    "org.certificate": "更换签章证书",
    "template.upload": "上传文书模板",
    "template.activate": "启用文书模板",
    "audit.events": "查阅审计事件",
    "audit.verify": "验证审计链",
    "audit.checkpoint": "签署检查点",
    "audit.export": "导出审计数据",
    "audit.report": "生成审计报告",
    "fixity.check": "完整性检查",
    "fixity.failure": "完整性异常",
    "documents.export": "导出文书清单",
    "register.dispatch": "查阅发文登记簿",
    "cases.export": "导出案件登记簿",
    "access.denied": "拒绝访问",
    "numbers.gaps": "编号核对",
    "retention.review": "到期鉴定清单",
}

#: why a checkpoint of the chain was signed → its name (pages and the audit report)
CHECKPOINT_REASONS = {
    "interval": "定时",
    "manual": "手动",
    "export": "审计导出",
    "report": "审计报告",
    "cli": "命令行",
}
