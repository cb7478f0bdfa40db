"""The asyncpg pool and the unit-of-work helpers built on it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from relink_api.errors import ServiceUnavailable
from relink_api.metrics.families import DB_POOL_CONNECTIONS, DB_POOL_LIMIT
from relink_api.metrics.process import forget_at_exit
from relink_api.settings import Settings

# What repositories receive: a pooled connection. The stubs make these generic over the
# record class; at run time they are plain classes.
if TYPE_CHECKING:
    Connection: TypeAlias = PoolConnectionProxy[asyncpg.Record]
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:
    Connection = PoolConnectionProxy
    Pool = asyncpg.Pool

logger = logging.getLogger(__name__)

# Errors that mean "the database cannot be reached or used right now", as opposed to a
# query that is wrong: a caller (or Stripe's webhook delivery) should retry later.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    # A server that dies mid-statement can leave a pooled connection half-way through the
    # protocol ("cannot switch to state …"); asyncpg raises this on its next use or reset.
    asyncpg.InternalClientError,
)
_RETRY_AFTER_SECONDS = "5"


class DatabaseUnavailable(
    ServiceUnavailable, slug="database-unavailable", title="The database is unavailable"
):
    """The database cannot be reached, was lost mid-request, or had no free connection in
    time; nothing was changed."""


def _unavailable(exc: BaseException) -> DatabaseUnavailable:
    logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    return DatabaseUnavailable(
        "The database cannot be reached; nothing was changed. Retry shortly.",
        headers={"Retry-After": _RETRY_AFTER_SECONDS},
    )


_PING_FAILURES: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,
    asyncpg.PostgresError,
    *UNAVAILABLE_ERRORS,
)


async def _init_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    # jsonb in, dicts out: repositories pass and receive plain Python values.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


class Database:
    """Owns the pool. Services open one transaction per unit of work and pass the
    connection to repositories; no connection is held while Stripe is called."""

    def __init__(self, pool: Pool, *, acquire_timeout: float = 5.0) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout

    @classmethod
    async def connect(cls, dsn: str, settings: Settings) -> Database:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            command_timeout=settings.db_command_timeout_seconds,
            init=_init_connection,
        )
        forget_at_exit()  # the pool gauges are live: gone with the process
        return cls(pool, acquire_timeout=settings.db_acquire_timeout_seconds)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection inside a transaction that commits when the block ends cleanly.

        Losing the database (at acquire, mid-statement or at commit) becomes
        ``DatabaseUnavailable`` (503): the transaction did not commit.
        """
        async with self._acquired() as conn:
            try:
                async with conn.transaction():
                    yield conn
            except UNAVAILABLE_ERRORS as exc:
                raise _unavailable(exc) from exc

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection for reads that need no transaction."""
        async with self._acquired() as conn:
            try:
                yield conn
            except UNAVAILABLE_ERRORS as exc:
                raise _unavailable(exc) from exc

    @asynccontextmanager
    async def _acquired(self) -> AsyncIterator[Connection]:
        try:
            # Bounded: with every connection held (a locked table, a slow query), waiting
            # longer only piles requests up behind the pool.
            conn = await self._pool.acquire(timeout=self._acquire_timeout)
        except TimeoutError as exc:
            logger.warning("no database connection within %ss", self._acquire_timeout)
            raise DatabaseUnavailable(
                f"No database connection became free within {self._acquire_timeout:g} s; "
                "nothing was changed. Retry shortly.",
                headers={"Retry-After": _RETRY_AFTER_SECONDS},
            ) from exc
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc
        self.note_pool()
        try:
            yield conn
        finally:
            await self._release(conn)
            self.note_pool()

    async def _release(self, conn: Connection) -> None:
        try:
            await self._pool.release(conn)
        except UNAVAILABLE_ERRORS as exc:
            # The unit of work has already ended (committed, or failed with its own error):
            # its outcome stands. asyncpg has terminated the connection and the pool opens a
            # new one when needed.
            logger.info("dropped a broken database connection: %s: %s", type(exc).__name__, exc)

    def note_pool(self) -> None:
        """Set this process's pool gauges (``relink_db_pool_connections``) from the pool
        as it is now: on every acquire and release, and when ``/metrics`` is scraped."""
        idle = self._pool.get_idle_size()
        DB_POOL_CONNECTIONS.labels("in_use").set(self._pool.get_size() - idle)
        DB_POOL_CONNECTIONS.labels("idle").set(idle)
        DB_POOL_LIMIT.labels("min").set(self._pool.get_min_size())
        DB_POOL_LIMIT.labels("max").set(self._pool.get_max_size())

    async def ping(self, *, within_seconds: float) -> bool:
        try:
            async with asyncio.timeout(within_seconds), self._acquired() as conn:
                value: Any = await conn.fetchval("SELECT 1")
        except _PING_FAILURES:
            return False
        return bool(value == 1)

    async def close(self) -> None:
        await self._pool.close()
