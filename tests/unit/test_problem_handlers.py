"""Problem handlers found wanting by schemathesis (tests/contract)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from relink_api.app import create_app
from relink_api.settings import Settings
from relink_api.web.problems import install_problem_handlers


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        # Two routes share this path: Starlette's own 405 named only the first one's POST.
        ("/v1/relink-sessions/rls_1/payment-method", {"GET", "POST"}),
        ("/v1/relink-sessions/rls_1", {"GET"}),
        ("/v1/relink-sessions", {"POST"}),
    ],
)
async def test_allow_lists_every_method_of_the_path(path: str, allowed: set[str]) -> None:
    # Routing refuses the method before any dependency runs: no lifespan is needed.
    app = create_app(Settings.model_construct())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.request("OPTIONS", path)

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/method-not-allowed"
    assert set(response.headers["allow"].split(", ")) == allowed


async def test_text_postgresql_cannot_store_is_a_validation_problem() -> None:
    # The schemas refuse NUL up front; this is the net under any input they miss.
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/store")
    async def store() -> None:
        raise asyncpg.CharacterNotInRepertoireError(
            'invalid byte sequence for encoding "UTF8": 0x00'
        )

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/store")

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/validation-failed"
    assert "0x00" not in response.text
