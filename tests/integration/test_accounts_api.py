"""GET /v1/accounts (health, filters, pagination), GET /v1/accounts/{id}, POST …/refresh and
GET /v1/authorizations/{id}: only the caller's accounts, and link health derived right."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest
import respx

from relink_api.db import Database
from relink_api.settings import DEFAULT_STRIPE_API_VERSION
from tests.conftest import Seed
from tests.factories import fc_account, fc_authorization
from tests.factories import tokenized_number as tan
from tests.support import assert_problem, parsed
from tests.support import at as iso

ACCOUNT_URL = "/v1/financial_connections/accounts/fca_checking"
AUTHORIZATION_URL = "/v1/financial_connections/authorizations/fcauth_1"
DAY = 86_400


async def history(db: Database, account_id: str = "fca_checking") -> list[dict[str, Any]]:
    async with db.connection() as conn:
        records = await conn.fetch(
            "SELECT from_status, to_status, from_health, to_health, action, cause, source "
            "FROM account_status_history WHERE account_id = $1 ORDER BY id",
            account_id,
        )
    return [dict(record) for record in records]


# --- GET /v1/accounts: link health ---------------------------------------------------------


async def seed_every_health(seed: Seed) -> dict[str, int]:
    """One account of cus_A per health case (plus near misses), and cus_B's, by id."""
    now = int(time.time())
    dates = {"deactivation": now + 12 * DAY, "tan_soon": now + 20 * DAY}
    await seed("fca_01_ok", status="active")
    await seed(
        "fca_02_expiring_action",
        status="active",
        action="relink_required",
        cause="access_expired",
        expected_deactivation_date=dates["deactivation"],
    )
    await seed("fca_03_expiring_tan", status="active", account_numbers=tan(dates["tan_soon"]))
    await seed("fca_04_relink", status="inactive", action="relink_required", cause="access_expired")
    await seed("fca_05_unrepairable", status="inactive", action="none", cause="account_closed")
    await seed("fca_06_disconnected", status="disconnected")
    # Near misses: a TAN 60 days out, and a soon-expiring number that is not transactable.
    await seed("fca_07_tan_far", status="active", account_numbers=tan(now + 60 * DAY))
    await seed(
        "fca_08_tan_deactivated",
        status="active",
        account_numbers=tan(now + 5 * DAY, status="deactivated"),
    )
    # The cause of an inactive account is under `inactive`; an empty action is repairable.
    await seed("fca_09_inactive_no_details", status="inactive", cause="access_denied")
    await seed("fca_00_b_relink", customer="cus_B", status="inactive", action="relink_required")
    await seed("fca_99_b_expiring", customer="cus_B", status="active", action="relink_required")
    return dates


EXPECTED_HEALTH = {
    "fca_01_ok": "ok",
    "fca_02_expiring_action": "expiring",
    "fca_03_expiring_tan": "expiring",
    "fca_04_relink": "relink_required",
    "fca_05_unrepairable": "unrepairable",
    "fca_06_disconnected": "disconnected",
    "fca_07_tan_far": "ok",
    "fca_08_tan_deactivated": "ok",
    "fca_09_inactive_no_details": "relink_required",
}


