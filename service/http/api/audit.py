"""/api/v1/audit and /api/v1/numbers: the auditor's view of the trail, numbers and retention.

Only auditors and admins get here. An auditor sees only their own org: events, checkpoints,
reports and exports of that org (other orgs' events appear in an export redacted, as links of
the chain and nothing more); an admin may name any org, or none for all.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, pre_load, validate, validates_schema
from marshmallow import ValidationError as SchemaError
from sqlalchemy import func, or_, select

from archive import retention
from archive.audit import AuditChain, event_dict, iso
from archive.checkpoints import checkpoint_dict
from archive.errors import ConflictError, Forbidden, NotFoundError, ValidationError
from archive.models import AuditCheckpoint, AuditEvent, AuditEventSalt, Document, Org
from schemas.fields import PlainText
from schemas.masking import mask_identifiers
from service.http import auth
from service.http.api.responses import declare_errors, declare_spreadsheets
from service.http.api.schemas import ORG_CODE, AuditEventSchema, RequestSchema
from service.http.headers import content_disposition
from service.http.state import wenshu
from service.labels import ACTIONS
from service.workflows.accounts import Principal, get_org
from service.workflows.audit_report import audit_report, build_export
from service.workflows.integrity.cycle import CycleStatus, SliceReport, cycle_status, run_slice
from service.workflows.integrity.fixity import (
    ArchiveReport,
    checkpoint_now,
    run_fixity,
    verify_trail,
)
from service.workflows.lists import tables
from service.workflows.lists.tables import Table
from service.workflows.numbers_report import gaps

blp = Blueprint(
    "audit",
    __name__,
    url_prefix="/api/v1",
    description="审计：事件链、检查点、导出、报告、编号核对、保管期限",
)


# ---------------------------------------------------------------- who sees what


def _auditor() -> Principal:
    return auth.require("audit.read")


def _scope(who: Principal, org: str | None) -> set[str] | None:
    """Orgs the caller asks about: an auditor only their own."""
    if org and org != who.org_code:
        raise Forbidden("审计员只能查看本机构的审计数据", reason="org")
    return {who.org_code}


def _one_org(who: Principal, org: str | None) -> str:
    scope = _scope(who, org)
    return next(iter(scope)) if scope else who.org_code


def _record(who: Principal, action: str, org: str | None, details: dict[str, Any]) -> None:
    """Reading the trail is itself an event."""
    with wenshu().db.write() as s:
        AuditChain.append(
            s, actor=who.name, action=action, org=org or who.org_code, details=details
        )


def _with_salts() -> Any:
    return select(AuditEvent, AuditEventSalt.salt).outerjoin(
        AuditEventSalt, AuditEventSalt.seq == AuditEvent.seq
    )


# ---------------------------------------------------------------- schemas


class OrgQuerySchema(RequestSchema):
    class Meta:
        unknown = EXCLUDE

    org = fields.String(load_default=None, validate=ORG_CODE)


class EventsQuerySchema(OrgQuerySchema):
    # bounded by what the database stores (a 64-bit integer): larger was a 500
    after_seq = fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=2**63 - 1, error="序号超出范围")
    )
    object_id = fields.String(load_default=None)
    action = fields.String(load_default=None)
    actor = fields.String(
        load_default=None,
        validate=validate.Length(max=100, error="操作人最多 100 字"),
        metadata={"description": "操作人（用户名）"},
    )
    document = fields.String(
        load_default=None,
        validate=validate.Length(max=200, error="文书最多 200 字"),
        metadata={"description": "文书：文号、档号或标题（的一部分），不必是内部 ID"},
    )
    date_from = fields.Date(
        load_default=None, error_messages={"invalid": "起始日期应为 YYYY-MM-DD"}
    )
    date_to = fields.Date(load_default=None, error_messages={"invalid": "截止日期应为 YYYY-MM-DD"})
    order = fields.String(
        load_default="asc",
        validate=validate.OneOf(["asc", "desc"], error="order 只能是 asc 或 desc"),
        metadata={"description": "asc 旧→新（默认，配合 after_seq）· desc 新→旧（配合 page）"},
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    format = fields.String(
        load_default=None,
        validate=validate.OneOf(["xlsx", "csv"], error="导出格式只能是 xlsx 或 csv"),
        metadata={"description": "xlsx 或 csv：按筛选条件导出（不分页，至多 10000 条）"},
    )

    @validates_schema
    def _dates_in_order(self, data: dict[str, Any], **_kw: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise SchemaError({"date_to": ["截止日期不能早于起始日期"]})


class EventOutSchema(AuditEventSchema):
    salt = fields.String(allow_none=True)
    content_sha256 = fields.String(allow_none=True)


class EventsSchema(Schema):
    total = fields.Integer()
    scope = fields.List(
        fields.String(),
        allow_none=True,
        metadata={"description": "所计事件的机构（null：全部机构）"},
    )
    events = fields.List(fields.Nested(EventOutSchema))


class CheckpointSchema(Schema):
    org = fields.String()
    seq = fields.Integer()
    head_hash = fields.String()
    at = fields.String()
    reason = fields.String()
    cert_sha256 = fields.String()
    signature = fields.String()


class CheckpointListSchema(Schema):
    total = fields.Integer()
    items = fields.List(fields.Nested(CheckpointSchema))


class CheckpointProblemSchema(Schema):
    org = fields.String()
    seq = fields.Integer()
    first_bad_seq = fields.Integer()
    message = fields.String()


class CheckpointCheckSchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    problems = fields.List(fields.Nested(CheckpointProblemSchema))


class ChainVerifySchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    head_seq = fields.Integer()
    head_hash = fields.String()
    first_bad_seq = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)
    checkpoints = fields.Nested(CheckpointCheckSchema)


class ReportQuerySchema(OrgQuerySchema):
    date_from = fields.Date(required=True, data_key="from")
    date_to = fields.Date(required=True, data_key="to")

    @validates_schema
    def _order(self, data: dict[str, Any], **_kw: Any) -> None:
        if data["date_to"] < data["date_from"]:
            raise SchemaError("结束日期不能早于开始日期", field_name="to")
        if (data["date_to"] - data["date_from"]).days > 3660:
            raise SchemaError("报告期间不能超过十年", field_name="to")


class FixityProblemSchema(Schema):
    kind = fields.String()
    message = fields.String()
    org = fields.String(allow_none=True)
    document_id = fields.String(allow_none=True)
    seq = fields.Integer(allow_none=True)


class FixityRunInputSchema(RequestSchema):
    @pre_load
    def _no_body(self, data: Any, **_kw: Any) -> Any:
        return {} if data is None else data  # a bare POST (JSON null) asks for the default

    full = fields.Boolean(
        load_default=False,
        metadata={
            "description": "true：完整检查全部文书（仅限小型档案，见 FULL_CHECK_LIMIT）；"
            "默认只检查周期的下一段"
        },
    )


class FixitySchema(Schema):
    ok = fields.Boolean()
    checked = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "各机构核对的文书数"},
    )
    problems = fields.List(fields.Nested(FixityProblemSchema))
    mode = fields.String(metadata={"description": "cycle（周期的一段）或 full（完整检查）"})
    cycle = fields.Integer(allow_none=True, metadata={"description": "第几轮（完整检查为 null）"})
    after_seq = fields.Integer(allow_none=True, metadata={"description": "本段起点：此号之后"})
    through_seq = fields.Integer(allow_none=True, metadata={"description": "本段终点（含）"})
    resumed = fields.Boolean(metadata={"description": "续查了一段中断的检查"})
    cycle_complete = fields.Boolean(metadata={"description": "本段完成了这一轮"})


class FixityRunSchema(Schema):
    at = fields.String()
    cycle = fields.Integer()
    after_seq = fields.Integer()
    through_seq = fields.Integer()
    documents = fields.Integer(metadata={"description": "本机构核对的文书数"})
    failed_documents = fields.Integer(metadata={"description": "其中有问题的文书数"})
    problems = fields.List(fields.String())
    cycle_complete = fields.Boolean()


class FixityCycleSchema(Schema):
    cycle = fields.Integer(metadata={"description": "当前第几轮"})
    cycle_days = fields.Float(metadata={"description": "一轮的天数（WENSHU_FIXITY_CYCLE_DAYS）"})
    started_at = fields.String(allow_none=True)
    ends_at = fields.String(allow_none=True, metadata={"description": "本轮应完成的时间"})
    position_seq = fields.Integer(metadata={"description": "游标：已核对至此号事件"})
    unfinished_through_seq = fields.Integer(
        allow_none=True, metadata={"description": "中断的一段的终点，下次从游标处续查"}
    )
    head_seq = fields.Integer()
    documents_checked = fields.Integer(metadata={"description": "本轮已核对（本机构文书）"})
    documents_left = fields.Integer(metadata={"description": "本轮尚余（本机构文书）"})
    documents_total = fields.Integer(metadata={"description": "本机构档案共有文书"})
    problems = fields.Integer(metadata={"description": "本轮发现问题的文书（本机构）"})
    running_until = fields.String(
        allow_none=True, metadata={"description": "正在运行的检查的租约到期时间"}
    )
    runs = fields.List(fields.Nested(FixityRunSchema), metadata={"description": "最近的检查"})


class FixityHistorySchema(Schema):
    last_check = fields.Nested(EventOutSchema, allow_none=True)
    failures = fields.List(fields.Nested(EventOutSchema))
    cycle = fields.Nested(
        FixityCycleSchema,
        metadata={"description": "周期检查：所有机构共用一个游标；runs 只计本机构"},
    )


class RetentionQuerySchema(OrgQuerySchema):
    as_of = fields.Date(load_default=None)


class RetentionItemSchema(Schema):
    id = fields.String()
    type = fields.String()
    title = fields.String()
    wenhao = fields.String(allow_none=True)
    archive_no = fields.String()
    retention = fields.String()
    retention_label = fields.String()
    issued_at = fields.String()
    due_on = fields.String()
    legal_hold = fields.Boolean()
    withdrawn = fields.Boolean()
    disposable = fields.Boolean()


class RetentionSchema(Schema):
    org = fields.String()
    as_of = fields.String()
    total = fields.Integer()
    items = fields.List(fields.Nested(RetentionItemSchema))


class HoldInputSchema(RequestSchema):
    document_id = fields.String(required=True, validate=validate.Length(min=1, max=32))
    hold = fields.Boolean(load_default=True)
    reason = PlainText(
        required=True,
        max_length=2000,
        validate=validate.Length(min=2, max=2000, error="请填写理由（2–2000 字）"),
    )


class HoldSchema(Schema):
    document_id = fields.String()
    archive_no = fields.String()
    wenhao = fields.String(allow_none=True)
    legal_hold = fields.Boolean()
    reason = fields.String()
    at = fields.String()


class HoldListSchema(Schema):
    total = fields.Integer()
    items = fields.List(fields.Nested(HoldSchema))


class GapsQuerySchema(OrgQuerySchema):
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100))


class GapsSchema(Schema):
    org = fields.String()
    year = fields.Integer(allow_none=True)
    series = fields.List(fields.Dict())
    issued = fields.Integer()
    withdrawn = fields.List(fields.Dict())
    voided = fields.List(fields.Dict())
    pending = fields.List(fields.Dict())
    missing = fields.List(fields.Dict())


# ---------------------------------------------------------------- the trail


@blp.route("/audit/events")
class Events(MethodView):
    @blp.arguments(EventsQuerySchema, location="query")
    @blp.response(200, EventsSchema)
    @declare_spreadsheets(blp, "format=xlsx|csv：按筛选条件导出")
    @declare_errors(blp, 403, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Events of the caller's org (admin: every org, or ``org``): oldest first after
        ``after_seq``, or newest first by ``page`` (``order=desc``); ``format=xlsx|csv``."""
        who = _auditor()
        scope = _scope(who, args["org"])
        q = _with_salts().where(AuditEvent.seq > args["after_seq"])
        if scope is not None:
            q = q.where(AuditEvent.org.in_(scope))
        if args["object_id"]:
            q = q.where(AuditEvent.object_id == args["object_id"])
        if args["action"]:
            q = q.where(AuditEvent.action == args["action"])
        q = event_filters(q, args, scope)
        newest = args["order"] == "desc"
        if args["format"]:
            return _export_events(who, q, args)
        with wenshu().db.read() as s:
            total = int(s.scalar(select(func.count()).select_from(q.subquery())) or 0)
            rows = s.execute(
                q.order_by(AuditEvent.seq.desc() if newest else AuditEvent.seq)
                .offset((args["page"] - 1) * args["per_page"] if newest else 0)
                .limit(args["per_page"])
            ).all()
            events = [event_dict(ev, salt) for ev, salt in rows]
        _record(who, "audit.events", args["org"], dict(args, returned=len(events)))
        return {
            "total": total,
            "scope": sorted(scope) if scope is not None else None,
            "events": events,
        }


