"""Security headers: every HTML response carries the page's, whatever URL served it; API
responses are nosniff and no-store; https responses carry HSTS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

HSTS = "max-age=31536000; includeSubDomains"


def _assert_page_headers(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/static/index.html"])
async def test_the_page_has_its_headers_under_every_url(
    client: httpx.AsyncClient, path: str
) -> None:
    _assert_page_headers(await client.get(path))


@pytest.mark.parametrize(
    ("path", "status"),
    [("/v1/config", 200), ("/healthz", 200), ("/v1/accounts", 401), ("/v1/nothing", 404)],
)
async def test_api_responses_are_nosniff_and_never_stored(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await client.get(path)

    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers  # plain http


async def test_static_files_are_nosniff_and_keep_their_caching(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/static/app.js")

    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in response.headers
    assert "content-security-policy" not in response.headers


@pytest.fixture
async def https_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http


@pytest.mark.parametrize("path", ["/", "/static/index.html", "/v1/config", "/v1/nothing"])
async def test_https_responses_carry_hsts(https_client: httpx.AsyncClient, path: str) -> None:
    response = await https_client.get(path)

    assert response.headers["strict-transport-security"] == HSTS
