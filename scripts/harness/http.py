"""A small HTTP client on the standard library: what the harness asks of the service.

One function, :func:`request`; the answer is a :class:`Response` with the few attributes the
harness reads (``status_code``, ``content``, ``text``, ``json()``). A connection that fails —
refused, reset, timed out, closed early — raises :class:`TransportError` (an ``OSError``).
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any


class TransportError(OSError):
    """The request got no complete answer (refused, reset, timed out)."""


@dataclass(frozen=True)
class Response:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    params: dict[str, str] | None = None,
    timeout: float = 60,
) -> Response:
    """One request on a fresh connection (as a browser's first request would be)."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    query = "&".join(q for q in (parts.query, urllib.parse.urlencode(params or {})) if q)
    if query:
        path += "?" + query
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return Response(answer.status, answer.read())
    except (OSError, http.client.HTTPException) as exc:
        raise TransportError(f"{method} {url}: {exc!r}") from exc
    finally:
        connection.close()


def get(url: str, **kwargs: Any) -> Response:
    return request("GET", url, **kwargs)


def post_json(url: str, payload: Any, **kwargs: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return request("POST", url, body=body, **kwargs)
