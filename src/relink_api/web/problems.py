"""RFC 9457 problem+json: the document, and the handlers that render every error as one."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from relink_api.errors import (
    MethodNotAllowed,
    NotFound,
    ProblemError,
    ValidationFailed,
    problem_types,
)

logger = logging.getLogger("relink_api.web.problems")

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Relative URI references (RFC 9457 §3.1.1): stable, and resolvable against the service.
PROBLEM_TYPE_BASE = "/problems/"

PROBLEM_TYPES_DOC = "docs/problems.md"

# Statuses whose problems always carry Retry-After (429s set their own exact wait).
RETRY_AFTER_STATUSES = frozenset({502, 503})
DEFAULT_RETRY_AFTER = "5"


def problem_type_uris() -> list[str]:
    """The ``type`` of every problem this service answers with."""
    return [PROBLEM_TYPE_BASE + cls.slug for cls in problem_types()]


class ProblemType(str):
    """A problem's ``type``: one of the URIs docs/problems.md lists, as a named enum."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.str_schema(ref="ProblemType")

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # Listed when the document is rendered, once every feature's types are defined.
        definition = handler.resolve_ref_schema(handler(schema))
        definition.update(
            title="ProblemType",
            description="A URI reference naming the problem type (`/problems/<slug>`); "
            f"stable. Every type is listed, with what to do about it, in {PROBLEM_TYPES_DOC}. "
            "A new type is only ever added with a new version of this document.",
            enum=problem_type_uris(),
        )
        return definition


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

    type: ProblemType
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
    if status in RETRY_AFTER_STATUSES and not any(k.lower() == "retry-after" for k in headers):
        # The document promises Retry-After on every one of these; a raise site that gave
        # none gets a short wait rather than a client left to guess.
        headers["Retry-After"] = DEFAULT_RETRY_AFTER
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


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


def _render(problem: ProblemError, request: Request) -> JSONResponse:
    return problem_response(
        status=problem.status,
        slug=problem.slug,
        title=problem.title,
        detail=problem.detail,
        instance=request.url.path,
        extensions=problem.extensions,
        headers=problem.headers,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error the app can raise as problem+json."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return _render(exc, request)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        failed = ValidationFailed(
            "One or more fields are missing or invalid; see errors.",
            extensions={"errors": _validation_errors(exc.errors())},
        )
        return _render(failed, request)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        phrase = HTTPStatus(status).phrase
        slug = {404: NotFound.slug, 405: MethodNotAllowed.slug}.get(
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
        failed = ValidationFailed(
            "A value contains a NUL character (U+0000), which is not allowed.",
            extensions={"errors": []},
        )
        return _render(failed, request)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        failed = ProblemError("The server failed to handle this request; it has been logged.")
        return _render(failed, request)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(asyncpg.CharacterNotInRepertoireError, on_unstorable_text)
    app.add_exception_handler(Exception, on_unexpected)