async def test_list_shows_only_the_callers_accounts_with_derived_health(
    client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str], auth_b: dict[str, str]
) -> None:
    dates = await seed_every_health(seed)

    response = await client.get("/v1/accounts", params={"limit": 100}, headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["has_more"] is False
    assert body["next_cursor"] is None
    accounts = {account["id"]: account for account in body["data"]}
    assert [account["id"] for account in body["data"]] == sorted(EXPECTED_HEALTH)
    assert {key: value["link_health"] for key, value in accounts.items()} == EXPECTED_HEALTH

    expiring = accounts["fca_02_expiring_action"]
    assert expiring["status"] == "active"
    assert expiring["action"] == "relink_required"
    assert expiring["cause"] == "access_expired"
    assert parsed(expiring["expected_deactivation_at"]) == iso(dates["deactivation"])
    assert expiring["inactive_since"] is None
    assert parsed(accounts["fca_03_expiring_tan"]["account_number_expires_at"]) == iso(
        dates["tan_soon"]
    )
    assert accounts["fca_03_expiring_tan"]["expected_deactivation_at"] is None
    assert accounts["fca_08_tan_deactivated"]["account_number_expires_at"] is None
    relink = accounts["fca_04_relink"]
    assert relink["status"] == "inactive"
    assert relink["cause"] == "access_expired"
    assert relink["inactive_since"] is not None
    assert accounts["fca_05_unrepairable"]["action"] == "none"
    assert accounts["fca_05_unrepairable"]["cause"] == "account_closed"
    assert accounts["fca_09_inactive_no_details"]["cause"] == "access_denied"

    other = await client.get("/v1/accounts", params={"limit": 100}, headers=auth_b)
    assert other.status_code == 200, other.text
    assert {a["id"]: a["link_health"] for a in other.json()["data"]} == {
        "fca_00_b_relink": "relink_required",
        "fca_99_b_expiring": "expiring",
    }


@pytest.mark.parametrize(
    "params",
    [
        (("health", "relink_required"), ("health", "expiring")),
        (("health", "relink_required,expiring"),),
        (("health", " expiring , relink_required ,"),),
    ],
    ids=["repeated", "comma-separated", "spaces-and-trailing-comma"],
)
async def test_health_filter(
    client: httpx.AsyncClient,
    seed: Seed,
    auth_a: dict[str, str],
    params: tuple[tuple[str, str], ...],
) -> None:
    await seed_every_health(seed)

    response = await client.get("/v1/accounts", params=params, headers=auth_a)

    assert response.status_code == 200, response.text
    assert [account["id"] for account in response.json()["data"]] == [
        "fca_02_expiring_action",
        "fca_03_expiring_tan",
        "fca_04_relink",
        "fca_09_inactive_no_details",
    ]


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        ("ok", ["fca_01_ok", "fca_07_tan_far", "fca_08_tan_deactivated"]),
        ("unrepairable", ["fca_05_unrepairable"]),
        ("disconnected", ["fca_06_disconnected"]),
    ],
)
async def test_single_health_filter(
    client: httpx.AsyncClient,
    seed: Seed,
    auth_a: dict[str, str],
    health: str,
    expected: list[str],
) -> None:
    await seed_every_health(seed)

    response = await client.get("/v1/accounts", params={"health": health}, headers=auth_a)

    assert response.status_code == 200, response.text
    assert [account["id"] for account in response.json()["data"]] == expected


@pytest.mark.parametrize("health", ["broken", "ok,broken", "OK", "relink-required"])
async def test_unknown_health_is_422(
    client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str], health: str
) -> None:
    await seed()

    response = await client.get("/v1/accounts", params={"health": health}, headers=auth_a)

    problem = assert_problem(response, 422, "validation-failed")
    assert problem["errors"]
    assert problem["errors"][0]["loc"] == ["query", "health"]
    assert "fca_checking" not in response.text


# --- GET /v1/accounts: pagination ----------------------------------------------------------


async def test_pagination_follows_next_cursor_to_the_end(
    client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str]
) -> None:
    mine = ["fca_a1", "fca_a2", "fca_a3", "fca_a4", "fca_a5"]
    for account_id in mine:
        await seed(account_id)
    # Another customer's accounts sort between and after the caller's.
    await seed("fca_a2x", customer="cus_B")
    await seed("fca_a9", customer="cus_B")

    seen: list[str] = []
    pages: list[tuple[int, bool]] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get("/v1/accounts", params=params, headers=auth_a)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [account["id"] for account in body["data"]]
        pages.append((len(body["data"]), body["has_more"]))
        cursor = body["next_cursor"]
        if not body["has_more"]:
            assert cursor is None
            break
        assert isinstance(cursor, str)
        assert cursor

    assert pages == [(2, True), (2, True), (1, False)]
    assert seen == mine
    assert len(set(seen)) == len(seen)


