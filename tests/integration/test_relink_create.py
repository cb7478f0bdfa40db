"""POST /v1/relink-sessions: the exact Stripe request per scope, and every refusal."""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from relink_api.db import Database
from relink_api.settings import DEFAULT_STRIPE_API_VERSION
from tests.conftest import Seed
from tests.factories import fc_session, stripe_error

SESSIONS = "/v1/financial_connections/sessions"


def sent_form(route: respx.Route) -> list[tuple[str, str]]:
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return parse_qsl(request.content.decode(), keep_blank_values=True)


async def test_account_scope_sends_exactly_what_the_guide_prescribes(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(
        status="inactive",
        action="relink_required",
        cause="access_expired",
        permissions=["payment_method", "balances"],
    )
    route = stripe_mock.post(SESSIONS).respond(200, json=fc_session())

    response = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )

    assert response.status_code == 201, response.text
    assert sorted(sent_form(route)) == sorted(
        [
            ("account_holder[type]", "customer"),
            ("account_holder[customer]", "cus_A"),
            ("permissions[0]", "payment_method"),
            ("permissions[1]", "balances"),
            ("relink_options[authorization]", "fcauth_1"),
            ("relink_options[account]", "fca_checking"),
        ]
    )
    request = route.calls.last.request
    assert request.headers["stripe-version"] == DEFAULT_STRIPE_API_VERSION
    assert request.headers["authorization"] == "Bearer sk_test_relink123"
    assert request.headers["idempotency-key"].startswith("relink-session-rls_")
    body = response.json()
    assert body["client_secret"] == "fcsess_1_secret_Zx81Kq0pWm"
    assert body["publishable_key"] == "pk_test_relink123"
    assert body["stripe_session_id"] == "fcsess_1"
    assert body["scope"] == "account"
    assert body["account_id"] == "fca_checking"
    assert body["authorization_id"] == "fcauth_1"
    assert body["status"] == "open"
    assert body["id"].startswith("rls_")
    assert response.headers["cache-control"] == "no-store"


async def test_institution_scope_limits_to_one_checking_or_savings_account(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required", cause="access_expired")
    route = stripe_mock.post(SESSIONS).respond(200, json=fc_session(account=None))

    response = await client.post(
        "/v1/relink-sessions",
        json={"account_id": "fca_checking", "scope": "institution", "permissions": ["balances"]},
        headers=auth_a,
    )

    assert response.status_code == 201, response.text
    assert sorted(sent_form(route)) == sorted(
        [
            ("account_holder[type]", "customer"),
            ("account_holder[customer]", "cus_A"),
            ("permissions[0]", "payment_method"),
            ("permissions[1]", "balances"),
            ("relink_options[authorization]", "fcauth_1"),
            ("limits[accounts]", "1"),
            ("filters[account_subcategories][0]", "checking"),
            ("filters[account_subcategories][1]", "savings"),
        ]
    )
    assert route.calls.last.request.headers["stripe-version"] == DEFAULT_STRIPE_API_VERSION
    assert response.json()["scope"] == "institution"


async def test_holderless_account_omits_account_holder(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(customer=None, owner="cus_A", status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=fc_session(customer=None))

    response = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )

    assert response.status_code == 201, response.text
    keys = [key for key, _ in sent_form(route)]
    assert not [key for key in keys if key.startswith("account_holder")]
    assert ("relink_options[account]", "fca_checking") in sent_form(route)


async def test_expiring_account_can_be_relinked_ahead_of_time(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="active", action="relink_required", expected_deactivation_date=1_900_000_000)
    stripe_mock.post(SESSIONS).respond(200, json=fc_session())

    response = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("account", "slug", "hint"),
    [
        (
            {"status": "inactive", "action": "none", "cause": "account_closed"},
            "account-not-repairable",
            "new payment method",
        ),
        ({"status": "disconnected"}, "account-disconnected", "link it again"),
        ({"status": "active"}, "account-healthy", "nothing to repair"),
        (
            {"status": "inactive", "action": "relink_required", "authorization": None},
            "account-without-authorization",
            "refresh",
        ),
    ],
)
async def test_accounts_that_cannot_be_relinked_get_a_409_that_says_what_to_do(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    account: dict[str, object],
    slug: str,
    hint: str,
) -> None:
    await seed(**account)
    route = stripe_mock.post(SESSIONS).respond(200, json=fc_session())

    response = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"/problems/{slug}"
    assert hint in problem["detail"]
    assert not route.called


async def test_another_customers_account_is_404_and_stripe_is_not_called(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_b: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=fc_session())

    response = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_b
    )

    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"
    assert not route.called


@pytest.mark.parametrize(
    "return_url",
    [
        "https://evil.example/back",
        "javascript:alert(1)",
        "//evil.example/back",
        "https://app.example.com@evil.example/",
        "http://app.example.com/back",
        "evilapp://back",
    ],
)
async def test_return_url_outside_the_allowlist_is_422(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    return_url: str,
) -> None:
    await seed(status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=fc_session())

    response = await client.post(
        "/v1/relink-sessions",
        json={"account_id": "fca_checking", "return_url": return_url},
        headers=auth_a,
    )

    assert response.status_code == 422
    assert response.json()["type"] == "/problems/validation-failed"
    assert not route.called


@pytest.mark.parametrize("return_url", ["https://app.example.com/relink/done", "exampleapp://x"])
async def test_allowlisted_return_url_is_passed_to_stripe(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    return_url: str,
) -> None:
    await seed(status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=fc_session())

    response = await client.post(
        "/v1/relink-sessions",
        json={"account_id": "fca_checking", "return_url": return_url},
        headers=auth_a,
    )

    assert response.status_code == 201, response.text
    assert ("return_url", return_url) in sent_form(route)


async def test_stripe_rejecting_the_account_is_a_422_with_stripes_param(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed(status="inactive", action="relink_required")
    stripe_mock.post(SESSIONS).respond(
        400,
        json=stripe_error(
            code="parameter_invalid",
            param="relink_options[account]",
            message="The account fca_checking does not belong to authorization fcauth_1.",
        ),
    )

    response = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/stripe-invalid-request"
    assert problem["stripe_param"] == "relink_options[account]"
    assert "does not belong" in problem["detail"]
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM relink_sessions") == 0


async def test_unknown_fields_and_scopes_are_422(
    client: httpx.AsyncClient, auth_a: dict[str, str]
) -> None:
    for body in (
        {"account_id": "fca_checking", "scope": "bank"},
        {"account_id": "fca_checking", "surprise": True},
        {},
    ):
        response = await client.post("/v1/relink-sessions", json=body, headers=auth_a)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"]
