"""The official stripe SDK against a running sandbox (issue 4, "The official stripe SDK
against the sandbox"): every call the gateway makes goes SDK → HTTP → JSON and parses into
the SDK's objects and relink-api's ``gateway.objects`` with the fields the gateway reads."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe

from relink_api.gateway.client import StripeGateway
from relink_api.gateway.errors import (
    StripeConfigurationError,
    StripeInvalidRequest,
    StripeResourceMissing,
)
from relink_api.gateway.objects import AccountHolder, FcAccount, FcAuthorization, FcSession
from relink_api.gateway.requests import RelinkSessionRequest
from relink_api.sandbox import world
from relink_api.sandbox.demo import create_demo_customer
from tests.sandbox_server import RunningSandbox

CLIENT_SECRET = re.compile(r"^(fcsess_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$")
ROLES = (
    "relink_required",
    "relink_required_savings",
    "credit_card",
    "unrepairable",
    "expiring",
    "healthy",
    "tokenized",
)
DAY = 86_400


@pytest.fixture
async def gateway(sandbox: RunningSandbox) -> AsyncIterator[StripeGateway]:
    """The gateway exactly as the app builds it, on the sandbox's own key."""
    client = StripeGateway(sandbox.settings, api_key=sandbox.secret_key)
    yield client
    await client.aclose()


@pytest.fixture
async def demo(sandbox: RunningSandbox) -> dict[str, Any]:
    """A fresh demo customer: ``{"customer_id": …, "accounts": {role: fca_…}}``."""
    async with sandbox.app.state.database.transaction() as conn:
        created: dict[str, Any] = await create_demo_customer(conn)
    return created


async def sandbox_account(sdk: stripe.StripeClient, account_id: str) -> dict[str, Any]:
    account = await sdk.v1.financial_connections.accounts.retrieve_async(account_id)
    raw: dict[str, Any] = account.to_dict()
    return raw


def relink_request(
    demo: dict[str, Any], authorization_id: str, *, scope: str = "account", **kw: Any
) -> RelinkSessionRequest:
    return RelinkSessionRequest(
        scope="account" if scope == "account" else "institution",
        authorization_id=authorization_id,
        account_id=demo["accounts"]["relink_required"],
        account_holder=AccountHolder(type="customer", customer=demo["customer_id"]),
        permissions=["balances"],
        **kw,
    )


