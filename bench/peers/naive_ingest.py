"""Figure 1's floor: the least a durable webhook receiver can do. It checks the
``Stripe-Signature`` (HMAC-SHA256 of ``<t>.<body>``, within the tolerance) and inserts the
event in one statement, an implicit transaction committed durably before it answers; it
reads nothing, applies nothing and logs nothing. Served like the bare app, in one uvicorn
process:

    uvicorn bench.peers.naive_ingest:app

against the run's embedded PostgreSQL (``NAIVE_DSN``, a database of its own), with the
endpoint secret in ``NAIVE_WEBHOOK_SECRET``. What relink-api does beyond it (parse, owner
and state, history, the event's result, logs and metrics) is the distance between the two.
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
    pool = await asyncpg.create_pool(os.environ["NAIVE_DSN"], min_size=10, max_size=10)
    async with pool.acquire() as conn:
        await conn.execute(_TABLE)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)
SECRET = os.environ.get("NAIVE_WEBHOOK_SECRET", "").encode()


@app.post("/v1/webhooks/stripe")
async def receive(request: Request) -> Response:
    """Verify, insert, acknowledge."""
    body = await request.body()
    if not signed(body, request.headers.get("stripe-signature", ""), SECRET, time.time()):
        return Response(status_code=400)
    event = json.loads(body)
    await request.app.state.pool.execute(_INSERT, event["id"], event["type"], body.decode())
    return Response(b'{"received":true}', media_type="application/json")
