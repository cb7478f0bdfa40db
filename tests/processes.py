"""relink-api as real OS processes: a free port, an environment of the test's own, a start in
a process group of its own (so that stopping it stops everything it started), readiness
polled with a deadline, and a stop that never leaves a process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

RELINK_API = Path(sys.executable).with_name("relink-api")
STOP_SECONDS = 15.0


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without any relink-api or Stripe setting of the caller's
    (a developer's shell may hold some), plus ``settings``."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("STRIPE_", "RELINK_", "DATABASE_URL"))
    }
    return {**inherited, **settings}


def start(
    args: list[str], env: dict[str, str], log: Path, *, stderr: Path | None = None
) -> subprocess.Popen[bytes]:
    """``relink-api <args>`` with its output in ``log``, in a new session; its stderr in
    ``stderr`` instead, when given (the log lines apart from what it prints)."""
    with log.open("wb") as output, (stderr or log).open("ab") as errors:
        return subprocess.Popen(
            [str(RELINK_API), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if stderr is None else errors,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the process's group, SIGKILL if it is not gone in time; its exit status."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(timeout=STOP_SECONDS)


def tail(log: Path) -> str:
    """The end of a process's log, for a failure message."""
    return log.read_text()[-3000:]


async def wait_for(
    predicate: Callable[[], Awaitable[bool]], what: str, *, seconds: float = 60
) -> None:
    """Poll ``predicate`` until it holds; fail saying ``what`` was awaited after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def wait_ready(
    base_url: str, process: subprocess.Popen[bytes], log: Path, *, seconds: float = 60
) -> None:
    """Wait until the server at ``base_url`` answers ``/readyz`` 200; fail with its log if
    it exits first or the deadline passes."""
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:

        async def ready() -> bool:
            assert process.poll() is None, f"{log.name} exited:\n{tail(log)}"
            try:
                return (await http.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_for(ready, f"{base_url}/readyz ({log.name})", seconds=seconds)