EXPORT_LIMIT = 10_000


def _export_events(who: Principal, q: Any, args: dict[str, Any]) -> Response:
    """The filtered events, newest first, as a spreadsheet (details as labelled text)."""
    ws = wenshu()
    with ws.db.read() as s:
        rows = s.execute(q.order_by(AuditEvent.seq.desc()).limit(EXPORT_LIMIT + 1)).all()
    if len(rows) > EXPORT_LIMIT:
        raise ValidationError(
            f"一次最多导出 {EXPORT_LIMIT} 条，请缩小筛选范围", errors={"format": ["超过导出上限"]}
        )
    table = Table(
        name="审计事件",
        headers=("序号", "时间", "操作人", "机构", "操作", "对象", "详情", "哈希"),
        rows=[
            (
                ev.seq,
                ws.local_time(ev.at).replace(tzinfo=None),
                ev.actor,
                ev.org,
                ACTIONS.get(ev.action, ev.action),
                ev.object_id,
                _details_text(json.loads(ev.details)),
                ev.hash,
            )
            for ev, _salt in rows
        ],
        widths=(8, 18, 14, 8, 14, 24, 60, 20),
    )
    _record(who, "audit.events", args["org"], dict(args, returned=len(rows)))
    resp = Response(tables.render(table, args["format"]), mimetype=tables.FORMATS[args["format"]])
    resp.headers["Content-Disposition"] = content_disposition(
        f"审计事件.{args['format']}", attachment=True
    )
    return resp


