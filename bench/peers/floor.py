"""The floors of figures 1 and 2: the least a handler of the same request can do, served
like the bare app, in one uvicorn process with no logs:

    uvicorn bench.peers.floor:app

- ``POST /v1/webhooks/stripe`` checks the ``Stripe-Signature`` (HMAC-SHA256 of
  ``<t>.<body>``, within the tolerance) and inserts the event in one statement, an implicit
  transaction committed durably before it answers, into a database of its own
  (``FLOOR_DSN``); it reads nothing, applies nothing and logs nothing.
- ``GET /v1/accounts`` checks the bearer JWT (HS256, ``FLOOR_JWT_SECRET``) and answers the
  customer's first 100 accounts of relink-api's own table (``FLOOR_ACCOUNTS_DSN``) with one
  plain SELECT of the columns relink-api's list shows, encoded by ``json.dumps``; no link
  health, no cursor, no checks of the query.

What relink-api does beyond them (parsing, owners, state, history, results, link health,
cursors, validation, logs and metrics) is the distance between the two.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import jwt
from fastapi import FastAPI, Request, Response

TOLERANCE_S = 300
_TABLE = """
CREATE TABLE IF NOT EXISTS naive_events (
    id text PRIMARY KEY,
    type text NOT NULL,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
)
"""
_ACCOUNTS = (
    "SELECT id, authorization_id, institution_id, institution_name, display_name, last4, "
    "category, subcategory, status, action, cause, expected_deactivation_at, "
    "account_number_expires_at, inactive_since, permissions, needs_payment_method, "
    "replaces_account_id, replacement_relink_session_id, updated_at "
    "FROM accounts WHERE customer_id = $1 ORDER BY id LIMIT 101"
)
_INSERT = (
    "INSERT INTO naive_events (id, type, payload) VALUES ($1, $2, $3::jsonb) "
    "ON CONFLICT (id) DO NOTHING"
)


def signed(body: bytes, header: str, secret: bytes, now: float) -> bool:
    """Whether any ``v1`` of ``header`` is the HMAC of ``<t>.<body>``, ``t`` within the
    tolerance."""
    parts = [item.partition("=") for item in header.split(",")]
    stamps = [value for key, _, value in parts if key == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(now - int(stamps[0])) > TOLERANCE_S:
        return False
    expected = hmac.new(secret, stamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(key == "v1" and hmac.compare_digest(value, expected) for key, _, value in parts)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Pools of relink-api's default size.
    pool = await asyncpg.create_pool(os.environ["FLOOR_DSN"], min_size=10, max_size=10)
    accounts = await asyncpg.create_pool(os.environ["FLOOR_ACCOUNTS_DSN"], min_size=10, max_size=10)
    async with pool.acquire() as conn:
        await conn.execute(_TABLE)
    app.state.pool, app.state.accounts = pool, accounts
    try:
        yield
    finally:
        await pool.close()
        await accounts.close()


app = FastAPI(lifespan=lifespan)
SECRET = os.environ.get("FLOOR_WEBHOOK_SECRET", "").encode()
JWT_SECRET = os.environ.get("FLOOR_JWT_SECRET", "")


@app.post("/v1/webhooks/stripe")
async def receive(request: Request) -> Response:
    """Verify, insert, acknowledge."""
    body = await request.body()
    if not signed(body, request.headers.get("stripe-signature", ""), SECRET, time.time()):
        return Response(status_code=400)
    event = json.loads(body)
    await request.app.state.pool.execute(_INSERT, event["id"], event["type"], body.decode())
    return Response(b'{"received":true}', media_type="application/json")


def _shown(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


@app.get("/v1/accounts")
async def accounts(request: Request) -> Response:
    """The customer's first page of accounts."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return Response(status_code=401)
    if scheme.lower() != "bearer" or not isinstance(claims.get("stripe_customer"), str):
        return Response(status_code=401)
    rows = await request.app.state.accounts.fetch(_ACCOUNTS, claims["stripe_customer"])
    page = {"data": [dict(row) for row in rows[:100]], "has_more": len(rows) > 100}
    return Response(json.dumps(page, default=_shown), media_type="application/json")
