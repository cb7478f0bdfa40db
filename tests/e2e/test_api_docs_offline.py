"""/docs (Swagger UI) and /redoc (ReDoc) render the API reference in real Chromium with
every request off this server refused: their scripts come from the installed package, not
a CDN, and the pages' Content-Security-Policy lets nothing else in."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, Route


async def offline(page: Page, server_url: str) -> list[str]:
    """Refuse every request to another origin (as with no network); return those refused."""
    origin = urlsplit(server_url).netloc
    refused: list[str] = []

    async def only_this_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == origin or route.request.url.startswith(
            ("data:", "blob:")
        ):
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("internetdisconnected")

    await page.route("**/*", only_this_server)
    return refused


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/docs", ".swagger-ui .info .title"),
        ("/redoc", "h1"),
    ],
)
async def test_the_api_reference_renders_with_the_network_blocked(
    page: Page, console: list[str], server_url: str, path: str, title: str
) -> None:
    refused = await offline(page, server_url)

    response = await page.goto(server_url + path)

    assert response is not None
    assert response.status == 200
    heading = page.locator(title).first
    await heading.wait_for()
    assert "relink-api" in (await heading.inner_text())
    # The operations are listed, not only the title.
    await page.get_by_text("/v1/relink-sessions").first.wait_for()
    assert refused == []
    # ReDoc's footer badge is an image on cdn.redoc.ly: the policy stops it before any
    # request (refused stays empty); nothing else may be blocked.
    assert [
        message
        for message in console
        if "Content Security Policy" in message
        and "cdn.redoc.ly/redoc/logo-mini.svg" not in message
    ] == []
    assert [message for message in console if message.startswith("pageerror")] == []
