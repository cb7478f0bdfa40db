"""Payment methods and broken links on the page, as Stripe has them (docs/stripe.md §6): a
bank's tokenized account number nearing expiry, expiring (which blocks the payment method),
and a relink bringing the same payment method back; and a disconnected account whose payment
method keeps working because its numbers were never tokenized.

Each test first sets up, through the API and the sandbox's bank (what the page and Stripe.js
would do), a payment method relink-api made from a newly linked account; the page is then
driven for what a customer sees.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, expect

from tests.e2e.conftest import PAGE_TIMEOUT_MS, Demo, Sandbox, Screenshot
from tests.e2e.test_relink_page import (
    account_radio,
    group,
    open_page,
    outcome,
    reconnect_button,
    settled,
    shown,
    sign_in,
    start_relink,
)

expect.set_options(timeout=PAGE_TIMEOUT_MS)

TAN_EXPIRED = "tokenized_account_number_deactivated"
# It replaced the payment method the business had made from the account it was linked for.
WORKS = re.compile(
    r"^Payments can come from this account\. It replaced an earlier payment method\.$"
)
BLOCKED_LINE = (
    "Can't be used for payments until you reconnect the account: your bank's account number "
    "for it expired."
)


async def post(sandbox: Sandbox, path: str, headers: dict[str, str], json: Any = None) -> Any:
    response = await sandbox.http.post(path, json=json, headers=headers)
    assert response.is_success, f"POST {path}: {response.status_code} {response.text}"
    return response.json()


async def payment_method_from_a_new_account(
    sandbox: Sandbox, demo: Demo, broken_id: str
) -> tuple[str, str]:
    """An institution relink of the broken account where the customer links another account
    at the bank, then the ACH payment method set up from it. Returns (account, payment
    method) ids."""
    session = await post(
        sandbox, "/v1/relink-sessions", demo.auth, {"account_id": broken_id, "scope": "institution"}
    )
    bank = {"Authorization": f"Bearer {session['publishable_key']}"}
    await post(
        sandbox,
        "/sandbox/bank/session/complete",
        bank,
        {"client_secret": session["client_secret"], "outcome": "link_new"},
    )
    done = await post(sandbox, f"/v1/relink-sessions/{session['id']}/complete", demo.auth)
    assert (done["outcome"], done["next_step"]) == ("new_account", "set_up_payment_method"), done
    [account_id] = done["linked_account_ids"]
    setup_path = f"/v1/relink-sessions/{session['id']}/payment-method"
    setup = await post(sandbox, setup_path, demo.auth, {"billing_name": "Jenny Rosen"})
    await post(
        sandbox,
        "/sandbox/bank/setup_intents/confirm",
        bank,
        {"client_secret": setup["client_secret"]},
    )
    recorded = await post(sandbox, f"{setup_path}/complete", demo.auth)
    assert recorded["status"] == "succeeded", recorded
    await sandbox.control("outbox/flush")
    return account_id, recorded["payment_method"]["id"]


async def method_of(sandbox: Sandbox, demo: Demo, account_id: str) -> dict[str, Any]:
    [method] = [m for m in await sandbox.payment_methods(demo) if m["account_id"] == account_id]
    return method


async def changed(sandbox: Sandbox, path: str, json: dict[str, Any] | None = None) -> None:
    """A sandbox control, and the webhooks it caused delivered to the app."""
    await sandbox.control(path, json)
    assert (await sandbox.control("outbox/flush"))["pending"] == 0


def payment_method_line(page: Page, method_id: str) -> Any:
    return page.locator(f'[data-payment-method-id="{method_id}"] .account__status')


async def reopen(page: Page, demo: Demo) -> None:
    # The token left the address bar, so a plain reload would have none.
    await page.goto("about:blank")
    await open_page(page, demo)


async def test_expiring_tokenized_numbers_block_the_payment_method_until_a_relink(
    page: Page, sandbox: Sandbox, demo: Demo, screenshot: Screenshot
) -> None:
    # The demo's account at a bank that issues tokenized numbers loses them; the customer
    # links another account there and sets up payments from it.
    await changed(sandbox, f"accounts/{demo.accounts['tokenized']}/account-numbers/expire")
    account_id, method_id = await payment_method_from_a_new_account(
        sandbox, demo, demo.accounts["tokenized"]
    )
    account = (await sandbox.accounts(demo))[account_id]
    assert account["link_health"] == "ok"
    assert account["account_number_expires_at"] is not None

    # 1. Its numbers near expiry: the page asks for a relink before they expire, and the
    #    payment method still works.
    await changed(sandbox, f"accounts/{account_id}/account-numbers/expire-soon", {"days": 10})
    account = (await sandbox.accounts(demo))[account_id]
    assert account["link_health"] == "expiring"
    method = await method_of(sandbox, demo, account_id)
    assert (method["usable"], method["link_health"]) == (True, "expiring")
    await open_page(page, demo)
    expiring = group(page, re.compile(r"^Will stop working soon"))
    await expect(expiring).to_contain_text(shown(account))
    await expect(expiring).to_contain_text(re.compile(r"Will stop working on \w+"))
    await expect(reconnect_button(page, account)).to_be_enabled()
    await expect(payment_method_line(page, method_id)).to_contain_text(
        "Payments can come from this account. Reconnect the account soon"
    )
    await screenshot(page, "expiring")

    # 2. They expire: Stripe blocks the payment method, and the page offers the relink.
    await changed(sandbox, f"accounts/{account_id}/account-numbers/expire")
    method = await method_of(sandbox, demo, account_id)
    assert (method["usable"], method["unusable_reason"]) == (False, "blocked")
    assert method["blocked"]["reason"] == TAN_EXPIRED
    await reopen(page, demo)
    await expect(payment_method_line(page, method_id)).to_have_text(
        BLOCKED_LINE + " It replaced an earlier payment method."
    )
    await expect(reconnect_button(page, account)).to_be_enabled()
    await screenshot(page, "blocked")

    # 3. The customer reconnects that account: the bank reissues its numbers and the same
    #    payment method works again, with no new SetupIntent.
    session = await start_relink(page, reconnect_button(page, account))
    assert session["scope"] == "account"
    dialog = await sign_in(page)
    await expect(account_radio(dialog, account)).to_be_checked()
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await settled(page)
    await outcome(page, "Reconnected")

    stored = await sandbox.session(demo, session["id"])
    assert (stored["outcome"], stored["next_step"]) == ("relinked", "none"), stored
    no_setup = await sandbox.http.get(
        f"/v1/relink-sessions/{session['id']}/payment-method", headers=demo.auth
    )
    assert no_setup.status_code == 404, no_setup.text
    account = (await sandbox.accounts(demo))[account_id]
    assert account["link_health"] == "ok"
    method = await method_of(sandbox, demo, account_id)
    assert method["id"] == method_id
    assert (method["usable"], method["blocked"], method["link_health"]) == (True, None, "ok")
    # The page says so without a reload.
    await expect(payment_method_line(page, method_id)).to_have_text(WORKS)
    await screenshot(page, "relinked")


async def test_a_disconnected_account_keeps_its_payment_method_usable(
    page: Page, sandbox: Sandbox, demo: Demo, screenshot: Screenshot
) -> None:
    # Sandbox Bank issues real account numbers, never tokenized ones.
    account_id, method_id = await payment_method_from_a_new_account(
        sandbox, demo, demo.accounts["relink_required"]
    )
    assert (await sandbox.accounts(demo))[account_id]["account_number_expires_at"] is None

    await changed(sandbox, f"accounts/{account_id}/disconnect")

    assert (await sandbox.accounts(demo))[account_id]["link_health"] == "disconnected"
    method = await method_of(sandbox, demo, account_id)
    assert method["id"] == method_id
    assert (method["usable"], method["unusable_reason"], method["blocked"]) == (True, None, None)
    assert method["link_health"] == "disconnected"
    await open_page(page, demo)
    await expect(payment_method_line(page, method_id)).to_have_text(
        "Payments can come from this account. The account's connection was disconnected."
        " It replaced an earlier payment method."
    )
    await screenshot(page)
