"""The asyncpg pool and the unit-of-work helpers built on it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from relink_api.db.documents import encode_json
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


class _SessionResets:
    """The pool's reset on release. asyncpg's default sends a statement on every release
    (an advisory unlock, CLOSE ALL, UNLISTEN *, RESET ALL), a round trip per unit of work
    for session state that only ``Database.connection(keeps_session_state=True)`` leaves:
    the connections that work ran on are reset in full, the others only as asyncpg always
    does first (an open transaction rolled back, listeners dropped). A reset that fails
    gets the connection closed by the pool."""

    def __init__(self) -> None:
        # By server process id, which the pool's raw connection and the proxy a unit of
        # work holds both report, and no two open connections share.
        self.pending: set[int] = set()

    async def __call__(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        pid = conn.get_server_pid()
        if pid in self.pending:
            self.pending.discard(pid)
            await conn.execute(conn.get_reset_query())


async def _init_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    # jsonb in, dicts out: repositories pass and receive plain Python values.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=encode_json, decoder=json.loads, schema="pg_catalog"
        )


class Database:
    """Owns the pool. Services open one transaction per unit of work and pass the
    connection to repositories; no connection is held while Stripe is called."""

    def __init__(
        self, pool: Pool, *, acquire_timeout: float = 5.0, resets: _SessionResets | None = None
    ) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        # Turns at the pool, first come first served. asyncpg's pool waits on an
        # asyncio.Queue, whose get() lets a newcomer take a connection that was just handed
        # to a woken waiter, which then queues again at the back: under more concurrent
        # units of work than connections, a few waited ten times the median (p99 67 ms
        # beside a p50 of 9 ms). A Semaphore serves waiters in order and lets no newcomer
        # pass one; with no more holders than connections, the pool itself never waits.
        self._turns = asyncio.Semaphore(pool.get_max_size())
        # None: a pool made elsewhere, with asyncpg's own full reset on every release.
        self._resets = resets
        # Children looked up once: ``labels()`` costs more than the ``set()`` it precedes,
        # twice a unit of work. The bounds never change.
        self._in_use_gauge = DB_POOL_CONNECTIONS.labels("in_use")
        self._idle_gauge = DB_POOL_CONNECTIONS.labels("idle")
        DB_POOL_LIMIT.labels("min").set(pool.get_min_size())
        DB_POOL_LIMIT.labels("max").set(pool.get_max_size())
        self._before_close: list[Callable[[], Awaitable[None]]] = []

    @classmethod
    async def connect(cls, dsn: str, settings: Settings) -> Database:
        resets = _SessionResets()
        pool = await asyncpg.create_pool(
            dsn,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            command_timeout=settings.db_command_timeout_seconds,
            init=_init_connection,
            reset=resets,
        )
        forget_at_exit()  # the pool gauges are live: gone with the process
        return cls(pool, acquire_timeout=settings.db_acquire_timeout_seconds, resets=resets)

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
    async def connection(self, *, keeps_session_state: bool = False) -> AsyncIterator[Connection]:
        """A connection for reads that need no transaction.

        ``keeps_session_state``: the work may leave state on the session (a session-level
        advisory lock, a ``SET`` without ``LOCAL``), so the connection is reset in full
        before another unit of work gets it; every other release skips that round trip.
        """
        async with self._acquired(keeps_session_state=keeps_session_state) as conn:
            try:
                yield conn
            except UNAVAILABLE_ERRORS as exc:
                raise _unavailable(exc) from exc

    @asynccontextmanager
    async def _acquired(self, *, keeps_session_state: bool = False) -> AsyncIterator[Connection]:
        try:
            # Bounded: with every connection held (a locked table, a slow query), waiting
            # longer only piles requests up behind the pool.
            async with asyncio.timeout(self._acquire_timeout):
                await self._turns.acquire()
                try:
                    conn = await self._pool.acquire()
                except BaseException:
                    self._turns.release()
                    raise
        except TimeoutError as exc:
            raise self._no_connection() from exc
        except UNAVAILABLE_ERRORS as exc:
            raise _unavailable(exc) from exc
        try:
            self.note_pool()
            if keeps_session_state and self._resets is not None:
                self._resets.pending.add(conn.get_server_pid())
            yield conn
        finally:
            try:
                await self._release(conn)
                self.note_pool()
            finally:
                self._turns.release()

    def _no_connection(self) -> DatabaseUnavailable:
        logger.warning("no database connection within %ss", self._acquire_timeout)
        return DatabaseUnavailable(
            f"No database connection became free within {self._acquire_timeout:g} s; "
            "nothing was changed. Retry shortly.",
            headers={"Retry-After": _RETRY_AFTER_SECONDS},
        )

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
        self._in_use_gauge.set(self._pool.get_size() - idle)
        self._idle_gauge.set(idle)

    async def ping(self, *, within_seconds: float) -> bool:
        try:
            async with asyncio.timeout(within_seconds), self._acquired() as conn:
                value: Any = await conn.fetchval("SELECT 1")
        except _PING_FAILURES:
            return False
        return bool(value == 1)

    def before_close(self, drain: Callable[[], Awaitable[None]]) -> None:
        """Await ``drain`` when the pool closes, before it does: work queued on the pool
        (webhook events waiting for a batch) ends first."""
        self._before_close.append(drain)

    async def close(self) -> None:
        for drain in self._before_close:
            await drain()
        await self._pool.close()
