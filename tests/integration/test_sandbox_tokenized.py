"""Tokenized account numbers in the sandbox (docs/sandbox.md, "Tokenized account numbers"):
the TAN institution's accounts, the controls that make their numbers expire, a relink that
reissues them, and the payment methods blocked only while a TAN is deactivated, all through
the official SDK, with the events each change queues in the outbox."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe

from relink_api.gateway.objects import FcAccount
from relink_api.sandbox.demo import create_demo_customer
from tests.sandbox_server import RunningSandbox

DAY = 86_400
BLOCKED = {"blocked": {"network_code": None, "reason": "tokenized_account_number_deactivated"}}
FC = "financial_connections.account."


@pytest.fixture
async def demo(sandbox: RunningSandbox) -> dict[str, Any]:
    async with sandbox.app.state.database.transaction() as conn:
        created: dict[str, Any] = await create_demo_customer(conn)
    return created


class Outbox:
    """The events queued since the mark, in order."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.seq = 0

    async def mark(self) -> None:
        async with self.sandbox.app.state.database.connection() as conn:
            self.seq = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM sandbox.events")

    async def since(self) -> list[tuple[str, dict[str, Any]]]:
        async with self.sandbox.app.state.database.connection() as conn:
            records = await conn.fetch(
                "SELECT type, payload FROM sandbox.events WHERE seq > $1 ORDER BY seq", self.seq
            )
        return [(record["type"], record["payload"]["data"]["object"]) for record in records]

    async def types(self) -> list[tuple[str, str]]:
        return [(kind, obj["id"]) for kind, obj in await self.since()]


@pytest.fixture
async def outbox(sandbox: RunningSandbox, demo: dict[str, Any]) -> Outbox:
    watched = Outbox(sandbox)
    await watched.mark()
    return watched


async def control(sandbox: RunningSandbox, path: str, **body: Any) -> dict[str, Any]:
    response = await sandbox.client.post(f"/sandbox/control/{path}", json=body or None)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def account(sdk: stripe.StripeClient, account_id: str) -> dict[str, Any]:
    found = await sdk.v1.financial_connections.accounts.retrieve_async(account_id)
    assert isinstance(found, stripe.financial_connections.Account)
    raw: dict[str, Any] = found.to_dict()
    return raw


async def status_details(sdk: stripe.StripeClient, payment_method_id: str) -> dict[str, Any]:
    payment_method = await sdk.v1.payment_methods.retrieve_async(payment_method_id)
    assert payment_method.us_bank_account is not None
    details: dict[str, Any] = payment_method.us_bank_account.to_dict()["status_details"]
    return details


