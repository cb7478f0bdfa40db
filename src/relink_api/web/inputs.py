"""Rules for request input beyond its types.

Unknown query parameters are refused: a misspelt filter (``?custmer=…``) must not silently
widen a list to everything. Text that ends up in PostgreSQL may not contain NUL, which a
``text`` column cannot hold: ``STORABLE_TEXT`` says so in the schema, so it is a 422
naming the field (and a documented constraint) rather than a driver error."""

from __future__ import annotations

from fastapi import Depends, Request, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute

from relink_api.errors import ValidationFailed

_MAX_NAME_SHOWN = 64
# Where each route keeps the names it takes, worked out at its first request: walking the
# route's dependencies cost more than the check itself. On the route object, so the names
# go with it (routes compare by value, and cannot be keys).
_NAMES_ATTRIBUTE = "_relink_query_names"

STORABLE_TEXT = r"^[^\x00]*$"


def _query_names(route: APIRoute) -> frozenset[str]:
    return frozenset(
        field.alias
        for field in get_flat_params(route.dependant)
        if isinstance(field.field_info, params.Query)
    )


async def reject_unknown_query(request: Request) -> None:
    """422 ``validation-failed`` naming each query parameter the route does not take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.scope.get("query_string"):
        return
    known: frozenset[str] | None = getattr(route, _NAMES_ATTRIBUTE, None)
    if known is None:
        known = _query_names(route)
        setattr(route, _NAMES_ATTRIBUTE, known)
    unknown = sorted(set(request.query_params.keys()) - known)
    if unknown:
        raise ValidationFailed(
            "Unknown query parameters; see errors.",
            extensions={
                "errors": [
                    {"loc": ["query", name[:_MAX_NAME_SHOWN]], "msg": "unknown parameter"}
                    for name in unknown
                ]
            },
        )


STRICT_QUERY = Depends(reject_unknown_query)
