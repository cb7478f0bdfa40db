"""The embedded PostgreSQL: data survives restarts, a second process joins the first, and a
holder killed by a signal does not keep the server running for ever."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import psutil
import pytest

from relink_api.db.embedded import (
    PostmasterState,
    postmaster_state,
    restart_embedded_postgres,
    start_embedded_postgres,
    stop_embedded_postgres,
)

SCRIPT = """
import asyncio, sys
from pathlib import Path
import asyncpg
from relink_api.db.embedded import start_embedded_postgres

async def main():
    data_dir = Path(sys.argv[1])
    dsn = await start_embedded_postgres(data_dir)
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE IF NOT EXISTS marks (value text)")
    if sys.argv[2] != "-":
        await conn.execute("INSERT INTO marks VALUES ($1)", sys.argv[2])
    values = [r["value"] for r in await conn.fetch("SELECT value FROM marks ORDER BY value")]
    await conn.close()
    pid = (data_dir / "pg" / "postmaster.pid").read_text().splitlines()[0]
    print("pid", pid, "values", ",".join(values), flush=True)
    if len(sys.argv) > 3:
        sys.stdin.readline()  # hold the server until told to let go

asyncio.run(main())
"""


def _run(data_dir: Path, mark: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data_dir), mark],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def test_data_survives_a_restart(tmp_path: Path) -> None:
    first = _run(tmp_path, "one")
    second = _run(tmp_path, "two")
    assert first.endswith("values one")
    assert second.endswith("values one,two")


def test_a_second_process_reuses_the_running_server(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path), "held", "hold"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdin is not None
        try:
            held = holder.stdout.readline()
            joined = _run(tmp_path, "-")
        finally:
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(60)
    assert held.split()[1] == joined.split()[1]
    assert joined.endswith("values held")


def _hold(data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    """A process that joins the server and holds it until told to exit; and the postmaster's
    PID."""
    holder = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(data_dir), "-", "hold"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    line = holder.stdout.readline()
    assert line.startswith("pid "), line
    return holder, int(line.split()[1])


def _exit_gracefully(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.wait(60) == 0


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _stopped_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _reaped_within(data_dir: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while postmaster_state(data_dir) is not PostmasterState.stopped:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize("killed_first", [True, False], ids=["killed-first", "graceful-first"])
def test_the_last_graceful_exit_stops_the_server_though_a_holder_was_killed(
    tmp_path: Path, killed_first: bool
) -> None:
    holders: list[subprocess.Popen[str]] = []
    postmaster = None
    try:
        if killed_first:
            killed, postmaster = _hold(tmp_path)
            holders.append(killed)
            killed.kill()
            killed.wait(30)
            graceful, joined = _hold(tmp_path)
            holders.append(graceful)
        else:
            graceful, postmaster = _hold(tmp_path)
            holders.append(graceful)
            killed, joined = _hold(tmp_path)
            holders.append(killed)
            killed.kill()
            killed.wait(30)
        assert joined == postmaster
        _exit_gracefully(graceful)

        # pg_ctl stop waits for the shutdown: nothing may be left running after the exit.
        assert _stopped_within(postmaster, 10), "the postmaster was left running"
        handles = json.loads((tmp_path / "pg" / ".handle_pids.json").read_text())
        assert handles == []
    finally:
        for holder in holders:
            holder.kill()
            holder.communicate()
        if postmaster is not None and _running(postmaster):
            os.kill(postmaster, signal.SIGTERM)  # the orphan this test exists to prevent


async def test_a_restart_adopts_the_server_another_process_already_restarted(
    tmp_path: Path,
) -> None:
    dsn = await start_embedded_postgres(tmp_path)
    first = int((tmp_path / "pg" / "postmaster.pid").read_text().split()[0])
    restarted = None
    try:
        os.kill(first, signal.SIGKILL)
        # Once the dead postmaster is reaped, another process sharing the folder gets there
        # first: it starts a new server.
        assert await asyncio.to_thread(_reaped_within, tmp_path, 30)
        other = await asyncio.to_thread(_run, tmp_path, "after")
        restarted = int(other.split()[1])

        started_here = await asyncio.to_thread(restart_embedded_postgres, tmp_path)

        assert started_here is False
        assert restarted != first
        assert int((tmp_path / "pg" / "postmaster.pid").read_text().split()[0]) == restarted
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT value FROM marks") == "after"
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(stop_embedded_postgres, tmp_path)
    # The handle now points at the new postmaster: letting go of it stopped that one.
    assert restarted is not None
    assert _stopped_within(restarted, 10)
