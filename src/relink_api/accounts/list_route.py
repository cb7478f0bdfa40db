"""The route of ``GET /v1/accounts``, the hottest read: a plain request skips FastAPI's
dependency resolution.

Resolving the route's dependencies (the bearer scheme declared for the OpenAPI document,
the unknown-query check, the caller, the database) and validating its query took about a
fifth of the request's CPU. A request whose query holds only the route's own parameters,
each plainly written and valid as it stands, needs none of that: the caller is
authenticated and the endpoint called directly, with the arguments FastAPI would have
given it. Anything else (a value to decode, validate or refuse, a repeated scalar, an
unknown name, dependency overrides, FastAPI's telemetry at work) takes FastAPI's own path,
so every refusal, and the order refusals come in, stays FastAPI's. The route's
``dependant`` is unchanged: the OpenAPI document still shows every parameter and the
security scheme.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from fastapi.telemetry import get_telemetry_data

from relink_api.pagination import MAX_PAGE_SIZE
from relink_api.web.deps import database_of, principal_of

# Characters a value may hold to be taken as written: no `%` or `+` to decode.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9._~,:-]+")
# A page size pydantic would read as the same number, within the bounds `Limit` documents.
_PLAIN_LIMIT = re.compile(r"[1-9][0-9]{0,2}")
# `Cursor`'s `max_length`.
_MAX_CURSOR = 1024

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def plain_query(query_string: bytes) -> dict[str, Any] | None:
    """The list's arguments (``health``, ``cursor``, ``limit``) from a query FastAPI would
    accept as written; ``None`` for anything it must look at itself."""
    arguments: dict[str, Any] = {}
    if not query_string:
        return arguments
    health: list[str] = []
    for piece in query_string.decode("latin-1").split("&"):
        name, equals, value = piece.partition("=")
        if not equals or _PLAIN_VALUE.fullmatch(value) is None:
            return None
        if name == "health":
            health.append(value)
            continue
        if name in arguments:
            return None
        if name == "limit" and _PLAIN_LIMIT.fullmatch(value) and int(value) <= MAX_PAGE_SIZE:
            arguments["limit"] = int(value)
        elif name == "cursor" and len(value) <= _MAX_CURSOR:
            arguments["cursor"] = value
        else:
            return None
    if health:
        arguments["health"] = health
    return arguments


class ListAccountsRoute(APIRoute):
    """``GET /v1/accounts``: a plain request is served without resolving dependencies."""

    def get_route_handler(self) -> Handler:
        resolved = super().get_route_handler()
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            arguments = plain_query(request.scope["query_string"])
            # The app's overrides, not the route's provider: a route of an included router
            # is given the app only in the context FastAPI resolves it in.
            overridden = getattr(request.app, "dependency_overrides", None)
            if arguments is None or overridden or get_telemetry_data() is not None:
                return await resolved(request)
            # What the dependencies give, in their order: the bearer scheme and the query
            # check never refuse a plain request, so the caller is the first to be asked.
            principal = await principal_of(request)
            response: Response = await endpoint(
                principal=principal, db=await database_of(request), **arguments
            )
            return response

        return handle
