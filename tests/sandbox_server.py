"""A sandbox-mode relink-api served over real loopback HTTP, inside the test's event loop.

The app points the official Stripe SDK at its own ``/sandbox/stripe`` and the sandbox posts
webhooks to its own ``/v1/webhooks/stripe``: both need a real socket, so the ASGI transport
of ``tests.support.serve`` will not do, and respx (the ``stripe_mock`` fixture) must not be
active, since it would intercept those loopback calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from relink_api.app import create_app
from relink_api.sandbox.outbox import Outbox
from relink_api.sandbox.setup import sandbox_settings
from relink_api.settings import Settings
from tests.conftest import make_settings

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class RunningSandbox:
    settings: Settings
    base_url: str
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def secret_key(self) -> str:
        assert self.settings.stripe_secret_key is not None
        return self.settings.stripe_secret_key.get_secret_value()

    @property
    def publishable_key(self) -> str:
        assert self.settings.stripe_publishable_key is not None
        return self.settings.stripe_publishable_key

    @property
    def stripe_base(self) -> str:
        """Where the SDK's ``base_addresses["api"]`` points."""
        assert self.settings.stripe_api_base is not None
        return self.settings.stripe_api_base

    @contextlib.asynccontextmanager
    async def webhooks_held(self) -> AsyncIterator[None]:
        """Hold webhook delivery for the block, as when Stripe's webhooks are slower than
        the browser: the sandbox's deliverer runs one round at a time under its lock."""
        outbox: Outbox = self.app.state.sandbox_outbox
        async with outbox._lock:
            yield


class _Server(uvicorn.Server):
    """uvicorn's server, stopping as soon as ``stop`` is called: uvicorn itself looks at
    ``should_exit`` once per 0.1 s tick, half of which every sandbox test would wait out."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self.should_exit = True
        self._stopping.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.1)


def sandbox_base_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """What ``relink-api serve --sandbox`` starts from: nothing Stripe-related set, and (by
    default) no token secret, so the sandbox's own persisted one is used."""
    values: dict[str, Any] = {
        "sandbox": True,
        "stripe_secret_key": None,
        "stripe_publishable_key": None,
        "stripe_webhook_secrets": "",
        "auth_jwt_secret": None,
        "data_dir": data_dir,
    }
    values.update(overrides)
    return make_settings(database_url, **values)


@contextlib.asynccontextmanager
async def running_sandbox(
    database_url: str, data_dir: Path, **overrides: Any
) -> AsyncIterator[RunningSandbox]:
    """Serve a sandbox-mode app on a free loopback port until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    try:
        base = sandbox_base_settings(database_url, data_dir, **overrides)
        settings = sandbox_settings(base, host="127.0.0.1", port=port)
        app = create_app(settings)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=10,
        )
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name=f"sandbox-server-{port}")
        try:
            await _wait_started(server, task)
            base_url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
                yield RunningSandbox(settings=settings, base_url=base_url, app=app, client=client)
        finally:
            server.stop()
            await asyncio.wait_for(task, timeout=STOP_TIMEOUT_SECONDS)
    finally:
        sock.close()


async def _wait_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_SECONDS
    while not server.started:
        if task.done():
            task.result()  # re-raises what stopped it
            raise RuntimeError("the sandbox server stopped before it started (lifespan failed)")
        if loop.time() > deadline:
            raise TimeoutError("the sandbox server did not start in time")
        await asyncio.sleep(0.02)
