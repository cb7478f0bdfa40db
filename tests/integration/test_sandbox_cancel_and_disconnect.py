"""The last two Stripe calls the product's payment-method truth needs from the sandbox
(docs/sandbox.md): cancelling a SetupIntent (Stripe allows it only before it has done
anything) and disconnecting an FC account (for good; its non-tokenized payment methods keep
working), each announced by the event Stripe sends; through the official SDK."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.integration.test_sandbox_payment_method_changes import demo, events
from tests.integration.test_sandbox_payment_methods import MANDATE, create_setup_intent
from tests.sandbox_server import RunningSandbox

__all__ = ["demo"]  # the fixture, shared


async def test_an_open_setup_intent_is_cancelled_and_announced(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    created = await create_setup_intent(sdk, demo)
    assert created.status == "requires_confirmation"

    cancelled = await sdk.v1.setup_intents.cancel_async(
        created.id, {"cancellation_reason": "duplicate"}
    )

    assert isinstance(cancelled, stripe.SetupIntent)
    assert (cancelled.status, cancelled.cancellation_reason) == ("canceled", "duplicate")
    assert (await sdk.v1.setup_intents.retrieve_async(created.id)).status == "canceled"
    [event] = await events(sandbox, "setup_intent.canceled", created.id)
    assert event["cancellation_reason"] == "duplicate"
    # A cancelled SetupIntent cannot be confirmed any more, nor cancelled again.
    for call in (
        sdk.v1.setup_intents.confirm_async(created.id, {"mandate_data": MANDATE}),
        sdk.v1.setup_intents.cancel_async(created.id),
    ):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await call
        assert caught.value.code == "setup_intent_unexpected_state"


async def test_a_succeeded_setup_intent_cannot_be_cancelled(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    created = await create_setup_intent(sdk, demo, confirm=True, mandate_data=MANDATE)
    assert created.status == "succeeded"

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.setup_intents.cancel_async(created.id)

    assert caught.value.http_status == 400
    assert caught.value.code == "setup_intent_unexpected_state"
    assert (await sdk.v1.setup_intents.retrieve_async(created.id)).status == "succeeded"


async def test_an_unknown_cancellation_reason_is_refused_by_name(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    created = await create_setup_intent(sdk, demo)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.setup_intents.cancel_async(
            created.id,
            {"cancellation_reason": "bored"},
        )
    assert caught.value.param == "cancellation_reason"


async def test_a_disconnected_account_keeps_its_payment_method_usable(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    account_id = demo["accounts"]["healthy"]
    payment_method_id = demo["payment_methods"]["healthy"]

    response = await sandbox.client.post(f"/sandbox/control/accounts/{account_id}/disconnect")

    assert response.status_code == 200, response.text
    account = await sdk.v1.financial_connections.accounts.retrieve_async(account_id)
    assert account.status == "disconnected"
    [event] = await events(sandbox, "financial_connections.account.disconnected", account_id)
    assert event["status"] == "disconnected"
    method = await sdk.v1.payment_methods.retrieve_async(payment_method_id)
    assert method.customer == demo["customer_id"]
    assert method.us_bank_account is not None
    assert method.us_bank_account.status_details is not None
    assert method.us_bank_account.status_details.to_dict() == {}
    # Disconnecting again changes nothing and says nothing.
    again = await sandbox.client.post(f"/sandbox/control/accounts/{account_id}/disconnect")
    assert again.status_code == 200, again.text
    assert len(await events(sandbox, "financial_connections.account.disconnected", account_id)) == 1
