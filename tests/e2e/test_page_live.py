"""The relink page over one visit: its buttons work after any relink, a reload keeps the
sign-in until the token expires, and links that break or heal on the server show by themselves.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

from playwright.async_api import Locator, Page, Request, expect

from tests.e2e.conftest import PAGE_TIMEOUT_MS, Demo, Sandbox, Screenshot
from tests.e2e.test_relink_page import (
    bank_dialog,
    group,
    open_page,
    outcome,
    reconnect_button,
    settled,
    sign_in,
    start_relink,
)

expect.set_options(timeout=PAGE_TIMEOUT_MS)
# How soon a change made on the server must show on the open page.
LIVE_MS = 5_000


def replace_button(page: Page, account: dict[str, Any]) -> Locator:
    return page.get_by_role("button", name=f"Link another account at {account['institution_name']}")


def expired_copy(token: str) -> str:
    """`token` with its `exp` an hour ago (its signature no longer matches: the page only
    reads `exp`, and must not send it)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int(time.time()) - 3600
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


async def stored(page: Page) -> dict[str, Any]:
    """What the page keeps in the browser: both storages and its cookies."""
    kept: dict[str, Any] = await page.evaluate(
        """() => ({
          session: Object.fromEntries(Object.keys(sessionStorage)
            .map((key) => [key, sessionStorage.getItem(key)])),
          local: Object.keys(localStorage).length,
          cookie: document.cookie,
        })"""
    )
    return kept


# ---------------------------------------------------------------------------------------------
# 1. Every button works again once an action ends
# ---------------------------------------------------------------------------------------------


async def test_closed_account_is_replaced_after_a_relink_in_the_same_visit(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    closed = accounts["unrepairable"]
    await open_page(page, demo)

    await start_relink(page, reconnect_button(page, accounts["relink_required"]))
    dialog = await sign_in(page)
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    panel = await outcome(page, "Reconnected")
    await panel.get_by_role("button", name="Back to accounts").click()

    button = replace_button(page, closed)
    await expect(button).to_be_enabled()
    await screenshot(page, "after-relink")
    session = await start_relink(page, button)
    assert session["scope"] == "institution"
    assert session["account_id"] == closed["id"]
    dialog = await sign_in(page)
    await dialog.get_by_role("button", name="Link a different account", exact=True).click()
    await settled(page)

    recorded = await sandbox.session(demo, session["id"])
    assert recorded["outcome"] == "new_account", recorded
    assert recorded["next_step"] == "set_up_payment_method"


async def test_every_card_button_works_after_a_cancelled_relink(
    page: Page, demo: Demo, accounts: dict[str, dict[str, Any]]
) -> None:
    await open_page(page, demo)
    await start_relink(page, reconnect_button(page, accounts["relink_required"]))
    dialog = await bank_dialog(page)
    await dialog.get_by_role("button", name="Close", exact=True).click()
    await outcome(page, "Reconnecting was cancelled")

    cards = page.locator("#accounts button")
    assert await cards.count() >= 3
    for index in range(await cards.count()):
        await expect(cards.nth(index)).to_be_enabled()
    session = await start_relink(page, replace_button(page, accounts["unrepairable"]))
    assert session["account_id"] == accounts["unrepairable"]["id"]
    await expect(await bank_dialog(page)).to_have_accessible_name(re.compile(r"^Sign in to "))


# ---------------------------------------------------------------------------------------------
# 2. A reload keeps the sign-in until the token expires
# ---------------------------------------------------------------------------------------------


async def test_reload_keeps_the_sign_in_for_the_tab_only(
    page: Page, demo: Demo, accounts: dict[str, dict[str, Any]], screenshot: Screenshot
) -> None:
    await open_page(page, demo)
    await page.reload()
    await expect(page.locator("#accounts")).not_to_have_attribute("aria-busy", "true")
    await expect(reconnect_button(page, accounts["relink_required"])).to_be_enabled()
    await expect(page.locator("#outcome")).to_be_hidden()
    assert "token" not in page.url
    await screenshot(page)

    # Kept in this tab's sessionStorage, and nowhere else the browser would send or keep it.
    kept = await stored(page)
    assert list(kept["session"].values()) == [demo.token]
    assert kept["local"] == 0
    assert kept["cookie"] == ""
    assert demo.token not in await page.content()

    # Another tab (a new session) is not signed in by it.
    other = await page.context.new_page()
    await other.goto(page.url)
    await expect(other.locator("#outcome-heading")).to_have_text("This page needs a sign-in link")
    await other.close()


async def test_an_expired_sign_in_says_so_and_is_not_sent(
    page: Page, sandbox: Sandbox, demo: Demo, screenshot: Screenshot
) -> None:
    await open_page(page, demo)
    expired = expired_copy(demo.token)
    await page.evaluate(
        """([token, expired]) => {
          for (const key of Object.keys(sessionStorage)) {
            if (sessionStorage.getItem(key) === token) sessionStorage.setItem(key, expired);
          }
        }""",
        [demo.token, expired],
    )
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request) if "/v1/" in request.url else None)

    await page.reload()
    panel = await outcome(page, "Your sign-in link has expired")
    await expect(panel).to_contain_text("Open the link again from the app or email")
    await expect(panel.get_by_role("button")).to_have_count(0)
    await expect(page.locator("#accounts button")).to_have_count(0)
    await screenshot(page)
    assert not [request for request in sent if "/v1/accounts" in request.url]
    assert expired not in json.dumps(await stored(page))

    # Reloading again still says why; a link with an expired token says the same at once.
    await page.reload()
    await outcome(page, "Your sign-in link has expired")
    await page.goto("about:blank")
    await page.goto(f"{sandbox.base_url}/#token={expired}")
    await outcome(page, "Your sign-in link has expired")
    assert "token" not in page.url
    assert not [request for request in sent if "/v1/accounts" in request.url]

    # A new link signs in again.
    await page.goto("about:blank")
    await open_page(page, demo)


