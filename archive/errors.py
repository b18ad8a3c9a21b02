"""The exception hierarchy. Every failure the service reports is one of these.

The web layer maps each class to one HTTP status in one place (``service/http/errors.py``);
the core never knows about HTTP.
"""

from __future__ import annotations

from typing import Any


class WenshuError(Exception):
    """Base of every error the service reports to a user, with a stable ``code``."""

    code = "error"

    def __init__(self, message: str, *, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationError(WenshuError):
    """Input that is well-formed JSON but wrong; ``errors`` maps field paths to messages."""

    code = "invalid"


class Forbidden(WenshuError):
    """The caller's role or org may not do this (a use case refuses it; HTTP says 403).

    ``reason`` says which rule refused, as the ``access.denied`` event records it: ``role``
    (the policy table), ``org`` (another org's data), ``csrf`` (a session request without its
    token) or ``rule`` (a use case's own, e.g. approving one's own draft).
    """

    code = "forbidden"

    def __init__(
        self, message: str, *, errors: dict[str, Any] | None = None, reason: str = "role"
    ) -> None:
        super().__init__(message, errors=errors)
        self.reason = reason


class Unauthorized(WenshuError):
    """No caller, or not a known one (HTTP says 401)."""

    code = "unauthorized"


class NotFoundError(WenshuError):
    code = "not_found"


class OutsideOrg(NotFoundError):
    """The object exists, in an org the caller may not see: answered as if it did not (404,
    nothing leaks), and recorded as a refused access (``access.denied``, reason ``org``)."""

    def __init__(self, message: str, *, org: str, object_id: str) -> None:
        super().__init__(message)
        self.org, self.object_id = org, object_id


class ConflictError(WenshuError):
    code = "conflict"


class ApprovalRequired(ConflictError):
    """The type needs 签发 by an approver before it is numbered, and this request skips it."""

    code = "approval_required"


class StaleVersion(ConflictError):
    """A draft was saved on top of a version that is no longer its latest."""

    code = "stale_version"


class IdempotencyKeyReused(ValidationError):
    """An ``Idempotency-Key`` sent again with another request than the first time."""

    code = "idempotency_key_reused"


class ConversionError(WenshuError):
    """LibreOffice failed on a document (crash, timeout, bad output)."""

    code = "conversion_failed"


class ConverterUnavailable(ConversionError):
    """No converter instance freed up in time; the client should retry later."""

    code = "converter_unavailable"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SigningError(WenshuError):
    code = "signing_failed"


class IntegrityError(WenshuError):
    """Stored data does not match what was recorded (hash, chain, signature)."""

    code = "integrity"


class NumberingError(WenshuError):
    code = "numbering"
