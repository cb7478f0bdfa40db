"""The page boots from its native ES modules: each is served from static/ as JavaScript with the
caching app.js always had, all of them load, and a boot leaves nothing on the console."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import ConsoleMessage, Page, Response, expect

from tests.e2e.conftest import PAGE_TIMEOUT_MS, REPO, Demo, Sandbox
from tests.e2e.test_relink_page import open_page

STATIC = REPO / "static"
MODULES = sorted(path.name for path in STATIC.glob("*.js"))
JAVASCRIPT_TYPES = ("text/javascript", "application/javascript")

expect.set_options(timeout=PAGE_TIMEOUT_MS)


async def test_the_page_boots_from_its_modules_with_a_clean_console(page: Page, demo: Demo) -> None:
    problems: list[str] = []
    scripts: dict[str, Response] = {}

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type}: {message.text} {message.location}")

    def on_response(response: Response) -> None:
        path = urlsplit(response.url).path
        if path.startswith("/static/") and path.endswith(".js"):
            scripts[path.removeprefix("/static/")] = response

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.on("response", on_response)

    await open_page(page, demo)
    # Booted through to the last step: the payment methods were asked for and the list drawn.
    await expect(page.locator(".sandbox-note")).to_be_visible()
    await expect(page.get_by_role("button", name="Reconnect").first).to_be_enabled()

    assert sorted(scripts) == MODULES
    for name, response in scripts.items():
        assert response.status == 200, name
        content_type = (await response.all_headers())["content-type"]
        assert content_type.startswith(JAVASCRIPT_TYPES), (name, content_type)
    assert not problems, problems


@pytest.mark.parametrize("name", [*MODULES, "app.css"])
async def test_each_file_is_served_typed_nosniff_and_revalidated(
    sandbox: Sandbox, name: str
) -> None:
    response = await sandbox.http.get(f"/static/{name}")

    assert response.status_code == 200
    assert response.content == (STATIC / name).read_bytes()
    expected = "text/css" if name.endswith(".css") else JAVASCRIPT_TYPES
    assert response.headers["content-type"].startswith(expected)
    assert response.headers["x-content-type-options"] == "nosniff"
    # As app.js always was: no Cache-Control, so browsers revalidate with the validators.
    assert "cache-control" not in response.headers
    assert "content-security-policy" not in response.headers
    etag = response.headers["etag"]
    assert response.headers["last-modified"]

    again = await sandbox.http.get(f"/static/{name}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
