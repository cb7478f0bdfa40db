"""The bundled relink page in real Chromium against the sandbox.

Each test has a demo customer of its own, drives the page and the sandbox bank the way a
person would (by role and accessible name), and checks both what the page says and what the
API has recorded.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, Request, Route, expect

from tests.e2e.conftest import PAGE_TIMEOUT_MS, Demo, Sandbox, Screenshot

COMPLETE_URL = re.compile(r"/v1/relink-sessions/[^/]+/complete$")

expect.set_options(timeout=PAGE_TIMEOUT_MS)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def label(account: dict[str, Any]) -> str:
    """How the page and the bank name an account to assistive technology."""
    return f"{account['display_name']} ending in {account['last4']}"


def shown(account: dict[str, Any]) -> re.Pattern[str]:
    """How the page shows an account: "Everyday Checking ••6789" (plus words for readers)."""
    name, last4 = re.escape(account["display_name"]), re.escape(account["last4"])
    return re.compile(rf"{name}\s*••\s*(ending in\s*)?{last4}")


async def open_page(page: Page, demo: Demo) -> None:
    assert "#token=" in demo.page_url
    assert "?token" not in demo.page_url
    assert "&token" not in demo.page_url
    await page.goto(demo.page_url)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your bank accounts")
    await expect(page.locator("#accounts")).not_to_have_attribute("aria-busy", "true")
    await expect(page.locator("#accounts section").first).to_be_visible()
    # The token left the address bar as soon as the page read it.
    assert "token" not in page.url


def is_relink_create(request: Request) -> bool:
    return request.method == "POST" and request.url.endswith("/v1/relink-sessions")


async def start_relink(page: Page, button: Locator) -> dict[str, Any]:
    """Click a button that starts a relink; return the created session (with its secret)."""
    async with page.expect_response(lambda response: is_relink_create(response.request)) as created:
        await button.click()
    response = await created.value
    assert response.status == 201, await response.text()
    session: dict[str, Any] = await response.json()
    return session


def reconnect_button(page: Page, account: dict[str, Any]) -> Locator:
    """The button that reconnects ``account``: its own, or its bank sign-in's, whose name
    lists every account it repairs ("Reconnect Sandbox Bank: A ending in 1 and B …")."""
    name = re.escape(label(account))
    return page.get_by_role(
        "button", name=re.compile(rf"^Reconnect (.*: )?(.*, )?{name}(,| and |$)")
    )


async def bank_dialog(page: Page) -> Locator:
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    return dialog


async def sign_in(page: Page) -> Locator:
    dialog = await bank_dialog(page)
    await expect(dialog).to_have_accessible_name(re.compile(r"^Sign in to "))
    await dialog.get_by_role("button", name="Sign in", exact=True).click()
    await expect(dialog).to_have_accessible_name(re.compile(r"^Choose an account at "))
    return dialog


def account_radio(dialog: Locator, account: dict[str, Any]) -> Locator:
    return dialog.get_by_role("radio", name=re.compile(rf"^{re.escape(label(account))}\b"))


async def settled(page: Page) -> None:
    """The bank has closed and the page has shown an outcome (its heading has focus)."""
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await expect(page.locator("#outcome-heading")).to_be_focused()


async def outcome(page: Page, heading: str | re.Pattern[str]) -> Locator:
    """The outcome panel, once its heading has the text and has taken focus."""
    await settled(page)
    title = page.locator("#outcome-heading")
    await expect(title).to_have_text(heading)
    await expect(title).to_be_focused()
    panel = page.locator("#outcome")
    await expect(panel).to_be_visible()
    return panel


def group(page: Page, title: str | re.Pattern[str]) -> Locator:
    return page.get_by_role("region", name=title)


async def has_focus(locator: Locator) -> bool:
    focused: bool = await locator.evaluate("node => node.getRootNode().activeElement === node")
    return focused


async def tab_to(page: Page, target: Locator, *, limit: int = 40) -> None:
    """Press Tab until ``target`` has focus, as a keyboard-only user would."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await has_focus(target):
            return
    pytest.fail(f"Tab never reached {target}")


async def focus_is_inside(dialog: Locator) -> bool:
    inside: bool = await dialog.evaluate(
        "d => { const a = d.getRootNode().activeElement; return !!a && d.contains(a); }"
    )
    return inside


async def no_horizontal_scroll(page: Page) -> bool:
    fits: bool = await page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    return fits


