"""Stripe can still be finishing a session when the bank window closes: the page asks the
server again a few times before it shows anything (issue 15, item 6)."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.async_api import Page, Route, expect

from tests.e2e.conftest import PAGE_TIMEOUT_MS, Demo, Sandbox, Screenshot
from tests.e2e.test_relink_page import (
    account_radio,
    open_page,
    outcome,
    reconnect_button,
    sign_in,
    start_relink,
)

expect.set_options(timeout=PAGE_TIMEOUT_MS)

COMPLETE = re.compile(r"/v1/relink-sessions/[^/]+/complete$")
PENDING = {
    "type": "/problems/relink-session-pending",
    "title": "The relink session is still in progress",
    "status": 409,
    "detail": "Stripe still reports this session as pending; complete it after the customer "
    "finishes the flow.",
    "instance": "/v1/relink-sessions/rls_x/complete",
}


async def test_a_session_still_pending_is_asked_again_before_anything_is_shown(
    page: Page, sandbox: Sandbox, demo: Demo, screenshot: Screenshot
) -> None:
    target = (await sandbox.accounts(demo))[demo.accounts["relink_required"]]
    answered: list[int] = []

    async def pending_twice(route: Route) -> None:
        if len(answered) < 2:
            answered.append(409)
            await route.fulfill(
                status=409, content_type="application/problem+json", body=json.dumps(PENDING)
            )
        else:
            answered.append(0)
            await route.continue_()

    await page.route(COMPLETE, pending_twice)
    await open_page(page, demo)
    session: dict[str, Any] = await start_relink(page, reconnect_button(page, target))
    dialog = await sign_in(page)
    await expect(account_radio(dialog, target)).to_be_checked()
    await dialog.get_by_role("button", name="Connect", exact=True).click()

    await outcome(page, "Reconnected")
    assert answered == [409, 409, 0]
    assert (await sandbox.session(demo, session["id"]))["outcome"] == "relinked"
    await expect(page.locator("body")).not_to_contain_text("complete it after the customer")
    await screenshot(page)
