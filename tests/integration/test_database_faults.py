"""Database faults against a real server: the test's own embedded PostgreSQL killed by its
postmaster's PID under load, and a pool starved by a locked table."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import h11
import httpx
import pytest
import respx
import uvicorn
from fastapi import FastAPI

from relink_api.app import create_app
from relink_api.db.embedded import start_embedded_postgres, stop_embedded_postgres
from relink_api.db.migrate import apply_migrations
from relink_api.settings import Settings
from tests.conftest import bearer, make_settings
from tests.factories import API, fc_account, fc_session
from tests.stripe_events import encode, event, signature_header
from tests.support import assert_problem, serve

ACCOUNTS = 6
WORKERS = 24


@dataclass(frozen=True, slots=True)
class OwnPostgres:
    """An embedded server of the test's own, so killing it spares the shared one."""

    data_dir: Path
    dsn: str

    def postmaster_pid(self) -> int:
        return int((self.data_dir / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])

    def kill(self) -> int:
        pid = self.postmaster_pid()
        os.kill(pid, signal.SIGKILL)
        return pid


@pytest.fixture
async def own_postgres(tmp_path: Path) -> AsyncIterator[OwnPostgres]:
    data_dir = tmp_path / "own"
    dsn = await start_embedded_postgres(data_dir)
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn)  # type: ignore[arg-type]
    finally:
        await conn.close()
    try:
        yield OwnPostgres(data_dir=data_dir, dsn=dsn)
    finally:
        await asyncio.to_thread(stop_embedded_postgres, data_dir)


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind a real uvicorn on a free loopback port, and a client for it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(60):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("the server stopped before it started")
                await asyncio.sleep(0.02)
        limits = httpx.Limits(max_connections=WORKERS * 2, max_keepalive_connections=WORKERS * 2)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=60.0, limits=limits
        ) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=60)
        sock.close()