def _details_text(details: Any) -> str:
    if isinstance(details, dict):
        return "；".join(f"{k}：{_details_text(v)}" for k, v in details.items())
    if isinstance(details, list):
        return "、".join(_details_text(v) for v in details)
    return "" if details is None else str(details)


def event_filters(q: Any, args: dict[str, Any], scope: set[str] | None) -> Any:
    """Actor, date range and document (by 文号, 档号 or title, as well as by id)."""
    ws = wenshu()
    if args.get("actor"):
        q = q.where(AuditEvent.actor == args["actor"].strip())
    if args.get("date_from"):
        q = q.where(AuditEvent.at >= _utc_day(ws, args["date_from"]))
    if args.get("date_to"):
        q = q.where(AuditEvent.at < _utc_day(ws, args["date_to"] + timedelta(days=1)))
    if args.get("document"):
        text = args["document"].strip()
        docs = select(Document.id).where(
            or_(
                Document.id == text,
                Document.wenhao == text,
                Document.archive_no == text,
                Document.title.contains(text, autoescape=True),
            )
        )
        if scope is not None:
            docs = docs.join(Org, Org.id == Document.org_id).where(Org.code.in_(scope))
        q = q.where(AuditEvent.object_id.in_(docs))
    return q


def _utc_day(ws: Any, day: Any) -> Any:
    return datetime.combine(day, time.min, tzinfo=ws.tz).astimezone(UTC)


