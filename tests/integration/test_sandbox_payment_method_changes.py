"""A PaymentMethod after its setup, in the sandbox (docs/sandbox.md, "Stripe REST API" and
"Control"): updated and detached through the official SDK or the control API, each change
announced by the event Stripe sends."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from relink_api.sandbox.demo import create_demo_customer
from tests.integration.test_sandbox_payment_methods import events as payment_events
from tests.sandbox_server import RunningSandbox


@pytest.fixture
async def demo(sandbox: RunningSandbox) -> dict[str, Any]:
    async with sandbox.app.state.database.transaction() as conn:
        created: dict[str, Any] = await create_demo_customer(conn)
    return created


async def events(sandbox: RunningSandbox, event_type: str, object_id: str) -> list[dict[str, Any]]:
    return [
        payload["data"]["object"]
        for payload in await payment_events(sandbox, event_type, object_id)
    ]


async def listed(sdk: stripe.StripeClient, customer: str) -> list[str]:
    page = await sdk.v1.payment_methods.list_async({"customer": customer, "limit": 100})
    return [payment_method.id for payment_method in page.data]


async def test_detach_through_the_sdk(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    payment_method_id = demo["payment_methods"]["healthy"]
    assert payment_method_id in await listed(sdk, demo["customer_id"])

    detached = await sdk.v1.payment_methods.detach_async(payment_method_id)

    assert isinstance(detached, stripe.PaymentMethod)
    assert detached.id == payment_method_id
    assert detached.customer is None
    assert (await sdk.v1.payment_methods.retrieve_async(payment_method_id)).customer is None
    assert payment_method_id not in await listed(sdk, demo["customer_id"])
    [event] = await events(sandbox, "payment_method.detached", payment_method_id)
    assert event["customer"] is None
    assert (
        event["us_bank_account"]["financial_connections_account"] == (demo["accounts"]["healthy"])
    )

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.payment_methods.detach_async(payment_method_id)
    assert caught.value.http_status == 400
    assert "not attached to a customer" in str(caught.value.user_message)
    assert len(await events(sandbox, "payment_method.detached", payment_method_id)) == 1


async def test_detach_through_the_control_api(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    payment_method_id = demo["payment_methods"]["tokenized"]

    response = await sandbox.client.post(
        f"/sandbox/control/payment-methods/{payment_method_id}/detach"
    )

    assert response.status_code == 200, response.text
    assert response.json()["id"] == payment_method_id
    assert response.json()["customer"] is None
    assert payment_method_id not in await listed(sdk, demo["customer_id"])
    assert len(await events(sandbox, "payment_method.detached", payment_method_id)) == 1
    missing = await sandbox.client.post("/sandbox/control/payment-methods/pm_nope/detach")
    assert missing.status_code == 404, missing.text


async def test_update_billing_details_through_the_sdk(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    payment_method_id = demo["payment_methods"]["healthy"]

    updated = await sdk.v1.payment_methods.update_async(
        payment_method_id,
        {
            "billing_details": {"email": "jane@example.com", "address": {"postal_code": "94110"}},
            "metadata": {"order": "42"},
        },
    )

    assert isinstance(updated, stripe.PaymentMethod)
    assert updated.billing_details.email == "jane@example.com"
    assert updated.billing_details.name == "Demo Customer"
    assert updated.billing_details.address is not None
    assert updated.billing_details.address.postal_code == "94110"
    assert updated.billing_details.address.city is None
    assert updated.metadata is not None
    assert updated.metadata.to_dict() == {"order": "42"}
    [event] = await events(sandbox, "payment_method.updated", payment_method_id)
    assert event["billing_details"]["email"] == "jane@example.com"
    assert event["us_bank_account"]["status_details"] == {}

    again = await sdk.v1.payment_methods.update_async(
        payment_method_id, {"billing_details": {"email": ""}, "metadata": {"order": ""}}
    )
    assert again.billing_details.email is None
    assert again.metadata is not None
    assert again.metadata.to_dict() == {}
    assert len(await events(sandbox, "payment_method.updated", payment_method_id)) == 2


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"billing_details": {"nickname": "x"}}, "billing_details[nickname]"),
        ({"type": "card"}, "type"),
        ({"billing_details": {"name": {"first": "x"}}}, "billing_details[name]"),
    ],
)
async def test_update_refuses_what_the_sandbox_does_not_take(
    sandbox: RunningSandbox,
    sdk: stripe.StripeClient,
    demo: dict[str, Any],
    params: dict[str, Any],
    param: str,
) -> None:
    payment_method_id = demo["payment_methods"]["healthy"]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.payment_methods.update_async(payment_method_id, params)  # type: ignore[arg-type]
    assert caught.value.http_status == 400
    assert caught.value.param == param
    assert await events(sandbox, "payment_method.updated", payment_method_id) == []
