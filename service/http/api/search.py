"""/api/v1/search: Chinese full-text search, scoped to the caller's org inside the query."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, fields, validate

from archive.audit import AuditChain
from archive.errors import Forbidden
from service.doctypes import DOCTYPES
from service.http import auth
from service.http.api.responses import declare_errors
from service.http.api.schemas import ORG_CODE, RequestSchema, SearchResultSchema
from service.http.state import wenshu

blp = Blueprint("search", __name__, url_prefix="/api/v1/search", description="全文检索")

_TYPES = list(DOCTYPES)


class SearchQuerySchema(RequestSchema):
    class Meta:
        unknown = EXCLUDE

    q = fields.String(
        load_default="",
        validate=validate.Length(max=500),
        metadata={
            "description": '词语以空格分隔须同时出现；"引号内" 按原文；文号、档号、身份证号可直接输入'
        },
    )
    type = fields.String(load_default=None, validate=validate.OneOf(_TYPES))
    org = fields.String(load_default=None, validate=ORG_CODE)
    case_no = fields.String(load_default=None, validate=validate.Length(max=64))
    wenhao = fields.String(load_default=None, validate=validate.Length(max=100))
    archive_no = fields.String(load_default=None, validate=validate.Length(max=100))
    institution = fields.String(
        load_default=None,
        validate=validate.Length(max=100),
        metadata={"description": "被检查机构名称（可输入名称的一部分）"},
    )
    person = fields.String(
        load_default=None,
        validate=validate.Length(max=50),
        metadata={"description": "当事人、被询问人、法定代表人、见证人姓名"},
    )
    inspector = fields.String(
        load_default=None,
        validate=validate.Length(max=50),
        metadata={"description": "检查人员、承办人、记录人姓名"},
    )
    id_number = fields.String(
        load_default=None,
        validate=validate.Length(equal=18, error="身份证号或统一社会信用代码应为 18 位。"),
        metadata={"description": "身份证号或统一社会信用代码，完全一致才匹配"},
    )
    date_from = fields.Date(load_default=None)
    date_to = fields.Date(load_default=None)
    # the spec's minimum must be a number; apispec would write the Decimal as "0.00"
    amount_min = fields.Decimal(
        load_default=None, places=2, validate=validate.Range(min=0), metadata={"minimum": 0}
    )
    amount_max = fields.Decimal(
        load_default=None, places=2, validate=validate.Range(min=0), metadata={"minimum": 0}
    )
    status = fields.String(load_default=None, validate=validate.OneOf(["issued", "withdrawn"]))
    sort = fields.String(
        load_default="relevance", validate=validate.OneOf(["relevance", "newest", "oldest"])
    )
    facets = fields.Boolean(load_default=True)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


_FILTERS = (
    "type",
    "case_no",
    "wenhao",
    "archive_no",
    "institution",
    "person",
    "inspector",
    "date_from",
    "date_to",
    "amount_min",
    "amount_max",
    "status",
)


@blp.route("")
class Search(MethodView):
    @blp.arguments(SearchQuerySchema, location="query")
    @blp.response(200, SearchResultSchema)
    @declare_errors(blp, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        ws = wenshu()
        who = auth.require("documents.read")
        if args["org"] and args["org"] != who.org_code:
            raise Forbidden("无权检索其他机构的文书", reason="org")
        orgs = [who.org_code]
        # Whatever was issued a moment ago is searchable now, or the answer says how much is not.
        indexing = ws.catch_up_index(ws.settings.search.catch_up_seconds)
        result = ws.index.search(
            args["q"],
            orgs=orgs,
            page=args["page"],
            per_page=args["per_page"],
            sort=args["sort"],
            facets=args["facets"],
            identifier=args["id_number"],
            **{name: args[name] for name in _FILTERS},
        )
        with ws.db.write() as s:
            AuditChain.append(
                s,
                actor=who.name,
                action="search",
                org=who.org_code,
                # The query and filters as typed; the chain masks any ID in them as it appends.
                details={
                    "q": args["q"],
                    "total": result.total,
                    "total_relation": result.total_relation,
                    "filters": _used(args),
                },
            )
        return {
            "total": result.total,
            "total_relation": result.total_relation,
            "page": result.page,
            "per_page": result.per_page,
            "facets": result.facets,
            "indexing": indexing,
            "hits": [
                {
                    "id": h.id,
                    "type": h.type,
                    "org": h.org,
                    "title": h.title,
                    "wenhao": h.wenhao,
                    "archive_no": h.archive_no,
                    "case_no": h.case_no,
                    "issued_at": ws.local_time(h.issued_at).isoformat(timespec="seconds"),
                    "snippet": h.snippet,
                    "score": h.score,
                    "status": h.status,
                    "from_scan": h.from_scan,
                }
                for h in result.hits
            ],
        }


def _used(args: dict[str, Any]) -> dict[str, str]:
    used = {name: str(args[name]) for name in _FILTERS if args[name] is not None}
    if args["id_number"]:
        used["id_number"] = args["id_number"]
    return used