@pytest.fixture
def loopback_stripe() -> Iterator[respx.MockRouter]:
    """respx for Stripe, letting the test's own loopback calls through."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.route(host="127.0.0.1").pass_through()
        yield router


def account_event(account_id: str) -> dict[str, Any]:
    return event(
        "financial_connections.account.deactivated",
        fc_account(account_id, status="inactive", action="relink_required"),
    )


async def deliver(client: httpx.AsyncClient, document: dict[str, Any]) -> httpx.Response:
    payload = encode(document)
    return await client.post(
        "/v1/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": signature_header(payload)},
    )


class DroppedConnection(Exception):
    """The server closed a keep-alive connection with a request on it still unanswered."""


async def pipelined(port: int, path: str, headers: dict[str, str]) -> httpx.Response:
    """GET ``path`` and then /healthz on one connection, written together (HTTP/1.1
    pipelining), so the second request is already waiting when the first is answered.
    Returns the first answer; raises ``DroppedConnection`` if either never came."""
    requests = [
        h11.Request(method="GET", target=path, headers=[("Host", "x"), *headers.items()]),
        h11.Request(
            method="GET", target="/healthz", headers=[("Host", "x"), ("Connection", "close")]
        ),
    ]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"".join(h11.Connection(h11.CLIENT).send(r) or b"" for r in requests))
        await writer.drain()
        received = await asyncio.wait_for(reader.read(), timeout=60)
    finally:
        writer.close()
    parser = h11.Connection(h11.CLIENT)
    parser.receive_data(received)
    parser.receive_data(b"")
    answers: list[httpx.Response] = []
    for request in requests:
        if answers:
            parser.start_next_cycle()
        parser.send(request)
        parser.send(h11.EndOfMessage())
        head, body, got = None, b"", None
        try:
            while isinstance(got := parser.next_event(), h11.Response | h11.Data):
                if isinstance(got, h11.Response):
                    head = got
                else:
                    body += got.data
        except h11.RemoteProtocolError:
            pass  # closed where a response was due
        if head is None or not isinstance(got, h11.EndOfMessage):
            raise DroppedConnection(f"{len(answers)} of 2 pipelined requests were answered")
        answers.append(
            httpx.Response(
                head.status_code,
                headers=[(name.decode(), value.decode()) for name, value in head.headers],
                content=body,
            )
        )
    return answers[0]


@dataclass(slots=True)
class Outcome:
    label: str
    response: httpx.Response | None = None
    error: BaseException | None = None

    def describe(self) -> str:
        if self.response is None:
            return f"{self.label}: no response ({type(self.error).__name__}: {self.error})"
        return f"{self.label}: {self.response.status_code} {self.response.text[:200]}"


async def hammer(
    client: httpx.AsyncClient, settings: Settings, stop: asyncio.Event
) -> list[Outcome]:
    """Every kind of database use, from many concurrent callers, until ``stop``."""
    auth = bearer(settings, "cus_A")
    port = client.base_url.port
    assert port is not None
    keys = itertools.count()

    def calls_for(account_id: str) -> list[tuple[str, Callable[[], Awaitable[httpx.Response]]]]:
        return [
            ("list", lambda: client.get("/v1/accounts", headers=auth)),
            ("get", lambda: client.get(f"/v1/accounts/{account_id}", headers=auth)),
            ("webhook", lambda: deliver(client, account_event(account_id))),
            ("refresh", lambda: client.post(f"/v1/accounts/{account_id}/refresh", headers=auth)),
            ("readyz", lambda: client.get("/readyz")),
            ("pipelined get", lambda: pipelined(port, f"/v1/accounts/{account_id}", auth)),
            (
                "relink",
                lambda: client.post(
                    "/v1/relink-sessions",
                    json={"account_id": account_id},
                    headers={**auth, "Idempotency-Key": f"key-{account_id}-{next(keys)}"},
                ),
            ),
        ]

    requests = [call for n in range(ACCOUNTS) for call in calls_for(f"fca_load{n}")]
    outcomes: list[Outcome] = []

    async def worker(offset: int) -> None:
        index = offset
        while not stop.is_set():
            label, send = requests[index % len(requests)]
            index += 1
            try:
                outcomes.append(Outcome(label, response=await send()))
            except (httpx.HTTPError, DroppedConnection) as exc:
                outcomes.append(Outcome(label, error=exc))

    await asyncio.gather(*(worker(n * 3) for n in range(WORKERS)))
    return outcomes


def is_database_unavailable(response: httpx.Response) -> bool:
    return (
        response.status_code == 503
        and response.headers.get("content-type") == "application/problem+json"
        and response.json()["type"]
        in ("/problems/database-unavailable", "/problems/service-unavailable")
        and int(response.headers.get("retry-after", "0")) >= 1
    )


async def test_killing_postgres_under_load_is_a_503_with_retry_after_for_every_request(
    own_postgres: OwnPostgres, loopback_stripe: respx.MockRouter
) -> None:
    for n in range(ACCOUNTS):
        loopback_stripe.get(f"{API}/v1/financial_connections/accounts/fca_load{n}").respond(
            200, json=fc_account(f"fca_load{n}", status="inactive", action="relink_required")
        )
    sessions = itertools.count(1)

    def new_session(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        return httpx.Response(
            200,
            json=fc_session(
                f"fcsess_load{next(sessions)}", account=form.get("relink_options[account]")
            ),
        )

    loopback_stripe.post(f"{API}/v1/financial_connections/sessions").mock(side_effect=new_session)
    settings = make_settings(own_postgres.dsn, db_pool_max_size=8)
    app = create_app(settings)
    async with served(app) as client:
        for n in range(ACCOUNTS):
            seeded = await deliver(client, account_event(f"fca_load{n}"))
            assert seeded.status_code == 200, seeded.text
        stop = asyncio.Event()
        load = asyncio.create_task(hammer(client, settings, stop))
        await asyncio.sleep(1.5)
        own_postgres.kill()
        await asyncio.sleep(3.0)
        stop.set()
        outcomes = await load

    wrong = [
        outcome.describe()
        for outcome in outcomes
        if outcome.response is None
        or not (outcome.response.is_success or is_database_unavailable(outcome.response))
    ]
    assert not wrong, f"{len(wrong)} of {len(outcomes)} answers were wrong:\n" + "\n".join(
        wrong[:20]
    )
    assert any(o.response is not None and o.response.is_success for o in outcomes)
    assert any(o.response is not None and o.response.status_code == 503 for o in outcomes)


async def test_a_starved_pool_answers_503_with_retry_after_instead_of_queueing(
    database_url: str, stripe_mock: respx.MockRouter
) -> None:
    settings = make_settings(
        database_url,
        db_pool_min_size=0,
        db_pool_max_size=2,
        db_acquire_timeout_seconds=1.0,
        db_command_timeout_seconds=60.0,
    )
    auth = bearer(settings, "cus_A")
    locker = await asyncpg.connect(database_url)
    try:
        async with serve(settings) as client:
            lock = locker.transaction()
            await lock.start()
            await locker.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
            loop = asyncio.get_running_loop()
            started = loop.time()

            async def timed_list() -> tuple[httpx.Response, float]:
                response = await client.get("/v1/accounts", headers=auth)
                return response, loop.time() - started

            calls = [asyncio.create_task(timed_list()) for _ in range(12)]
            # Two requests hold the pool's two connections, waiting on the lock; the
            # rest must be turned away once the acquire timeout passes, not queue.
            done: set[asyncio.Task[tuple[httpx.Response, float]]] = set()
            pending = set(calls)
            while len(done) < 10 and loop.time() - started < 20:
                finished, pending = await asyncio.wait(
                    pending, timeout=1, return_when=asyncio.FIRST_COMPLETED
                )
                done |= finished
            turned_away = [task.result() for task in done]
            await lock.rollback()
            held = [await task for task in pending]
    finally:
        await locker.close()

    assert len(turned_away) == 10, f"{len(turned_away)} of 12 answered while the table was locked"
    for response, elapsed in turned_away:
        problem = assert_problem(response, 503, "database-unavailable")
        assert response.headers["retry-after"] == "5"
        assert "1 s" in problem["detail"]
        assert elapsed < 10, f"answered after {elapsed:.1f} s"
    assert [response.status_code for response, _ in held] == [200, 200]


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])


async def poll(
    client: httpx.AsyncClient, path: str, status: int, *, within: float
) -> tuple[httpx.Response, list[int]]:
    """GET ``path`` until it answers ``status``; the answer and every status seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    seen: list[int] = []
    while True:
        response = await client.get(path)
        seen.append(response.status_code)
        if response.status_code == status or loop.time() > deadline:
            return response, seen
        await asyncio.sleep(0.2)