def no_page_errors(console: list[str]) -> None:
    """No uncaught error, and nothing the page's Content-Security-Policy had to block."""
    assert not [line for line in console if line.startswith("pageerror")], console
    assert not [line for line in console if "Content Security Policy" in line], console


# ---------------------------------------------------------------------------------------------
# The page before any relink
# ---------------------------------------------------------------------------------------------


async def test_lists_accounts_by_link_health(
    page: Page, demo: Demo, accounts: dict[str, dict[str, Any]], console: list[str]
) -> None:
    assert accounts["relink_required"]["link_health"] == "relink_required"
    assert accounts["expiring"]["link_health"] == "expiring"
    assert accounts["unrepairable"]["link_health"] == "unrepairable"
    assert accounts["healthy"]["link_health"] == "ok"

    await open_page(page, demo)
    broken = group(page, re.compile(r"^Needs reconnecting"))
    await expect(broken).to_contain_text(shown(accounts["relink_required"]))
    await expect(broken).to_contain_text(accounts["relink_required"]["institution_name"])
    await expect(reconnect_button(page, accounts["relink_required"])).to_be_enabled()

    expiring = group(page, re.compile(r"^Will stop working soon"))
    await expect(expiring).to_contain_text(re.compile(r"Will stop working on \w+ \d{1,2}, \d{4}"))
    await expect(reconnect_button(page, accounts["expiring"])).to_be_visible()

    closed = group(page, re.compile(r"^Can't be reconnected — link a new account"))
    await expect(closed).to_contain_text(accounts["unrepairable"]["display_name"])
    # Not reconnectable, but another account at the same bank can stand in for it.
    await expect(closed.get_by_role("button")).to_have_count(1)
    await expect(
        closed.get_by_role(
            "button",
            name=f"Link another account at {accounts['unrepairable']['institution_name']}",
        )
    ).to_be_visible()

    working = group(page, re.compile(r"^Working"))
    await expect(working).to_contain_text(accounts["healthy"]["display_name"])
    await expect(working.get_by_role("button")).to_have_count(0)
    await expect(page.get_by_role("heading", level=1)).to_have_count(1)
    no_page_errors(console)


async def test_token_only_from_the_fragment_and_problems_are_worded_for_people(
    page: Page, sandbox: Sandbox, demo: Demo, console: list[str], screenshot: Screenshot
) -> None:
    api_calls: list[str] = []
    page.on(
        "request", lambda request: api_calls.append(request.url) if "/v1/" in request.url else None
    )

    # A token in the query string is never used: it would land in logs and referrers.
    await page.goto(f"{sandbox.base_url}/?token={demo.token}")
    panel = await outcome(page, "This page needs a sign-in link")
    await expect(panel.get_by_role("button")).to_have_count(0)
    assert not [url for url in api_calls if "/v1/accounts" in url]

    # A token the API refuses: the page shows the problem's own detail.
    refused = await sandbox.http.get(
        "/v1/accounts", headers={"Authorization": "Bearer not-a-token"}
    )
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    detail = refused.json()["detail"]
    await page.goto("about:blank")
    await page.goto(f"{sandbox.base_url}/#token=not-a-token")
    panel = await outcome(page, "Your sign-in has ended")
    # Words for the customer; the detail is for developers (the console has it).
    await expect(panel).to_contain_text("Open this page again from your app.")
    await expect(panel).not_to_contain_text(detail)
    assert "token" not in page.url
    await screenshot(page)
    no_page_errors(console)


# ---------------------------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------------------------


