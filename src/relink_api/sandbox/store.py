"""The sandbox's own state (schema ``sandbox``): Stripe objects as JSON documents, the
webhook outbox and idempotency keys. Created on first start of a sandbox, never in
production migrations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from relink_api.db import Connection

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS sandbox;
CREATE TABLE IF NOT EXISTS sandbox.objects (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    -- A second key to find an object by: a session's client secret, an account's holder.
    lookup      text,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS objects_type_lookup_idx ON sandbox.objects (type, lookup, id);
CREATE TABLE IF NOT EXISTS sandbox.events (
    id               text PRIMARY KEY,
    type             text NOT NULL,
    payload          jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    seq              bigserial,
    delivered_at     timestamptz,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_error       text
);
CREATE INDEX IF NOT EXISTS events_pending_idx ON sandbox.events (next_attempt_at)
    WHERE delivered_at IS NULL;
CREATE TABLE IF NOT EXISTS sandbox.idempotency (
    key         text PRIMARY KEY,
    status      integer NOT NULL,
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- What the key was first used for (method, path, params): reuse for anything else is refused.
ALTER TABLE sandbox.idempotency ADD COLUMN IF NOT EXISTS fingerprint text NOT NULL DEFAULT '';
-- Payment methods are listed by customer; those stored before that had no lookup key.
UPDATE sandbox.objects SET lookup = data->>'customer'
    WHERE type = 'payment_method' AND lookup IS NULL AND data->>'customer' IS NOT NULL;
"""


async def create_schema(conn: Connection) -> None:
    # Several replicas may start at once: serialize, as the migrations do.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('relink-sandbox-schema'))")
    await conn.execute(SCHEMA)


async def _one(conn: Connection, where: str, *args: str, for_update: bool) -> dict[str, Any] | None:
    data: dict[str, Any] | None = await conn.fetchval(
        f"SELECT data FROM sandbox.objects WHERE {where}" + (" FOR UPDATE" if for_update else ""),
        *args,
    )
    return data


async def get(
    conn: Connection, object_id: str, *, type: str, for_update: bool = False
) -> dict[str, Any] | None:
    """The object with this id and type, if there is one."""
    return await _one(conn, "id = $1 AND type = $2", object_id, type, for_update=for_update)


async def find(
    conn: Connection, *, type: str, lookup: str, for_update: bool = False
) -> dict[str, Any] | None:
    """The object of this type found by its second key (a client secret, a token…)."""
    return await _one(conn, "type = $1 AND lookup = $2", type, lookup, for_update=for_update)


async def put(
    conn: Connection, obj: dict[str, Any], *, type: str, lookup: str | None = None
) -> None:
    await conn.execute(
        """
        INSERT INTO sandbox.objects (id, type, lookup, data) VALUES ($1, $2, $3, $4)
        ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data,
            lookup = COALESCE(EXCLUDED.lookup, sandbox.objects.lookup)
        """,
        obj["id"],
        type,
        lookup,
        obj,
    )


async def delete(conn: Connection, object_id: str, *, type: str) -> None:
    await conn.execute("DELETE FROM sandbox.objects WHERE id = $1 AND type = $2", object_id, type)


async def list_matching(
    conn: Connection, *, type: str, fields: dict[str, str], limit: int
) -> list[dict[str, Any]]:
    """The newest objects of a type whose data holds every one of ``fields``."""
    records = await conn.fetch(
        """
        SELECT data FROM sandbox.objects WHERE type = $1 AND data @> $2::jsonb
        ORDER BY created_at DESC, id DESC LIMIT $3
        """,
        type,
        fields,
        limit,
    )
    return [record["data"] for record in records]


