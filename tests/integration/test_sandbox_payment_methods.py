"""PaymentMethods and SetupIntents in the sandbox (docs/sandbox.md, "Stripe REST API" and
"Control"): listing a customer's payment methods, their blocked status following the FC
account's tokenized account number (and only that), expanding a SetupIntent's payment
method, metadata, armed setup failures and the demo customer's payment methods, all through
the official SDK."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from relink_api.sandbox import store, world
from relink_api.sandbox.demo import create_demo_customer
from tests.sandbox_server import RunningSandbox

PM_ROLES = ("relink_required", "unrepairable", "healthy", "tokenized")
BLOCKED = {"blocked": {"network_code": None, "reason": "tokenized_account_number_deactivated"}}
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


async def create_setup_intent(
    sdk: stripe.StripeClient, demo: dict[str, Any], role: str = "healthy", **extra: Any
) -> stripe.SetupIntent:
    params: dict[str, Any] = {
        "customer": demo["customer_id"],
        "allowed_payment_method_types": ["us_bank_account"],
        "payment_method_data": {
            "type": "us_bank_account",
            "us_bank_account": {"financial_connections_account": demo["accounts"][role]},
            "billing_details": {"name": "Jane Doe"},
        },
        **extra,
    }
    return await sdk.v1.setup_intents.create_async(params)  # type: ignore[arg-type]


async def list_ids(sdk: stripe.StripeClient, customer: str, **params: Any) -> list[str]:
    page = await sdk.v1.payment_methods.list_async({"customer": customer, **params})  # type: ignore[arg-type]
    return [payment_method.id for payment_method in page.data]


async def arm_failure(sandbox: RunningSandbox, account_id: str, **body: str) -> None:
    response = await sandbox.client.post(
        f"/sandbox/control/accounts/{account_id}/fail-next-setup", json=body or None
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "account": account_id,
        "code": body.get("code", "bank_account_unusable"),
    }


async def events(sandbox: RunningSandbox, event_type: str, object_id: str) -> list[dict[str, Any]]:
    async with sandbox.app.state.database.connection() as conn:
        records = await conn.fetch(
            "SELECT payload FROM sandbox.events WHERE type = $1 "
            "AND payload->'data'->'object'->>'id' = $2 ORDER BY seq",
            event_type,
            object_id,
        )
    return [record["payload"] for record in records]


# --- the demo customer's payment methods --------------------------------------------------------


async def test_the_demo_customer_has_a_payment_method_per_role(
    sandbox: RunningSandbox, sdk: stripe.StripeClient
) -> None:
    response = await sandbox.client.post("/sandbox/control/demo-customers")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer_id"].startswith("cus_")
    assert len(body["accounts"]) == 7
    assert set(body["payment_methods"]) == set(PM_ROLES)

    for role in PM_ROLES:
        payment_method = await sdk.v1.payment_methods.retrieve_async(body["payment_methods"][role])
        assert isinstance(payment_method, stripe.PaymentMethod)
        assert payment_method.type == "us_bank_account"
        assert payment_method.customer == body["customer_id"]
        bank = payment_method.us_bank_account
        assert bank is not None
        assert bank.financial_connections_account == body["accounts"][role]
        # Broken links leave their payment methods usable; no TAN is deactivated yet.
        assert bank.to_dict()["status_details"] == {}, role


# --- listing ----------------------------------------------------------------------------------


async def test_list_is_the_customers_newest_first_with_stripes_envelope(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    async with sandbox.app.state.database.transaction() as conn:
        other = await create_demo_customer(conn)

    page = await sdk.v1.payment_methods.list_async(
        {"customer": demo["customer_id"], "type": "us_bank_account"}
    )

    assert isinstance(page, stripe.ListObject)
    assert page["object"] == "list"
    assert page.url == "/v1/payment_methods"
    assert page.has_more is False
    assert [pm.id for pm in page.data] == [demo["payment_methods"][r] for r in reversed(PM_ROLES)]
    for payment_method in page.data:
        assert isinstance(payment_method, stripe.PaymentMethod)
        assert payment_method.customer == demo["customer_id"]
    assert not set(await list_ids(sdk, demo["customer_id"])) & set(
        other["payment_methods"].values()
    )
    by_id = {pm.id: pm for pm in page.data}
    broken_link = by_id[demo["payment_methods"]["relink_required"]].us_bank_account
    assert broken_link is not None
    assert broken_link.to_dict()["status_details"] == {}


async def test_list_pages_both_ways(sdk: stripe.StripeClient, demo: dict[str, Any]) -> None:
    customer = demo["customer_id"]
    newest_first = [demo["payment_methods"][role] for role in reversed(PM_ROLES)]

    first = await sdk.v1.payment_methods.list_async({"customer": customer, "limit": 2})
    assert [pm.id for pm in first.data] == newest_first[:2]
    assert first.has_more is True
    second = await sdk.v1.payment_methods.list_async(
        {"customer": customer, "limit": 2, "starting_after": newest_first[1]}
    )
    assert [pm.id for pm in second.data] == newest_first[2:]
    assert second.has_more is False

    back = await sdk.v1.payment_methods.list_async(
        {"customer": customer, "limit": 1, "ending_before": newest_first[2]}
    )
    assert [pm.id for pm in back.data] == [newest_first[1]]
    assert back.has_more is True

    everything = [
        pm.id
        async for pm in (
            await sdk.v1.payment_methods.list_async({"customer": customer, "limit": 1})
        ).auto_paging_iter()
    ]
    assert everything == newest_first


@pytest.mark.parametrize(
    ("params", "status", "param", "code"),
    [
        ({"customer": None}, 400, "customer", "parameter_missing"),
        ({"customer": "cus_doesnotexist"}, 404, "customer", "resource_missing"),
        ({"type": "card"}, 400, "type", None),
        ({"limit": 0}, 400, "limit", None),
        ({"limit": 101}, 400, "limit", None),
        ({"starting_after": "pm_doesnotexist"}, 404, "starting_after", "resource_missing"),
        ({"ending_before": "pm_doesnotexist"}, 404, "ending_before", "resource_missing"),
        ({"bogus": "1"}, 400, "bogus", "parameter_unknown"),
    ],
)
async def test_list_errors_name_the_param(
    sdk: stripe.StripeClient,
    demo: dict[str, Any],
    params: dict[str, Any],
    status: int,
    param: str,
    code: str | None,
) -> None:
    # The demo customer unless the case names another, or none (None).
    merged = {"customer": demo["customer_id"], **params}
    query = {key: value for key, value in merged.items() if value is not None}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.payment_methods.list_async(query)  # type: ignore[arg-type]
    assert caught.value.http_status == status
    assert caught.value.param == param
    if code is not None:
        assert caught.value.code == code


# --- status_details follows the FC account's tokenized number ------------------------------------


async def test_blocked_status_follows_a_tans_deactivation_and_reactivation(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    account_id = demo["accounts"]["tokenized"]
    created = await create_setup_intent(
        sdk, demo, role="tokenized", confirm=True, mandate_data=MANDATE
    )
    assert created.status == "succeeded"
    assert isinstance(created.payment_method, str)
    payment_method_id = created.payment_method

    async def status_details() -> list[dict[str, Any]]:
        retrieved = await sdk.v1.payment_methods.retrieve_async(payment_method_id)
        page = await sdk.v1.payment_methods.list_async({"customer": demo["customer_id"]})
        [listed] = [pm for pm in page.data if pm.id == payment_method_id]
        expanded = await sdk.v1.setup_intents.retrieve_async(
            created.id, {"expand": ["payment_method"]}
        )
        assert isinstance(expanded.payment_method, stripe.PaymentMethod)
        found = [retrieved, listed, expanded.payment_method]
        return [pm.to_dict()["us_bank_account"]["status_details"] for pm in found]

    assert await status_details() == [{}, {}, {}]

    response = await sandbox.client.post(
        f"/sandbox/control/accounts/{account_id}/deactivate",
        json={"cause": "access_expired", "action": "relink_required"},
    )
    assert response.status_code == 200, response.text
    assert await status_details() == [BLOCKED] * 3

    response = await sandbox.client.post(f"/sandbox/control/accounts/{account_id}/reactivate")
    assert response.status_code == 200, response.text
    assert await status_details() == [{}, {}, {}]


async def test_a_broken_link_without_a_tan_leaves_its_payment_method_usable(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    account_id = demo["accounts"]["healthy"]
    created = await create_setup_intent(sdk, demo, confirm=True, mandate_data=MANDATE)
    assert isinstance(created.payment_method, str)

    response = await sandbox.client.post(f"/sandbox/control/accounts/{account_id}/deactivate")
    assert response.status_code == 200, response.text

    for payment_method_id in (created.payment_method, demo["payment_methods"]["healthy"]):
        payment_method = await sdk.v1.payment_methods.retrieve_async(payment_method_id)
        assert payment_method.us_bank_account is not None
        assert payment_method.us_bank_account.to_dict()["status_details"] == {}
    assert await events(sandbox, "payment_method.automatically_updated", created.id) == []


async def test_a_disconnected_accounts_payment_method_stays_usable(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    async with sandbox.app.state.database.transaction() as conn:
        account = await store.get(conn, demo["accounts"]["healthy"], type="account")
        assert account is not None
        account["status"] = "disconnected"
        account["status_details"] = None
        await world.save_account(conn, account)

    payment_method = await sdk.v1.payment_methods.retrieve_async(demo["payment_methods"]["healthy"])

    assert payment_method.us_bank_account is not None
    assert payment_method.us_bank_account.to_dict()["status_details"] == {}


# --- SetupIntents -------------------------------------------------------------------------------


async def test_setup_intent_expands_its_payment_method_only_when_asked(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    created = await create_setup_intent(sdk, demo, expand=["payment_method"])
    assert isinstance(created.payment_method, stripe.PaymentMethod)
    payment_method_id = created.payment_method.id
    assert created.payment_method.us_bank_account is not None
    assert (
        created.payment_method.us_bank_account.financial_connections_account
        == demo["accounts"]["healthy"]
    )

    plain = await sdk.v1.setup_intents.retrieve_async(created.id)
    assert plain.payment_method == payment_method_id

    expanded = await sdk.v1.setup_intents.retrieve_async(created.id, {"expand": ["payment_method"]})
    assert expanded.last_response is not None
    assert isinstance(expanded.payment_method, stripe.PaymentMethod)
    assert expanded.payment_method.id == payment_method_id
    assert expanded.payment_method.billing_details.name == "Jane Doe"
    # The SDK sends it as expand[0]=payment_method; so does a hand-written query.
    raw = await sandbox.client.get(
        f"/sandbox/stripe/v1/setup_intents/{created.id}?expand[0]=payment_method",
        headers={"Authorization": f"Bearer {sandbox.secret_key}"},
    )
    assert raw.json()["payment_method"]["object"] == "payment_method"

    confirmed = await sdk.v1.setup_intents.confirm_async(
        created.id, {"mandate_data": MANDATE, "expand": ["payment_method"]}
    )
    assert confirmed.status == "succeeded"
    assert isinstance(confirmed.payment_method, stripe.PaymentMethod)
    assert confirmed.payment_method.customer == demo["customer_id"]


async def test_setup_intent_metadata_round_trips(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    metadata = {"relink_session": "rls_123", "account": demo["accounts"]["healthy"]}
    created = await create_setup_intent(sdk, demo, metadata=metadata)
    assert created.metadata is not None
    assert created.metadata.to_dict() == metadata
    retrieved = await sdk.v1.setup_intents.retrieve_async(created.id)
    assert retrieved.metadata is not None
    assert retrieved.metadata.to_dict() == metadata
    plain = await create_setup_intent(sdk, demo)
    assert plain.metadata is not None
    assert plain.metadata.to_dict() == {}

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await create_setup_intent(sdk, demo, metadata={"k" * 41: "v"})
    assert caught.value.param == f"metadata[{'k' * 41}]"


async def test_setup_intents_and_accounts_have_no_url_field(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    # Neither is ever "pending", the status a session keeps its hosted url in.
    created = await create_setup_intent(sdk, demo, confirm=True, mandate_data=MANDATE)
    assert created.status == "succeeded"
    headers = {"Authorization": f"Bearer {sandbox.secret_key}"}

    setup_intent = await sandbox.client.get(
        f"/sandbox/stripe/v1/setup_intents/{created.id}", headers=headers
    )
    account = await sandbox.client.get(
        f"/sandbox/stripe/v1/financial_connections/accounts/{demo['accounts']['healthy']}",
        headers=headers,
    )

    assert setup_intent.status_code == 200, setup_intent.text
    assert "url" not in setup_intent.json()
    assert account.status_code == 200, account.text
    assert "url" not in account.json()


async def test_an_empty_metadata_value_is_left_out(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    created = await create_setup_intent(sdk, demo, metadata={"kept": "1", "unset": ""})

    assert created.metadata is not None
    assert created.metadata.to_dict() == {"kept": "1"}


async def test_numeric_metadata_keys_are_still_keys(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    # Sent as metadata[0]=…&metadata[1]=…, which reads like an array.
    created = await create_setup_intent(sdk, demo, metadata={"0": "first", "1": "second"})

    assert created.metadata is not None
    assert created.metadata.to_dict() == {"0": "first", "1": "second"}


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({f"key{n}": "v" for n in range(51)}, "metadata"),
        ({"note": "v" * 501}, "metadata[note]"),
        ({"nested": {"deeper": "v"}}, "metadata"),
    ],
    ids=["51-keys", "501-character-value", "nested-hash"],
)
async def test_metadata_outside_stripes_limits_is_refused(
    sdk: stripe.StripeClient, demo: dict[str, Any], metadata: dict[str, Any], param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await create_setup_intent(sdk, demo, metadata=metadata)

    assert caught.value.http_status == 400
    assert caught.value.param == param


async def test_a_payment_method_is_attached_only_when_its_setup_succeeds(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    before = await list_ids(sdk, demo["customer_id"], limit=100)
    created = await create_setup_intent(sdk, demo)
    assert isinstance(created.payment_method, str)
    assert await list_ids(sdk, demo["customer_id"], limit=100) == before

    await sdk.v1.setup_intents.confirm_async(created.id, {"mandate_data": MANDATE})
    assert await list_ids(sdk, demo["customer_id"], limit=100) == [created.payment_method, *before]


async def test_an_armed_failure_fails_the_next_setup_and_only_that_one(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    account_id = demo["accounts"]["healthy"]
    await arm_failure(sandbox, account_id)
    before = await list_ids(sdk, demo["customer_id"], limit=100)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await create_setup_intent(sdk, demo, confirm=True, mandate_data=MANDATE)

    assert caught.value.http_status == 400
    assert caught.value.code == "bank_account_unusable"
    error = caught.value.json_body["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error"
    failed = error["setup_intent"]
    assert failed["status"] == "requires_payment_method"
    assert error["payment_method"]["us_bank_account"]["financial_connections_account"] == account_id

    setup_intent = await sdk.v1.setup_intents.retrieve_async(failed["id"])
    assert setup_intent.status == "requires_payment_method"
    assert setup_intent.payment_method is None
    assert setup_intent.mandate is None
    last = setup_intent.last_setup_error
    assert last is not None
    assert last.type == "invalid_request_error"
    assert last.code == "bank_account_unusable"
    assert last.message
    assert last.payment_method is not None
    assert last.payment_method.id == error["payment_method"]["id"]
    assert last.payment_method.us_bank_account is not None
    assert last.payment_method.us_bank_account.financial_connections_account == account_id
    # Not attached: it never worked.
    assert await list_ids(sdk, demo["customer_id"], limit=100) == before

    [event] = await events(sandbox, "setup_intent.setup_failed", failed["id"])
    assert event["data"]["object"]["status"] == "requires_payment_method"
    assert event["data"]["object"]["last_setup_error"]["code"] == "bank_account_unusable"
    assert await events(sandbox, "setup_intent.succeeded", failed["id"]) == []

    # The failure was for the next confirmation only.
    retried = await create_setup_intent(sdk, demo, confirm=True, mandate_data=MANDATE)
    assert retried.status == "succeeded"
    assert len(await events(sandbox, "setup_intent.succeeded", retried.id)) == 1
    flushed = await sandbox.client.post("/sandbox/control/outbox/flush")
    assert flushed.json()["pending"] == 0


async def test_arming_again_replaces_the_armed_failure(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    account_id = demo["accounts"]["healthy"]
    await arm_failure(sandbox, account_id)
    await arm_failure(sandbox, account_id, code="bank_account_declined")

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await create_setup_intent(sdk, demo, confirm=True, mandate_data=MANDATE)
    assert caught.value.code == "bank_account_declined"

    # One failure was armed, not two.
    retried = await create_setup_intent(sdk, demo, confirm=True, mandate_data=MANDATE)
    assert retried.status == "succeeded"


async def test_a_failed_setups_error_shows_its_payment_method_as_it_is_now(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    account_id = demo["accounts"]["tokenized"]
    await arm_failure(sandbox, account_id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await create_setup_intent(sdk, demo, role="tokenized", confirm=True, mandate_data=MANDATE)
    failed_id = caught.value.json_body["error"]["setup_intent"]["id"]  # type: ignore[index]
    response = await sandbox.client.post(f"/sandbox/control/accounts/{account_id}/deactivate")
    assert response.status_code == 200, response.text

    setup_intent = await sdk.v1.setup_intents.retrieve_async(failed_id)

    error = setup_intent.last_setup_error
    assert error is not None
    assert error.payment_method is not None
    assert error.payment_method.us_bank_account is not None
    assert error.payment_method.us_bank_account.to_dict()["status_details"] == BLOCKED


async def test_an_armed_failure_through_the_confirm_route(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    created = await create_setup_intent(sdk, demo)
    await arm_failure(sandbox, demo["accounts"]["healthy"], code="bank_account_declined")

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.setup_intents.confirm_async(created.id, {"mandate_data": MANDATE})
    assert caught.value.code == "bank_account_declined"

    after = await sdk.v1.setup_intents.retrieve_async(created.id)
    assert after.status == "requires_payment_method"
    assert after.last_setup_error is not None
    assert after.last_setup_error.code == "bank_account_declined"
    assert len(await events(sandbox, "setup_intent.setup_failed", created.id)) == 1

    # Confirming again needs a payment method; with one it goes through.
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.setup_intents.confirm_async(created.id, {"mandate_data": MANDATE})
    assert caught.value.param == "payment_method"
    other = await create_setup_intent(sdk, demo)
    assert isinstance(other.payment_method, str)
    confirmed = await sdk.v1.setup_intents.confirm_async(
        created.id, {"mandate_data": MANDATE, "payment_method": other.payment_method}
    )
    assert confirmed.status == "succeeded"
    assert confirmed.last_setup_error is None
    assert confirmed.payment_method == other.payment_method


async def test_an_armed_failure_through_the_stripe_js_stand_in(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    created = await create_setup_intent(sdk, demo)
    await arm_failure(sandbox, demo["accounts"]["healthy"])

    response = await sandbox.client.post(
        "/sandbox/bank/setup_intents/confirm",
        json={"client_secret": created.client_secret},
        headers={"Authorization": f"Bearer {sandbox.publishable_key}"},
    )

    # What confirmUsBankAccountSetup resolves as {error}.
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "bank_account_unusable"
    assert error["setup_intent"]["id"] == created.id
    assert error["setup_intent"]["status"] == "requires_payment_method"
    assert error["payment_method"]["id"] == created.payment_method
    assert (await sdk.v1.setup_intents.retrieve_async(created.id)).status == (
        "requires_payment_method"
    )
    assert len(await events(sandbox, "setup_intent.setup_failed", created.id)) == 1


async def test_arming_a_failure_for_an_unknown_account_is_a_404(
    sandbox: RunningSandbox,
) -> None:
    response = await sandbox.client.post(
        "/sandbox/control/accounts/fca_doesnotexist/fail-next-setup"
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "resource_missing"
