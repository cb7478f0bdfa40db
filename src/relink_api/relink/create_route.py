"""The route of ``POST /v1/relink-sessions``: a plain create skips FastAPI's dependency
resolution.

Resolving the route's dependencies (the bearer scheme declared for the OpenAPI document,
the unknown-query check, the customer rate limit and the caller behind it, the database,
Stripe, the settings, the idempotency key) took about a fifth of a create's CPU in the
server. A request with no query, a JSON body (``Content-Type: application/json``) that
the route's body model accepts as it stands, and either no ``Idempotency-Key`` or a
well-formed one, needs none of that: the caller is authenticated, charged to the
customer's rate limit and the endpoint called with the arguments FastAPI would have given
it, in the order FastAPI would have asked for them. Its answer is serialized by FastAPI's
own ``serialize_response``. Anything else (a body to refuse, a query, another content
type, a bad key, dependency overrides, FastAPI's telemetry at work) takes FastAPI's path,
so every refusal, and the order refusals come in, stays FastAPI's. Deciding which path is
pure (nothing is charged or read before it), so a request is never charged twice. The
route's ``dependant`` is unchanged: the OpenAPI document is the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute, serialize_response
from fastapi.telemetry import get_telemetry_data

from relink_api.idempotency.errors import IdempotencyKeyInvalid
from relink_api.idempotency.service import HEADER, IdempotencyKey, parse_key
from relink_api.web.deps import charge_customer, database_of, principal_of

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

# The one content type taken as written: FastAPI parses any `application/*+json` (with
# parameters) too, but clients send this, and the rest is left to FastAPI to read.
_JSON = "application/json"
_HEADER = HEADER.lower()


def _plain_key(request: Request) -> tuple[bool, IdempotencyKey | None]:
    """Whether the ``Idempotency-Key`` (if any) is one FastAPI's path would take, and it."""
    try:
        return True, parse_key(
            request.headers.get(_HEADER), method=request.method, path=request.url.path
        )
    except IdempotencyKeyInvalid:
        return False, None


class CreateSessionRoute(APIRoute):
    """``POST /v1/relink-sessions``: a plain create is served without resolving
    dependencies."""

    def get_route_handler(self) -> Handler:
        resolved = super().get_route_handler()
        endpoint = self.endpoint
        body_field = self.body_field
        response_field = self.response_field
        status_code = self.status_code or 200
        assert body_field is not None
        assert response_field is not None

        async def handle(request: Request) -> Response:
            body = await _plain_body(request)
            plain_key, key = _plain_key(request)
            overridden = getattr(request.app, "dependency_overrides", None)
            if body is None or not plain_key or overridden or get_telemetry_data() is not None:
                return await resolved(request)
            value, errors = body_field.validate(body, {}, loc=("body",))
            if errors:
                return await resolved(request)
            # What the dependencies give, in their order: the bearer scheme and the query
            # check never refuse a plain request; the rate limit asks for the caller first.
            principal = await principal_of(request)
            await charge_customer(request, principal)
            state = request.app.state
            # The response FastAPI lends the endpoint for its headers, made as FastAPI does.
            sub_response = Response()
            del sub_response.headers["content-length"]
            created = await endpoint(
                body=value,
                response=sub_response,
                principal=principal,
                db=await database_of(request),
                stripe=state.stripe,
                settings=state.settings,
                idempotency_key=key,
            )
            content = await serialize_response(
                field=response_field, response_content=created, dump_json=True
            )
            response = Response(content, status_code=status_code, media_type=_JSON)
            response.headers.raw.extend(sub_response.headers.raw)
            return response

        return handle


async def _plain_body(request: Request) -> Any:
    """The JSON body of a request with no query and a JSON content type; ``None`` for one
    FastAPI must read itself."""
    if request.scope["query_string"] or request.headers.get("content-type") != _JSON:
        return None
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
