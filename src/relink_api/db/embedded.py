"""An embedded PostgreSQL (the ``pgserver`` wheel) for running with no setup.

pgserver lets several processes share one server: each adds its PID to the data folder's
handle file (``pg/.handle_pids.json``, a JSON list) when it joins and removes it when it
leaves, and the last one to leave stops the server. All of that happens under pgserver's
inter-process lock file. A process killed by a signal never leaves, so its PID would keep
the server running for ever; the functions here drop such PIDs first.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import threading
import warnings
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import psutil

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer

logger = logging.getLogger(__name__)

DATABASE_NAME = "relink"
_HANDLE_FILE = ".handle_pids.json"
_PID_FILE = "postmaster.pid"

# pgserver's lock is an fcntl lock, which belongs to the process: two threads of one
# process would both hold it. Every pgserver call made here takes this one first.
_in_process = threading.Lock()
# The servers this process joined, by data folder (``…/pg``).
_joined: dict[Path, PostgresServer] = {}


class PostmasterState(Enum):
    """What the data folder's ``postmaster.pid`` says, checked against the process table."""

    running = "running"
    # Killed, but not yet reaped by its parent: PostgreSQL would still take the PID in the
    # lock file for a live server and refuse to start.
    exiting = "exiting"
    stopped = "stopped"


class EmbeddedPostgresNotRestarted(Exception):
    """The embedded server could not be brought back this time; the message says why."""


def pgdata_of(data_dir: Path) -> Path:
    """Where the server's files live inside the data folder."""
    return data_dir.expanduser().resolve() / "pg"


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


def stop_embedded_postgres(data_dir: Path | None = None) -> None:
    """Let go of the server of ``data_dir`` (of every server this process joined when
    ``None``), stopping it if no live process holds it any more. Blocking: call it from a
    thread. pgserver also does this at exit, but a server killed by a signal never reaches
    its exit handlers."""
    with _in_process:
        folders = list(_joined) if data_dir is None else [pgdata_of(data_dir)]
        for pgdata in folders:
            server = _joined.pop(pgdata, None)
            if server is None:
                continue
            with _pgserver_lock():
                prune_dead_handles(pgdata)
            try:
                server._cleanup()
            except psutil.Error:
                # The postmaster died while pgserver was stopping it: nothing left to stop.
                logger.info("embedded PostgreSQL in %s was already gone", pgdata)


def postmaster_state(data_dir: Path) -> PostmasterState:
    """Whether the server of ``data_dir`` is running. Reaps a dead postmaster that is this
    process's child (it is when this process is PID 1 in a container, since ``pg_ctl``
    leaves the postmaster to init), so a restart is not blocked by a zombie."""
    pid = _postmaster_pid(pgdata_of(data_dir))
    if pid is None:
        return PostmasterState.stopped
    try:
        process = psutil.Process(pid)
        if process.status() != psutil.STATUS_ZOMBIE:
            return PostmasterState.running
        if process.ppid() != os.getpid():
            return PostmasterState.exiting
    except psutil.NoSuchProcess:
        return PostmasterState.stopped
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return PostmasterState.stopped


def restart_embedded_postgres(data_dir: Path) -> bool:
    """Start the server of ``data_dir`` again after it died; ``False`` when another
    process had already done so. Blocking: call it from a thread.

    Safe when several processes share the folder: under pgserver's lock, the first one
    starts the server and the others find it running.
    """
    pgdata = pgdata_of(data_dir)
    with _in_process:
        server = _joined.get(pgdata)
        if server is None:
            raise EmbeddedPostgresNotRestarted(f"this process never started the server in {pgdata}")
        with _pgserver_lock():
            state = postmaster_state(data_dir)
            if state is PostmasterState.exiting:
                raise EmbeddedPostgresNotRestarted("the old postmaster has not exited yet")
            if state is PostmasterState.running:
                _refresh_postmaster_info(server, pgdata)
                return False
            try:
                # pgserver's own start: finds the stale postmaster.pid, runs pg_ctl start.
                server.ensure_postgres_running()
            except Exception as exc:
                raise EmbeddedPostgresNotRestarted(
                    f"pg_ctl could not start it ({type(exc).__name__}); see {pgdata / 'log'}"
                ) from exc
            return True


def prune_dead_handles(pgdata: Path) -> list[int]:
    """Drop from the handle file every PID whose process is gone; return those dropped.
    Call under pgserver's lock."""
    path = pgdata / _HANDLE_FILE
    try:
        pids: list[int] = json.loads(path.read_text())
        written_at = path.stat().st_mtime
    except (FileNotFoundError, ValueError):
        return []
    dead = [pid for pid in pids if not _holder_alive(pid, written_at)]
    if dead:
        path.write_text(json.dumps([pid for pid in pids if pid not in dead]))
        logger.info("embedded PostgreSQL: dropped handles of dead processes %s", dead)
    return dead


def _holder_alive(pid: int, written_at: float) -> bool:
    if pid == os.getpid():
        return True
    try:
        process = psutil.Process(pid)
        # A process started after the file was last written cannot have written its PID
        # there: the PID was reused after the holder died.
        alive = process.status() != psutil.STATUS_ZOMBIE
        return alive and process.create_time() <= written_at
    except psutil.NoSuchProcess:
        return False


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        first_line = (pgdata / _PID_FILE).read_text().split("\n", 1)[0]
    except FileNotFoundError:
        return None
    return int(first_line) if first_line.strip().isdigit() else None


def _pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back
        # to /tmp/runtime-<uid>, which is what pgserver needs anyway.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        from pgserver import postgres_server
    return postgres_server


def _pgserver_lock() -> Any:
    """pgserver's inter-process lock, the one it holds while joining and leaving."""
    return _pgserver().PostgresServer._lock


def _refresh_postmaster_info(server: PostgresServer, pgdata: Path) -> None:
    # pgserver remembers the postmaster it joined and stops that one when the last holder
    # leaves: point it at the one running now.
    info = _pgserver().PostmasterInfo.read_from_pgdata(pgdata)
    if info is not None:
        server._postmaster_info = info


def _start_server(data_dir: Path, database: str) -> tuple[str, str, Path]:
    postgres_server = _pgserver()
    pgdata = pgdata_of(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _in_process:
        if pgdata.is_dir():
            with _pgserver_lock():
                prune_dead_handles(pgdata)
        if pgdata not in _joined:
            # pgserver hands back the handle this process let go of while others held the
            # server, without joining again: start from a new one.
            postgres_server.PostgresServer._instances.pop(pgdata, None)
        server = postgres_server.get_server(pgdata, cleanup_mode="stop")
        if not _joined:
            # Runs before pgserver's own exit handler (registered earlier, run later), so
            # a process leaving without the lifespan (the CLI) prunes dead holders too.
            atexit.register(stop_embedded_postgres)
        _joined[pgdata] = server
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
