"""SQL for idempotency keys. Never a response body: only what rebuilds one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import asyncpg

from relink_api.db import Connection

_COLUMNS = """
    principal, key, method, path, fingerprint, resource_ids, status_code, created_at,
    expires_at, locked_until, completed_at,
    expires_at <= now() AS expired, coalesce(locked_until > now(), false) AS leased,
    greatest(ceil(extract(epoch FROM locked_until - now())), 0)::integer AS lease_seconds_left
"""


@dataclass(frozen=True, slots=True)
class IdempotencyRow:
    principal: str
    key: str
    method: str
    path: str
    fingerprint: str
    resource_ids: dict[str, str] | None
    status_code: int | None
    created_at: datetime
    expires_at: datetime
    locked_until: datetime | None
    completed_at: datetime | None
    # Judged by the database's clock, the one that wrote the times.
    expired: bool
    leased: bool
    # Whole seconds until the lease ends, rounded up (0 when none is held).
    lease_seconds_left: int | None

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> IdempotencyRow:
        return cls(**dict(record))


async def claim(
    conn: Connection,
    *,
    principal: str,
    key: str,
    method: str,
    path: str,
    fingerprint: str,
    retention: timedelta,
    lease: timedelta,
) -> tuple[IdempotencyRow, bool]:
    """Claim the key (a key past its retention starts over, as if it had never been used),
    or lock and return the claim already there. ``True`` if claimed now.

    Call inside a transaction: the existing row stays locked until it ends."""
    record = await conn.fetchrow(
        f"""
        INSERT INTO idempotency_keys AS kept (
            principal, key, method, path, fingerprint, expires_at, locked_until)
        VALUES ($1, $2, $3, $4, $5, now() + $6::interval, now() + $7::interval)
        ON CONFLICT (principal, key) DO UPDATE
        SET method = EXCLUDED.method, path = EXCLUDED.path, fingerprint = EXCLUDED.fingerprint,
            resource_ids = NULL, status_code = NULL, created_at = now(),
            expires_at = EXCLUDED.expires_at, locked_until = EXCLUDED.locked_until,
            completed_at = NULL
        WHERE kept.expires_at <= now()
        RETURNING {_COLUMNS}
        """,
        principal,
        key,
        method,
        path,
        fingerprint,
        retention,
        lease,
    )
    if record is not None:
        return IdempotencyRow.from_record(record), True
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM idempotency_keys WHERE principal = $1 AND key = $2 FOR UPDATE",
        principal,
        key,
    )
    # The conflicting row cannot vanish between the two statements: only `purge_expired`
    # deletes, and it skips unexpired keys, which is what the conflict was with.
    assert record is not None
    return IdempotencyRow.from_record(record), False


async def extend_lease(
    conn: Connection, *, principal: str, key: str, lease: timedelta
) -> IdempotencyRow:
    """Take over a claim whose request died, keeping its ``created_at`` (the ids' seed)."""
    record = await conn.fetchrow(
        f"""
        UPDATE idempotency_keys SET locked_until = now() + $3::interval
        WHERE principal = $1 AND key = $2
        RETURNING {_COLUMNS}
        """,
        principal,
        key,
        lease,
    )
    assert record is not None
    return IdempotencyRow.from_record(record)


class ClaimId(Protocol):
    """A claim by the key and the ``created_at`` it was claimed at: once the key has been
    started over, the old claim names no row."""

    @property
    def principal(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


_UNFINISHED_CLAIM = "principal = $1 AND key = $2 AND created_at = $3 AND status_code IS NULL"


async def complete(
    conn: Connection, claim: ClaimId, *, resource_ids: dict[str, str], status_code: int
) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET resource_ids = $4, status_code = $5, completed_at = now(), "
        f"locked_until = NULL WHERE {_UNFINISHED_CLAIM}",
        claim.principal,
        claim.key,
        claim.created_at,
        resource_ids,
        status_code,
    )


async def release(conn: Connection, claim: ClaimId) -> None:
    """End the lease of a claim whose request failed: a retry may take it at once."""
    await conn.execute(
        f"UPDATE idempotency_keys SET locked_until = now() WHERE {_UNFINISHED_CLAIM}",
        claim.principal,
        claim.key,
        claim.created_at,
    )


async def purge_expired(conn: Connection) -> int:
    """Delete keys past their retention; how many."""
    result = await conn.execute("DELETE FROM idempotency_keys WHERE expires_at <= now()")
    return int(result.split()[-1])
