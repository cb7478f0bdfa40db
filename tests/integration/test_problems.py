"""Every error the app can produce is RFC 9457 problem+json, without internals."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from relink_api.accounts import service as accounts_service


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "/problems/not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "Nothing is served at /v1/nothing-here.",
        "instance": "/v1/nothing-here",
    }


async def test_wrong_method_is_a_405_problem(
    client: httpx.AsyncClient, auth_a: dict[str, str]
) -> None:
    response = await client.delete("/v1/accounts", headers=auth_a)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/method-not-allowed"
    assert "GET" in response.headers["allow"]


async def test_malformed_json_is_a_422_problem_that_does_not_echo_input(
    client: httpx.AsyncClient, auth_a: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/relink-sessions",
        content=b'{"account_id": "fca_1", "secret": "fcsess_9_secret_leak',
        headers={**auth_a, "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/validation-failed"
    assert body["errors"]
    assert "fcsess_9_secret_leak" not in response.text


@pytest.fixture
def listing_explodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Listing accounts raises an unexpected error whose message holds internals."""

    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("internal detail: /etc/secret sk_test_relink123")

    monkeypatch.setattr(accounts_service, "list_accounts", explode)


@pytest.mark.usefixtures("listing_explodes")
async def test_an_unexpected_error_is_a_500_problem_without_internals(
    app: FastAPI, auth_a: dict[str, str]
) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/v1/accounts", headers=auth_a)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/internal-error"
    assert "internal detail" not in response.text
    assert "Traceback" not in response.text
    assert "sk_test" not in response.text


@pytest.mark.usefixtures("listing_explodes")
async def test_an_unexpected_error_ends_inside_the_app_with_the_edge_headers(
    app: FastAPI, auth_a: dict[str, str]
) -> None:
    # Re-raised to the server, the error would make uvicorn drop the keep-alive connection
    # (a pipelined request on it is never answered); the ASGI transport re-raises it too.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/v1/accounts", headers={**auth_a, "X-Request-Id": "trace-500"})
    assert response.status_code == 500
    assert response.json()["type"] == "/problems/internal-error"
    assert response.headers["x-request-id"] == "trace-500"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    fresh = await client.get("/healthz")
    kept = await client.get("/healthz", headers={"X-Request-Id": "trace-123"})
    forged = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith tab"})
    assert fresh.headers["x-request-id"].startswith("req_")
    assert kept.headers["x-request-id"] == "trace-123"
    assert forged.headers["x-request-id"].startswith("req_")
