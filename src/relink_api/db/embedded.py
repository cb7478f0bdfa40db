"""An embedded PostgreSQL (the ``pgserver`` wheel) for running with no setup."""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path

import asyncpg

logger = logging.getLogger(__name__)

DATABASE_NAME = "relink"


async def start_embedded_postgres(data_dir: Path, *, database: str = DATABASE_NAME) -> str:
    """Start (or join) the server whose data lives in ``data_dir/pg``; return a DSN.

    pgserver keeps the server running while any process holds it, so a second process
    on the same folder reuses the running server, and the data survives restarts.
    """
    # pgserver runs initdb and pg_ctl as subprocesses and polls with time.sleep: keep it
    # off the event loop.
    admin_dsn, dsn, pgdata = await asyncio.to_thread(_start_server, data_dir, database)
    await _ensure_database(admin_dsn, database)
    logger.info("embedded PostgreSQL running with data in %s", pgdata)
    return dsn


_started: list[object] = []


def stop_embedded_postgres() -> None:
    """Let go of the servers this process started (stopping each if no other process holds
    it). Blocking: call it from a thread. pgserver also does this at exit, but a server
    killed by a signal never reaches its exit handlers."""
    while _started:
        server = _started.pop()
        server._cleanup()  # type: ignore[attr-defined]


def _start_server(data_dir: Path, database: str) -> tuple[str, str, Path]:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back
        # to /tmp/runtime-<uid>, which is what pgserver needs anyway.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        from pgserver.postgres_server import get_server

    pgdata = data_dir.expanduser().resolve() / "pg"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    if server not in _started:
        _started.append(server)
    return str(server.get_uri("postgres")), str(server.get_uri(database)), pgdata


async def _ensure_database(admin_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{database}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # another process created it first
    finally:
        await conn.close()
