"""Input of a 检查报告 (inspection report), DOCTYPES.md §4, seed 002 附件3 and seed 001.

The report's figures are computed here, not typed: the total amount and, per violation, the
review level — 重大 (a meeting chaired by the principal leader) or 一般 (the deputy leader).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.fields import CreditCode, PlainText, WenshuSchema
from schemas.inspection_record import line, paragraphs

INSPECTION_TYPES = ("日常监督检查", "专项检查", "飞行检查", "交叉检查")
INSTITUTION_TYPES = ("定点医院", "定点连锁药店", "单体定点零售药店", "诊所")
MEASURES = (
    "通报批评",
    "限期整改",
    "暂停医保",
    "解除医保",
    "移交司法机关",
    "移交纪检监察机关",
    "拒付（追回）医保基金",
    "行政罚款",
)
#: Amount (元) from which a violation is 重大, by institution type (seed 001).
MAJOR_THRESHOLD = {
    "定点医院": Decimal(30000),
    "定点连锁药店": Decimal(30000),
    "单体定点零售药店": Decimal(5000),
    "诊所": Decimal(5000),
}
MAJOR_MEASURES = frozenset({"暂停医保", "解除医保"})


def review_level(violation: dict[str, Any]) -> str:
    """重大 when the amount reaches the type's threshold or the measures suspend/end coverage."""
    if MAJOR_MEASURES & set(violation.get("measures", ())):
        return "重大"
    return (
        "重大" if violation["amount"] >= MAJOR_THRESHOLD[violation["institution_type"]] else "一般"
    )


def report_facts(data: dict[str, Any]) -> dict[str, Any]:
    """The computed figures, stored as document metadata and printed in the report's table."""
    levels = [review_level(v) for v in data.get("violations", [])]
    total = sum((v["amount"] for v in data.get("violations", [])), Decimal(0))
    return {
        "total_amount": f"{total:.2f}",
        "violations": len(levels),
        "major": levels.count("重大"),
        "general": levels.count("一般"),
        "review_levels": levels,
    }


class ViolationSchema(WenshuSchema):
    institution = line(200, required=True, metadata={"search": "institution"})
    id_code = CreditCode()
    institution_type = fields.String(
        required=True,
        validate=validate.OneOf(
            INSTITUTION_TYPES, error=f"机构类型应为 {'、'.join(INSTITUTION_TYPES)} 之一"
        ),
    )
    issue = PlainText(required=True, max_length=5000)
    amount = fields.Decimal(
        required=True,
        places=2,
        allow_nan=False,
        validate=validate.Range(min=0, error="金额不能为负数"),
        metadata={"description": "元", "search": "amount"},
    )
    measures = fields.List(
        fields.String(
            validate=validate.OneOf(MEASURES, error=f"处理措施应为 {'、'.join(MEASURES)} 之一")
        ),
        required=True,
        validate=validate.Length(min=1, error="至少一项处理措施"),
    )


class InspectionReportSchema(WenshuSchema):
    doctype = "inspection_report"

    title = line(200)
    inspection_type = fields.String(
        required=True,
        validate=validate.OneOf(
            INSPECTION_TYPES, error=f"检查方式应为 {'、'.join(INSPECTION_TYPES)} 之一"
        ),
    )
    team_size = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=200, error="检查组人数应为 1–200"),
    )
    started_on = fields.Date(required=True)
    ended_on = fields.Date(required=True)
    region = line(100, required=True)
    basic_situation = paragraphs(required=True, minimum=1)
    main_practices = paragraphs()
    common_problems = paragraphs()
    typical_problems = paragraphs()
    violations = fields.List(fields.Nested(ViolationSchema), validate=validate.Length(max=1000))
    suggestions = paragraphs()

    @validates_schema
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        if (
            data.get("started_on")
            and data.get("ended_on")
            and data["ended_on"] < data["started_on"]
        ):
            raise ValidationError("结束日期不应早于开始日期", field_name="ended_on")
