"""Stripe's responses: the headers every answer carries, a retrieved object, a list page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from relink_api.db import Connection, Database
from relink_api.sandbox import store, versions, world
from relink_api.sandbox.stripe_api.params import retrieve_params
from relink_api.sandbox.wire import missing, request_id

# How a retrieved object is shown: (connection, stored object, expand) → the API's view.
Render = Callable[[Connection, dict[str, Any], list[str]], Awaitable[dict[str, Any]]]


def answered_at(request: Request) -> str:
    """The API version the request is answered at (its ``Stripe-Version``, checked on the
    way in, or the account's default)."""
    return versions.answered_at(request.headers.get("stripe-version"))


def respond(
    request: Request,
    body: dict[str, Any],
    status: int = 200,
    rid: str | None = None,
    *,
    replay: bool = False,
) -> JSONResponse:
    """``body`` rendered at the request's API version (a replay goes out exactly as it was
    first answered), with the ``Request-Id`` and ``Stripe-Version`` headers Stripe sends."""
    version = answered_at(request)
    headers = {"Request-Id": rid or request_id(), "Stripe-Version": version}
    content = body if replay else versions.render(body, version)
    return JSONResponse(content, status_code=status, headers=headers)


async def _as_stored(conn: Connection, found: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    return world.api_view(found)


async def retrieve(
    request: Request,
    db: Database,
    object_id: str,
    *,
    type: str,
    render: Render = _as_stored,
) -> JSONResponse:
    """``GET /v1/<objects>/{id}``: only ``expand`` allowed (handed to ``render``), 404 as
    Stripe."""
    expand = await retrieve_params(request)
    async with db.connection() as conn:
        found = await store.get(conn, object_id, type=type)
        if found is None:
            raise missing(world.STRIPE_NAMES[type], object_id)
        view = await render(conn, found, expand)
    return respond(request, view)


async def list_page(
    conn: Connection, params: dict[str, Any], *, type: str, lookup: str, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of the objects listed under ``lookup``, newest first, and whether there is
    more; a cursor (``starting_after``, ``ending_before``) must name an existing object."""
    for cursor in ("starting_after", "ending_before"):
        cursor_id = params.get(cursor)
        if cursor_id is not None and await store.get(conn, cursor_id, type=type) is None:
            raise missing(world.STRIPE_NAMES[type], cursor_id, param=cursor)
    return await store.list_by_lookup(
        conn,
        type=type,
        lookup=lookup,
        limit=limit,
        starting_after=params.get("starting_after"),
        ending_before=params.get("ending_before"),
    )


def list_response(
    request: Request, data: list[dict[str, Any]], *, has_more: bool, url: str
) -> JSONResponse:
    """Stripe's list envelope."""
    return respond(request, {"object": "list", "data": data, "has_more": has_more, "url": url})
