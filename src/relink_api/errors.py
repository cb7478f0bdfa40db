"""Domain errors and their RFC 9457 problem+json rendering.

Services raise ``ProblemError`` subclasses; one set of handlers turns them, request
validation errors, unknown routes and unexpected exceptions into problem documents.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Relative URI references (RFC 9457 §3.1.1): stable, and resolvable against the service.
PROBLEM_TYPE_BASE = "/problems/"


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


class AccountNotRepairable(Conflict):
    slug = "account-not-repairable"
    title = "This account cannot be repaired by relinking"


class AccountDisconnected(Conflict):
    slug = "account-disconnected"
    title = "This account is disconnected"


class AccountHealthy(Conflict):
    slug = "account-healthy"
    title = "This account needs no relink"


class AccountWithoutAuthorization(Conflict):
    slug = "account-without-authorization"
    title = "This account has no authorization to relink"


class AccountWithoutOwner(Conflict):
    slug = "account-without-owner"
    title = "This account belongs to no customer yet"


class RelinkSessionPending(Conflict):
    slug = "relink-session-pending"
    title = "The relink session is still in progress"


class ValidationFailed(ProblemError):
    status = 422
    slug = "validation-failed"
    title = "The request is not valid"


class StripeInvalidRequest(ProblemError):
    status = 422
    slug = "stripe-invalid-request"
    title = "Stripe rejected the request"


class StripeResourceMissing(ProblemError):
    status = 404
    slug = "stripe-resource-missing"
    title = "Stripe does not know this object"


class StripeConfigurationError(ProblemError):
    status = 500
    slug = "stripe-configuration"
    title = "The server's Stripe configuration is wrong"


class StripeRateLimited(ProblemError):
    status = 503
    slug = "stripe-rate-limited"
    title = "Stripe is rate limiting this service"


class StripeUnavailable(ProblemError):
    status = 503
    slug = "stripe-unavailable"
    title = "Stripe could not be reached"


class StripeFailed(ProblemError):
    status = 502
    slug = "stripe-error"
    title = "Stripe returned an error"


class PaymentMethodNotNeeded(Conflict):
    slug = "payment-method-not-needed"
    title = "This relink needs no new payment method"


class PaymentMethodAlreadySetUp(Conflict):
    slug = "payment-method-already-set-up"
    title = "A payment method was already set up for this relink"


class NotConfigured(ProblemError):
    status = 501
    slug = "not-configured"
    title = "This server is not configured for that"


class ServiceUnavailable(ProblemError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


# --- Rate limits (issue 11) ----------------------------------------------------------
class RateLimited(ProblemError):
    """Too many requests from one customer, operator or client address; ``Retry-After``
    says when the next one will be let in."""

    status = 429
    slug = "rate-limited"
    title = "Too many requests"


# ---------------------------------------------------------------------------------------


class IdempotencyKeyInvalid(ProblemError):
    status = 400
    slug = "idempotency-key-invalid"
    title = "The Idempotency-Key header is not valid"


class IdempotencyKeyInUse(ProblemError):
    status = 409
    slug = "idempotency-key-in-use"
    title = "A request with this Idempotency-Key is still in progress"


class IdempotencyKeyReused(ProblemError):
    status = 422
    slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used for a different request"


# --- HTTP edge: request size limits (relink_api.edge) ----------------------------------
class PayloadTooLarge(ProblemError):
    status = 413
    slug = "payload-too-large"
    title = "The body is too large"


class RequestHeaderFieldsTooLarge(ProblemError):
    status = 431
    slug = "request-header-fields-too-large"
    title = "The request line and headers are too large"


PROBLEM_TYPES_DOC = "docs/problems.md"


class ProblemFieldError(BaseModel):
    """One invalid field of a ``validation-failed`` problem (the input is never echoed)."""

    loc: list[str] = Field(
        description="Where the field is: `body`, `query`, `path` or `header`, then its name.",
        examples=[["body", "account_id"]],
    )
    msg: str = Field(description="What is wrong with it.", examples=["Field required"])


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``). ``type`` is one of the
    stable ``/problems/<slug>`` URIs listed, with their status, meaning and what a client
    should do, in docs/problems.md; other members are extensions of that type."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/not-found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "No account fca_123 for this customer.",
                    "instance": "/v1/accounts/fca_123",
                }
            ]
        },
    )

    type: str = Field(
        description="A URI reference naming the problem type (`/problems/<slug>`); stable. "
        f"Every type is listed in {PROBLEM_TYPES_DOC}."
    )
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What happened in this occurrence, for a person.")
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[ProblemFieldError] | None = Field(
        default=None, description="`validation-failed` only: each invalid field."
    )
    stripe_code: str | None = Field(
        default=None, description="Stripe's error code, when Stripe refused the request."
    )
    stripe_param: str | None = Field(
        default=None, description="The parameter Stripe refused, when it named one."
    )
    stripe_request_id: str | None = Field(
        default=None, description="Stripe's request id, for Stripe's support."
    )


def problem_response(
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str | None,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update(extensions or {})
    # Here as well as in relink_api.edge.headers: an error in the edge itself is answered by
    # Starlette's outermost handler, outside every middleware.
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


# One example per status an operation documents: the problem a client meets most often.
_PROBLEM_EXAMPLES: dict[int, tuple[str, str, str]] = {
    400: (
        "invalid-cursor",
        "The cursor is not valid",
        "Pass the `next_cursor` of a previous page unchanged.",
    ),
    401: ("unauthorized", "Unauthorized", "An Authorization: Bearer token is required."),
    404: ("not-found", "Not found", "No account fca_123 for this customer."),
    409: (
        "account-healthy",
        "This account needs no relink",
        "fca_123 is healthy: there is nothing to repair.",
    ),
    413: (
        "payload-too-large",
        "The body is too large",
        "Bodies sent to this route are limited to 16384 bytes.",
    ),
    422: (
        "validation-failed",
        "The request is not valid",
        "One or more fields are missing or invalid; see errors.",
    ),
    429: (
        "rate-limited",
        "Too many requests",
        "Too many requests that call Stripe for this customer; retry in 3 seconds.",
    ),
    500: (
        "internal-error",
        "Internal server error",
        "The server failed to handle this request; it has been logged.",
    ),
    501: (
        "not-configured",
        "This server is not configured for that",
        "Hosted relinks need RELINK_PUBLIC_BASE_URL.",
    ),
    502: (
        "stripe-error",
        "Stripe returned an error",
        "Stripe returned an error after retrying; retry shortly.",
    ),
    503: (
        "database-unavailable",
        "The database is unavailable",
        "The database cannot be reached; nothing was changed. Retry shortly.",
    ),
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying (set when retrying can help).",
        "schema": {"type": "string"},
    }
}
# A 429 always carries it (rate limits, issue 11).
_RETRY_AFTER_429 = {
    "Retry-After": {
        "description": "Whole seconds until the next request will be let in.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[1-9][0-9]*$"},
    }
}
_CHALLENGE = {
    "WWW-Authenticate": {
        "description": "The authentication scheme the route expects, and why it failed.",
        "schema": {"type": "string"},
    }
}


# The 400 a create with an Idempotency-Key header can answer.
IDEMPOTENCY_PROBLEM_EXAMPLES: dict[int, tuple[str, str, str]] = {
    400: (
        IdempotencyKeyInvalid.slug,
        IdempotencyKeyInvalid.title,
        "Idempotency-Key must be 1 to 255 printable ASCII characters.",
    ),
}
# Response headers of the idempotent creates (documented on their 201).
CREATED_HEADERS = {
    "Idempotent-Replayed": {
        "description": "`true` when this repeats the result of an earlier request with the "
        "same Idempotency-Key (nothing new was created); absent otherwise.",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "`no-store`: the body describes a customer's bank link (and may carry "
        "a client secret).",
        "schema": {"type": "string"},
    },
}


def problem_responses(
    *statuses: int, examples: Mapping[int, tuple[str, str, str]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problem statuses a route can return.

    Only ``application/problem+json``: the handlers never render an error as plain JSON.
    ``examples`` replaces the default example of a status with (slug, title, detail).
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        slug, title, detail = {**_PROBLEM_EXAMPLES, **(examples or {})}[status]
        example = {
            "type": PROBLEM_TYPE_BASE + slug,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": "/v1/…",
        }
        entry: dict[str, Any] = {
            "description": f"{HTTPStatus(status).phrase} (problem types: {PROBLEM_TYPES_DOC})",
            "content": {
                PROBLEM_MEDIA_TYPE: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": example,
                }
            },
        }
        if status == 401:
            entry["headers"] = _CHALLENGE
        elif status in (502, 503):
            entry["headers"] = _RETRY_AFTER
        elif status == 429:
            entry["headers"] = _RETRY_AFTER_429
        responses[status] = entry
    return responses


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    # Never echo the offending input back: it may be a token or a secret pasted by mistake.
    return [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in errors
    ]


def _allowed_methods(request: Request) -> str | None:
    """Every method some route serves at this path. Starlette's 405 names only the methods
    of the first route whose path matched, so a path served by two routes (a GET and a
    POST) would answer ``Allow`` with one of them."""
    methods: set[str] = set()
    # Included routers are resolved lazily (FastAPI 0.16x): walk them as FastAPI does.
    for route in iter_route_contexts(request.app.routes):
        template = route.path_format
        if not template or not route.methods:
            continue
        pattern = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", template)
        )
        if re.fullmatch(pattern, request.url.path):
            methods |= route.methods
    return ", ".join(sorted(methods)) or None


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error the app can raise as problem+json."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(
            status=exc.status,
            slug=exc.slug,
            title=exc.title,
            detail=exc.detail,
            instance=request.url.path,
            extensions=exc.extensions,
            headers=exc.headers,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(
            status=422,
            slug=ValidationFailed.slug,
            title=ValidationFailed.title,
            detail="One or more fields are missing or invalid; see errors.",
            instance=request.url.path,
            extensions={"errors": _validation_errors(exc.errors())},
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        phrase = HTTPStatus(status).phrase
        slug = {404: "not-found", 405: "method-not-allowed"}.get(
            status, phrase.lower().replace(" ", "-")
        )
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
        if detail is None:
            detail = {
                404: f"Nothing is served at {request.url.path}.",
                405: f"{request.method} is not allowed on {request.url.path}.",
            }.get(status, phrase)
        headers = dict(exc.headers or {})
        if status == 405:
            headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
        return problem_response(
            status=status,
            slug=slug,
            title=phrase,
            detail=detail,
            instance=request.url.path,
            headers=headers,
        )

    async def on_unstorable_text(request: Request, exc: Exception) -> JSONResponse:
        # PostgreSQL text cannot hold NUL: an id, filter or field containing "\u0000" (or
        # a cursor decoding to one) fails in the driver. It is the client's input that is
        # wrong, whichever parameter carried it, and the transaction has rolled back.
        return problem_response(
            status=422,
            slug=ValidationFailed.slug,
            title=ValidationFailed.title,
            detail="A value contains a NUL character (U+0000), which is not allowed.",
            instance=request.url.path,
            extensions={"errors": []},
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            status=500,
            slug=ProblemError.slug,
            title=ProblemError.title,
            detail="The server failed to handle this request; it has been logged.",
            instance=request.url.path,
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(asyncpg.CharacterNotInRepertoireError, on_unstorable_text)
    app.add_exception_handler(Exception, on_unexpected)