async def test_a_sign_in_that_expires_while_open_says_so(page: Page, demo: Demo) -> None:
    await page.clock.install()
    await open_page(page, demo)
    await page.clock.fast_forward("13:00:00")  # the demo's token lasts 12 hours
    panel = await outcome(page, "Your sign-in link has expired")
    await expect(panel).to_contain_text("Open the link again")
    await expect(page.locator("#accounts button")).to_have_count(0)


# ---------------------------------------------------------------------------------------------
# 3. Links that break or heal on the server show without a reload
# ---------------------------------------------------------------------------------------------


async def test_a_link_that_breaks_and_heals_shows_without_reload(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    healthy = accounts["healthy"]
    await open_page(page, demo)
    await expect(group(page, re.compile(r"^Working"))).to_contain_text(healthy["display_name"])
    loads: list[str] = []
    page.on("load", lambda _page: loads.append(page.url))

    await sandbox.control(
        f"accounts/{healthy['id']}/deactivate",
        {"cause": "access_expired", "action": "relink_required"},
    )
    await sandbox.control("outbox/flush")
    broken = group(page, re.compile(r"^Needs reconnecting"))
    await expect(broken).to_contain_text(healthy["display_name"], timeout=LIVE_MS)
    await expect(reconnect_button(page, healthy)).to_be_enabled()
    await screenshot(page, "broken")

    await sandbox.control(f"accounts/{healthy['id']}/reactivate")
    await sandbox.control("outbox/flush")
    assert (await sandbox.accounts(demo))[healthy["id"]]["link_health"] == "ok"
    await expect(reconnect_button(page, healthy)).to_have_count(0, timeout=LIVE_MS)
    await expect(group(page, re.compile(r"^Working"))).to_contain_text(healthy["display_name"])
    await screenshot(page, "healed")
    assert loads == []


async def test_the_list_keeps_focus_when_it_redraws(
    page: Page, sandbox: Sandbox, demo: Demo, accounts: dict[str, dict[str, Any]]
) -> None:
    target = accounts["relink_required"]
    await open_page(page, demo)
    await reconnect_button(page, target).focus()

    await sandbox.control(
        f"accounts/{accounts['healthy']['id']}/deactivate",
        {"cause": "access_expired", "action": "relink_required"},
    )
    await sandbox.control("outbox/flush")
    await expect(reconnect_button(page, accounts["healthy"])).to_be_visible(timeout=LIVE_MS)
    await expect(reconnect_button(page, target)).to_be_focused()
