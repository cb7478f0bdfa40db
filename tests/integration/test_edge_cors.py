"""CORS: pages on an allowlisted origin may call the API with a bearer token; no other
origin may, and without the setting there is no CORS at all."""

from __future__ import annotations

import httpx
import respx

from tests.conftest import make_settings
from tests.support import serve

APP = "https://app.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
}


async def test_a_preflight_from_an_allowed_origin_is_answered(
    database_url: str, stripe_mock: respx.MockRouter
) -> None:
    settings = make_settings(database_url, cors_allowed_origins=f"{APP},http://localhost:5173")
    async with serve(settings) as client:
        response = await client.options("/v1/relink-sessions", headers={"Origin": APP, **PREFLIGHT})

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == APP
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type", "idempotency-key", "x-request-id"} <= allowed
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers
    assert "Origin" in response.headers["vary"]


async def test_a_request_from_an_allowed_origin_may_read_the_headers_it_needs(
    database_url: str, stripe_mock: respx.MockRouter
) -> None:
    settings = make_settings(database_url, cors_allowed_origins=APP)
    async with serve(settings) as client:
        response = await client.get("/v1/accounts", headers={"Origin": APP})

    assert response.status_code == 401  # CORS lets the page read the refusal too
    assert response.headers["access-control-allow-origin"] == APP
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"retry-after", "idempotent-replayed", "x-request-id", "location"} <= exposed


async def test_another_origin_gets_no_cors_headers(
    database_url: str, stripe_mock: respx.MockRouter
) -> None:
    settings = make_settings(database_url, cors_allowed_origins=APP)
    async with serve(settings) as client:
        preflight = await client.options(
            "/v1/relink-sessions", headers={"Origin": "https://evil.example", **PREFLIGHT}
        )
        simple = await client.get("/v1/config", headers={"Origin": "https://evil.example"})
        # An origin is compared whole: a look-alike with the allowed one as a prefix fails.
        lookalike = await client.get(
            "/v1/config", headers={"Origin": "https://app.example.com.evil.example"}
        )

    assert preflight.status_code == 400
    for response in (preflight, simple, lookalike):
        assert "access-control-allow-origin" not in response.headers


async def test_without_the_setting_there_is_no_cors(client: httpx.AsyncClient) -> None:
    preflight = await client.options("/v1/relink-sessions", headers={"Origin": APP, **PREFLIGHT})
    simple = await client.get("/v1/config", headers={"Origin": APP})

    assert preflight.status_code == 405
    for response in (preflight, simple):
        assert not any(name.startswith("access-control-") for name in response.headers)
