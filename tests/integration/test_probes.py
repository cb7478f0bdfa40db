"""/healthz says the process is up; /readyz says the database answers."""

from __future__ import annotations

import httpx

from relink_api.db import Database


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_readyz_is_503_when_the_database_does_not_answer(
    client: httpx.AsyncClient, db: Database
) -> None:
    await db.close()
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    health = await client.get("/healthz")
    assert health.status_code == 200
