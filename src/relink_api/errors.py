"""Domain errors and their RFC 9457 problem+json rendering.

Services raise ``ProblemError`` subclasses; one set of handlers turns them, request
validation errors, unknown routes and unexpected exceptions into problem documents.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


class Problem(BaseModel):
    """An RFC 9457 problem document."""

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

    type: str = Field(description="A URI reference naming the problem type; stable.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What happened in this occurrence, for a person.")
    instance: str | None = Field(default=None, description="The request path.")


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
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=dict(headers or {})
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problem statuses a route can return."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    # Never echo the offending input back: it may be a token or a secret pasted by mistake.
    return [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in errors
    ]


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
        return problem_response(
            status=status,
            slug=slug,
            title=phrase,
            detail=detail,
            instance=request.url.path,
            headers=exc.headers,
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
    app.add_exception_handler(Exception, on_unexpected)
