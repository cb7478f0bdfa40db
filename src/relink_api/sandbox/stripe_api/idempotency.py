"""Stripe's ``Idempotency-Key``: a retried POST answers what the first one answered, for
24 hours (docs/stripe.md §7)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from relink_api.db import Connection, Database
from relink_api.sandbox import store, versions
from relink_api.sandbox.payments import SetupFailed
from relink_api.sandbox.stripe_api.responses import answered_at, respond
from relink_api.sandbox.wire import StripeApiError, request_id

# What a POST does, in the transaction it is given: the object it answers with.
Build = Callable[[Connection], Awaitable[dict[str, Any]]]
# Stripe prunes a key once it is at least 24 hours old; used again after that, it is new.
KEY_LIFETIME = timedelta(hours=24)


def _in_flight(key: str) -> StripeApiError:
    return StripeApiError(
        409,
        "There is currently another in-progress request using this Idempotent Key (that "
        "probably means you submitted twice, and the other request is still going through): "
        f"{key}. Please try again later.",
        code="idempotency_key_in_use",
    )


async def idempotent(
    request: Request, db: Database, params: dict[str, Any], build: Build
) -> JSONResponse:
    """Answer ``build``'s object, made in one transaction. The same key replays the first
    response, but only for the same request; a key reused for other parameters or another
    endpoint is an error, and so is a key whose first request is still running. The
    response is kept as first rendered, at the first request's API version."""
    key = request.headers.get("idempotency-key")
    fingerprint = hashlib.sha256(
        json.dumps([request.method, request.url.path, params], sort_keys=True).encode()
    ).hexdigest()
    async with db.transaction() as conn:
        if key:
            if not await store.hold_idempotency_key(conn, key):
                raise _in_flight(key)
            replay = await store.idempotent_response(conn, key, lifetime=KEY_LIFETIME)
            if replay is not None:
                status, body, first = replay
                if first != fingerprint:
                    raise StripeApiError(
                        400,
                        "Keys for idempotent requests can only be used with the same "
                        f"parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                        type="idempotency_error",
                    )
                response = respond(request, body, status, replay=True)
                response.headers["Idempotent-Replayed"] = "true"
                return response
        rid = request_id()
        status = 200
        try:
            body = await build(conn)
        except SetupFailed as failure:
            # Answered as an error but not rolled back; a replay answers the same error.
            status, body = failure.status, failure.body(rid)
        body = versions.render(body, answered_at(request))
        if key:
            await store.store_idempotent_response(
                conn, key, status, body, fingerprint, lifetime=KEY_LIFETIME
            )
        return respond(request, body, status, rid)
