"""SQL for the host application's webhook endpoints."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from relink_api.db import Connection

# Everything an operator may see: never the secrets.
_PUBLIC = """
    id, url, description, event_types, status, disabled_reason, disabled_at, failing_since,
    previous_secret_expires_at, created_at, updated_at
"""


async def insert(
    conn: Connection,
    *,
    endpoint_id: str,
    url: str,
    description: str | None,
    event_types: list[str],
    secret: str,
    at: datetime,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        INSERT INTO webhook_endpoints
            (id, url, description, event_types, secret, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $6)
        RETURNING {_PUBLIC}
        """,
        endpoint_id,
        url,
        description,
        event_types,
        secret,
        at,
    )
    assert row is not None
    return row


async def get(conn: Connection, endpoint_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_PUBLIC} FROM webhook_endpoints WHERE id = $1", endpoint_id
    )


async def secret(conn: Connection, endpoint_id: str) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT secret FROM webhook_endpoints WHERE id = $1", endpoint_id
    )
    return value


async def page(conn: Connection, *, after_id: str | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""
        SELECT {_PUBLIC} FROM webhook_endpoints
        WHERE $1::text IS NULL OR id > $1
        ORDER BY id LIMIT $2
        """,
        after_id,
        limit,
    )


async def disable(
    conn: Connection, endpoint_id: str, *, reason: str, at: datetime
) -> asyncpg.Record | None:
    """Disable the endpoint (an already disabled one keeps its reason and time) and fail
    the deliveries waiting for it."""
    row = await conn.fetchrow(
        f"""
        UPDATE webhook_endpoints
        SET status = 'disabled',
            disabled_reason = CASE WHEN status = 'enabled' THEN $2 ELSE disabled_reason END,
            disabled_at = CASE WHEN status = 'enabled' THEN $3 ELSE disabled_at END,
            updated_at = $3
        WHERE id = $1
        RETURNING {_PUBLIC}
        """,
        endpoint_id,
        reason,
        at,
    )
    if row is not None:
        await conn.execute(
            """
            UPDATE outbound_deliveries
            SET status = 'failed', next_attempt_at = NULL, updated_at = $2
            WHERE endpoint_id = $1 AND status = 'pending'
            """,
            endpoint_id,
            at,
        )
    return row


async def enable(conn: Connection, endpoint_id: str, *, at: datetime) -> asyncpg.Record | None:
    """Enable the endpoint and forget that it was failing."""
    return await conn.fetchrow(
        f"""
        UPDATE webhook_endpoints
        SET status = 'enabled', disabled_reason = NULL, disabled_at = NULL,
            failing_since = NULL, updated_at = $2
        WHERE id = $1
        RETURNING {_PUBLIC}
        """,
        endpoint_id,
        at,
    )


async def rotate_secret(
    conn: Connection, endpoint_id: str, *, secret: str, previous_until: datetime, at: datetime
) -> asyncpg.Record | None:
    """Sign with ``secret`` from now on; the current one keeps signing beside it until
    ``previous_until``."""
    return await conn.fetchrow(
        f"""
        UPDATE webhook_endpoints
        SET previous_secret = secret, previous_secret_expires_at = $3, secret = $2,
            updated_at = $4
        WHERE id = $1
        RETURNING {_PUBLIC}
        """,
        endpoint_id,
        secret,
        previous_until,
        at,
    )


async def note_success(conn: Connection, endpoint_id: str, *, at: datetime) -> None:
    await conn.execute(
        """
        UPDATE webhook_endpoints SET failing_since = NULL, updated_at = $2
        WHERE id = $1 AND failing_since IS NOT NULL
        """,
        endpoint_id,
        at,
    )


async def note_failure(conn: Connection, endpoint_id: str, *, at: datetime) -> asyncpg.Record:
    """Mark the endpoint failing (since its first failure after a success); returns its
    status and ``failing_since``."""
    row = await conn.fetchrow(
        """
        UPDATE webhook_endpoints
        SET failing_since = coalesce(failing_since, $2), updated_at = $2
        WHERE id = $1
        RETURNING status, failing_since
        """,
        endpoint_id,
        at,
    )
    assert row is not None
    return row


async def unhealthy(conn: Connection) -> list[asyncpg.Record]:
    """Endpoints that are failing or disabled, with how many deliveries wait for each."""
    return await conn.fetch(
        """
        SELECT e.id, e.url, e.status, e.failing_since, e.disabled_at, e.disabled_reason,
               (SELECT count(*) FROM outbound_deliveries d
                WHERE d.endpoint_id = e.id AND d.status = 'pending') AS pending
        FROM webhook_endpoints e
        WHERE e.status = 'disabled' OR e.failing_since IS NOT NULL
        ORDER BY e.id
        """
    )
