"""API versions in the sandbox (issue 14, the sandbox): ``Stripe-Version`` checked as Stripe
checks it, objects rendered at the version asked for, and webhooks rendered at the webhook
endpoint's version, so that the app's re-read of a payload without preview fields runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import stripe

from relink_api.sandbox.demo import create_demo_customer
from relink_api.settings import DEFAULT_STRIPE_API_VERSION
from tests.sandbox_server import RunningSandbox

RELEASE = "2026-09-30.endive"


@pytest.fixture
async def demo(sandbox: RunningSandbox) -> dict[str, Any]:
    async with sandbox.app.state.database.transaction() as conn:
        created: dict[str, Any] = await create_demo_customer(conn)
    return created


@pytest.fixture
async def sdk_at(sandbox: RunningSandbox) -> AsyncIterator[Any]:
    """``sdk_at(version)``: the SDK's client on the sandbox, pinned to ``version``."""
    http_client = stripe.HTTPXClient()

    def make(version: str) -> stripe.StripeClient:
        return stripe.StripeClient(
            sandbox.secret_key,
            http_client=http_client,
            stripe_version=version,
            base_addresses={"api": sandbox.base_url + "/sandbox/stripe"},
        )

    yield make
    await http_client.close_async()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("version", ["2026-03-04.preview", "2026-13-45", "latest"])
async def test_an_unknown_version_is_refused_as_stripe_refuses_it(
    sdk_at: Any, demo: dict[str, Any], version: str
) -> None:
    sdk: stripe.StripeClient = sdk_at(version)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.financial_connections.accounts.retrieve_async(demo["accounts"]["healthy"])
    assert caught.value.http_status == 400
    assert caught.value.user_message == f"Invalid Stripe API version: {version}"
    body: Any = caught.value.json_body
    assert body["error"]["type"] == "invalid_request_error"


async def test_released_and_preview_versions_are_answered_at_that_version(
    sdk_at: Any, demo: dict[str, Any]
) -> None:
    for version in (
        DEFAULT_STRIPE_API_VERSION,
        "2026-01-28.preview",
        RELEASE,
        "2025-03-31.basil",
        "2024-06-20",
    ):
        sdk: stripe.StripeClient = sdk_at(version)
        account = await sdk.v1.financial_connections.accounts.retrieve_async(
            demo["accounts"]["relink_required"]
        )
        assert account.last_response is not None
        assert account.last_response.headers["stripe-version"] == version
        raw = account.to_dict()
        preview = version.endswith(".preview")
        # The relink fields exist only in previews (docs/stripe.md §8).
        assert ("status_details" in raw) is preview, version
        assert ("authorization" in raw) is preview, version
        if preview:
            assert raw["status_details"]["inactive"]["action"] == "relink_required"


async def test_an_expiring_account_before_the_preview_that_added_active_details(
    sdk_at: Any, demo: dict[str, Any]
) -> None:
    # `status_details.active` arrived with 2026-06-24.preview.
    expiring = demo["accounts"]["expiring"]
    older = await sdk_at("2026-05-27.preview").v1.financial_connections.accounts.retrieve_async(
        expiring
    )
    assert older.to_dict()["status_details"] == {}
    newer = await sdk_at("2026-06-24.preview").v1.financial_connections.accounts.retrieve_async(
        expiring
    )
    assert newer.to_dict()["status_details"]["active"]["expected_deactivation_date"] > 0


async def test_no_version_is_answered_at_the_accounts_default_release(
    sandbox: RunningSandbox, demo: dict[str, Any]
) -> None:
    response = await sandbox.client.get(
        f"/sandbox/stripe/v1/financial_connections/accounts/{demo['accounts']['relink_required']}",
        headers={"Authorization": f"Bearer {sandbox.secret_key}"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["stripe-version"] == RELEASE
    assert "status_details" not in response.json()


async def test_the_webhook_endpoint_version_is_a_known_one(sandbox: RunningSandbox) -> None:
    endpoint = (await sandbox.client.get("/sandbox/control/webhook-endpoint")).json()
    assert endpoint["object"] == "webhook_endpoint"
    assert endpoint["api_version"] == sandbox.settings.stripe_api_version
    refused = await sandbox.client.post(
        "/sandbox/control/webhook-endpoint", json={"api_version": "2026-03-04.preview"}
    )
    assert refused.status_code == 400, refused.text
    assert (await sandbox.client.get("/sandbox/control/webhook-endpoint")).json() == endpoint


async def _delivered_payload(sandbox: RunningSandbox, event_type: str, object_id: str) -> Any:
    async with sandbox.app.state.database.connection() as conn:
        return await conn.fetchrow(
            "SELECT api_version, payload FROM webhook_events WHERE type = $1 AND object_id = $2",
            event_type,
            object_id,
        )


async def test_a_release_version_endpoint_makes_the_app_reread_the_account(
    sandbox: RunningSandbox, sdk_at: Any
) -> None:
    # By default, events are rendered at the app's own preview version, and say so.
    before = (await sandbox.client.post("/sandbox/control/demo-customers")).json()
    stored = await _delivered_payload(
        sandbox, "financial_connections.account.created", before["accounts"]["healthy"]
    )
    assert stored is not None
    assert stored["payload"]["api_version"] == sandbox.settings.stripe_api_version
    assert stored["payload"]["data"]["object"]["status_details"] is None
    assert stored["payload"]["data"]["object"]["authorization"].startswith("fcauth_")

    changed = await sandbox.client.post(
        "/sandbox/control/webhook-endpoint", json={"api_version": RELEASE}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["api_version"] == RELEASE
    created = await sandbox.client.post("/sandbox/control/demo-customers")
    assert created.status_code == 200, created.text
    demo = created.json()
    auth = {"Authorization": f"Bearer {demo['token']}"}
    healthy = demo["accounts"]["healthy"]

    # Deactivated for good: only status_details (which the payload lacks) says "none".
    response = await sandbox.client.post(
        f"/sandbox/control/accounts/{healthy}/deactivate",
        json={"cause": "account_closed", "action": "none"},
    )
    assert response.status_code == 200, response.text
    flushed = await sandbox.client.post("/sandbox/control/outbox/flush")
    assert flushed.json()["pending"] == 0, flushed.text

    stored = await _delivered_payload(sandbox, "financial_connections.account.deactivated", healthy)
    assert stored is not None
    assert stored["api_version"] == RELEASE
    payload = stored["payload"]
    assert payload["api_version"] == RELEASE
    assert payload["data"]["object"]["status"] == "inactive"
    assert "status_details" not in payload["data"]["object"]
    assert "authorization" not in payload["data"]["object"]

    account = await sandbox.client.get(f"/v1/accounts/{healthy}", headers=auth)
    assert account.status_code == 200, account.text
    assert account.json()["link_health"] == "unrepairable"
    # What the app read instead, at its own (preview) version.
    sdk: stripe.StripeClient = sdk_at(sandbox.settings.stripe_api_version)
    fresh = await sdk.v1.financial_connections.accounts.retrieve_async(healthy)
    assert fresh.to_dict()["status_details"]["inactive"]["action"] == "none"
