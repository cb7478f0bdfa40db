"""A single-page app on another origin calls the API from real Chromium: with its origin
on RELINK_CORS_ALLOWED_ORIGINS the bearer-token fetch (preflighted) succeeds and can read
X-Request-Id; from an origin not listed the browser refuses it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from playwright.async_api import Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from relink_api.app import create_app
from relink_api.auth import mint_token
from relink_api.server import bind_socket, server_config
from tests.conftest import make_settings

START_SECONDS = 30.0

FETCH_ACCOUNTS = """
async ([url, token]) => {
  try {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    return {
      ok: true,
      status: response.status,
      requestId: response.headers.get("X-Request-Id"),
      body: await response.json(),
    };
  } catch (error) {
    return { ok: false, error: String(error) };
  }
}
"""


async def spa_page(request: Request) -> Response:
    return HTMLResponse("<!doctype html><title>Another app</title><h1>Another app</h1>")


@contextlib.asynccontextmanager
async def running(app: ASGIApp, config: uvicorn.Config | None = None) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port in this event loop; yields its origin."""
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = config or uvicorn.Config(app, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_SECONDS
        while not server.started:
            if task.done():
                task.result()
            assert loop.time() < deadline, "the server did not start"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=START_SECONDS)
        sock.close()


@contextlib.asynccontextmanager
async def api_allowing(database_url: str, origin: str) -> AsyncIterator[tuple[str, str]]:
    """relink-api, configured as ``serve`` configures it, letting ``origin`` in; yields its
    origin and a customer's token."""
    settings = make_settings(
        database_url,
        cors_allowed_origins=origin,
        # Listing accounts reads only the database; nothing may reach Stripe regardless.
        stripe_api_base="http://127.0.0.1:9",
    )
    app = create_app(settings)
    config = server_config(app, settings, host="127.0.0.1", port=0)
    async with running(app, config) as api:
        yield api, mint_token(settings, "cus_cors")


async def _fetch_accounts(page: Page, page_origin: str, api: str, token: str) -> Any:
    await page.goto(page_origin + "/")
    return await page.evaluate(FETCH_ACCOUNTS, [f"{api}/v1/accounts", token])


async def test_an_allowed_origin_reads_the_api_and_another_does_not(
    page: Page, database_url: str
) -> None:
    spa = Starlette(routes=[Route("/", spa_page)])
    async with running(spa) as allowed, running(spa) as other:
        async with api_allowing(database_url, allowed) as (api, token):
            granted = await _fetch_accounts(page, allowed, api, token)
            refused = await _fetch_accounts(page, other, api, token)

    assert granted["ok"], granted
    assert granted["status"] == 200
    assert granted["body"]["data"] == []
    assert granted["requestId"].startswith("req_")
    assert not refused["ok"]
    assert "Failed to fetch" in refused["error"]
