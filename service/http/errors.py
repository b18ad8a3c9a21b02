"""One place that turns every failure into the JSON error body; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from flask_smorest import Api
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from archive import errors as E
from archive.search import IndexBusy
from schemas.fields import flatten_messages
from schemas.masking import masked
from service.documents.render import RenderError
from service.documents.scan import UploadTooLarge
from service.http import denials

log = logging.getLogger(__name__)

STATUS = {
    E.ValidationError: 422,
    E.NotFoundError: 404,
    E.ConflictError: 409,
    E.ConverterUnavailable: 503,
    E.ConversionError: 503,
    E.SigningError: 500,
    E.IntegrityError: 500,
    E.NumberingError: 409,
}


STATUS[E.Forbidden] = 403
STATUS[E.Unauthorized] = 401


class ErrorSchema(Schema):
    """The body of every error answer, as :func:`error_body` writes it (documentation only)."""

    code = fields.String(required=True, metadata={"description": "稳定的错误代码，如 invalid"})
    status = fields.Integer(required=True, metadata={"description": "HTTP 状态码"})
    message = fields.String(required=True, metadata={"description": "给用户看的说明"})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "字段路径 → 说明，如 data.violations.0.amount"},
    )


class WenshuApi(Api):
    """flask-smorest's Api whose spec describes our error body, not its own."""

    ERROR_SCHEMA = ErrorSchema


def error_body(status: int, code: str, message: str, errors: dict[str, Any] | None = None) -> Any:
    """The one error answer, API and pages alike; a message echoing what was typed (a case
    number, a bad value) shows any ID in it masked."""
    resp = jsonify(
        {"code": code, "status": status, "message": masked(message), "errors": masked(errors or {})}
    )
    resp.status_code = status
    return resp


def init_app(app: Flask) -> None:
    STATUS[IndexBusy] = 503  # another process is writing the index: retry shortly
    STATUS[RenderError] = 500  # template and data disagree: our bug, logged
    STATUS[UploadTooLarge] = 413

    @app.errorhandler(E.WenshuError)
    def _wenshu(exc: E.WenshuError) -> Any:
        denials.refused(exc)
        status = next((s for cls, s in STATUS.items() if type(exc) is cls), None)
        if status is None:
            status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)
        if status >= 500 and status != 503:
            # The cause (the library's exception) is what an operator needs to act on.
            log.error("%s: %s", type(exc).__name__, exc.message, exc_info=exc.__cause__ or exc)
        resp = error_body(
            status, exc.code, exc.message, flatten_messages(exc.errors) if exc.errors else {}
        )
        if status == 503:
            resp.headers["Retry-After"] = str(getattr(exc, "retry_after", 5))
        return resp

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        status = exc.code or 500
        if status == 403:
            denials.record("role", exc.description or "")
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages") if isinstance(data, dict) else None
        errors: dict[str, str] = {}
        if messages:
            # webargs nests by location ("json", "query"); the field path is what users act on
            for _location, fields in messages.items():
                errors.update(flatten_messages(fields))
        message = {
            400: "请求格式不正确",
            401: "需要登录或有效的访问令牌",
            403: "无权执行此操作",
            404: "未找到",
            405: "不支持此请求方法",
            413: "请求内容过大",
            422: "输入有误，请按提示修改",
        }.get(status, exc.description or exc.name)
        return error_body(status, exc.name.lower().replace(" ", "_"), message, errors)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unexpected error")
        return error_body(500, "internal", "服务器内部错误，已记录，请联系管理员")