async def test_account_scope_relinked_reactivates_the_sibling(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    target = accounts["relink_required"]
    sibling = accounts["relink_required_savings"]
    await open_page(page, demo)

    session = await start_relink(page, reconnect_button(page, target))
    assert session["scope"] == "account"
    dialog = await sign_in(page)
    await expect(account_radio(dialog, target)).to_be_checked()
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await settled(page)
    await screenshot(page)

    # The API's record first: the page only words what it says.
    stored = await sandbox.session(demo, session["id"])
    assert stored["status"] == "completed"
    assert stored["outcome"] == "relinked"
    assert stored["next_step"] == "none"
    assert {target["id"], sibling["id"]} <= set(stored["reactivated_account_ids"]), stored
    now = await sandbox.accounts(demo)
    assert now[target["id"]]["link_health"] == "ok"
    assert now[sibling["id"]]["link_health"] == "ok"

    panel = await outcome(page, "Reconnected")
    await expect(panel).to_contain_text(shown(target))
    await expect(panel).to_contain_text(shown(sibling))
    await expect(panel).to_contain_text("Nothing else to do")
    await expect(group(page, re.compile(r"^Working"))).to_contain_text(target["display_name"])
    await expect(group(page, re.compile(r"^Working"))).to_contain_text(sibling["display_name"])


async def test_account_scope_another_account_fails_with_no_account(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    target = accounts["relink_required"]
    sibling = accounts["relink_required_savings"]
    await open_page(page, demo)

    session = await start_relink(page, reconnect_button(page, target))
    dialog = await sign_in(page)
    await account_radio(dialog, sibling).check()
    await dialog.get_by_role("button", name="Connect", exact=True).click()

    panel = await outcome(page, "That wasn't the account we needed")
    bank = target["institution_name"]
    await expect(panel).to_contain_text(f"any checking or savings account at {bank}")
    await expect(panel.get_by_role("button", name=f"Choose any account at {bank}")).to_be_visible()
    await screenshot(page)

    stored = await sandbox.session(demo, session["id"])
    assert stored["outcome"] == "failed"
    assert stored["failure_reason"] == "no_account"
    assert stored["next_step"] == "relink_institution"
    assert (await sandbox.accounts(demo))[target["id"]]["link_health"] == "relink_required"


async def fail_account_scope_then_open_institution_scope(
    page: Page, demo: Demo, accounts: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], Locator]:
    """Account scope → another account (no_account) → "Choose any account at <bank>"."""
    target = accounts["relink_required"]
    await open_page(page, demo)
    await start_relink(page, reconnect_button(page, target))
    dialog = await sign_in(page)
    await account_radio(dialog, accounts["relink_required_savings"]).check()
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    panel = await outcome(page, "That wasn't the account we needed")

    bank = target["institution_name"]
    session = await start_relink(
        page, panel.get_by_role("button", name=f"Choose any account at {bank}")
    )
    assert session["scope"] == "institution"
    assert session["account_id"] == target["id"]
    dialog = await sign_in(page)
    # The institution-scope filter keeps to checking and savings: the card is not eligible.
    card = account_radio(dialog, accounts["credit_card"])
    await expect(card).to_be_disabled()
    await expect(dialog).to_contain_text("not eligible")
    return session, dialog


async def test_institution_scope_choosing_the_known_sibling_relinks(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    sibling = accounts["relink_required_savings"]
    session, dialog = await fail_account_scope_then_open_institution_scope(page, demo, accounts)
    await account_radio(dialog, sibling).check()
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await settled(page)
    await screenshot(page)

    stored = await sandbox.session(demo, session["id"])
    assert stored["scope"] == "institution"
    assert stored["outcome"] == "relinked"
    assert sibling["id"] in stored["linked_account_ids"]
    assert sibling["id"] in stored["reactivated_account_ids"], stored
    assert (await sandbox.accounts(demo))[sibling["id"]]["link_health"] == "ok"

    panel = await outcome(page, "Reconnected")
    await expect(panel).to_contain_text(shown(sibling))


async def test_institution_scope_link_a_different_account_is_a_new_account(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    session, dialog = await fail_account_scope_then_open_institution_scope(page, demo, accounts)
    await dialog.get_by_role("button", name="Link a different account", exact=True).click()
    await settled(page)
    await screenshot(page)

    stored = await sandbox.session(demo, session["id"])
    assert stored["outcome"] == "new_account", stored
    assert stored["next_step"] == "set_up_payment_method"
    assert len(stored["linked_account_ids"]) == 1
    new_id = stored["linked_account_ids"][0]
    assert new_id not in demo.accounts.values()

    panel = await outcome(page, "You connected a different account")
    await expect(panel).to_contain_text("set up payments from the new account")


async def test_failed_sign_in_is_no_authorization(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    target = accounts["relink_required"]
    await open_page(page, demo)
    session = await start_relink(page, reconnect_button(page, target))
    dialog = await bank_dialog(page)
    await dialog.get_by_role("button", name="Fail sign-in", exact=True).click()

    panel = await outcome(page, f"Signing in to {target['institution_name']} didn't work")
    await expect(panel).to_contain_text("nothing changed")
    await expect(panel.get_by_role("button", name="Try again", exact=True)).to_be_visible()
    await screenshot(page)

    stored = await sandbox.session(demo, session["id"])
    assert stored["outcome"] == "failed"
    assert stored["failure_reason"] == "no_authorization"
    assert stored["next_step"] == "retry"
    assert (await sandbox.accounts(demo))[target["id"]]["link_health"] == "relink_required"
    await expect(reconnect_button(page, target)).to_be_visible()


async def test_closing_the_bank_is_cancelled_and_can_be_retried(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    target = accounts["relink_required"]
    await open_page(page, demo)

    # The close button, at the sign-in step.
    first = await start_relink(page, reconnect_button(page, target))
    dialog = await bank_dialog(page)
    await dialog.get_by_role("button", name="Close", exact=True).click()
    panel = await outcome(page, "Reconnecting was cancelled")
    await expect(panel).to_contain_text("nothing changed")
    await screenshot(page)

    # Try again, then Escape at the accounts step.
    second = await start_relink(page, panel.get_by_role("button", name="Try again", exact=True))
    await sign_in(page)
    await page.keyboard.press("Escape")
    await outcome(page, "Reconnecting was cancelled")

    for session in (first, second):
        stored = await sandbox.session(demo, session["id"])
        assert stored["outcome"] == "cancelled"
        assert stored["next_step"] == "retry"
    assert first["id"] != second["id"]
    assert (await sandbox.accounts(demo))[target["id"]]["link_health"] == "relink_required"


async def test_sandbox_deactivation_shows_as_needing_reconnecting_after_reload(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    healthy = accounts["healthy"]
    await open_page(page, demo)
    await expect(group(page, re.compile(r"^Working"))).to_contain_text(healthy["display_name"])
    await expect(reconnect_button(page, healthy)).to_have_count(0)

    await sandbox.control(
        f"accounts/{healthy['id']}/deactivate",
        {"cause": "access_expired", "action": "relink_required"},
    )
    # The background deliverer may already have sent it: what matters is nothing is left.
    flushed = await sandbox.control("outbox/flush")
    assert flushed["pending"] == 0
    assert (await sandbox.accounts(demo))[healthy["id"]]["link_health"] == "relink_required"

    # Load the page afresh, as opening the link again does (the token left the address bar,
    # so a plain reload would have none).
    await page.goto("about:blank")
    await open_page(page, demo)
    broken = group(page, re.compile(r"^Needs reconnecting"))
    await expect(broken).to_contain_text(healthy["display_name"])
    await expect(reconnect_button(page, healthy)).to_be_enabled()
    await screenshot(page)


# ---------------------------------------------------------------------------------------------
# Layout, keyboard, secrets
# ---------------------------------------------------------------------------------------------


async def test_readable_at_375_px_without_horizontal_scroll(
    browser: Browser,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    context = await browser.new_context(
        viewport={"width": 375, "height": 740}, locale="en-US", timezone_id="UTC"
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        page = await context.new_page()
        await open_page(page, demo)
        assert await no_horizontal_scroll(page)

        await start_relink(page, reconnect_button(page, accounts["relink_required"]))
        dialog = await sign_in(page)
        box = await dialog.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 375
        assert await no_horizontal_scroll(page)
        await dialog.get_by_role("button", name="Connect", exact=True).click()

        await outcome(page, "Reconnected")
        assert await no_horizontal_scroll(page)
        await screenshot(page)
    finally:
        await context.close()


async def test_keyboard_only_relink(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    screenshot: Screenshot,
) -> None:
    target = accounts["relink_required"]
    await open_page(page, demo)

    button = reconnect_button(page, target)
    await tab_to(page, button)
    async with page.expect_response(lambda response: is_relink_create(response.request)) as created:
        await page.keyboard.press("Enter")
    session_id = (await (await created.value).json())["id"]

    dialog = await bank_dialog(page)
    await expect(dialog).to_have_accessible_name(re.compile(r"^Sign in to "))
    # Focus moved into the bank and stays there, forwards and backwards.
    assert await focus_is_inside(dialog)
    for key in ["Tab"] * 5 + ["Shift+Tab"] * 5:
        await page.keyboard.press(key)
        assert await focus_is_inside(dialog), f"focus left the dialog after {key}"

    await tab_to(page, dialog.get_by_role("button", name="Sign in", exact=True))
    await page.keyboard.press("Enter")
    await expect(dialog).to_have_accessible_name(re.compile(r"^Choose an account at "))
    radio = account_radio(dialog, target)
    await tab_to(page, radio)
    await page.keyboard.press("Space")
    await expect(radio).to_be_checked()
    await tab_to(page, dialog.get_by_role("button", name="Connect", exact=True))
    await page.keyboard.press("Space")

    await outcome(page, "Reconnected")
    await screenshot(page)
    # The outcome's actions are reachable from its heading.
    await tab_to(page, page.get_by_role("button", name="Back to accounts"), limit=3)
    assert (await sandbox.session(demo, session_id))["outcome"] == "relinked"


async def test_client_secret_is_never_written_down(
    page: Page,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    console: list[str],
    screenshot: Screenshot,
) -> None:
    completes: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST" and COMPLETE_URL.search(request.url):
            completes.append(request.post_data or "")

    page.on("request", record)
    await open_page(page, demo)
    session = await start_relink(page, reconnect_button(page, accounts["relink_required"]))
    secret = session["client_secret"]
    assert re.fullmatch(r"fcsess_\S+_secret_\S+", secret)

    async def written_down() -> list[str]:
        places: dict[str, str] = await page.evaluate(
            """() => {
              const shadows = [...document.querySelectorAll('*')]
                .filter((node) => node.shadowRoot)
                .map((node) => node.shadowRoot.innerHTML);
              const store = (s) => JSON.stringify(Object.fromEntries(
                Object.keys(s).map((key) => [key, s.getItem(key)])));
              return {
                html: document.documentElement.outerHTML,
                shadow: shadows.join('\\n'),
                local: store(localStorage),
                session: store(sessionStorage),
                cookie: document.cookie,
                url: location.href,
                title: document.title,
              };
            }"""
        )
        places["page.url"] = page.url
        places["content"] = await page.content()
        return [where for where, text in places.items() if secret in text]

    dialog = await sign_in(page)
    assert await written_down() == []
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await outcome(page, "Reconnected")
    assert await written_down() == []
    assert not [line for line in console if secret in line]
    no_page_errors(console)
    await screenshot(page)

    # What the page posted back is what Stripe.js returned, less any client secret.
    assert len(completes) == 1
    posted = json.loads(completes[0])
    assert "financialConnectionsSession" in posted
    assert secret not in completes[0]
    assert "client_secret" not in completes[0]


async def test_stripe_js_stand_in_resolves_a_used_session_with_an_error(
    page: Page, sandbox: Sandbox, demo: Demo, accounts: dict[str, dict[str, Any]]
) -> None:
    """Like Stripe.js, a finished session resolves {error} and opens no bank."""
    await open_page(page, demo)
    session = await start_relink(page, reconnect_button(page, accounts["relink_required"]))
    dialog = await bank_dialog(page)
    await dialog.get_by_role("button", name="Close", exact=True).click()
    await outcome(page, "Reconnecting was cancelled")

    config = (await sandbox.http.get("/v1/config")).json()
    assert config["mode"] == "sandbox"
    result: dict[str, Any] = await page.evaluate(
        """([key, clientSecret]) =>
             Stripe(key).collectFinancialConnectionsAccounts({ clientSecret })""",
        [config["publishable_key"], session["client_secret"]],
    )
    assert set(result) == {"error"}
    assert result["error"]["code"] == "session_already_completed"
    await expect(page.get_by_role("dialog")).to_have_count(0)


async def test_a_lost_create_response_is_retried_with_its_key_and_one_session_results(
    page: Page, sandbox: Sandbox, demo: Demo, accounts: dict[str, dict[str, Any]]
) -> None:
    target = accounts["relink_required"]
    sent: list[Request] = []

    async def lose_the_first_answer(route: Route) -> None:
        sent.append(route.request)
        if len(sent) == 1:
            # The server makes the session; its answer never reaches the page.
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/v1/relink-sessions", lose_the_first_answer)
    await open_page(page, demo)

    async with page.expect_response(
        lambda response: is_relink_create(response.request) and response.status == 201
    ) as answered:
        await reconnect_button(page, target).click()
    replayed = await answered.value
    dialog = await sign_in(page)
    await dialog.get_by_role("button", name="Connect", exact=True).click()
    await outcome(page, "Reconnected")

    keys = [await request.header_value("idempotency-key") for request in sent]
    assert len(keys) == 2
    assert keys[0]
    assert keys[0] == keys[1]
    assert await replayed.header_value("idempotent-replayed") == "true"
    session = await replayed.json()
    stored = await sandbox.session(demo, session["id"])
    assert stored["outcome"] == "relinked"
