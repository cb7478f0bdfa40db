"""A Financial Connections session echoes its ``filters`` and ``limits`` as Stripe's does
(issue 14, the sandbox; docs/stripe.md §1)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from relink_api.sandbox.demo import create_demo_customer
from tests.sandbox_server import RunningSandbox


@pytest.fixture
async def customer(sandbox: RunningSandbox) -> str:
    async with sandbox.app.state.database.transaction() as conn:
        created: dict[str, Any] = await create_demo_customer(conn)
    return str(created["customer_id"])


async def create(sdk: stripe.StripeClient, customer: str, **params: Any) -> dict[str, Any]:
    body: Any = {
        "account_holder": {"type": "customer", "customer": customer},
        "permissions": ["payment_method"],
        **params,
    }
    session = await sdk.v1.financial_connections.sessions.create_async(body)
    raw: dict[str, Any] = session.to_dict()
    return raw


async def test_filters_and_limits_given_are_echoed(sdk: stripe.StripeClient, customer: str) -> None:
    filters = {
        "account_subcategories": ["checking", "savings"],
        "country": "US",
        "institution": "fcinst_SandboxBank",
        "require_payment_method_support": "at_least_one",
    }
    created = await create(sdk, customer, filters=filters, limits={"accounts": 2})
    assert created["filters"] == filters
    assert created["limits"] == {"accounts": 2}
    retrieved = await sdk.v1.financial_connections.sessions.retrieve_async(created["id"])
    assert retrieved.to_dict()["filters"] == filters
    assert retrieved.to_dict()["limits"] == {"accounts": 2}


async def test_without_filters_or_limits_the_country_is_us_and_there_is_no_limit(
    sdk: stripe.StripeClient, customer: str
) -> None:
    created = await create(sdk, customer)
    assert created["filters"] == {
        "account_subcategories": None,
        "country": "US",
        "institution": None,
        "require_payment_method_support": None,
    }
    # `limits.accounts` is never null in Stripe's Session; "" asks for no limit.
    assert created["limits"] is None
    assert (await create(sdk, customer, limits={"accounts": ""}))["limits"] is None


async def test_an_unknown_payment_method_support_is_refused(
    sdk: stripe.StripeClient, customer: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await create(sdk, customer, filters={"require_payment_method_support": "some"})
    assert caught.value.param == "filters[require_payment_method_support]"
