"""/api/v1/registers: the 发文登记簿 of an org's year (JSON, ``.xlsx`` or CSV)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.http import auth
from service.http.api.documents import spreadsheet
from service.http.api.responses import declare_errors, declare_spreadsheets
from service.http.api.schemas import DispatchQuerySchema, DispatchRegisterSchema
from service.http.state import wenshu
from service.workflows.lists import registers

blp = Blueprint("registers", __name__, url_prefix="/api/v1/registers", description="登记簿")


@blp.route("/dispatch")
class Dispatch(MethodView):
    @blp.arguments(DispatchQuerySchema, location="query")
    @blp.response(200, DispatchRegisterSchema)
    @declare_spreadsheets(blp, "format=xlsx|csv：登记簿表格")
    @declare_errors(blp, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """发文登记簿：本年度每个发文字号按序一行（含已作废、空号），审计事件 register.dispatch。"""
        who = auth.require("documents.read")
        register = registers.dispatch(wenshu(), who, args["org"], args["year"])
        if args["format"]:
            return spreadsheet(registers.dispatch_table(register), args["format"])
        out = asdict(register)
        for line in out["lines"]:
            line["made_on"] = line["made_on"].isoformat() if line["made_on"] else None
        return out
