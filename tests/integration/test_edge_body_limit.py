"""One body limit in front of every route: over it is a 413 problem before the body is
parsed, the caller authenticated or the database touched."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from starlette.types import Message

from relink_api.app import create_app
from relink_api.settings import Settings
from tests.conftest import make_settings
from tests.support import assert_problem, serve

LIMIT = 16 * 1024
ROUTES_WITH_BODIES = [
    "/v1/relink-sessions",
    "/v1/relink-sessions/rs_123/complete",
    "/v1/relink-sessions/rs_123/payment-method",
    "/v1/relink-sessions/rs_123/payment-method/complete",
    "/v1/accounts/fca_123/refresh",
    "/v1/admin/accounts/fca_123/relink-email",
    "/sandbox/control/demo-customers",
]


def _json_body(size: int) -> bytes:
    body = json.dumps({"account_id": "fca_123", "return_url": "x" * size}).encode()
    return body[:size] if len(body) > size else body


@pytest.mark.parametrize("path", ROUTES_WITH_BODIES)
async def test_a_body_over_the_limit_is_a_413_before_authentication(
    client: httpx.AsyncClient, path: str
) -> None:
    # No token and no admin key: the size is refused first, so that no one can make the
    # server parse megabytes without credentials.
    response = await client.post(
        path, content=_json_body(LIMIT + 1), headers={"Content-Type": "application/json"}
    )

    problem = assert_problem(response, 413, "payload-too-large", instance=path)
    assert problem["detail"] == f"Bodies sent to this route are limited to {LIMIT} bytes."


async def test_a_streamed_body_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    # Chunked, so no Content-Length to go by: the count holds while reading.
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 1024

    response = await client.post(
        "/v1/relink-sessions", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 413, "payload-too-large", instance="/v1/relink-sessions")


async def test_a_declared_length_over_the_limit_is_refused_without_reading(
    settings: Settings, stripe_mock: respx.MockRouter
) -> None:
    app = create_app(settings)
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body was read")

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/relink-sessions",
        "raw_path": b"/v1/relink-sessions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(50 * 1024 * 1024).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413


async def test_a_body_within_the_limit_reaches_the_route(
    client: httpx.AsyncClient, auth_a: dict[str, str]
) -> None:
    # Just under the limit, and otherwise wrong: validation, not the size, refuses it.
    body = json.dumps({"account_id": "fca_123", "padding": "x" * (LIMIT - 100)}).encode()
    assert LIMIT - 200 < len(body) <= LIMIT

    response = await client.post(
        "/v1/relink-sessions",
        content=body,
        headers={**auth_a, "Content-Type": "application/json"},
    )

    assert_problem(response, 422, "validation-failed")


async def test_the_limit_is_a_setting(database_url: str, stripe_mock: respx.MockRouter) -> None:
    async with serve(make_settings(database_url, max_body_bytes=2048)) as client:
        response = await client.post(
            "/v1/relink-sessions",
            content=_json_body(2049),
            headers={"Content-Type": "application/json"},
        )
    problem = assert_problem(response, 413, "payload-too-large")
    assert "2048 bytes" in problem["detail"]


async def test_a_get_with_a_body_over_the_limit_is_refused_too(
    client: httpx.AsyncClient,
) -> None:
    response = await client.request("GET", "/healthz", content=b"x" * (LIMIT + 1))

    assert_problem(response, 413, "payload-too-large", instance="/healthz")
