"""Setting up payments from an account linked in place of a broken one, on the bundled page.

A relink that links a *different* account leaves the payment methods made from the old one
where they were (Stripe moves nothing): the page asks for the account holder's name, shows
the ACH mandate, and on Accept confirms the SetupIntent with the Stripe.js stand-in. Each
test checks what the page says and what the API recorded, which it read from Stripe itself.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Locator, Page, Request, Response, expect

from tests.e2e.conftest import PAGE_TIMEOUT_MS, Demo, Sandbox, Screenshot
from tests.e2e.test_relink_page import (
    fail_account_scope_then_open_institution_scope,
    group,
    no_horizontal_scroll,
    no_page_errors,
    open_page,
    outcome,
    settled,
    shown,
)

SETUP_URL = re.compile(r"/v1/relink-sessions/(?P<id>[^/]+)/payment-method$")
SETUP_COMPLETE_URL = re.compile(r"/v1/relink-sessions/[^/]+/payment-method/complete$")
CONFIRM_URL = re.compile(r"/sandbox/bank/setup_intents/confirm$")
BILLING_NAME = "Jenny Rosen"

expect.set_options(timeout=PAGE_TIMEOUT_MS)


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def requests(page: Page) -> list[Request]:
    """Every request the page makes, in order."""
    made: list[Request] = []
    page.on("request", lambda request: made.append(request))
    return made


def spoken(account: dict[str, Any]) -> str:
    return f"{account['display_name']} ending in {account['last4']}"


def is_setup_create(response: Response) -> bool:
    return response.request.method == "POST" and bool(SETUP_URL.search(response.url))


async def link_a_new_account(
    page: Page, sandbox: Sandbox, demo: Demo, accounts: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any], Locator]:
    """Everyday Checking → account scope fails → institution scope → "Link a different
    account". Returns the completed session, the new account (from the API) and the panel."""
    session, dialog = await fail_account_scope_then_open_institution_scope(page, demo, accounts)
    await dialog.get_by_role("button", name="Link a different account", exact=True).click()
    await settled(page)

    stored = await sandbox.session(demo, session["id"])
    assert stored["scope"] == "institution"
    assert stored["outcome"] == "new_account", stored
    assert stored["next_step"] == "set_up_payment_method"
    [new_id] = stored["linked_account_ids"]
    assert new_id not in demo.accounts.values()
    new_account = (await sandbox.accounts(demo))[new_id]
    assert new_account["needs_new_payment_method"] is True
    assert new_account["replaces_account_id"] == accounts["relink_required"]["id"]

    panel = await outcome(page, "You connected a different account")
    await expect(panel).to_contain_text(shown(new_account))
    await expect(panel).to_contain_text("set up payments from the new account")
    return stored, new_account, panel


async def continue_to_mandate(
    page: Page, panel: Locator, new_account: dict[str, Any], *, name: str | None = BILLING_NAME
) -> dict[str, Any]:
    """Fill the account holder's name (unless ``name`` is None: keep what is there), press
    Continue, and wait for the mandate. Returns the created SetupIntent (with its secret)."""
    field = panel.get_by_label("Name on the account", exact=True)
    if name is not None:
        await field.fill(name)
    async with page.expect_response(is_setup_create) as created:
        await panel.get_by_role("button", name="Continue", exact=True).click()
    response = await created.value
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    await show_mandate(page, body, new_account)
    return body


async def show_mandate(page: Page, setup: dict[str, Any], new_account: dict[str, Any]) -> None:
    mandate = await outcome(page, f"Authorize payments from {spoken(new_account)}")
    await expect(mandate).to_contain_text(setup["mandate_text"])
    # A legal text names the business (the sandbox's demo shop), never a placeholder.
    assert "Sandbox Demo Shop" in setup["mandate_text"]
    await expect(mandate).not_to_contain_text("this business")
    await expect(mandate).to_contain_text(BILLING_NAME)
    accept = mandate.get_by_role("button", name="Accept", exact=True)
    await expect(accept).to_be_enabled()
    # Assistive technology announces the mandate with the button that accepts it.
    await expect(accept).to_have_accessible_description(setup["mandate_text"])


async def accept(page: Page) -> None:
    """Press Accept and wait until the page has posted .../payment-method/complete."""
    async with page.expect_response(
        lambda response: (
            response.request.method == "POST" and bool(SETUP_COMPLETE_URL.search(response.url))
        )
    ) as completed:
        await page.locator("#outcome").get_by_role("button", name="Accept", exact=True).click()
    response = await completed.value
    assert response.status == 200, await response.text()


async def written_down(page: Page, secret: str) -> list[str]:
    """Where in the page, its storage or its address ``secret`` can be found."""
    places: dict[str, str] = await page.evaluate(
        """() => {
          const store = (s) => JSON.stringify(Object.fromEntries(
            Object.keys(s).map((key) => [key, s.getItem(key)])));
          return {
            html: document.documentElement.outerHTML,
            local: store(localStorage),
            session: store(sessionStorage),
            cookie: document.cookie,
            url: location.href,
            title: document.title,
          };
        }"""
    )
    places["content"] = await page.content()
    return [where for where, text in places.items() if secret in text]


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


