"""Migrations: applied once, recorded, safe to race, and forward-only."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import pytest

from relink_api.db.migrate import MigrationError, apply_migrations, load_migrations
from tests.support import scratch_database


@pytest.fixture
async def empty_database_url(pg_admin_dsn: str) -> AsyncIterator[str]:
    async with scratch_database(pg_admin_dsn, prefix="m") as dsn:
        yield dsn


async def test_applies_every_migration_once_and_records_it(empty_database_url: str) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        first = await apply_migrations(conn)  # type: ignore[arg-type]
        second = await apply_migrations(conn)  # type: ignore[arg-type]
        rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        tables = {
            row["tablename"]
            for row in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
    finally:
        await conn.close()
    assert [m.version for m in first] == [m.version for m in load_migrations()]
    assert second == []
    assert [(row["version"], row["name"]) for row in rows] == [
        (m.version, m.name) for m in load_migrations()
    ]
    assert {
        "authorizations",
        "accounts",
        "account_status_history",
        "relink_sessions",
        "webhook_events",
        "idempotency_keys",
    } <= tables


async def test_replicas_starting_together_apply_each_migration_once(
    empty_database_url: str,
) -> None:
    conns = [await asyncpg.connect(empty_database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(apply_migrations(c) for c in conns))  # type: ignore[arg-type]
        count = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        for conn in conns:
            await conn.close()
    assert sum(len(result) for result in results) == len(load_migrations())
    assert count == len(load_migrations())


async def test_a_migration_edited_after_it_was_applied_stops_start_up(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(conn)  # type: ignore[arg-type]
    finally:
        await conn.close()


async def test_a_database_from_a_newer_release_stops_start_up(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')"
        )
        with pytest.raises(MigrationError, match="run a newer release"):
            await apply_migrations(conn)  # type: ignore[arg-type]
    finally:
        await conn.close()


async def test_migrate_command_applies_on_demand(empty_database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": empty_database_url}
    command = [sys.executable, "-m", "relink_api", "migrate"]
    first = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )
    second = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )
    assert first.returncode == 0, first.stderr
    assert f"applied {len(load_migrations())} migration(s)" in first.stdout
    assert "0001_initial" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "applied 0 migration(s)" in second.stdout
