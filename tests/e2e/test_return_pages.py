"""The hosted relink's return page as a customer who came from an email sees it: no app to go
back to, and the accounts that work again named; and the icon every browser asks for."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.conftest import Demo, Sandbox, Screenshot
from tests.e2e.test_hosted_relink import create_hosted


async def emailed_link(sandbox: Sandbox, demo: Demo, account_id: str) -> str:
    created = await create_hosted(sandbox, demo, account_id, "email")
    response = await sandbox.http.get(
        "/sandbox/control/emails", params={"session": created["stripe_session_id"]}
    )
    (email,) = response.json()["data"]
    url: str = email["url"]
    return url


async def test_an_emailed_relink_ends_naming_the_accounts_that_work_again(
    page: Page, sandbox: Sandbox, demo: Demo, screenshot: Screenshot
) -> None:
    account_id = demo.accounts["relink_required"]
    await page.goto(await emailed_link(sandbox, demo, account_id))
    await page.get_by_test_id("hosted-link").click()

    await expect(page.get_by_test_id("return-title")).to_have_text(
        "Your bank account is reconnected"
    )
    detail = page.get_by_test_id("return-detail")
    await expect(detail).to_contain_text("You can close this tab.")
    await expect(detail).not_to_contain_text("app")
    accounts = await sandbox.accounts(demo)
    listed = page.get_by_role("list", name="These accounts work again:").get_by_role("listitem")
    await expect(listed).to_have_count(3)  # both bank accounts and the card on the login
    for id in (account_id, demo.accounts["relink_required_savings"], demo.accounts["credit_card"]):
        account = accounts[id]
        item = listed.filter(has_text=account["display_name"]).filter(has_text=account["last4"])
        await expect(item).to_have_count(1)
    await screenshot(page)


async def test_an_emailed_cancel_does_not_send_the_customer_to_an_app(
    page: Page, sandbox: Sandbox, demo: Demo, screenshot: Screenshot
) -> None:
    await page.goto(await emailed_link(sandbox, demo, demo.accounts["expiring"]))
    await page.get_by_test_id("hosted-cancel").click()

    await expect(page.get_by_test_id("return-title")).to_have_text("Nothing was changed")
    detail = page.get_by_test_id("return-detail")
    await expect(detail).to_contain_text("You can close this tab.")
    await expect(detail).not_to_contain_text("Go back to the app")
    await screenshot(page)


async def test_the_browsers_favicon_request_gets_an_icon(page: Page, sandbox: Sandbox) -> None:
    response = await page.goto(f"{sandbox.base_url}/favicon.ico")

    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"] == "image/vnd.microsoft.icon"
