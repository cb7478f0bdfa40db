"""Turns at the pool are first come, first served: under more concurrent units of work
than connections, none waits behind a later one, so that a few do not wait ten times the
median (asyncpg's own queue lets a newcomer take a connection handed to a woken waiter)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from relink_api.db import Database
from relink_api.db.pool import DatabaseUnavailable
from tests.conftest import make_settings


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[Database]:
    settings = make_settings(
        database_url, db_pool_min_size=1, db_pool_max_size=1, db_acquire_timeout_seconds=0.2
    )
    database = await Database.connect(database_url, settings)
    try:
        yield database
    finally:
        await database.close()


async def _settle() -> None:
    # Enough loop turns for every started task to reach its wait.
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_unit_of_work_never_passes_one_that_waits(one_connection: Database) -> None:
    served: list[str] = []

    async def unit(name: str) -> None:
        async with one_connection.connection():
            served.append(name)

    async def holder() -> None:
        async with one_connection.connection():
            served.append("holder")
            waiting = [asyncio.create_task(unit(f"waiter {n}")) for n in (1, 2)]
            await _settle()
        # Straight back for another unit of work, as a request with several does: it
        # queues behind those that were waiting.
        await unit("holder again")
        await asyncio.gather(*waiting)

    await asyncio.wait_for(holder(), timeout=10)
    assert served == ["holder", "waiter 1", "waiter 2", "holder again"]


async def _one_unit(database: Database) -> None:
    async with asyncio.timeout(5), database.connection():
        pass


async def test_waiting_stays_bounded_and_gives_its_turn_back(one_connection: Database) -> None:
    async with one_connection.connection():
        # The acquire timeout (0.2 s here) bounds a wait for a turn.
        with pytest.raises(DatabaseUnavailable) as refused:
            await _one_unit(one_connection)
        assert "Retry-After" in (refused.value.headers or {})
        cancelled = asyncio.create_task(_one_unit(one_connection))
        await _settle()
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    # Neither the refused nor the cancelled wait kept a turn: the one connection is free.
    for _ in range(3):
        async with asyncio.timeout(5), one_connection.connection() as conn:
            assert await conn.fetchval("SELECT 1") == 1
