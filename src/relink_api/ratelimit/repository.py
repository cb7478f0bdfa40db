"""SQL for rate limits: one GCRA check per statement, so concurrent checks never race."""

from __future__ import annotations

from dataclasses import dataclass

from relink_api.db import Connection

# GCRA (the generic cell rate algorithm): a key's row holds `tat`, the time at which its
# bucket would be full again. A request may go when `tat` is at most `tolerance` (room for
# burst - 1 more requests) plus `max_wait` ahead of now; going moves `tat` on by one
# emission interval. The whole decision is one INSERT … ON CONFLICT DO UPDATE: PostgreSQL
# locks the row for it, so concurrent checks of one key (from any process) apply one after
# the other, each against the row the previous one left, and none can be lost or counted
# twice. The clock is the database's (clock_timestamp(), not the transaction's now()), so
# replicas with skewed clocks agree. A new key starts with a full bucket and is allowed.
_CHECK = """
    INSERT INTO rate_limits AS r (key, tat, checked_at, allowed)
    SELECT $1, clock.now + make_interval(secs => $2::float8), clock.now, true
    FROM (SELECT clock_timestamp() AS now) AS clock
    ON CONFLICT (key) DO UPDATE SET
        allowed = greatest(r.tat, excluded.checked_at) - excluded.checked_at
                  <= make_interval(secs => $3::float8 + $4::float8),
        tat = CASE
            WHEN greatest(r.tat, excluded.checked_at) - excluded.checked_at
                 <= make_interval(secs => $3::float8 + $4::float8)
            THEN greatest(r.tat, excluded.checked_at) + make_interval(secs => $2::float8)
            ELSE r.tat
        END,
        checked_at = excluded.checked_at
    RETURNING allowed, extract(epoch FROM tat - checked_at)::float8 AS ahead
"""


@dataclass(frozen=True, slots=True)
class Checked:
    """What one check decided, and how far (seconds) the key's ``tat`` now is ahead."""

    allowed: bool
    ahead: float


async def check(
    conn: Connection, *, key: str, interval: float, tolerance: float, max_wait: float
) -> Checked:
    record = await conn.fetchrow(_CHECK, key, interval, tolerance, max_wait)
    assert record is not None
    return Checked(allowed=record["allowed"], ahead=record["ahead"])


async def give_back(conn: Connection, *, key: str, interval: float) -> None:
    """Undo one allowed check of ``key`` (a request that turned out not to count)."""
    await conn.execute(
        "UPDATE rate_limits SET tat = tat - make_interval(secs => $2::float8) WHERE key = $1",
        key,
        interval,
    )


async def prune(conn: Connection) -> int:
    """Delete rows whose bucket is full again: they hold nothing a missing row does not."""
    status = await conn.execute("DELETE FROM rate_limits WHERE tat < clock_timestamp()")
    return int(status.rsplit(" ", 1)[-1])
