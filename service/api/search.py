"""/api/v1/search: Chinese full-text search, scoped to the caller's org inside the query."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from archive.audit import AuditChain
from service import auth
from service.api.schemas import SearchQuerySchema, SearchResultSchema
from service.errors import Forbidden
from service.state import wenshu

blp = Blueprint("search", __name__, url_prefix="/api/v1/search", description="全文检索")


@blp.route("")
class Search(MethodView):
    @blp.arguments(SearchQuerySchema, location="query")
    @blp.response(200, SearchResultSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        ws = wenshu()
        who = auth.current()
        if who.role == "admin":
            orgs = [args["org"]] if args["org"] else None
        else:
            if args["org"] and args["org"] != who.org_code:
                raise Forbidden("无权检索其他机构的文书")
            orgs = [who.org_code]
        ws.indexer.drain(timeout=2.0)  # whatever was issued a moment ago is searchable now
        result = ws.index.search(
            args["q"],
            orgs=orgs,
            type=args["type"],
            case_no=args["case_no"],
            date_from=args["date_from"],
            date_to=args["date_to"],
            page=args["page"],
            per_page=args["per_page"],
            sort=args["sort"],
        )
        with ws.db.write() as s:
            AuditChain.append(
                s,
                actor=who.name,
                action="search",
                org=who.org_code,
                details={"q": args["q"], "total": result.total},
            )
        return {
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "facets": result.facets,
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
                }
                for h in result.hits
            ],
        }