async def test_exactly_a_full_last_page_has_no_more(
    client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str]
) -> None:
    for account_id in ("fca_a1", "fca_a2"):
        await seed(account_id)

    response = await client.get("/v1/accounts", params={"limit": 2}, headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert [account["id"] for account in body["data"]] == ["fca_a1", "fca_a2"]
    assert body["has_more"] is False
    assert body["next_cursor"] is None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda cursor: "x" + cursor[1:],
        # Characters outside the base64url alphabet: never issued, so never accepted.
        lambda cursor: cursor[:-1] + "~~",
        lambda cursor: cursor[:4] + "." + cursor[4:],
        lambda cursor: cursor + "A",
        lambda cursor: _b64("v2:fca_a2"),
        lambda cursor: _b64("v1:"),
        lambda cursor: _b64("fca_a2"),
        lambda cursor: "%%%%",
    ],
    ids=[
        "first-char",
        "bad-alphabet",
        "junk-inside",
        "one-char-longer",
        "other-version",
        "empty-id",
        "no-version",
        "not-base64",
    ],
)
async def test_a_tampered_cursor_is_400(
    client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str], tamper: Any
) -> None:
    for account_id in ("fca_a1", "fca_a2", "fca_a3"):
        await seed(account_id)
    first = await client.get("/v1/accounts", params={"limit": 2}, headers=auth_a)
    cursor = first.json()["next_cursor"]
    assert isinstance(cursor, str)
    # The untampered cursor works: the refusal below is about the tampering.
    untouched = await client.get(
        "/v1/accounts", params={"limit": 2, "cursor": cursor}, headers=auth_a
    )
    assert [account["id"] for account in untouched.json()["data"]] == ["fca_a3"]

    response = await client.get(
        "/v1/accounts", params={"limit": 2, "cursor": tamper(cursor)}, headers=auth_a
    )

    assert_problem(response, 400, "invalid-cursor")


@pytest.mark.parametrize("limit", ["0", "101", "-1", "two"])
async def test_limit_out_of_range_is_422(
    client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str], limit: str
) -> None:
    await seed()

    response = await client.get("/v1/accounts", params={"limit": limit}, headers=auth_a)

    problem = assert_problem(response, 422, "validation-failed")
    assert ["query", "limit"] in [error["loc"] for error in problem["errors"]]


