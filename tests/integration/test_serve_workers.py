"""``relink-api serve --workers 2`` as users run it: two worker processes answer on one port,
``/metrics`` on either sums both, a worker that is killed is started again, and SIGTERM to
the parent stops everything with exit status 0, leaving no process and no metrics files."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil

from tests import processes
from tests.conftest import JWT_SECRET

HEALTHZ = re.compile(
    r'^relink_http_request_duration_seconds_count\{method="GET",route="/healthz",'
    r'status="200"\} (\d+)\.0$',
    re.M,
)
# How long connections are opened, one after another, for each worker to accept one.
ANSWER_SECONDS = 60


def _env(database_url: str, port: int) -> dict[str, str]:
    return processes.environment(
        DATABASE_URL=database_url,
        STRIPE_SECRET_KEY="sk_test_workers",
        STRIPE_PUBLISHABLE_KEY="pk_test_workers",
        RELINK_AUTH_JWT_SECRET=JWT_SECRET,
        # Nothing here calls Stripe; should anything try, it reaches no one.
        RELINK_STRIPE_API_BASE="http://127.0.0.1:9",
        RELINK_PORT=str(port),
    )


def _healthz_on_new_connection(port: int, workers: list[psutil.Process]) -> int:
    """GET /healthz on a connection of its own; the pid of the worker that holds it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: relink\r\n\r\n")
        answer = b""
        while b'"ok"' not in answer:
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        client_port = sock.getsockname()[1]
        for worker in workers:
            for conn in worker.net_connections(kind="tcp"):
                if conn.raddr and conn.raddr.port == client_port and conn.laddr.port == port:
                    return worker.pid
    raise AssertionError(f"no worker of {[w.pid for w in workers]} held the connection")


def _answered_by(port: int, workers: list[psutil.Process], wanted: set[int]) -> int:
    """Requests made, each on a new connection, until every pid in ``wanted`` answered (a
    worker still starting accepts none)."""
    seen: set[int] = set()
    made = 0
    deadline = time.monotonic() + ANSWER_SECONDS
    while not wanted <= seen:
        assert time.monotonic() < deadline, f"only {seen} of {wanted} answered {made} requests"
        seen.add(_healthz_on_new_connection(port, workers))
        made += 1
        time.sleep(0.02)
    return made


def _exists(path: Path) -> bool:
    return path.exists()


async def _healthz_count(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        metrics = (await http.get("/metrics")).text
    match = HEALTHZ.search(metrics)
    assert match is not None, metrics
    return int(match.group(1))


async def _workers(parent: psutil.Process, other_than: set[int]) -> list[psutil.Process]:
    """The parent's two workers, once neither is one of ``other_than``."""
    found: list[psutil.Process] = []

    async def two_new() -> bool:
        nonlocal found
        found = parent.children()
        return len(found) == 2 and not {w.pid for w in found} & other_than

    await processes.wait_for(two_new, "two workers", seconds=60)
    return found


async def test_two_workers_answer_are_restarted_and_stop_with_the_parent(
    database_url: str, tmp_path: Path
) -> None:
    port = processes.free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    server = processes.start(["serve", "--workers", "2"], _env(database_url, port), log)
    try:
        await processes.wait_ready(base_url, server, log)
        parent = psutil.Process(server.pid)
        workers = await _workers(parent, other_than=set())
        metrics_dir = Path(workers[0].environ()["PROMETHEUS_MULTIPROC_DIR"])
        assert _exists(metrics_dir)

        # Both workers answer on the one port; /metrics, from either, counts them all.
        made = await asyncio.to_thread(_answered_by, port, workers, {w.pid for w in workers})
        assert await _healthz_count(base_url) == made

        # A worker killed outright is replaced; what it counted stays in the sums.
        victim = workers[0]
        victim.send_signal(signal.SIGKILL)
        survivor = workers[1]
        workers = await _workers(parent, other_than={victim.pid})
        assert survivor.pid in {w.pid for w in workers}
        (replacement,) = (w for w in workers if w.pid != survivor.pid)
        more = await asyncio.to_thread(_answered_by, port, workers, {replacement.pid})
        assert await _healthz_count(base_url) == made + more

        # SIGTERM to the parent alone stops the workers too.
        os.kill(server.pid, signal.SIGTERM)
        status = await asyncio.to_thread(server.wait, processes.STOP_SECONDS)
    finally:
        if server.poll() is None:
            processes.stop(server)
    assert status == 0, processes.tail(log)
    assert not [w.pid for w in [victim, *workers] if psutil.pid_exists(w.pid)]
    assert not _exists(metrics_dir)
    assert "was killed by SIGKILL; starting it again" in log.read_text()


def test_workers_whose_pools_exceed_the_servers_connections_are_refused(
    database_url: str, tmp_path: Path
) -> None:
    port = processes.free_port()
    env = {**_env(database_url, port), "RELINK_DB_POOL_MAX_SIZE": "40"}
    log = tmp_path / "serve.log"
    server = processes.start(["serve", "--workers", "3"], env, log)
    try:
        status = server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        processes.stop(server)
        raise
    assert status == 2
    output = log.read_text()
    assert "3 workers with RELINK_DB_POOL_MAX_SIZE=40 may open 120 connections" in output
    assert "run at most 1 worker or" in output