async def list_by_lookup(
    conn: Connection,
    *,
    type: str,
    lookup: str,
    limit: int,
    starting_after: str | None = None,
    ending_before: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """One page of the objects with this lookup key, newest first (Stripe's list order),
    and whether more lie beyond it in the direction of travel."""
    if ending_before is not None:
        # Walk towards newer objects from the cursor, keep the nearest, show newest first.
        records = await conn.fetch(
            """
            SELECT data FROM sandbox.objects
            WHERE type = $1 AND lookup = $2 AND (created_at, id) > (
                SELECT created_at, id FROM sandbox.objects WHERE id = $3)
            ORDER BY created_at, id LIMIT $4
            """,
            type,
            lookup,
            ending_before,
            limit + 1,
        )
        page = [record["data"] for record in records]
        return list(reversed(page[:limit])), len(page) > limit
    records = await conn.fetch(
        """
        SELECT data FROM sandbox.objects
        WHERE type = $1 AND lookup = $2
          AND ($3::text IS NULL OR (created_at, id) < (
                SELECT created_at, id FROM sandbox.objects WHERE id = $3))
        ORDER BY created_at DESC, id DESC LIMIT $4
        """,
        type,
        lookup,
        starting_after,
        limit + 1,
    )
    page = [record["data"] for record in records]
    return page[:limit], len(page) > limit


async def accounts_on_authorization(
    conn: Connection, authorization_id: str, *, for_update: bool = False
) -> list[dict[str, Any]]:
    records = await conn.fetch(
        "SELECT data FROM sandbox.objects WHERE type = 'account' "
        "AND data->>'authorization' = $1 ORDER BY id" + (" FOR UPDATE" if for_update else ""),
        authorization_id,
    )
    return [record["data"] for record in records]


async def expiring(conn: Connection, *, type: str, by: int) -> list[dict[str, Any]]:
    """Active accounts or authorizations whose expected deactivation date is at or before
    ``by`` (unix seconds), locked for the change to come."""
    records = await conn.fetch(
        """
        SELECT data FROM sandbox.objects
        WHERE type = $1 AND data->>'status' = 'active'
          AND (data #>> '{status_details,active,expected_deactivation_date}')::bigint <= $2
        ORDER BY id FOR UPDATE SKIP LOCKED
        """,
        type,
        by,
    )
    return [record["data"] for record in records]


async def claim(conn: Connection, obj: dict[str, Any], *, type: str) -> bool:
    """Store ``obj`` unless one with its id exists; whether this call stored it. A marker
    that something happened once (a notice sent), safe against a concurrent claim."""
    claimed = await conn.fetchval(
        "INSERT INTO sandbox.objects (id, type, data) VALUES ($1, $2, $3) "
        "ON CONFLICT (id) DO NOTHING RETURNING id",
        obj["id"],
        type,
        obj,
    )
    return claimed is not None


async def count(conn: Connection, *, type: str) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM sandbox.objects WHERE type = $1", type))


async def enqueue_event(conn: Connection, event: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO sandbox.events (id, type, payload) VALUES ($1, $2, $3)",
        event["id"],
        event["type"],
        event,
    )


async def claim_events(
    conn: Connection, *, lease_until: datetime, limit: int
) -> list[dict[str, Any]]:
    """Due undelivered events in creation order, leased so one deliverer sends each."""
    records = await conn.fetch(
        """
        UPDATE sandbox.events SET next_attempt_at = $1, attempts = attempts + 1
        WHERE id IN (
            SELECT id FROM sandbox.events
            WHERE delivered_at IS NULL AND next_attempt_at <= clock_timestamp()
            ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED
        )
        RETURNING id, payload, attempts, seq
        """,
        lease_until,
        limit,
    )
    return [dict(record) for record in sorted(records, key=lambda r: r["seq"])]


async def mark_delivered(conn: Connection, *, event_id: str) -> None:
    await conn.execute(
        "UPDATE sandbox.events SET delivered_at = clock_timestamp(), last_error = NULL "
        "WHERE id = $1",
        event_id,
    )


async def mark_failed(conn: Connection, *, event_id: str, retry_at: datetime, error: str) -> None:
    await conn.execute(
        "UPDATE sandbox.events SET next_attempt_at = $2, last_error = $3 WHERE id = $1",
        event_id,
        retry_at,
        error[:500],
    )


async def list_events(conn: Connection, *, limit: int) -> list[dict[str, Any]]:
    records = await conn.fetch(
        """
        SELECT id, type, payload->'data'->'object'->>'id' AS object_id, attempts,
               delivered_at, last_error
        FROM sandbox.events ORDER BY seq DESC LIMIT $1
        """,
        limit,
    )
    return [dict(record) for record in records]


async def pending_count(conn: Connection) -> int:
    return int(
        await conn.fetchval("SELECT count(*) FROM sandbox.events WHERE delivered_at IS NULL")
    )


async def hold_idempotency_key(conn: Connection, key: str) -> bool:
    """Hold ``key`` until this transaction ends; ``False`` when another request holds it."""
    held: bool = await conn.fetchval(
        "SELECT pg_try_advisory_xact_lock(hashtext('relink-sandbox-idempotency'), hashtext($1))",
        key,
    )
    return held


async def idempotent_response(
    conn: Connection, key: str, *, lifetime: timedelta
) -> tuple[int, dict[str, Any], str] | None:
    """The response first given for ``key``, unless it is older than ``lifetime``."""
    record = await conn.fetchrow(
        "SELECT status, body, fingerprint FROM sandbox.idempotency "
        "WHERE key = $1 AND created_at > now() - $2::interval",
        key,
        lifetime,
    )
    return (record["status"], record["body"], record["fingerprint"]) if record else None


async def store_idempotent_response(
    conn: Connection,
    key: str,
    status: int,
    body: dict[str, Any],
    fingerprint: str,
    *,
    lifetime: timedelta,
) -> None:
    """Keep the response for ``key``, in place of an expired one, and prune expired keys."""
    await conn.execute(
        "DELETE FROM sandbox.idempotency WHERE created_at <= now() - $1::interval", lifetime
    )
    await conn.execute(
        "INSERT INTO sandbox.idempotency (key, status, body, fingerprint) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING",
        key,
        status,
        body,
        fingerprint,
    )