async def test_limit_bounds_are_inclusive(
    client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed("fca_a1")
    await seed("fca_a2")

    one = await client.get("/v1/accounts", params={"limit": 1}, headers=auth_a)
    hundred = await client.get("/v1/accounts", params={"limit": 100}, headers=auth_a)

    assert one.status_code == 200, one.text
    assert [account["id"] for account in one.json()["data"]] == ["fca_a1"]
    assert one.json()["has_more"] is True
    assert hundred.status_code == 200, hundred.text
    assert len(hundred.json()["data"]) == 2


# --- GET /v1/accounts/{id} ----------------------------------------------------------------


async def test_get_account_for_its_owner(
    client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required", cause="access_expired")

    response = await client.get("/v1/accounts/fca_checking", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "fca_checking"
    assert body["authorization_id"] == "fcauth_1"
    assert body["institution_id"] == "fcinst_bank"
    assert body["institution_name"] == "StripeBank"
    assert body["display_name"] == "Everyday Checking"
    assert body["last4"] == "6789"
    assert body["subcategory"] == "checking"
    assert body["status"] == "inactive"
    assert body["link_health"] == "relink_required"
    assert body["permissions"] == ["payment_method"]
    assert body["needs_new_payment_method"] is False


async def test_another_customers_account_and_an_unknown_one_look_the_same(
    client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str], auth_b: dict[str, str]
) -> None:
    await seed()
    await seed("fca_b_own", customer="cus_B")

    others = await client.get("/v1/accounts/fca_checking", headers=auth_b)
    unknown = await client.get("/v1/accounts/fca_nope", headers=auth_b)

    other_problem = assert_problem(others, 404, "not-found")
    unknown_problem = assert_problem(unknown, 404, "not-found")
    assert set(other_problem) == set(unknown_problem)
    assert other_problem["title"] == unknown_problem["title"]
    assert other_problem["detail"].replace("fca_checking", "ID") == unknown_problem[
        "detail"
    ].replace("fca_nope", "ID")
    assert "cus_A" not in others.text
    assert "Everyday Checking" not in others.text


# --- POST /v1/accounts/{id}/refresh -------------------------------------------------------


async def test_refresh_records_the_transition_stripe_reports(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed(status="active")
    assert [row["source"] for row in await history(db)] == ["sync"]
    route = stripe_mock.get(ACCOUNT_URL).respond(
        200, json=fc_account(status="inactive", action="relink_required", cause="access_expired")
    )

    response = await client.post("/v1/accounts/fca_checking/refresh", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "inactive"
    assert body["link_health"] == "relink_required"
    assert body["action"] == "relink_required"
    assert body["cause"] == "access_expired"
    assert body["inactive_since"] is not None
    rows = await history(db)
    assert len(rows) == 2
    assert rows[-1] == {
        "from_status": "active",
        "to_status": "inactive",
        "from_health": "ok",
        "to_health": "relink_required",
        "action": "relink_required",
        "cause": "access_expired",
        "source": "refresh",
    }
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.headers["stripe-version"] == DEFAULT_STRIPE_API_VERSION
    assert request.headers["authorization"] == "Bearer sk_test_relink123"
    # What the next read returns is what was stored.
    again = await client.get("/v1/accounts/fca_checking", headers=auth_a)
    assert again.json()["link_health"] == "relink_required"


async def test_refresh_that_changes_nothing_adds_no_history(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed(status="inactive", action="relink_required", cause="access_expired")
    before = await history(db)
    route = stripe_mock.get(ACCOUNT_URL).respond(
        200, json=fc_account(status="inactive", action="relink_required", cause="access_expired")
    )

    response = await client.post("/v1/accounts/fca_checking/refresh", headers=auth_a)

    assert response.status_code == 200, response.text
    assert response.json()["link_health"] == "relink_required"
    assert route.call_count == 1
    assert await history(db) == before
    assert len(before) == 1


async def test_refresh_of_another_customers_account_is_404_without_calling_stripe(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_b: dict[str, str],
    db: Database,
) -> None:
    await seed()
    before = await history(db)
    route = stripe_mock.get(ACCOUNT_URL).respond(
        200, json=fc_account(status="inactive", action="relink_required")
    )

    response = await client.post("/v1/accounts/fca_checking/refresh", headers=auth_b)

    assert_problem(response, 404, "not-found")
    assert not route.called
    assert await history(db) == before


# --- GET /v1/authorizations/{id} ----------------------------------------------------------


async def test_authorization_for_its_owner(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed("fca_checking", status="inactive", action="relink_required")
    await seed("fca_savings", subcategory="savings", status="inactive", action="relink_required")
    await seed("fca_elsewhere", authorization="fcauth_2")
    route = stripe_mock.get(AUTHORIZATION_URL).respond(200, json=fc_authorization())

    response = await client.get("/v1/authorizations/fcauth_1", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "fcauth_1"
    assert body["status"] == "inactive"
    assert body["action"] == "relink_required"
    assert body["expected_deactivation_at"] is None
    assert body["institution_id"] == "fcinst_bank"
    assert body["account_ids"] == ["fca_checking", "fca_savings"]
    assert route.call_count == 1
    assert route.calls.last.request.headers["stripe-version"] == DEFAULT_STRIPE_API_VERSION
    async with db.connection() as conn:
        stored = await conn.fetchrow(
            "SELECT customer_id, status, action FROM authorizations WHERE id = 'fcauth_1'"
        )
    assert stored is not None
    assert dict(stored) == {
        "customer_id": "cus_A",
        "status": "inactive",
        "action": "relink_required",
    }


async def test_active_authorization_carries_its_expected_deactivation(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed()
    deactivation = int(time.time()) + 9 * DAY
    authorization = fc_authorization(status="active")
    authorization["status_details"] = {
        "active": {"action": "relink_required", "expected_deactivation_date": deactivation}
    }
    stripe_mock.get(AUTHORIZATION_URL).respond(200, json=authorization)

    response = await client.get("/v1/authorizations/fcauth_1", headers=auth_a)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "active"
    assert body["action"] == "relink_required"
    assert parsed(body["expected_deactivation_at"]) == iso(deactivation)


async def test_authorization_of_another_customer_is_404_without_calling_stripe(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_b: dict[str, str],
) -> None:
    await seed()
    await seed("fca_b_own", customer="cus_B", authorization="fcauth_b")
    route = stripe_mock.get(AUTHORIZATION_URL).respond(200, json=fc_authorization())

    response = await client.get("/v1/authorizations/fcauth_1", headers=auth_b)

    problem = assert_problem(response, 404, "not-found")
    assert "fcauth_1" in problem["detail"]
    assert not route.called


async def test_authorization_stripe_says_is_someone_elses_is_404(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed()
    route = stripe_mock.get(AUTHORIZATION_URL).respond(200, json=fc_authorization(customer="cus_B"))

    response = await client.get("/v1/authorizations/fcauth_1", headers=auth_a)

    problem = assert_problem(response, 404, "not-found")
    assert "cus_B" not in response.text
    assert "StripeBank" not in problem["detail"]
    assert route.call_count == 1
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM authorizations") == 0
