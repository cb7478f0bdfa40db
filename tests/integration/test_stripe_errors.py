"""Stripe's errors, seen through POST /v1/accounts/{id}/refresh: each becomes the problem a
client can act on, none leaks the secret key, none changes stored state, and the SDK retries
exactly as configured."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from relink_api.db import Database
from relink_api.settings import Settings
from tests import support
from tests.conftest import Seed, make_settings
from tests.factories import fc_account, stripe_error
from tests.support import serve

ACCOUNT_URL = "/v1/financial_connections/accounts/fca_checking"
REFRESH = "/v1/accounts/fca_checking/refresh"
SECRET_KEY = "sk_test_relink123"


async def stored_state(db: Database) -> tuple[int, Any]:
    """The history row count and the stored account, to prove an error changed nothing."""
    async with db.connection() as conn:
        count = await conn.fetchval("SELECT count(*) FROM account_status_history")
        row = await conn.fetchrow(
            "SELECT status, action, cause, snapshot, state_as_of, updated_at "
            "FROM accounts WHERE id = 'fca_checking'"
        )
    return count, dict(row) if row else None


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    return support.assert_problem(response, status, slug, instance=REFRESH)


def assert_retry_after(response: httpx.Response) -> None:
    retry_after = response.headers.get("retry-after")
    assert retry_after is not None
    assert retry_after.isdigit()
    assert int(retry_after) > 0


async def test_resource_missing_is_a_404_with_stripes_message_and_param(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed()
    before = await stored_state(db)
    route = stripe_mock.get(ACCOUNT_URL).respond(
        404,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "param": "id",
                "message": "No such financial_connections.account: 'fca_checking'",
            }
        },
        headers={"Request-Id": "req_missing1"},
    )

    response = await client.post(REFRESH, headers=auth_a)

    problem = assert_problem(response, 404, "stripe-resource-missing")
    assert "No such financial_connections.account: 'fca_checking'" in problem["detail"]
    assert problem["stripe_param"] == "id"
    assert problem["stripe_code"] == "resource_missing"
    assert problem["stripe_request_id"] == "req_missing1"
    assert route.call_count == 1
    assert await stored_state(db) == before


async def test_parameter_invalid_is_a_422_with_stripes_param(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed()
    before = await stored_state(db)
    route = stripe_mock.get(ACCOUNT_URL).respond(
        400,
        json=stripe_error(
            code="parameter_invalid",
            param="expand[0]",
            message="This property cannot be expanded (surprise).",
        ),
    )

    response = await client.post(REFRESH, headers=auth_a)

    problem = assert_problem(response, 422, "stripe-invalid-request")
    assert problem["stripe_param"] == "expand[0]"
    assert problem["stripe_code"] == "parameter_invalid"
    assert "cannot be expanded" in problem["detail"]
    assert route.call_count == 1
    assert await stored_state(db) == before


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (
            401,
            stripe_error(
                type="authentication_error",
                message=f"Invalid API Key provided: {SECRET_KEY}",
            ),
        ),
        (
            403,
            stripe_error(
                type="invalid_request_error",
                message=(
                    f"The provided key '{SECRET_KEY}' does not have the required permissions "
                    "for this endpoint on account 'acct_1'."
                ),
            ),
        ),
    ],
    ids=["401-authentication", "403-permission"],
)
async def test_rejected_credentials_are_a_500_that_does_not_leak_the_key(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    status: int,
    error: dict[str, Any],
) -> None:
    await seed()
    before = await stored_state(db)
    route = stripe_mock.get(ACCOUNT_URL).respond(status, json=error)

    response = await client.post(REFRESH, headers=auth_a)

    problem = assert_problem(response, 500, "stripe-configuration")
    assert "STRIPE_SECRET_KEY" in problem["detail"]
    assert "sk_test" not in response.text
    assert SECRET_KEY not in response.text
    assert "relink123" not in response.text
    assert not any("sk_test" in value for value in response.headers.values())
    assert route.call_count == 1
    assert await stored_state(db) == before


async def test_rate_limit_is_a_503_with_retry_after(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed()
    before = await stored_state(db)
    route = stripe_mock.get(ACCOUNT_URL).respond(
        429,
        json=stripe_error(
            type="invalid_request_error",
            code="rate_limit",
            message="Too many requests hit the API too quickly.",
        ),
    )

    response = await client.post(REFRESH, headers=auth_a)

    assert_problem(response, 503, "stripe-rate-limited")
    assert_retry_after(response)
    assert route.call_count == 1
    assert await stored_state(db) == before


async def test_stripe_server_error_is_a_502_with_retry_after(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed()
    before = await stored_state(db)
    route = stripe_mock.get(ACCOUNT_URL).respond(
        500,
        json=stripe_error(type="api_error", message="An unknown error occurred."),
        headers={"Request-Id": "req_boom1"},
    )

    response = await client.post(REFRESH, headers=auth_a)

    problem = assert_problem(response, 502, "stripe-error")
    assert problem["stripe_request_id"] == "req_boom1"
    assert_retry_after(response)
    # The default test settings make one attempt.
    assert route.call_count == 1
    assert await stored_state(db) == before


async def test_connection_error_is_a_503_with_retry_after_and_one_attempt_without_retries(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    settings: Settings,
) -> None:
    assert settings.stripe_max_network_retries == 0
    await seed()
    before = await stored_state(db)
    route = stripe_mock.get(ACCOUNT_URL).mock(side_effect=httpx.ConnectError)

    response = await client.post(REFRESH, headers=auth_a)

    assert_problem(response, 503, "stripe-unavailable")
    assert_retry_after(response)
    assert route.call_count == 1
    assert await stored_state(db) == before


async def test_a_server_error_is_retried_when_retries_are_configured(
    database_url: str,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed()
    route = stripe_mock.get(ACCOUNT_URL).mock(
        side_effect=[
            httpx.Response(500, json=stripe_error(type="api_error", message="Try again.")),
            httpx.Response(
                200,
                json=fc_account(
                    status="inactive", action="relink_required", cause="access_expired"
                ),
            ),
        ]
    )

    async with serve(make_settings(database_url, stripe_max_network_retries=1)) as http:
        response = await http.post(REFRESH, headers=auth_a)

    assert response.status_code == 200, response.text
    assert response.json()["link_health"] == "relink_required"
    assert route.call_count == 2
    count, stored = await stored_state(db)
    assert count == 2
    assert stored is not None
    assert stored["status"] == "inactive"


async def test_a_connection_error_is_retried_as_configured_then_reported(
    database_url: str,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed()
    before = await stored_state(db)
    route = stripe_mock.get(ACCOUNT_URL).mock(side_effect=httpx.ConnectError)

    async with serve(make_settings(database_url, stripe_max_network_retries=1)) as http:
        response = await http.post(REFRESH, headers=auth_a)

    assert_problem(response, 503, "stripe-unavailable")
    assert_retry_after(response)
    assert route.call_count == 2
    assert await stored_state(db) == before