async def test_a_killed_embedded_postgres_is_restarted_and_the_service_recovers(
    tmp_path: Path, stripe_mock: respx.MockRouter
) -> None:
    stripe_mock.route(host="127.0.0.1").pass_through()
    data_dir = tmp_path / "data"
    settings = make_settings("", data_dir=data_dir)
    app = create_app(settings)
    async with served(app) as client:
        before = await deliver(client, account_event("fca_before"))
        assert before.status_code == 200, before.text
        first = postmaster_pid(data_dir)

        os.kill(first, signal.SIGKILL)
        ready, seen = await poll(client, "/readyz", 200, within=60)
        health = await client.get("/healthz")
        after = await deliver(client, account_event("fca_after"))
        listed = await client.get("/v1/accounts", headers=bearer(settings, "cus_A"))
        second = postmaster_pid(data_dir)

    assert ready.status_code == 200, f"/readyz never recovered: {seen}"
    assert second != first
    assert health.status_code == 200
    assert after.status_code == 200, after.text
    assert after.json()["result"] == "applied"
    assert {account["id"] for account in listed.json()["data"]} == {"fca_before", "fca_after"}


async def test_healthz_fails_when_the_embedded_postgres_cannot_be_brought_back(
    tmp_path: Path, stripe_mock: respx.MockRouter
) -> None:
    stripe_mock.route(host="127.0.0.1").pass_through()
    data_dir = tmp_path / "data"
    settings = make_settings("", data_dir=data_dir, embedded_db_unhealthy_after_seconds=2)
    app = create_app(settings)
    async with served(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        # A configuration PostgreSQL refuses to start with: no restart can succeed.
        with (data_dir / "pg" / "postgresql.auto.conf").open("a") as conf:
            conf.write("\nthis is not a setting\n")
        os.kill(postmaster_pid(data_dir), signal.SIGKILL)
        unhealthy, seen = await poll(client, "/healthz", 503, within=30)
        ready = await client.get("/readyz")

    problem = assert_problem(unhealthy, 503, "service-unavailable")
    assert "restart this process" in problem["detail"], seen
    assert int(unhealthy.headers["retry-after"]) >= 1
    assert ready.status_code == 503