async def relink(sandbox: RunningSandbox, sdk: stripe.StripeClient, account_id: str) -> None:
    """An account-scope relink of the account, linked again at the bank."""
    authorization = (await account(sdk, account_id))["authorization"]
    session = await sdk.v1.financial_connections.sessions.create_async(
        {
            "permissions": ["payment_method"],
            "relink_options": {"authorization": authorization, "account": account_id},
        }
    )
    response = await sandbox.client.post(
        "/sandbox/bank/session/complete",
        json={"client_secret": session.client_secret, "outcome": "link", "account_id": account_id},
        headers={"Authorization": f"Bearer {sandbox.publishable_key}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["financialConnectionsSession"]["status"] == "succeeded"


def tan_change(account_event: str, tan_id: str, payment_method_id: str) -> list[tuple[str, str]]:
    """The events of a TAN lost or reissued with its account's status, in order."""
    return [
        (FC + account_event, tan_id),
        (FC + "account_numbers_updated", tan_id),
        ("payment_method.automatically_updated", payment_method_id),
    ]


def only_tan(raw: dict[str, Any]) -> dict[str, Any]:
    [number] = raw["account_numbers"]
    assert set(number) == {
        "expected_expiry_date",
        "identifier_type",
        "status",
        "supported_networks",
    }
    assert number["identifier_type"] == "tokenized_account_number"
    assert number["supported_networks"] == ["ach"]
    return dict(number)


# --- the institution ---------------------------------------------------------------------------


async def test_accounts_at_the_tan_institution_have_a_tokenized_number(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    tan_id = demo["accounts"]["tokenized"]
    found = await sdk.v1.financial_connections.accounts.retrieve_async(tan_id)

    assert found.institution_name == "Tokenized Account Numbers"
    assert found.status == "active"
    assert found.account_numbers is not None
    [number] = found.account_numbers
    assert isinstance(number, stripe.financial_connections.Account.AccountNumber)
    assert number.identifier_type == "tokenized_account_number"
    assert number.status == "transactable"
    assert number.supported_networks == ["ach"]
    assert number.expected_expiry_date is not None
    assert abs(number.expected_expiry_date - (int(time.time()) + 365 * DAY)) < 60
    parsed = FcAccount.model_validate(found.to_dict())
    assert parsed.account_number_expires_at is not None

    # Every other demo account has real account numbers, which Stripe does not list.
    for role, account_id in demo["accounts"].items():
        if role != "tokenized":
            assert (await account(sdk, account_id))["account_numbers"] == [], role


async def test_the_tan_account_is_listed_with_its_numbers(
    sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    page = await sdk.v1.financial_connections.accounts.list_async(
        {"account_holder": {"customer": demo["customer_id"]}, "limit": 100}
    )
    by_id = {found.id: found.to_dict() for found in page.data}
    assert only_tan(by_id[demo["accounts"]["tokenized"]])["status"] == "transactable"


# --- the controls ------------------------------------------------------------------------------


async def test_expire_soon_moves_the_expiry_and_warns(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any], outbox: Outbox
) -> None:
    tan_id = demo["accounts"]["tokenized"]

    answered = await control(sandbox, f"accounts/{tan_id}/account-numbers/expire-soon", days=5)

    number = only_tan(await account(sdk, tan_id))
    assert number["status"] == "transactable"
    assert abs(number["expected_expiry_date"] - (int(time.time()) + 5 * DAY)) < 60
    assert only_tan(answered) == number
    [(kind, payload)] = await outbox.since()
    assert kind == FC + "upcoming_account_number_expiry"
    assert payload["id"] == tan_id
    assert payload["status"] == "active"
    assert only_tan(payload) == number
    # The payment method still works until the number expires.
    assert await status_details(sdk, demo["payment_methods"]["tokenized"]) == {}
    listed = (await sandbox.client.get("/sandbox/control/outbox")).json()["data"]
    assert (listed[0]["type"], listed[0]["object_id"]) == (kind, tan_id)

    await control(sandbox, f"accounts/{tan_id}/account-numbers/expire-soon")
    number = only_tan(await account(sdk, tan_id))
    assert abs(number["expected_expiry_date"] - (int(time.time()) + 7 * DAY)) < 60


async def test_expire_deactivates_the_numbers_and_blocks_the_payment_method(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any], outbox: Outbox
) -> None:
    tan_id = demo["accounts"]["tokenized"]
    payment_method_id = demo["payment_methods"]["tokenized"]

    await control(sandbox, f"accounts/{tan_id}/account-numbers/expire")

    raw = await account(sdk, tan_id)
    assert raw["status"] == "inactive"
    assert raw["status_details"] == {
        "inactive": {"action": "relink_required", "cause": "access_expired"}
    }
    number = only_tan(raw)
    assert number["status"] == "deactivated"
    assert number["expected_expiry_date"] <= int(time.time())
    authorization = await sdk.v1.financial_connections.authorizations.retrieve_async(
        raw["authorization"]
    )
    assert authorization.status == "inactive"

    payment_method = await sdk.v1.payment_methods.retrieve_async(payment_method_id)
    assert payment_method.us_bank_account is not None
    blocked = payment_method.us_bank_account.status_details
    assert blocked is not None
    assert blocked.blocked is not None
    assert blocked.blocked.reason == "tokenized_account_number_deactivated"
    assert blocked.blocked.network_code is None
    assert payment_method.customer == demo["customer_id"]

    sent = await outbox.since()
    assert [(kind, obj["id"]) for kind, obj in sent] == tan_change(
        "deactivated", tan_id, payment_method_id
    )
    for _, obj in sent[:2]:
        assert obj["status"] == "inactive"
        assert only_tan(obj)["status"] == "deactivated"
    assert sent[2][1]["us_bank_account"]["status_details"] == BLOCKED

    # Gone once, the numbers cannot expire again.
    response = await sandbox.client.post(
        f"/sandbox/control/accounts/{tan_id}/account-numbers/expire"
    )
    assert response.status_code == 400, response.text


async def test_a_relink_reissues_the_numbers_and_unblocks_the_same_payment_method(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any], outbox: Outbox
) -> None:
    tan_id = demo["accounts"]["tokenized"]
    payment_method_id = demo["payment_methods"]["tokenized"]
    await control(sandbox, f"accounts/{tan_id}/account-numbers/expire")
    assert await status_details(sdk, payment_method_id) == BLOCKED
    before = await sdk.v1.payment_methods.list_async({"customer": demo["customer_id"]})
    await outbox.mark()

    await relink(sandbox, sdk, tan_id)

    raw = await account(sdk, tan_id)
    assert raw["status"] == "active"
    assert raw["status_details"] is None
    number = only_tan(raw)
    assert number["status"] == "transactable"
    assert abs(number["expected_expiry_date"] - (int(time.time()) + 365 * DAY)) < 60
    assert await status_details(sdk, payment_method_id) == {}
    after = await sdk.v1.payment_methods.list_async({"customer": demo["customer_id"]})
    assert [pm.id for pm in after.data] == [pm.id for pm in before.data]

    sent = [
        (kind, obj)
        for kind, obj in await outbox.since()
        if kind != "financial_connections.session.updated"
    ]
    assert [(kind, obj["id"]) for kind, obj in sent] == tan_change(
        "reactivated", tan_id, payment_method_id
    )
    for _, obj in sent[:2]:
        assert obj["status"] == "active"
        assert only_tan(obj) == number
    assert sent[2][1]["us_bank_account"]["status_details"] == {}


async def test_a_relink_before_the_expiry_gives_a_new_expiry_only(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any], outbox: Outbox
) -> None:
    tan_id = demo["accounts"]["tokenized"]
    await control(sandbox, f"accounts/{tan_id}/account-numbers/expire-soon", days=3)
    await outbox.mark()

    await relink(sandbox, sdk, tan_id)

    number = only_tan(await account(sdk, tan_id))
    assert number["expected_expiry_date"] > int(time.time()) + 300 * DAY
    assert [
        pair for pair in await outbox.types() if pair[0] != "financial_connections.session.updated"
    ] == [(FC + "account_numbers_updated", tan_id)]


