"""/api/v1/audit and /api/v1/numbers: the auditor's view of the trail and the number series."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select

from archive.audit import event_dict, verify_chain
from archive.models import AuditEvent
from service import auth
from service.api.schemas import (
    AuditEventsSchema,
    AuditQuerySchema,
    ChainSchema,
    GapsQuerySchema,
    GapsSchema,
)
from service.numbers_report import gaps
from service.state import wenshu

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="审计：事件链、编号核对")


@blp.route("/audit/events")
class Events(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEventsSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        who = auth.require("auditor")
        q = select(AuditEvent).where(AuditEvent.seq > args["after_seq"])
        if who.role != "admin":
            q = q.where(AuditEvent.org == who.org_code)
        if args["object_id"]:
            q = q.where(AuditEvent.object_id == args["object_id"])
        if args["action"]:
            q = q.where(AuditEvent.action == args["action"])
        with wenshu().db.read() as s:
            total = int(s.scalar(select(func.count()).select_from(q.subquery())) or 0)
            events = [
                event_dict(e) for e in s.scalars(q.order_by(AuditEvent.seq).limit(args["per_page"]))
            ]
        return {"total": total, "events": events}


@blp.route("/audit/verify")
class ChainVerify(MethodView):
    @blp.response(200, ChainSchema)
    def get(self) -> dict[str, Any]:
        who = auth.require("auditor")
        ws = wenshu()
        with ws.db.read() as s:
            report = verify_chain(s)
        from archive.audit import AuditChain

        with ws.db.write() as s:
            AuditChain.append(
                s,
                actor=who.name,
                action="audit.verify",
                org=who.org_code,
                details={"ok": report.ok, "checked": report.checked},
            )
        return {
            "ok": report.ok,
            "checked": report.checked,
            "head_hash": report.head_hash,
            "first_bad_seq": report.first_bad_seq,
            "problem": report.problem,
        }


@blp.route("/numbers/gaps")
class NumberGaps(MethodView):
    @blp.arguments(GapsQuerySchema, location="query")
    @blp.response(200, GapsSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        who = auth.require("auditor")
        org = args["org"] or who.org_code
        auth.require_org(who, org)
        return gaps(wenshu(), org, args["year"])
