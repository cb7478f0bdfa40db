"""``Idempotency-Key`` in the sandbox as on Stripe (issue 14, the sandbox): a key lives 24
hours, and a key whose first request is still running gets Stripe's 409 (docs/sandbox.md,
"Idempotency")."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import stripe

from relink_api.sandbox.demo import create_demo_customer
from tests.sandbox_server import RunningSandbox

MANDATE: Any = {
    "customer_acceptance": {
        "type": "online",
        "online": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0 test"},
    }
}


@pytest.fixture
async def demo(sandbox: RunningSandbox) -> dict[str, Any]:
    async with sandbox.app.state.database.transaction() as conn:
        created: dict[str, Any] = await create_demo_customer(conn)
    return created


async def relink_session(
    sdk: stripe.StripeClient, authorization_id: str, key: str
) -> stripe.financial_connections.Session:
    return await sdk.v1.financial_connections.sessions.create_async(
        {"permissions": ["payment_method"], "relink_options": {"authorization": authorization_id}},
        {"idempotency_key": key},
    )


async def age_key(sandbox: RunningSandbox, key: str, hours: int) -> None:
    async with sandbox.app.state.database.connection() as conn:
        aged = await conn.execute(
            "UPDATE sandbox.idempotency SET created_at = now() - make_interval(hours => $2) "
            "WHERE key = $1",
            key,
            hours,
        )
    assert aged == "UPDATE 1"


async def test_a_key_is_replayed_for_24_hours_and_is_new_after(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    account = await sdk.v1.financial_connections.accounts.retrieve_async(
        demo["accounts"]["relink_required"]
    )
    authorization_id = account.to_dict()["authorization"]
    first = await relink_session(sdk, authorization_id, "day-old-key")

    await age_key(sandbox, "day-old-key", 23)
    replayed = await relink_session(sdk, authorization_id, "day-old-key")
    assert replayed.id == first.id
    assert replayed.last_response is not None
    assert replayed.last_response.headers.get("idempotent-replayed") == "true"

    await age_key(sandbox, "day-old-key", 25)
    fresh = await relink_session(sdk, authorization_id, "day-old-key")
    assert fresh.id != first.id
    assert fresh.last_response is not None
    assert "idempotent-replayed" not in fresh.last_response.headers
    # The key now stands for the new request.
    assert (await relink_session(sdk, authorization_id, "day-old-key")).id == fresh.id


async def _waiting_on_a_lock(sandbox: RunningSandbox) -> bool:
    async with sandbox.app.state.database.connection() as conn:
        waiting: int = await conn.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE NOT l.granted AND a.datname = current_database()"
        )
    return waiting > 0


async def test_a_key_in_flight_is_a_409_and_the_first_answer_is_kept(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    created = await sdk.v1.setup_intents.create_async(
        {
            "customer": demo["customer_id"],
            "allowed_payment_method_types": ["us_bank_account"],
            "payment_method_data": {
                "type": "us_bank_account",
                "us_bank_account": {"financial_connections_account": demo["accounts"]["healthy"]},
                "billing_details": {"name": "Jane Doe"},
            },
        }
    )
    options: Any = {"idempotency_key": "confirm-once"}

    async def confirm() -> stripe.SetupIntent:
        return await sdk.v1.setup_intents.confirm_async(
            created.id, {"mandate_data": MANDATE}, options
        )

    # Hold the SetupIntent, so the first confirmation stays in flight inside the sandbox.
    async with sandbox.app.state.database.transaction() as holder:
        await holder.execute("SELECT 1 FROM sandbox.objects WHERE id = $1 FOR UPDATE", created.id)
        first = asyncio.create_task(confirm())
        for _ in range(200):
            if await _waiting_on_a_lock(sandbox):
                break
            await asyncio.sleep(0.05)
        assert not first.done()
        with pytest.raises(stripe.APIError) as caught:
            await asyncio.wait_for(confirm(), timeout=10)
    # The SDK raises a 409 as APIError (and retries it, when retries are on).
    assert caught.value.http_status == 409
    body: Any = caught.value.json_body
    error = body["error"]
    assert error["code"] == "idempotency_key_in_use"
    assert "another in-progress request using this Idempotent Key" in error["message"]

    confirmed = await asyncio.wait_for(first, timeout=10)
    assert confirmed.status == "succeeded"
    again = await confirm()
    assert again.payment_method == confirmed.payment_method
    assert again.last_response is not None
    assert again.last_response.headers.get("idempotent-replayed") == "true"
