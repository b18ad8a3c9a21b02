"""The error answers an operation declares in the OpenAPI document.

Every operation under ``/api/`` may answer 401: :mod:`service.http.auth` authenticates before
anything else runs, so :func:`declare_errors` always declares it. The others are named per
operation, from what its code path can raise (:mod:`service.http.errors` maps each exception to
its status): a client reading the spec learns which failures to handle, and schemathesis checks
the answers against it. Each is the one error body, :class:`~service.http.errors.ErrorSchema`.

``@blp.arguments`` already declares 422 as a reference to flask-smorest's response of the same
schema; naming 422 here replaces that entry (one 422 per operation, never two), so it reads the
same whether the arguments or the workflow refuse the input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask_smorest import Blueprint

from service.http.errors import ErrorSchema

F = TypeVar("F", bound=Callable[..., Any])

#: What each status means for a caller of this API.
DESCRIPTIONS = {
    400: "请求格式不正确（如 JSON 无法解析）",
    401: "需要登录或有效的访问令牌",
    403: "角色无权执行此操作，或无权访问其他机构的数据",
    404: "不存在，或属于其他机构",
    409: "与现有状态冲突（如已作废、已存在、编号预留已失效）",
    413: "请求内容过大",
    422: "输入有误：errors 按字段路径给出说明",
    503: "文档转换服务暂不可用，请按 Retry-After 稍后重试",
}

#: Set on every 503 by the error handler.
RETRY_AFTER = {
    "Retry-After": {
        "description": "建议等待的秒数",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}


def declare_errors(blp: Blueprint, *statuses: int) -> Callable[[F], F]:
    """Declare 401 and ``statuses`` on the decorated view, each with the error body."""
    unknown = set(statuses) - set(DESCRIPTIONS)
    if unknown:
        raise ValueError(f"no error response is described for {sorted(unknown)}")

    def decorate(func: F) -> F:
        for status in sorted({401, *statuses}):
            func = blp.alt_response(
                status,
                schema=ErrorSchema,
                description=DESCRIPTIONS[status],
                headers=RETRY_AFTER if status == 503 else None,
            )(func)
        return func

    return decorate


SPREADSHEET_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "text/csv",
)


def declare_spreadsheets(blp: Blueprint, description: str) -> Callable[[F], F]:
    """Declare that the 200 answer may also be the list as xlsx or CSV (``format=xlsx|csv``),
    beside its JSON (merged into the response ``blp.response`` documents)."""
    binary = {"schema": {"type": "string", "format": "binary"}, "x-wenshu-note": description}
    return blp.doc(  # type: ignore[no-any-return]
        responses={200: {"content": {media: binary for media in SPREADSHEET_TYPES}}}
    )
