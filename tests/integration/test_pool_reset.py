"""The pool's reset on release: no round trip for a unit of work that leaves nothing on the
session, a full reset for one that says it does (the migrations' advisory lock), so that
nothing one unit of work set is seen by the next on the same connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from relink_api.db import Database
from tests.conftest import make_settings

_ADVISORY_LOCKS = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
)


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[Database]:
    """A pool of exactly one connection: every unit of work gets the one before it."""
    settings = make_settings(database_url, db_pool_min_size=1, db_pool_max_size=1)
    database = await Database.connect(database_url, settings)
    try:
        yield database
    finally:
        await database.close()


async def test_a_unit_of_work_sends_only_its_own_statements(one_connection: Database) -> None:
    sent: list[str] = []
    async with one_connection.connection() as conn:
        conn.add_query_logger(lambda record: sent.append(record.query))
    async with one_connection.transaction() as conn:
        await conn.fetchval("SELECT 1")
    async with one_connection.connection() as conn:
        await conn.fetchval("SELECT 2")
    await asyncio.sleep(0)  # query loggers run on the next loop turn
    # No reset statement (RESET ALL, UNLISTEN *, …) after either: BEGIN and COMMIT are
    # asyncpg's transaction, sent as statements of their own.
    assert [" ".join(query.split()) for query in sent] == [
        "BEGIN;",
        "SELECT 1",
        "COMMIT;",
        "SELECT 2",
    ]


async def test_session_state_does_not_outlive_the_unit_of_work_that_set_it(
    one_connection: Database,
) -> None:
    async with one_connection.connection(keeps_session_state=True) as conn:
        first = conn.get_server_pid()
        await conn.execute("SELECT pg_advisory_lock(424242)")
        await conn.execute("SET statement_timeout = 1234")
        await conn.execute("LISTEN relink_pool_reset_test")
    async with one_connection.connection() as conn:
        assert conn.get_server_pid() == first  # the same connection, reset
        assert await conn.fetchval(_ADVISORY_LOCKS) == 0
        assert await conn.fetchval("SHOW statement_timeout") == "0"
        assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0


async def test_a_transaction_left_open_is_rolled_back_on_release(
    one_connection: Database,
) -> None:
    async with one_connection.connection() as conn:
        await conn.execute("BEGIN")
        await conn.execute("CREATE TEMP TABLE rolled_back (id int)")
    async with one_connection.connection() as conn:
        assert await conn.fetchval("SELECT to_regclass('pg_temp.rolled_back')") is None
