"""Connections to Stripe are kept for the next call, however many calls were in flight (a
call that opens a connection pays a TCP and, against Stripe, a TLS handshake), and a call
does not look at every other connection (httpcore's pool checks each of its connections,
a system call for each idle one, whenever a call starts or ends)."""

from __future__ import annotations

import asyncio
import importlib.machinery
import json
from collections.abc import AsyncIterator

import httpcore
import pytest

from relink_api.gateway.client import CONNECTIONS, StripeGateway
from tests.conftest import make_settings
from tests.factories import fc_session

IN_FLIGHT = 40


class CountingStripe:
    """An HTTP/1.1 server that answers every request with a session, keeps connections
    open, counts them, and holds each answer until ``IN_FLIGHT`` requests are waiting (so
    that that many calls are in flight at once, with no timing involved)."""

    def __init__(self) -> None:
        self.connections = 0
        self._held: list[asyncio.Event] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                await self._everyone_waiting()
                body = json.dumps(fc_session()).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    async def _everyone_waiting(self) -> None:
        released = asyncio.Event()
        self._held.append(released)
        if len(self._held) == IN_FLIGHT:
            for event in self._held:
                event.set()
            self._held.clear()
        await released.wait()


@pytest.fixture
async def stripe_server() -> AsyncIterator[tuple[CountingStripe, str]]:
    counting = CountingStripe()
    server = await asyncio.start_server(counting.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield counting, f"http://127.0.0.1:{port}"


@pytest.fixture
def expiry_checks(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per check of a connection's expiry (httpcore's per-connection scan)."""
    checked: list[None] = []
    has_expired = httpcore.AsyncHTTP11Connection.has_expired

    def counted(self: httpcore.AsyncHTTP11Connection) -> bool:
        checked.append(None)
        return has_expired(self)

    monkeypatch.setattr(httpcore.AsyncHTTP11Connection, "has_expired", counted)
    return checked


async def test_every_connection_of_a_burst_is_kept_and_no_call_scans_the_others(
    stripe_server: tuple[CountingStripe, str], expiry_checks: list[None]
) -> None:
    counting, base = stripe_server
    settings = make_settings("postgresql://127.0.0.1:1/unused", stripe_api_base=base)
    gateway = StripeGateway(settings, api_key="sk_test_relink123")
    try:
        for _ in range(3):
            await asyncio.gather(*(gateway.retrieve_session("fcsess_1") for _ in range(IN_FLIGHT)))
    finally:
        await gateway.aclose()

    # Three bursts of 40 calls: 40 connections, opened by the first. httpx's default pool
    # kept 20 of them alive, so each later burst opened 20 more.
    assert IN_FLIGHT <= CONNECTIONS
    assert counting.connections == IN_FLIGHT
    # Each call looks at its own connection only. One pool of 40 looked at up to 40 per
    # call, start and end: thousands for the 120 calls.
    assert len(expiry_checks) <= 2 * 3 * IN_FLIGHT


async def test_a_call_to_stripe_searches_no_import_path(
    stripe_server: tuple[CountingStripe, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpcore imports sniffio (a dependency for this reason) whenever a call takes or gives
    # back a connection; missing, each of those four imports a call searched sys.path.
    _, base = stripe_server
    settings = make_settings("postgresql://127.0.0.1:1/unused", stripe_api_base=base)
    gateway = StripeGateway(settings, api_key="sk_test_relink123")
    searched: list[str] = []
    find_spec = importlib.machinery.PathFinder.find_spec

    def counted(name: str, *args: object) -> object:
        searched.append(name)
        return find_spec(name, *args)  # type: ignore[arg-type]

    try:
        await asyncio.gather(*(gateway.retrieve_session("fcsess_1") for _ in range(IN_FLIGHT)))
        monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", counted)
        await asyncio.gather(*(gateway.retrieve_session("fcsess_1") for _ in range(IN_FLIGHT)))
    finally:
        await gateway.aclose()

    assert searched == []
