"""/api/v1/doctypes: the document types with the JSON schema of their input and a sample."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from service.doctypes import DOCTYPES
from service.http import auth
from service.http.api.responses import declare_errors
from service.http.api.schemas import DocTypeSchema
from service.http.state import wenshu

blp = Blueprint("doctypes", __name__, url_prefix="/api/v1/doctypes", description="文书类型")


def schema_name(code: str) -> str:
    return "".join(part.title() for part in code.split("_")) + "Input"


def register_input_schemas(api: Any) -> None:
    for code, dt in DOCTYPES.items():
        api.spec.components.schema(schema_name(code), schema=dt.schema)


@blp.route("")
class DocTypes(MethodView):
    @blp.response(200, DocTypeSchema(many=True))
    @declare_errors(blp, 403)
    def get(self) -> list[dict[str, Any]]:
        auth.require("documents.read")
        components = current_app.extensions["wenshu_api"].spec.to_dict()["components"]["schemas"]
        return [
            {
                "type": code,
                "label": dt.label,
                "issuers": sorted(dt.issuers),
                "numbered": dt.numbered,
                "needs_approval": dt.needs_approval_in(wenshu().settings.approval),
                "schema": components.get(schema_name(code), {}),
                "sample": dt.sample_input(),
            }
            for code, dt in DOCTYPES.items()
        ]
