"""The security-headers middleware adds what a response lacks and keeps what a route set."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from relink_api.edge.headers import SecurityHeadersMiddleware
from relink_api.web.problems import install_problem_handlers

PAGE = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'self'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
STRICT = "default-src 'none'; frame-ancestors 'none'"


async def strict_page(request: Request) -> Response:
    return HTMLResponse("<p>hosted</p>", headers={"Content-Security-Policy": STRICT})


async def plain_page(request: Request) -> Response:
    return HTMLResponse("<p>plain</p>")


def _client() -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/strict", strict_page), Route("/plain", plain_page)])
    app.add_middleware(SecurityHeadersMiddleware, html_headers=PAGE)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_route_with_a_csp_of_its_own_keeps_it() -> None:
    async with _client() as client:
        response = await client.get("/strict")

    assert response.headers["content-security-policy"] == STRICT
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_an_html_response_without_headers_gets_the_pages() -> None:
    async with _client() as client:
        response = await client.get("/plain")

    assert response.headers["content-security-policy"] == PAGE["Content-Security-Policy"]
    assert response.headers["cache-control"] == "no-cache"


async def test_an_unexpected_error_is_never_stored_either() -> None:
    # A 500 is rendered outside every middleware (Starlette's ServerErrorMiddleware).
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom")

    assert response.status_code == 500
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