async def test_new_account_sets_up_a_payment_method_that_replaces_the_old_one(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    console: list[str],
    requests: list[Request],
    screenshot: Screenshot,
) -> None:
    old = accounts["relink_required"]
    old_payment_method = demo.payment_methods["relink_required"]
    assert old_payment_method.startswith("pm_")
    assert await sandbox.payment_methods(demo) == []

    session, new_account, panel = await link_a_new_account(page, sandbox, demo, accounts)
    # The list offers the same step for the new account while it waits for one.
    working = group(page, re.compile(r"^Working"))
    await expect(
        working.get_by_role("button", name=f"Set up payments from {spoken(new_account)}")
    ).to_be_enabled()
    await screenshot(page, "new-account")

    setup = await continue_to_mandate(page, panel, new_account)
    assert setup["relink_session_id"] == session["id"]
    assert setup["account_id"] == new_account["id"]
    assert setup["replaces_payment_method_id"] == old_payment_method
    assert setup["status"] == "pending"
    secret = setup["client_secret"]
    assert re.fullmatch(r"seti_\S+_secret_\S+", secret)
    assert await written_down(page, secret) == []
    await screenshot(page, "mandate")

    await accept(page)
    done = await outcome(page, "Payments are set up")
    await screenshot(page)

    # The API's record: read from Stripe, not from the browser.
    [method] = await sandbox.payment_methods(demo)
    assert method["account_id"] == new_account["id"]
    assert method["usable"] is True
    assert method["unusable_reason"] is None
    assert method["replaces_payment_method_id"] == old_payment_method
    assert method["relink_session_id"] == session["id"]
    assert method["setup_intent_id"] == setup["setup_intent_id"]
    assert method["last4"] == new_account["last4"]
    assert method["bank_name"] == new_account["institution_name"]
    recorded = await sandbox.get(demo, f"/v1/relink-sessions/{session['id']}/payment-method")
    assert recorded["status"] == "succeeded"
    assert recorded["payment_method"]["id"] == method["id"]
    assert (await sandbox.accounts(demo))[new_account["id"]]["needs_new_payment_method"] is False

    # What the page says is that record.
    await expect(done).to_contain_text(
        re.compile(r"Payments will now come from " + shown(new_account).pattern)
    )
    await expect(done.get_by_test_id("new-payment-method")).to_have_attribute(
        "data-payment-method-id", method["id"]
    )
    replaced = done.get_by_test_id("replaced-payment-method")
    await expect(replaced).to_have_attribute("data-payment-method-id", old_payment_method)
    await expect(replaced).to_contain_text(shown(old))
    await expect(working.get_by_role("button", name=re.compile("^Set up payments"))).to_have_count(
        0
    )
    listed = page.get_by_role("region", name=re.compile(r"^Payment methods set up here"))
    # Named as the account list names the account it draws on.
    await expect(listed).to_contain_text(shown(new_account))
    await expect(listed).to_contain_text("Payments can come from this account.")

    # The SetupIntent's secret went to Stripe.js in a POST body, and nowhere else.
    assert await written_down(page, secret) == []
    assert not [line for line in console if secret in line]
    assert not [request.url for request in requests if secret in request.url]
    carried = [request for request in requests if secret in (request.post_data or "")]
    assert [request.url for request in carried] == [
        request.url for request in requests if CONFIRM_URL.search(request.url)
    ]
    assert len(carried) == 1
    no_page_errors(console)


