"""What /relink/return says to a customer with no app behind the page (an emailed link, or no
client return_url), and which accounts it names as working again."""

from __future__ import annotations

import httpx
import pytest
import respx

from relink_api.settings import Settings
from tests.conftest import Seed, make_settings
from tests.factories import fc_account
from tests.integration.test_relink_complete import SESSION_1, relink_result
from tests.integration.test_relink_hosted import (
    BASE,
    create_hosted,
    hosted_session,
    return_path,
)

# A customer's bank may call an account anything: the page must show it, never run it.
MARKUP_NAME = '<img src=x onerror="alert(1)"> Joint & Co'


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, public_base_url=BASE)


async def relinked_by_email(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth: dict[str, str]
) -> httpx.Response:
    await seed(status="inactive", action="relink_required", display_name=MARKUP_NAME)
    await seed("fca_savings", status="inactive", display_name="Rainy Day", last4="1111")
    created, route = await create_hosted(client, stripe_mock, auth, delivery="email")
    assert created.status_code == 201, created.text
    stripe_mock.get(SESSION_1).respond(
        200,
        json=hosted_session(
            "email",
            status="succeeded",
            accounts=[
                fc_account("fca_checking", display_name=MARKUP_NAME),
                fc_account("fca_savings", display_name="Rainy Day", last4="1111"),
            ],
            relink_result=relink_result(account="fca_checking", authorization="fcauth_1"),
        ),
    )
    return await client.get(return_path(route))


async def test_an_emailed_relink_says_close_the_tab_and_names_the_accounts_back(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    page = await relinked_by_email(client, stripe_mock, seed, auth_a)

    assert page.status_code == 200, page.text
    assert "Your bank account is reconnected" in page.text
    assert "You can close this tab." in page.text
    assert "app" not in page.text.split("<body>")[1].lower()
    assert "These accounts work again:" in page.text
    assert "Rainy Day" in page.text
    assert "1111 at StripeBank</li>" in page.text
    assert "6789" in page.text


async def test_account_names_on_the_return_page_are_escaped(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    page = await relinked_by_email(client, stripe_mock, seed, auth_a)

    assert "<img" not in page.text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; Joint &amp; Co" in page.text


@pytest.mark.parametrize("delivery", ["email", "url"])
async def test_a_cancel_without_an_app_behind_it_does_not_send_the_customer_to_one(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    delivery: str,
) -> None:
    await seed(status="inactive", action="relink_required")
    _created, route = await create_hosted(client, stripe_mock, auth_a, delivery=delivery)
    stripe_mock.get(SESSION_1).respond(200, json=hosted_session(delivery, status="cancelled"))

    page = await client.get(return_path(route))

    assert page.status_code == 200, page.text
    assert 'data-outcome="cancelled"' in page.text
    assert "Go back to the app" not in page.text
    assert "You can close this tab" in page.text
    assert "new link" in page.text
    assert "These accounts work again" not in page.text


async def test_favicon_is_an_icon_not_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/favicon.ico")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/vnd.microsoft.icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO header: 0, type 1 (icon)
