"""What the bundled page says, as a customer reads it: tasks that end, one button per bank
sign-in, counts that match the cards, and words for people rather than developers.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Locator, Page, Route, expect

from tests.e2e.conftest import PAGE_TIMEOUT_MS, Demo, Sandbox, Screenshot
from tests.e2e.test_payment_method_page import accept, continue_to_mandate, spoken
from tests.e2e.test_relink_page import (
    group,
    label,
    no_page_errors,
    open_page,
    outcome,
    reconnect_button,
    settled,
    shown,
    sign_in,
    start_relink,
)

expect.set_options(timeout=PAGE_TIMEOUT_MS)


def cards(page: Page) -> Locator:
    """The account cards (not the accounts listed inside a card)."""
    return page.locator("#accounts ul.accounts > li")


async def replace_closed_account(
    page: Page, sandbox: Sandbox, demo: Demo, closed: dict[str, Any]
) -> tuple[dict[str, Any], Locator]:
    """ "Link another account at <bank>" for the closed account → "Link a different
    account" → the setup form. Returns the new account (from the API) and the panel."""
    await open_page(page, demo)
    bank = closed["institution_name"]
    await start_relink(
        page,
        page.get_by_role("button", name=f"Link another account at {bank} for {label(closed)}"),
    )
    dialog = await sign_in(page)
    await dialog.get_by_role("button", name="Link a different account", exact=True).click()
    await settled(page)
    [new_account] = [
        account
        for account in (await sandbox.accounts(demo)).values()
        if account["replaces_account_id"] == closed["id"]
    ]
    panel = await outcome(page, "You connected a different account")
    return new_account, panel


async def test_the_closed_account_shows_as_replaced_once_payments_come_from_another(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    console: list[str],
    screenshot: Screenshot,
) -> None:
    closed = accounts["unrepairable"]
    new_account, panel = await replace_closed_account(page, sandbox, demo, closed)
    await continue_to_mandate(page, panel, new_account)
    await accept(page)
    await outcome(page, "Payments are set up")
    [method] = await sandbox.payment_methods(demo)
    assert method["account_id"] == new_account["id"]
    assert method["usable"] is True

    # The closed account is no longer a task: it says which account took over.
    replaced = group(page, re.compile(r"^Replaced by a new account"))
    await expect(replaced).to_contain_text(shown(closed))
    await expect(replaced).to_contain_text(re.compile(r"Replaced by " + shown(new_account).pattern))
    await expect(replaced.get_by_role("button")).to_have_count(0)
    await expect(
        page.get_by_role("button", name=re.compile(r"^Link another account"))
    ).to_have_count(0)
    await expect(group(page, re.compile(r"^Can't be reconnected"))).to_have_count(0)
    # So it isn't counted: the broken sign-in and the expiring account are what is left.
    await expect(page.locator(".summary")).to_have_text("2 items below need your attention.")
    await screenshot(page)
    no_page_errors(console)


async def test_one_card_and_one_button_per_bank_sign_in(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    broken = [
        accounts[role] for role in ("relink_required", "relink_required_savings", "credit_card")
    ]
    assert len({account["authorization_id"] for account in broken}) == 1
    await open_page(page, demo)
    needs = group(page, re.compile(r"^Needs reconnecting"))
    await expect(needs.locator("ul.accounts > li")).to_have_count(1)
    bank = broken[0]["institution_name"]
    await expect(needs).to_contain_text(f"Reconnecting {bank} fixes 3 accounts")
    # One card speaks of all its accounts, not of "this account".
    await expect(needs).to_contain_text(
        "Your bank's permission to share these accounts has expired."
    )
    for account in broken:
        await expect(needs).to_contain_text(shown(account))
    [button] = await needs.get_by_role("button").all()
    # One button, named with the bank and every account it repairs.
    for account in broken:
        await expect(button).to_have_accessible_name(re.compile(re.escape(label(account))))
    await expect(button).to_have_accessible_name(re.compile(rf"^Reconnect {re.escape(bank)}: "))
    await screenshot(page, "grouped")

    session = await start_relink(page, button)
    assert session["account_id"] == accounts["relink_required"]["id"]
    dialog = await sign_in(page)
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await outcome(page, "Reconnected")
    now = await sandbox.accounts(demo)
    assert {now[account["id"]]["link_health"] for account in broken} == {"ok"}
    await expect(group(page, re.compile(r"^Needs reconnecting"))).to_have_count(0)


async def test_counts_names_and_problems_are_worded_for_the_customer(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    console: list[str],
    screenshot: Screenshot,
) -> None:
    # A closed credit card: never an ACH source, so nothing about payments.
    card = accounts["credit_card"]
    await sandbox.control(
        f"accounts/{card['id']}/deactivate", {"cause": "account_closed", "action": "none"}
    )
    await sandbox.control("outbox/flush")
    await open_page(page, demo)
    card_item = cards(page).filter(has_text=shown(card))
    await expect(card_item).to_contain_text("The account was closed.")
    await expect(card_item).not_to_contain_text(re.compile("payment", re.IGNORECASE))

    # The summary's count is the number of cards asking for an action.
    summary = await page.locator(".summary").text_content()
    asking = await cards(page).filter(has=page.get_by_role("button")).count()
    match = re.search(r"(\d+|One) (?:items? below|accounts?) needs? your attention", summary or "")
    assert match, summary
    assert (1 if match[1] == "One" else int(match[1])) == asking, (summary, asking)

    # A developer's detail is never shown: the problem's type is worded instead.
    detail = "fca_123 is healthy: there is nothing to repair. Send scope=institution."

    async def healthy(route: Route) -> None:
        await route.fulfill(
            status=409,
            content_type="application/problem+json",
            json={
                "type": "/problems/account-healthy",
                "title": "x",
                "status": 409,
                "detail": detail,
            },
        )

    await page.route(re.compile(r"/v1/relink-sessions$"), healthy)
    await reconnect_button(page, accounts["expiring"]).click()
    panel = await outcome(page, "We couldn't start reconnecting")
    await expect(panel).to_contain_text(
        "This account is working, so there is nothing to reconnect."
    )
    await expect(panel).not_to_contain_text("fca_123")
    assert any("fca_123" in line for line in console), console  # kept for developers
    await page.unroute(re.compile(r"/v1/relink-sessions$"))

    # Stripe's failure message is the next step: no second "try again" beside it.
    new_account, panel = await replace_closed_account(page, sandbox, demo, accounts["unrepairable"])
    await sandbox.control(
        f"accounts/{new_account['id']}/fail-next-setup", {"code": "bank_account_unusable"}
    )
    await continue_to_mandate(page, panel, new_account)
    await accept(page)
    failed = await outcome(page, f"We couldn't set up payments from {spoken(new_account)}")
    await expect(failed.locator(".problem-detail")).to_have_count(1)
    await expect(failed).not_to_contain_text("Next step")
    await screenshot(page, "failed")

    # One name for an account everywhere: its payment method is named as the account is.
    await failed.get_by_role("button", name="Try again", exact=True).click()
    await accept(page)
    done = await outcome(page, "Payments are set up")
    await expect(done.get_by_test_id("new-payment-method")).to_contain_text(shown(new_account))
    methods = page.locator("#payment-methods")
    await expect(methods).to_contain_text(shown(new_account))
    await expect(methods).not_to_contain_text("••••")
    no_page_errors(console)
