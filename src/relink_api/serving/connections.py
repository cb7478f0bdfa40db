"""Whether N workers' pools fit in the connections PostgreSQL allows.

Each worker opens a pool of up to ``RELINK_DB_POOL_MAX_SIZE`` connections. Past the
server's limit, a busy worker's next connection is refused ("too many clients") and its
request fails; the parent refuses to start instead, saying what would fit.
"""

from __future__ import annotations

from relink_api.db import Database

# Room kept for one more pool beside the workers: a `relink-api sync`, `migrate` or
# `worker` on the same database, or a restarted worker while its predecessor's
# connections are being closed.
SPARE_POOLS = 1


def connections_problem(
    workers: int, pool_max: int, *, max_connections: int, reserved: int
) -> str | None:
    """Why ``workers`` pools of ``pool_max`` connections (and one spare pool) do not fit
    in a server with ``max_connections``, ``reserved`` of them for superusers; ``None``
    when they do."""
    usable = max_connections - reserved
    needed = (workers + SPARE_POOLS) * pool_max
    if needed <= usable:
        return None
    most_workers = usable // pool_max - SPARE_POOLS
    largest_pool = usable // (workers + SPARE_POOLS)
    remedies = []
    if most_workers >= 1:
        remedies.append(f"run at most {most_workers} worker{'s' if most_workers > 1 else ''}")
    if largest_pool >= 1:
        remedies.append(f"set RELINK_DB_POOL_MAX_SIZE to {largest_pool} or less")
    remedy = " or ".join(remedies) or "raise the server's max_connections"
    return (
        f"{workers} workers with RELINK_DB_POOL_MAX_SIZE={pool_max} may open "
        f"{workers * pool_max} connections, plus {pool_max * SPARE_POOLS} kept for a command "
        f"beside them, more than the {usable} PostgreSQL allows (max_connections "
        f"{max_connections} less {reserved} reserved): {remedy}."
    )


async def server_connection_limits(database: Database) -> tuple[int, int]:
    """The server's ``max_connections`` and ``superuser_reserved_connections``."""
    async with database.connection() as conn:
        row = await conn.fetchrow(
            "SELECT current_setting('max_connections')::int AS max_connections, "
            "current_setting('superuser_reserved_connections')::int AS reserved"
        )
    assert row is not None
    return int(row["max_connections"]), int(row["reserved"])