async def test_a_failed_setup_shows_stripes_message_and_a_retry_works(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    console: list[str],
    screenshot: Screenshot,
) -> None:
    # A phone-sized screen: the form and the mandate must fit it too.
    await page.set_viewport_size({"width": 375, "height": 740})
    session, new_account, panel = await link_a_new_account(page, sandbox, demo, accounts)

    # An empty name is refused on the page, with focus on the field that needs it.
    field = panel.get_by_label("Name on the account", exact=True)
    await panel.get_by_role("button", name="Continue", exact=True).click()
    await expect(field).to_be_focused()
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(field).to_have_accessible_description(
        re.compile(r"Enter the name on the account\.")
    )
    assert await no_horizontal_scroll(page)

    armed = await sandbox.control(
        f"accounts/{new_account['id']}/fail-next-setup", {"code": "bank_account_unusable"}
    )
    assert armed["code"] == "bank_account_unusable"
    first = await continue_to_mandate(page, panel, new_account)
    assert await no_horizontal_scroll(page)
    await accept(page)

    failed = await outcome(page, f"We couldn't set up payments from {spoken(new_account)}")
    recorded = await sandbox.get(demo, f"/v1/relink-sessions/{session['id']}/payment-method")
    assert recorded["setup_intent_id"] == first["setup_intent_id"]
    assert recorded["status"] == "failed"
    assert recorded["failure"]["code"] == "bank_account_unusable"
    assert recorded["payment_method"] is None
    await expect(failed.locator(".problem-detail")).to_have_text(recorded["failure"]["message"])
    assert await sandbox.payment_methods(demo) == []
    assert await no_horizontal_scroll(page)
    await screenshot(page, "failed")

    # Try again: a new SetupIntent, its mandate accepted afresh, and this time it works.
    async with page.expect_response(is_setup_create) as created:
        await failed.get_by_role("button", name="Try again", exact=True).click()
    response = await created.value
    assert response.status == 201, await response.text()
    second: dict[str, Any] = await response.json()
    assert second["setup_intent_id"] != first["setup_intent_id"]
    await show_mandate(page, second, new_account)
    await accept(page)
    done = await outcome(page, "Payments are set up")
    await screenshot(page)

    [method] = await sandbox.payment_methods(demo)
    assert method["setup_intent_id"] == second["setup_intent_id"]
    assert method["account_id"] == new_account["id"]
    assert method["usable"] is True
    assert method["replaces_payment_method_id"] == demo.payment_methods["relink_required"]
    await expect(done.get_by_test_id("new-payment-method")).to_have_attribute(
        "data-payment-method-id", method["id"]
    )
    assert await no_horizontal_scroll(page)
    no_page_errors(console)


async def test_set_up_later_from_the_list_and_already_done_elsewhere(
    page: Page,
    sandbox: Sandbox,
    demo: Demo,
    accounts: dict[str, dict[str, Any]],
    console: list[str],
    screenshot: Screenshot,
) -> None:
    session, new_account, panel = await link_a_new_account(page, sandbox, demo, accounts)

    # Not now: back to the list, whose button brings the same step back.
    await panel.get_by_label("Name on the account", exact=True).fill(BILLING_NAME)
    await panel.get_by_role("button", name="Back to accounts", exact=True).click()
    await expect(page.locator("#outcome")).to_be_hidden()
    later = page.get_by_role("button", name=f"Set up payments from {spoken(new_account)}")
    await expect(later).to_be_visible()
    # A fresh load forgets the visit; the account itself names the relink to finish.
    assert new_account["replacement_relink_session_id"] == session["id"]
    await open_page(page, demo)
    await later.click()
    panel = await outcome(page, f"Set up payments from {spoken(new_account)}")
    await expect(panel).to_contain_text(shown(accounts["relink_required"]))
    field = panel.get_by_label("Name on the account", exact=True)
    await expect(field).to_have_value("")
    await field.fill(BILLING_NAME)
    setup = await continue_to_mandate(page, panel, new_account, name=None)

    # "Change name" goes back a step; Continue resumes the same, still pending, SetupIntent.
    await page.locator("#outcome").get_by_role("button", name="Change name", exact=True).click()
    panel = await outcome(page, f"Set up payments from {spoken(new_account)}")
    await expect(panel.get_by_label("Name on the account", exact=True)).to_have_value(BILLING_NAME)
    resumed = await continue_to_mandate(page, panel, new_account, name=None)
    assert resumed["setup_intent_id"] == setup["setup_intent_id"]

    # Meanwhile the customer finishes in another tab.
    config = (await sandbox.http.get("/v1/config")).json()
    confirmed = await sandbox.http.post(
        "/sandbox/bank/setup_intents/confirm",
        json={"client_secret": resumed["client_secret"]},
        headers={"Authorization": f"Bearer {config['publishable_key']}"},
    )
    assert confirmed.status_code == 200, confirmed.text
    other_tab = await sandbox.http.post(
        f"/v1/relink-sessions/{session['id']}/payment-method/complete", headers=demo.auth
    )
    assert other_tab.json()["status"] == "succeeded", other_tab.text

    # This tab starts over from the list and is told what was recorded, not asked again.
    await page.locator("#outcome").get_by_role("button", name="Change name", exact=True).click()
    panel = await outcome(page, f"Set up payments from {spoken(new_account)}")
    async with page.expect_response(is_setup_create) as refused:
        await panel.get_by_role("button", name="Continue", exact=True).click()
    response = await refused.value
    assert response.status == 409
    problem = await response.json()
    assert problem["type"].endswith("/payment-method-already-set-up")
    done = await outcome(page, "Payments are set up")
    await screenshot(page)

    [method] = await sandbox.payment_methods(demo)
    await expect(done.get_by_test_id("new-payment-method")).to_have_attribute(
        "data-payment-method-id", method["id"]
    )
    await expect(done.get_by_test_id("replaced-payment-method")).to_have_attribute(
        "data-payment-method-id", demo.payment_methods["relink_required"]
    )
    await expect(page.get_by_role("button", name=re.compile("^Set up payments"))).to_have_count(0)
    no_page_errors(console)
