"""The README's picture of the page: the demo customer's accounts at a desktop size, as a
person running `scripts/run` first sees them. `scripts/readme-screenshot` runs this test with
RELINK_README_SCREENSHOT=docs/relink-page.png to refresh the picture the README shows."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page

from tests.e2e.conftest import ARTIFACTS, REPO, Demo, Screenshot
from tests.e2e.test_relink_page import open_page

# Small enough for a README in a repository: a screenful, not the whole page.
MAX_BYTES = 200_000


async def test_the_demo_page_at_a_desktop_size_for_the_readme(
    page: Page, demo: Demo, screenshot: Screenshot
) -> None:
    await open_page(page, demo)
    await screenshot(page)  # the whole page at both sizes, checked by axe-core

    shot = ARTIFACTS / "readme-relink-page.png"
    await page.screenshot(path=shot, full_page=False)

    size = shot.stat().st_size
    assert size < MAX_BYTES, f"{shot} is {size} bytes; the README's picture must stay small"
    wanted = os.environ.get("RELINK_README_SCREENSHOT")
    if wanted:
        (REPO / Path(wanted)).write_bytes(shot.read_bytes())
