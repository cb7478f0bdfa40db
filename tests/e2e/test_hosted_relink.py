"""Hosted relink in Chromium: a mobile app's in-app browser opening the session's `url`, and a
customer following the link Stripe emailed. Both end on /relink/return with the outcome
recorded from Stripe's copy of the session."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from tests.e2e.conftest import Demo, Sandbox, Screenshot


async def create_hosted(
    sandbox: Sandbox, demo: Demo, account_id: str, delivery: str, **extra: Any
) -> dict[str, Any]:
    response = await sandbox.http.post(
        "/v1/relink-sessions",
        json={"account_id": account_id, "ui_mode": "hosted", "delivery": delivery, **extra},
        headers=demo.auth,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["client_secret"] is None
    return created


async def test_hosted_url_flow_ends_on_the_return_page_with_the_outcome_stored(
    page: Page, sandbox: Sandbox, demo: Demo, screenshot: Screenshot
) -> None:
    account_id = demo.accounts["relink_required"]
    sibling_id = demo.accounts["relink_required_savings"]
    created = await create_hosted(sandbox, demo, account_id, "url")
    url = created["url"]
    assert url
    assert "_secret_" not in url
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    await page.goto(url)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Sandbox Bank")
    await expect(page.locator(f'input[name="account_id"][value="{account_id}"]')).to_be_checked()
    await screenshot(page, "bank")
    await page.get_by_test_id("hosted-link").click()

    await expect(page.get_by_test_id("return-title")).to_have_text(
        "Your bank account is reconnected"
    )
    await expect(page.get_by_test_id("return-title")).to_have_attribute("data-outcome", "relinked")
    await screenshot(page, "returned")
    landed = urlsplit(page.url)
    assert landed.path == "/relink/return"
    assert f"session={created['id']}" in landed.query
    assert not any("_secret_" in visited for visited in navigations)

    session = await sandbox.session(demo, created["id"])
    assert session["status"] == "completed"
    assert session["outcome"] == "relinked"
    assert session["ui_mode"] == "hosted"
    # Every account on the repaired login came back, the card included.
    assert set(session["reactivated_account_ids"]) == {
        account_id,
        sibling_id,
        demo.accounts["credit_card"],
    }
    accounts = await sandbox.accounts(demo)
    assert accounts[account_id]["link_health"] == "ok"

    # The hosted page is single use; the return page keeps showing the recorded outcome.
    await page.goto(url)
    await expect(page.get_by_test_id("hosted-completed")).to_be_visible()
    await page.go_back()
    await page.reload()
    await expect(page.get_by_test_id("return-title")).to_have_attribute("data-outcome", "relinked")


async def test_emailed_link_is_in_the_outbox_and_a_cancel_is_recorded(
    page: Page, sandbox: Sandbox, demo: Demo, screenshot: Screenshot
) -> None:
    account_id = demo.accounts["expiring"]
    created = await create_hosted(sandbox, demo, account_id, "email")
    assert created["url"] is None
    response = await sandbox.http.get(
        "/sandbox/control/emails", params={"session": created["stripe_session_id"]}
    )
    (email,) = response.json()["data"]
    assert email["to"] == "demo@example.com"
    assert email["url"] in email["text"]

    await page.goto(email["url"])
    await page.get_by_test_id("hosted-cancel").click()

    await expect(page.get_by_test_id("return-title")).to_have_text("Nothing was changed")
    await expect(page.get_by_test_id("return-title")).to_have_attribute("data-outcome", "cancelled")
    await screenshot(page)
    session = await sandbox.session(demo, created["id"])
    assert session["outcome"] == "cancelled"
    assert session["next_step"] == "retry"
    assert (await sandbox.accounts(demo))[account_id]["link_health"] == "expiring"


async def test_a_forged_return_link_shows_not_valid_and_changes_nothing(
    page: Page, sandbox: Sandbox, demo: Demo
) -> None:
    created = await create_hosted(sandbox, demo, demo.accounts["relink_required"], "url")

    response = await page.goto(
        f"{sandbox.base_url}/relink/return?session={created['id']}&state=" + "x" * 32
    )

    assert response is not None
    assert response.status == 404
    await expect(page.get_by_test_id("return-title")).to_have_text(
        re.compile("This link is not valid")
    )
    assert (await sandbox.session(demo, created["id"]))["status"] == "open"
