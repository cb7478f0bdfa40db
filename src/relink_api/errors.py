"""The problem types every feature shares.

Services raise ``ProblemError`` subclasses; ``relink_api.web.problems`` renders them as RFC
9457 problem+json. A type only one feature raises lives next to it (``<feature>/errors.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class ProblemError(Exception):
    """An error a client can act on. ``slug`` names the stable problem type."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str,
        *,
        extensions: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = dict(extensions or {})
        self.headers = dict(headers or {})


class NotFound(ProblemError):
    status = 404
    slug = "not-found"
    title = "Not found"


class BadRequest(ProblemError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class Unauthorized(ProblemError):
    status = 401
    slug = "unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str, *, error: str | None = "invalid_token") -> None:
        # RFC 6750 §3: name the scheme and why it failed; a request that sent no
        # credentials at all gets no error code (§3.1).
        challenge = 'Bearer realm="relink-api"'
        if error is not None:
            challenge += f', error="{error}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class AdminUnauthorized(ProblemError):
    """The operator API's refusal: its own problem type and challenge, so that a client
    never mistakes it for an expired customer token and refreshes in a loop."""

    status = 401
    slug = "admin-unauthorized"
    title = "An admin API key is required"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'ApiKey realm="relink-api-admin"'})


class Conflict(ProblemError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class ValidationFailed(ProblemError):
    status = 422
    slug = "validation-failed"
    title = "The request is not valid"


class NotConfigured(ProblemError):
    status = 501
    slug = "not-configured"
    title = "This server is not configured for that"


class ServiceUnavailable(ProblemError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"