@blp.route("/audit/verify")
class ChainVerify(MethodView):
    @blp.arguments(OrgQuerySchema, location="query")
    @blp.response(200, ChainVerifySchema)
    @declare_errors(blp, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Recompute the whole chain and check the org's signed checkpoints against it."""
        who = _auditor()
        scope = _scope(who, args["org"])
        with wenshu().db.read() as s:
            chain, cps = verify_trail(s, scope)
        ok = chain.ok and cps.ok
        first_bad = chain.first_bad_seq if not chain.ok else cps.first_bad_seq
        _record(
            who,
            "audit.verify",
            args["org"],
            {"ok": ok, "checked": chain.checked, "first_bad_seq": first_bad},
        )
        return {
            "ok": ok,
            "checked": chain.checked,
            "head_seq": chain.head_seq,
            "head_hash": chain.head_hash,
            "first_bad_seq": first_bad,
            "problem": chain.problem or (cps.problems[0].message if cps.problems else None),
            "checkpoints": {
                "ok": cps.ok,
                "checked": cps.checked,
                "problems": [
                    {
                        "org": p.org,
                        "seq": p.seq,
                        "first_bad_seq": p.first_bad_seq,
                        "message": p.message,
                    }
                    for p in cps.problems
                ],
            },
        }


@blp.route("/audit/checkpoints")
class Checkpoints(MethodView):
    @blp.arguments(OrgQuerySchema, location="query")
    @blp.response(200, CheckpointListSchema)
    @declare_errors(blp, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The signed checkpoints of the caller's org, oldest first."""
        scope = _scope(_auditor(), args["org"])
        q = select(AuditCheckpoint).order_by(AuditCheckpoint.seq, AuditCheckpoint.org)
        if scope is not None:
            q = q.where(AuditCheckpoint.org.in_(scope))
        with wenshu().db.read() as s:
            items = [checkpoint_dict(cp) for cp in s.scalars(q)]
        return {"total": len(items), "items": items}

    @blp.arguments(OrgQuerySchema, location="query")
    @blp.response(201, CheckpointListSchema)
    @declare_errors(blp, 403, 422)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Sign the chain head now with the org's key (admin without ``org``: every org)."""
        who = _auditor()
        items = checkpoint_now(
            wenshu(), actor=who.name, reason="manual", orgs=_scope(who, args["org"])
        )
        return {"total": len(items), "items": items}


@blp.route("/audit/export")
class Export(MethodView):
    @blp.arguments(OrgQuerySchema, location="query")
    @blp.response(
        200,
        content_type="application/json",
        description="事件（他机构事件脱敏）、检查点、证书与文书哈希；用 scripts/verify_export.py 离线核验",
    )
    @declare_errors(blp, 403, 422)
    def get(self, args: dict[str, Any]) -> Response:
        who = _auditor()
        scope = _scope(who, args["org"])
        body = build_export(wenshu(), who, scope)
        name = (
            f"wenshu-audit-{'-'.join(sorted(scope)) if scope else 'all'}-{body['head']['seq']}.json"
        )
        resp = Response(json.dumps(body, ensure_ascii=False, indent=1), mimetype="application/json")
        resp.headers["Content-Disposition"] = content_disposition(name, attachment=True)
        return resp


@blp.route("/audit/report")
class Report(MethodView):
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(
        200, content_type="application/pdf", description="以本机构密钥签章的审计报告 PDF/A"
    )
    @declare_errors(blp, 403, 404, 422, 503)
    def get(self, args: dict[str, Any]) -> Response:
        who = _auditor()
        org = _one_org(who, args["org"])
        pdf, digest = audit_report(wenshu(), who, org, args["date_from"], args["date_to"])
        resp = Response(pdf, mimetype="application/pdf")
        name = f"audit-{org}-{args['date_from']}-{args['date_to']}.pdf"
        resp.headers["Content-Disposition"] = content_disposition(name, attachment=False)
        resp.headers["X-Content-SHA256"] = digest
        return resp


@blp.route("/audit/fixity")
class Fixity(MethodView):
    @blp.arguments(OrgQuerySchema, location="query")
    @blp.response(200, FixityHistorySchema)
    @declare_errors(blp, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The last recorded fixity check of the org and the failures it found, and where the
        fixity cycle stands (cursor, documents checked and left, expected end, last runs)."""
        org = _one_org(_auditor(), args["org"])
        checks = _with_salts().where(AuditEvent.org == org, AuditEvent.action == "fixity.check")
        with wenshu().db.read() as s:
            last = s.execute(checks.order_by(AuditEvent.seq.desc()).limit(1)).first()
            failures = []
            if last is not None:
                # A check records its failures just before its summary, after the previous check.
                before = s.scalar(
                    select(func.max(AuditEvent.seq)).where(
                        AuditEvent.org == org,
                        AuditEvent.action == "fixity.check",
                        AuditEvent.seq < last[0].seq,
                    )
                )
                failures = [
                    event_dict(ev, salt)
                    for ev, salt in s.execute(
                        _with_salts()
                        .where(AuditEvent.org == org, AuditEvent.action == "fixity.failure")
                        .where(AuditEvent.seq > (before or 0), AuditEvent.seq < last[0].seq)
                        .order_by(AuditEvent.seq)
                    )
                ]
        return {
            "last_check": event_dict(*last) if last else None,
            "failures": failures,
            "cycle": _cycle_json(cycle_status(wenshu(), org=org)),
        }

    @blp.arguments(OrgQuerySchema, location="query")
    @blp.arguments(FixityRunInputSchema, required=False)
    @blp.response(200, FixitySchema)
    @declare_errors(blp, 400, 403, 409, 413, 422)
    def post(self, args: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Check the next slice of the fixity cycle now (what ``wenshu fixity`` does), or with
        ``full`` the chain, the checkpoints and every document of a small archive."""
        who = _auditor()
        scope = _scope(who, args["org"])
        ws = wenshu()
        if body.get("full"):
            with ws.db.read() as s:
                total = int(s.scalar(select(func.count()).select_from(Document)) or 0)
            if total > FULL_CHECK_LIMIT:
                raise ConflictError(
                    f"档案文书超过 {FULL_CHECK_LIMIT} 份，不能在一次请求中完整检查："
                    "请在服务器上运行 wenshu verify（或 wenshu verify --since-checkpoint）；"
                    "不带 full 的请求检查周期的下一段"
                )
            return _fixity_json(run_fixity(ws, actor=who.name, orgs=scope), scope)
        report = run_slice(ws, actor=who.name, most=SLICE_LIMIT, actor_orgs=scope)
        if report.busy_until is not None:
            until = ws.local_time(report.busy_until).strftime("%H:%M:%S")
            raise ConflictError(
                f"另一个完整性检查正在进行（租约至 {until}），本次未检查，请稍后再试"
            )
        return _fixity_json(report, scope)


FULL_CHECK_LIMIT = 5_000
"""Documents up to which a request may check the whole archive (≈ 1 minute at the 92 a second
measured, 2 at 40); past it ``wenshu verify`` does, on the server."""
SLICE_LIMIT = 3_000
"""Documents at most in a slice a request starts (≈ 45 s at the 67 a second measured, inside
the proxy's 120 s; the timer's slices at 1,000,000 documents hold ≈ 33,000); the runs after it
share out the rest of the cycle."""


def _fixity_json(report: ArchiveReport, scope: set[str] | None) -> dict[str, Any]:
    """What the check found in the caller's orgs (and in the chain, which is everyone's)."""
    problems = [p for p in report.problems if p.org is None or scope is None or p.org in scope]
    out: dict[str, Any] = {
        "ok": not problems,
        "checked": {o: n for o, n in report.checked.items() if scope is None or o in scope},
        "problems": [p.__dict__ for p in problems],
        "mode": "full",
        "cycle": None,
        "after_seq": None,
        "through_seq": None,
        "resumed": False,
        "cycle_complete": False,
    }
    if isinstance(report, SliceReport):
        out |= {
            "mode": "cycle",
            "cycle": report.cycle,
            "after_seq": report.after_seq,
            "through_seq": report.through_seq,
            "resumed": report.resumed,
            "cycle_complete": report.cycle_complete,
        }
    return out


def _cycle_json(st: CycleStatus) -> dict[str, Any]:
    def at(value: datetime | None) -> str | None:
        return iso(value) if value is not None else None

    return {
        "cycle": st.cycle,
        "cycle_days": st.cycle_days,
        "started_at": at(st.started_at),
        "ends_at": at(st.ends_at),
        "position_seq": st.position_seq,
        "unfinished_through_seq": (
            st.slice_through_seq if st.slice_through_seq > st.position_seq else None
        ),
        "head_seq": st.head_seq,
        "documents_checked": st.documents_checked,
        "documents_left": st.documents_left,
        "documents_total": st.documents_total,
        "problems": st.problems,
        "running_until": at(st.running_until),
        "runs": [
            {
                "at": iso(run.at),
                "cycle": run.cycle,
                "after_seq": run.after_seq,
                "through_seq": run.through_seq,
                "documents": run.documents,
                "failed_documents": run.failed_documents,
                "problems": run.problems,
                "cycle_complete": run.cycle_complete,
            }
            for run in st.runs
        ],
    }


# ---------------------------------------------------------------- retention and holds


@blp.route("/audit/retention")
class Retention(MethodView):
    @blp.arguments(RetentionQuerySchema, location="query")
    @blp.response(200, RetentionSchema)
    @declare_errors(blp, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Documents past their 保管期限, for disposition review. Nothing is ever deleted."""
        who = _auditor()
        ws = wenshu()
        org = _one_org(who, args["org"])
        as_of: date = args["as_of"] or ws.local_date(ws.now())
        with ws.db.read() as s:
            items = retention.review(s, get_org(s, org).id, as_of)
        _record(who, "retention.review", org, {"as_of": as_of.isoformat(), "total": len(items)})
        return {
            "org": org,
            "as_of": as_of.isoformat(),
            "total": len(items),
            "items": [
                {
                    "id": i.doc.id,
                    "type": i.doc.type,
                    "title": mask_identifiers(i.doc.title),
                    "wenhao": i.doc.wenhao,
                    "archive_no": i.doc.archive_no,
                    "retention": i.doc.retention,
                    "retention_label": retention.LABELS.get(i.doc.retention, i.doc.retention),
                    "issued_at": ws.local_time(i.doc.issued_at).isoformat(timespec="seconds"),
                    "due_on": i.due_on.isoformat(),
                    "legal_hold": i.legal_hold,
                    "withdrawn": i.withdrawn,
                    "disposable": i.disposable,
                }
                for i in items
            ],
        }


@blp.route("/audit/legal-holds")
class LegalHolds(MethodView):
    @blp.arguments(OrgQuerySchema, location="query")
    @blp.response(200, HoldListSchema)
    @declare_errors(blp, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Documents of the org under legal hold now."""
        org = _one_org(_auditor(), args["org"])
        with wenshu().db.read() as s:
            held = retention.held_documents(s, get_org(s, org).id)
        items = [_hold_json(doc, h.placed, h.reason, h.at) for doc, h in held]
        return {"total": len(items), "items": items}

    @blp.arguments(HoldInputSchema)
    @blp.response(201, HoldSchema)
    @declare_errors(blp, 400, 403, 404, 409, 413, 422)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Place (``hold: true``) or lift (``hold: false``) a legal hold on a document."""
        who = _auditor()
        ws = wenshu()
        with ws.db.write() as s:
            row = s.execute(
                select(Document, Org.code)
                .join(Org, Document.org_id == Org.id)
                .where(Document.id == body["document_id"])
            ).first()
            if row is None or not who.may_see_org(row[1]):
                raise NotFoundError("文书不存在", errors={"document_id": ["文书不存在"]})
            doc, org_code = row
            hold = retention.set_hold(
                s,
                doc,
                org_code=org_code,
                placed=body["hold"],
                reason=body["reason"].strip(),
                user_id=who.user_id,
                actor=who.name,
                at=ws.now(),
            )
            return _hold_json(doc, hold.placed, hold.reason, hold.at)


def _hold_json(doc: Document, placed: bool, reason: str, at: Any) -> dict[str, Any]:
    return {
        "document_id": doc.id,
        "archive_no": doc.archive_no,
        "wenhao": doc.wenhao,
        "legal_hold": placed,
        "reason": reason,
        "at": iso(at),
    }


# ---------------------------------------------------------------- numbers


@blp.route("/numbers/gaps")
class NumberGaps(MethodView):
    @blp.arguments(GapsQuerySchema, location="query")
    @blp.response(200, GapsSchema)
    @declare_errors(blp, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every 发文字号 and 档号 series of the org: issued, withdrawn, voided, pending, missing."""
        who = _auditor()
        org = args["org"] or who.org_code
        auth.require_org(who, org)
        result = gaps(wenshu(), org, args["year"])
        _record(who, "numbers.gaps", org, {"year": args["year"], "missing": len(result["missing"])})
        return result