async def test_a_deactivation_by_stripe_takes_the_tan_and_a_reactivation_brings_a_new_one(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any], outbox: Outbox
) -> None:
    tan_id = demo["accounts"]["tokenized"]
    payment_method_id = demo["payment_methods"]["tokenized"]
    authorization = (await account(sdk, tan_id))["authorization"]

    await control(sandbox, f"authorizations/{authorization}/deactivate", cause="access_denied")
    assert only_tan(await account(sdk, tan_id))["status"] == "deactivated"
    assert await status_details(sdk, payment_method_id) == BLOCKED
    assert await outbox.types() == tan_change("deactivated", tan_id, payment_method_id)

    await outbox.mark()
    await control(sandbox, f"accounts/{tan_id}/reactivate")
    assert only_tan(await account(sdk, tan_id))["status"] == "transactable"
    assert await status_details(sdk, payment_method_id) == {}
    assert await outbox.types() == tan_change("reactivated", tan_id, payment_method_id)


@pytest.mark.parametrize(
    ("role", "path", "body", "status"),
    [
        ("healthy", "expire-soon", {}, 400),
        ("healthy", "expire", {}, 400),
        ("tokenized", "expire-soon", {"days": 0}, 422),
        ("tokenized", "expire-soon", {"days": 31}, 422),
        ("tokenized", "expire-soon", {"when": 3}, 422),
    ],
)
async def test_the_controls_refuse_what_they_cannot_do(
    sandbox: RunningSandbox,
    demo: dict[str, Any],
    outbox: Outbox,
    role: str,
    path: str,
    body: dict[str, Any],
    status: int,
) -> None:
    response = await sandbox.client.post(
        f"/sandbox/control/accounts/{demo['accounts'][role]}/account-numbers/{path}",
        json=body or None,
    )
    assert response.status_code == status, response.text
    assert await outbox.since() == []


async def test_the_controls_404_an_unknown_account(sandbox: RunningSandbox) -> None:
    for path in ("expire-soon", "expire"):
        response = await sandbox.client.post(
            f"/sandbox/control/accounts/fca_doesnotexist/account-numbers/{path}"
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "resource_missing"