async def complete_in_bank(
    sandbox: RunningSandbox, client_secret: str, outcome: str, account_id: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"client_secret": client_secret, "outcome": outcome}
    if account_id is not None:
        body["account_id"] = account_id
    response = await sandbox.client.post(
        "/sandbox/bank/session/complete",
        json=body,
        headers={"Authorization": f"Bearer {sandbox.publishable_key}"},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# --- (a) the gateway's calls ------------------------------------------------------------------


async def test_account_scope_session_through_the_gateway(
    gateway: StripeGateway, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    checking = demo["accounts"]["relink_required"]
    authorization_id = (await sandbox_account(sdk, checking))["authorization"]

    session = await gateway.create_relink_session(relink_request(demo, authorization_id))

    assert isinstance(session, FcSession)
    assert session.object == "financial_connections.session"
    assert session.id.startswith("fcsess_")
    assert session.status == "pending"
    assert session.ui_mode == "modal"
    assert session.client_secret is not None
    match = CLIENT_SECRET.match(session.client_secret)
    assert match is not None, session.client_secret
    assert match.group(1) == session.id
    assert session.relink_options is not None
    assert session.relink_options.authorization == authorization_id
    assert session.relink_options.account == checking
    assert session.relink_result is None
    assert session.account_holder is not None
    assert session.account_holder.type == "customer"
    assert session.account_holder.customer == demo["customer_id"]
    assert session.permissions == ["payment_method", "balances"]
    assert session.accounts.data == []
    assert session.livemode is False
    # Account scope sets no filter and no limit: the bank shows the whole authorization.
    extra = session.model_extra or {}
    assert (extra["filters"] or {}).get("account_subcategories") is None
    # `limits.accounts` is never null in Stripe's Session: no limit is no `limits`.
    assert extra["limits"] is None

    again = await gateway.retrieve_session(session.id)
    assert again.id == session.id
    assert again.status == "pending"
    assert again.relink_options == session.relink_options
    assert again.client_secret == session.client_secret


async def test_institution_scope_session_through_the_gateway(
    gateway: StripeGateway, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    authorization_id = (await sandbox_account(sdk, demo["accounts"]["relink_required"]))[
        "authorization"
    ]

    session = await gateway.create_relink_session(
        relink_request(demo, authorization_id, scope="institution")
    )

    assert session.status == "pending"
    assert session.relink_options is not None
    assert session.relink_options.authorization == authorization_id
    assert session.relink_options.account is None
    assert session.client_secret is not None
    assert CLIENT_SECRET.match(session.client_secret)
    extra = session.model_extra or {}
    assert extra["limits"] == {"accounts": 1}
    assert extra["filters"]["account_subcategories"] == ["checking", "savings"]


async def test_retrieve_session_reports_the_bank_steps_result(
    gateway: StripeGateway,
    sdk: stripe.StripeClient,
    sandbox: RunningSandbox,
    demo: dict[str, Any],
) -> None:
    checking = demo["accounts"]["relink_required"]
    authorization_id = (await sandbox_account(sdk, checking))["authorization"]
    created = await gateway.create_relink_session(relink_request(demo, authorization_id))
    assert created.client_secret is not None

    await complete_in_bank(sandbox, created.client_secret, "link", checking)
    session = await gateway.retrieve_session(created.id)

    assert session.status == "succeeded"
    assert session.relink_result is not None
    assert session.relink_result.account == checking
    assert session.relink_result.authorization == authorization_id
    assert session.relink_result.failure_reason is None
    assert [account.id for account in session.accounts.data] == [checking]
    assert session.accounts.data[0].status == "active"
    assert session.accounts.data[0].action is None
    # The SDK's own object for the same call.
    raw = await sdk.v1.financial_connections.sessions.retrieve_async(created.id)
    assert isinstance(raw, stripe.financial_connections.Session)
    assert raw.accounts["object"] == "list"
    assert isinstance(raw.accounts.data[0], stripe.financial_connections.Account)


async def test_retrieve_account_through_the_gateway(
    gateway: StripeGateway, demo: dict[str, Any]
) -> None:
    accounts = demo["accounts"]

    broken, raw = await gateway.retrieve_account(accounts["relink_required"])
    assert isinstance(broken, FcAccount)
    assert broken.id == accounts["relink_required"]
    assert raw["id"] == broken.id
    assert raw["object"] == "financial_connections.account"
    assert broken.status == "inactive"
    assert broken.action == "relink_required"
    assert broken.cause == "access_expired"
    assert broken.customer == demo["customer_id"]
    assert broken.authorization is not None
    assert broken.authorization.startswith("fcauth_")
    assert broken.institution is not None
    assert broken.institution.startswith("fcinst_")
    assert broken.subcategory == "checking"
    assert broken.category == "cash"
    assert broken.permissions is not None
    assert "payment_method" in broken.permissions
    assert broken.last4 is not None
    assert re.fullmatch(r"\d{4}", broken.last4)
    assert broken.expected_deactivation_at is None

    closed, _ = await gateway.retrieve_account(accounts["unrepairable"])
    assert (closed.status, closed.action, closed.cause) == ("inactive", "none", "account_closed")

    expiring, raw_expiring = await gateway.retrieve_account(accounts["expiring"])
    assert expiring.status == "active"
    assert expiring.action == "relink_required"
    assert expiring.expected_deactivation_at is not None
    expected = raw_expiring["status_details"]["active"]["expected_deactivation_date"]
    assert int(expiring.expected_deactivation_at.timestamp()) == expected
    assert expected > world.now() + 7 * DAY

    healthy, raw_healthy = await gateway.retrieve_account(accounts["healthy"])
    assert healthy.status == "active"
    assert healthy.action is None
    assert raw_healthy["status_details"] is None

    card, raw_card = await gateway.retrieve_account(accounts["credit_card"])
    assert (card.subcategory, card.category) == ("credit_card", "credit")
    assert raw_card["supported_payment_method_types"] == []


async def test_retrieve_authorization_through_the_gateway(
    gateway: StripeGateway, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    accounts = demo["accounts"]
    broken_id = (await sandbox_account(sdk, accounts["relink_required"]))["authorization"]

    broken = await gateway.retrieve_authorization(broken_id)
    assert isinstance(broken, FcAuthorization)
    assert broken.id == broken_id
    assert broken.status == "inactive"
    assert broken.status_details is not None
    assert broken.status_details.inactive is not None
    assert broken.status_details.inactive.action == "relink_required"
    # No `cause` on an Authorization's status_details (docs/stripe.md §3).
    assert "cause" not in (broken.status_details.inactive.model_extra or {})
    assert broken.customer == demo["customer_id"]
    assert broken.institution == "fcinst_SandboxBank"
    assert broken.institution_name == "Sandbox Bank"

    closed_id = (await sandbox_account(sdk, accounts["unrepairable"]))["authorization"]
    closed = await gateway.retrieve_authorization(closed_id)
    assert closed.status == "inactive"
    assert closed.status_details is not None
    assert closed.status_details.inactive is not None
    assert closed.status_details.inactive.action == "none"

    expiring_account = await sandbox_account(sdk, accounts["expiring"])
    expiring = await gateway.retrieve_authorization(expiring_account["authorization"])
    assert expiring.status == "active"
    assert expiring.status_details is not None
    assert expiring.status_details.active is not None
    assert expiring.status_details.active.action == "relink_required"
    assert (
        expiring.status_details.active.expected_deactivation_date
        == expiring_account["status_details"]["active"]["expected_deactivation_date"]
    )

    healthy_id = (await sandbox_account(sdk, accounts["healthy"]))["authorization"]
    healthy = await gateway.retrieve_authorization(healthy_id)
    assert healthy.status == "active"
    # Always an object, empty when there is nothing to report (docs/stripe.md §3).
    assert (await sdk.v1.financial_connections.authorizations.retrieve_async(healthy_id)).to_dict()[
        "status_details"
    ] == {}

    raw = await sdk.v1.financial_connections.authorizations.retrieve_async(broken_id)
    assert isinstance(raw, stripe.financial_connections.Authorization)


async def test_list_customer_accounts_through_the_gateway(
    gateway: StripeGateway, sandbox: RunningSandbox, demo: dict[str, Any]
) -> None:
    # Another customer's accounts exist (the one seeded at start-up, and this one).
    async with sandbox.app.state.database.transaction() as conn:
        other = await create_demo_customer(conn)

    listed = [pair async for pair in gateway.list_customer_accounts(demo["customer_id"])]

    ids = [account.id for account, _ in listed]
    assert sorted(ids) == sorted(demo["accounts"].values())
    assert not set(ids) & set(other["accounts"].values())
    for account, raw in listed:
        assert isinstance(account, FcAccount)
        assert account.customer == demo["customer_id"]
        assert raw["id"] == account.id
    by_id = {account.id: account for account, _ in listed}
    assert by_id[demo["accounts"]["unrepairable"]].action == "none"


async def test_raw_sdk_list_pages_newest_first_with_starting_after(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    seen: list[str] = []
    pages = 0
    starting_after: str | None = None
    while True:
        params: dict[str, Any] = {"account_holder": {"customer": demo["customer_id"]}, "limit": 2}
        if starting_after is not None:
            params["starting_after"] = starting_after
        page = await sdk.v1.financial_connections.accounts.list_async(params)  # type: ignore[arg-type]
        pages += 1
        assert isinstance(page, stripe.ListObject)
        assert page["object"] == "list"
        assert page.url == "/v1/financial_connections/accounts"
        assert 0 < len(page.data) <= 2
        for account in page.data:
            assert isinstance(account, stripe.financial_connections.Account)
        seen += [account.id for account in page.data]
        if not page.has_more:
            break
        assert pages < 10, "has_more never became false"
        starting_after = page.data[-1].id

    assert pages == 4
    assert len(seen) == len(set(seen)), "an account appeared on two pages"
    # The demo accounts were created in role order: newest first is the reverse.
    assert seen == [demo["accounts"][role] for role in reversed(ROLES)]


async def test_raw_sdk_list_pages_backwards_with_ending_before(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    newest_first = [demo["accounts"][role] for role in reversed(ROLES)]
    customer = demo["customer_id"]

    # The two objects immediately before (newer than) the oldest one, in list order.
    page = await sdk.v1.financial_connections.accounts.list_async(
        {"account_holder": {"customer": customer}, "limit": 2, "ending_before": newest_first[-1]}
    )
    assert [account.id for account in page.data] == newest_first[-3:-1]
    assert page.has_more is True

    page = await sdk.v1.financial_connections.accounts.list_async(
        {"account_holder": {"customer": customer}, "limit": 2, "ending_before": newest_first[2]}
    )
    assert [account.id for account in page.data] == newest_first[:2]
    assert page.has_more is False


async def test_list_reads_percent_encoded_query_params(
    sandbox: RunningSandbox, demo: dict[str, Any]
) -> None:
    # requests-based clients escape brackets in the query string (docs/stripe.md §2).
    response = await sandbox.client.get(
        "/sandbox/stripe/v1/financial_connections/accounts"
        f"?account_holder%5Bcustomer%5D={demo['customer_id']}&limit=100",
        headers={"Authorization": f"Bearer {sandbox.secret_key}"},
    )
    assert response.status_code == 200, response.text
    assert sorted(account["id"] for account in response.json()["data"]) == sorted(
        demo["accounts"].values()
    )


# --- (b) errors through the gateway ---------------------------------------------------------


async def test_unknown_authorization_is_resource_missing(
    gateway: StripeGateway, demo: dict[str, Any]
) -> None:
    with pytest.raises(StripeResourceMissing) as caught:
        await gateway.create_relink_session(relink_request(demo, "fcauth_doesnotexist"))
    extensions = caught.value.extensions
    assert extensions["stripe_code"] == "resource_missing"
    assert extensions["stripe_param"] == "relink_options[authorization]"
    assert str(extensions["stripe_request_id"]).startswith("req_")
    assert "fcauth_doesnotexist" in caught.value.detail


async def test_account_not_on_the_authorization_is_invalid_with_param(
    gateway: StripeGateway, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    # The healthy account is on another authorization than the broken checking account.
    other_authorization = (await sandbox_account(sdk, demo["accounts"]["healthy"]))["authorization"]
    with pytest.raises(StripeInvalidRequest) as caught:
        await gateway.create_relink_session(relink_request(demo, other_authorization))
    assert caught.value.extensions["stripe_param"] == "relink_options[account]"
    assert caught.value.extensions["stripe_code"] is not None


async def test_a_wrong_api_key_is_a_configuration_error_that_does_not_leak_it(
    sandbox: RunningSandbox, demo: dict[str, Any]
) -> None:
    wrong_key = "sk_test_sandboxWRONGkey0123456789"
    bad_gateway = StripeGateway(sandbox.settings, api_key=wrong_key)
    try:
        with pytest.raises(StripeConfigurationError) as caught:
            await bad_gateway.retrieve_account(demo["accounts"]["healthy"])
    finally:
        await bad_gateway.aclose()
    assert wrong_key not in caught.value.detail
    assert wrong_key not in str(caught.value.extensions)
    assert sandbox.secret_key not in caught.value.detail
    # Stripe's own 401 names the key only masked.
    cause = caught.value.__cause__
    assert isinstance(cause, stripe.AuthenticationError)
    assert cause.http_status == 401
    assert wrong_key not in str(cause)


async def test_missing_api_key_is_401_in_stripes_envelope(sandbox: RunningSandbox) -> None:
    response = await sandbox.client.get("/sandbox/stripe/v1/financial_connections/accounts/fca_x")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "API key" in error["message"]
    assert response.headers["request-id"].startswith("req_")


async def test_unknown_parameter_is_refused_by_name(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.financial_connections.sessions.create_async(
            {"permissions": ["payment_method"], "bogus_param": "1"}  # type: ignore[typeddict-unknown-key]
        )
    assert caught.value.http_status == 400
    assert caught.value.code == "parameter_unknown"
    assert caught.value.param == "bogus_param"

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.financial_connections.sessions.create_async(
            {
                "permissions": ["payment_method"],
                "relink_options": {"authorization": "fcauth_x", "bogus": "1"},  # type: ignore[typeddict-unknown-key]
            }
        )
    assert caught.value.code == "parameter_unknown"
    assert caught.value.param == "relink_options[bogus]"


async def test_unknown_objects_are_resource_missing(sdk: stripe.StripeClient) -> None:
    calls = [
        sdk.v1.financial_connections.accounts.retrieve_async("fca_nope"),
        sdk.v1.financial_connections.sessions.retrieve_async("fcsess_nope"),
        sdk.v1.financial_connections.authorizations.retrieve_async("fcauth_nope"),
        sdk.v1.setup_intents.retrieve_async("seti_nope"),
        sdk.v1.payment_methods.retrieve_async("pm_nope"),
    ]
    for call in calls:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await call
        assert caught.value.http_status == 404
        assert caught.value.code == "resource_missing"
        assert caught.value.param == "id"


# --- (c) SetupIntents, versions, idempotency ------------------------------------------------


async def test_setup_intent_from_an_fc_account(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    account_id = demo["accounts"]["healthy"]
    created = await sdk.v1.setup_intents.create_async(
        {
            "customer": demo["customer_id"],
            "allowed_payment_method_types": ["us_bank_account"],
            "payment_method_data": {
                "type": "us_bank_account",
                "us_bank_account": {"financial_connections_account": account_id},
                "billing_details": {"name": "Jane Doe"},
            },
        }
    )
    assert isinstance(created, stripe.SetupIntent)
    assert created.id.startswith("seti_")
    assert created.status == "requires_confirmation"
    assert created.customer == demo["customer_id"]
    assert created.client_secret is not None
    assert created.client_secret.startswith(created.id + "_secret_")
    assert isinstance(created.payment_method, str)
    assert created.payment_method.startswith("pm_")
    assert created.mandate is None

    confirmed = await sdk.v1.setup_intents.confirm_async(
        created.id,
        {
            "mandate_data": {
                "customer_acceptance": {
                    "type": "online",
                    "online": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0 test"},
                }
            }
        },
    )
    assert confirmed.id == created.id
    assert confirmed.status == "succeeded"
    assert isinstance(confirmed.mandate, str)
    assert confirmed.mandate.startswith("mandate_")

    retrieved = await sdk.v1.setup_intents.retrieve_async(created.id)
    assert retrieved.status == "succeeded"
    assert retrieved.mandate == confirmed.mandate
    assert retrieved.payment_method == created.payment_method

    payment_method = await sdk.v1.payment_methods.retrieve_async(created.payment_method)
    assert isinstance(payment_method, stripe.PaymentMethod)
    assert payment_method.type == "us_bank_account"
    assert payment_method.customer == demo["customer_id"]
    assert payment_method.billing_details.name == "Jane Doe"
    bank = payment_method.us_bank_account
    assert bank is not None
    assert bank.financial_connections_account == account_id
    assert bank.account_type == "savings"  # the healthy demo account is a savings account

    # A second confirmation is refused, as Stripe refuses it.
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.setup_intents.confirm_async(created.id)
    assert caught.value.http_status == 400


async def test_setup_intent_refuses_unusable_accounts(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    param = "payment_method_data[us_bank_account][financial_connections_account]"
    # Inactive; and a credit card linked without the payment_method permission.
    for role in ("relink_required", "credit_card"):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await sdk.v1.setup_intents.create_async(
                {
                    "customer": demo["customer_id"],
                    "allowed_payment_method_types": ["us_bank_account"],
                    "payment_method_data": {
                        "type": "us_bank_account",
                        "us_bank_account": {
                            "financial_connections_account": demo["accounts"][role]
                        },
                        "billing_details": {"name": "Jane Doe"},
                    },
                }
            )
        assert caught.value.http_status == 400, role
        assert caught.value.param == param, role


async def test_stripe_version_is_echoed(
    sdk: stripe.StripeClient, sandbox: RunningSandbox, demo: dict[str, Any]
) -> None:
    account = await sdk.v1.financial_connections.accounts.retrieve_async(
        demo["accounts"]["healthy"]
    )
    assert account.last_response is not None
    assert account.last_response.headers["stripe-version"] == sandbox.settings.stripe_api_version
    assert account.last_response.headers["request-id"].startswith("req_")

    older = await sdk.v1.financial_connections.accounts.retrieve_async(
        demo["accounts"]["healthy"], options={"stripe_version": "2026-03-25.preview"}
    )
    assert older.last_response is not None
    assert older.last_response.headers["stripe-version"] == "2026-03-25.preview"

    # Errors carry it too.
    response = await sandbox.client.get(
        "/sandbox/stripe/v1/financial_connections/accounts/fca_nope",
        headers={
            "Authorization": f"Bearer {sandbox.secret_key}",
            "Stripe-Version": "2026-01-28.preview",
        },
    )
    assert response.status_code == 404
    assert response.headers["stripe-version"] == "2026-01-28.preview"


async def test_a_replayed_idempotency_key_returns_the_same_session(
    gateway: StripeGateway, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    authorization_id = (await sandbox_account(sdk, demo["accounts"]["relink_required"]))[
        "authorization"
    ]
    request = relink_request(demo, authorization_id, idempotency_key="relink-session-test-1")

    first = await gateway.create_relink_session(request)
    second = await gateway.create_relink_session(request)
    assert second.id == first.id
    assert second.client_secret == first.client_secret

    other = await gateway.create_relink_session(
        relink_request(demo, authorization_id, idempotency_key="relink-session-test-2")
    )
    assert other.id != first.id

    replayed = await sdk.v1.financial_connections.sessions.create_async(
        {
            "permissions": ["payment_method", "balances"],
            "relink_options": {
                "authorization": authorization_id,
                "account": demo["accounts"]["relink_required"],
            },
            "account_holder": {"type": "customer", "customer": demo["customer_id"]},
        },
        {"idempotency_key": "relink-session-test-1"},
    )
    assert replayed.id == first.id
    assert replayed.last_response is not None
    assert replayed.last_response.headers.get("idempotent-replayed") == "true"


async def test_basic_auth_with_the_key_as_user_is_accepted(
    sandbox: RunningSandbox, demo: dict[str, Any]
) -> None:
    response = await sandbox.client.get(
        f"/sandbox/stripe/v1/financial_connections/accounts/{demo['accounts']['healthy']}",
        auth=httpx.BasicAuth(sandbox.secret_key, ""),
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == demo["accounts"]["healthy"]


async def test_reusing_an_idempotency_key_with_other_params_is_an_idempotency_error(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    # Stripe compares a reused key's parameters with the first request's, and refuses a
    # mismatch (type idempotency_error) rather than replaying an unrelated response.
    authorization_id = (await sandbox_account(sdk, demo["accounts"]["relink_required"]))[
        "authorization"
    ]
    options: dict[str, Any] = {"idempotency_key": "reused-key-1"}
    first = await sdk.v1.financial_connections.sessions.create_async(
        {"permissions": ["payment_method"], "relink_options": {"authorization": authorization_id}},
        options,  # type: ignore[arg-type]
    )
    assert first.permissions == ["payment_method"]

    with pytest.raises(stripe.IdempotencyError):
        await sdk.v1.financial_connections.sessions.create_async(
            {"permissions": ["balances"], "relink_options": {"authorization": authorization_id}},
            options,  # type: ignore[arg-type]
        )
    with pytest.raises(stripe.IdempotencyError):
        await sdk.v1.setup_intents.create_async(
            {
                "customer": demo["customer_id"],
                "payment_method_data": {
                    "type": "us_bank_account",
                    "us_bank_account": {
                        "financial_connections_account": demo["accounts"]["healthy"]
                    },
                },
            },
            options,  # type: ignore[arg-type]
        )


async def test_every_response_carries_a_stripe_version(
    sandbox: RunningSandbox, demo: dict[str, Any]
) -> None:
    # docs/sandbox.md: "Every response carries Request-Id and Stripe-Version", also when the
    # request names none (Stripe answers with the account's default version).
    for headers, status in (
        ({"Authorization": f"Bearer {sandbox.secret_key}"}, 200),
        ({}, 401),
    ):
        response = await sandbox.client.get(
            f"/sandbox/stripe/v1/financial_connections/accounts/{demo['accounts']['healthy']}",
            headers=headers,
        )
        assert response.status_code == status, response.text
        assert response.headers["request-id"].startswith("req_")
        assert response.headers.get("stripe-version"), dict(response.headers)


async def test_unknown_params_on_retrieve_are_refused(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    # docs/sandbox.md: unknown parameters are refused as Stripe refuses them, GET included.
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.financial_connections.accounts.retrieve_async(
            demo["accounts"]["healthy"],
            {"bogus": "1"},  # type: ignore[arg-type]
        )
    assert caught.value.code == "parameter_unknown"
    assert caught.value.param == "bogus"


async def test_an_unknown_endpoint_answers_in_stripes_envelope(sandbox: RunningSandbox) -> None:
    response = await sandbox.client.get(
        "/sandbox/stripe/v1/no_such_endpoint",
        headers={"Authorization": f"Bearer {sandbox.secret_key}"},
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_a_body_that_is_not_utf8_is_a_400_not_a_500(sandbox: RunningSandbox) -> None:
    response = await sandbox.client.post(
        "/sandbox/stripe/v1/financial_connections/sessions",
        content=b"permissions[0]=\xff\xfe",
        headers={
            "Authorization": f"Bearer {sandbox.secret_key}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
