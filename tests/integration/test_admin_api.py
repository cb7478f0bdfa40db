"""The operator API (/v1/admin/…): admin-key auth and every refusal, accounts across
customers, the health summary, and relinks Stripe emails to a customer."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from fastapi import FastAPI

from relink_api.auth import admin_key_digest
from relink_api.db import Database
from relink_api.sandbox.setup import SECRETS_FILE
from relink_api.settings import Settings
from tests.conftest import Seed, bearer, make_settings
from tests.factories import fc_session
from tests.factories import tokenized_number as tan
from tests.sandbox_server import running_sandbox
from tests.support import assert_problem, serve

KEY = "rk_admin_" + "A" * 43
OLD_KEY = "rk_admin_" + "B" * 43
ADMIN = {"X-Admin-Key": KEY}
SESSIONS = "/v1/financial_connections/sessions"
DAY = 86_400
WEEK = 7 * DAY

ENDPOINTS = [
    ("GET", "/v1/admin/accounts"),
    ("GET", "/v1/admin/summary"),
    ("POST", "/v1/admin/accounts/fca_checking/relink-email"),
]
ENDPOINT_IDS = ["list", "summary", "relink-email"]


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Two digests: a key being rotated in (KEY) beside the one it replaces (OLD_KEY).
    return make_settings(
        database_url,
        admin_api_key_sha256=f"{admin_key_digest(OLD_KEY)},{admin_key_digest(KEY)}",
        public_base_url="https://relink.example.com",
    )


def _assert_no_secret(body: str) -> None:
    assert "client_secret" not in body, body
    # Stripe's client secrets (fcsess_…_secret_…) and signing secrets, as values: a name
    # such as previous_secret_expires_at is not one.
    assert re.search(r':\s*"[^"]*_secret_', body) is None, body
    assert "whsec_" not in body, body


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app's client; every operator API response it sees is checked for secrets."""

    async def no_secrets(response: httpx.Response) -> None:
        if response.request.url.path.startswith("/v1/admin"):
            _assert_no_secret((await response.aread()).decode())

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", event_hooks={"response": [no_secrets]}
    ) as http:
        yield http


def assert_admin_challenge(response: httpx.Response) -> dict[str, Any]:
    problem = assert_problem(response, 401, "admin-unauthorized")
    assert response.headers["www-authenticate"] == 'ApiKey realm="relink-api-admin"'
    return problem


# --- who may call ------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "No admin API key was sent in the X-Admin-Key header."),
        ({"X-Admin-Key": ""}, "No admin API key was sent in the X-Admin-Key header."),
        ({"X-Admin-Key": "rk_admin_" + "C" * 43}, "The admin API key is not valid."),
        ({"X-Admin-Key": KEY[:-1]}, "The admin API key is not valid."),
        ({"X-Admin-Key": admin_key_digest(KEY)}, "The admin API key is not valid."),
        ({"Authorization": f"Bearer {KEY}"}, "an Authorization header does not count"),
    ],
    ids=["no-key", "empty-key", "wrong-key", "truncated-key", "the-digest", "key-as-bearer"],
)
async def test_admin_routes_refuse_anything_but_a_configured_key(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    method: str,
    path: str,
    headers: dict[str, str],
    detail: str,
) -> None:
    await seed(status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=fc_session())

    response = await client.request(method, path, headers=headers)

    problem = assert_admin_challenge(response)
    assert detail in problem["detail"]
    assert problem["instance"] == path
    assert "fca_checking" not in problem["detail"]
    assert not route.called


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)
async def test_a_customer_token_opens_no_admin_route(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    method: str,
    path: str,
) -> None:
    await seed(status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=fc_session())

    response = await client.request(method, path, headers=auth_a)

    problem = assert_admin_challenge(response)
    assert problem["detail"].startswith("No admin API key was sent")
    assert not route.called


async def test_an_admin_key_opens_no_customer_route(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed()

    as_bearer = await client.get("/v1/accounts", headers={"Authorization": f"Bearer {KEY}"})
    as_header = await client.get("/v1/accounts", headers=ADMIN)

    assert_problem(as_bearer, 401, "unauthorized")
    assert as_bearer.headers["www-authenticate"].startswith("Bearer")
    assert "error=" in as_bearer.headers["www-authenticate"]
    assert_problem(as_header, 401, "unauthorized")
    assert "fca_checking" not in as_bearer.text + as_header.text


async def test_both_keys_of_a_rotation_are_let_in(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed()

    new = await client.get("/v1/admin/summary", headers={"X-Admin-Key": KEY})
    old = await client.get("/v1/admin/summary", headers={"X-Admin-Key": OLD_KEY})

    assert new.status_code == 200, new.text
    assert old.status_code == 200, old.text
    assert new.json()["accounts_total"] == old.json()["accounts_total"] == 1


async def test_a_rotated_out_key_is_refused(
    database_url: str, stripe_mock: respx.MockRouter, seed: Seed
) -> None:
    await seed()
    rotated = make_settings(database_url, admin_api_key_sha256=admin_key_digest(KEY))

    async with serve(rotated) as http:
        new = await http.get("/v1/admin/summary", headers={"X-Admin-Key": KEY})
        old = await http.get("/v1/admin/summary", headers={"X-Admin-Key": OLD_KEY})

    assert new.status_code == 200, new.text
    assert assert_admin_challenge(old)["detail"] == "The admin API key is not valid."


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)
async def test_without_a_configured_digest_admin_routes_say_so(
    database_url: str, stripe_mock: respx.MockRouter, seed: Seed, method: str, path: str
) -> None:
    await seed(status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=fc_session())

    async with serve(make_settings(database_url)) as http:
        response = await http.request(method, path, headers=ADMIN)

    problem = assert_admin_challenge(response)
    assert "operator API is not configured" in problem["detail"]
    assert "RELINK_ADMIN_API_KEY_SHA256" in problem["detail"]
    assert not route.called


# --- GET /v1/admin/accounts ----------------------------------------------------------------


async def seed_two_customers(seed: Seed) -> None:
    await seed("fca_a1", customer="cus_A", status="active", institution="fcinst_bank")
    await seed(
        "fca_a2",
        customer="cus_A",
        status="inactive",
        action="relink_required",
        cause="access_expired",
        institution="fcinst_other",
    )
    await seed(
        "fca_b1",
        customer="cus_B",
        status="inactive",
        action="relink_required",
        institution="fcinst_bank",
    )
    await seed(
        "fca_b2",
        customer="cus_B",
        status="active",
        action="relink_required",
        expected_deactivation_date=int(time.time()) + 10 * DAY,
        institution="fcinst_other",
    )
    # Held by Stripe without an account holder, and not assigned to anyone yet.
    await seed(
        "fca_u1",
        customer=None,
        status="inactive",
        action="relink_required",
        institution="fcinst_bank",
    )


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [account["id"] for account in response.json()["data"]]


async def test_lists_every_customers_accounts_with_their_owner(
    client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed_two_customers(seed)

    response = await client.get("/v1/admin/accounts", headers=ADMIN)

    assert ids(response) == ["fca_a1", "fca_a2", "fca_b1", "fca_b2", "fca_u1"]
    body = response.json()
    assert body["has_more"] is False
    assert body["next_cursor"] is None
    owners = {account["id"]: account["customer_id"] for account in body["data"]}
    assert owners == {
        "fca_a1": "cus_A",
        "fca_a2": "cus_A",
        "fca_b1": "cus_B",
        "fca_b2": "cus_B",
        "fca_u1": None,
    }
    health = {account["id"]: account["link_health"] for account in body["data"]}
    assert health == {
        "fca_a1": "ok",
        "fca_a2": "relink_required",
        "fca_b1": "relink_required",
        "fca_b2": "expiring",
        "fca_u1": "relink_required",
    }
    # Apart from the owner, an operator sees exactly what the customer sees.
    own = await client.get("/v1/accounts/fca_a2", headers=auth_a)
    assert own.status_code == 200, own.text
    admin_view = next(account for account in body["data"] if account["id"] == "fca_a2")
    assert {k: v for k, v in admin_view.items() if k != "customer_id"} == own.json()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"health": "relink_required"}, ["fca_a2", "fca_b1", "fca_u1"]),
        ({"health": "ok,expiring"}, ["fca_a1", "fca_b2"]),
        ([("health", "ok"), ("health", "expiring")], ["fca_a1", "fca_b2"]),
        ({"customer": "cus_B"}, ["fca_b1", "fca_b2"]),
        ({"customer": "cus_nobody"}, []),
        ({"institution": "fcinst_bank"}, ["fca_a1", "fca_b1", "fca_u1"]),
        (
            {"health": "relink_required", "institution": "fcinst_bank", "customer": "cus_B"},
            ["fca_b1"],
        ),
        ({"health": "relink_required", "customer": "cus_A"}, ["fca_a2"]),
    ],
    ids=[
        "health",
        "health-comma",
        "health-repeated",
        "customer",
        "unknown-customer",
        "institution",
        "all-three",
        "health-and-customer",
    ],
)
async def test_filters(
    client: httpx.AsyncClient, seed: Seed, params: Any, expected: list[str]
) -> None:
    await seed_two_customers(seed)

    response = await client.get("/v1/admin/accounts", params=params, headers=ADMIN)

    assert ids(response) == expected


async def test_pagination_crosses_customers_in_id_order(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    await seed_two_customers(seed)

    seen: list[str] = []
    pages: list[tuple[int, bool]] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get("/v1/admin/accounts", params=params, headers=ADMIN)
        seen += ids(response)
        body = response.json()
        pages.append((len(body["data"]), body["has_more"]))
        cursor = body["next_cursor"]
        if not body["has_more"]:
            assert cursor is None
            break

    assert pages == [(2, True), (2, True), (1, False)]
    assert seen == ["fca_a1", "fca_a2", "fca_b1", "fca_b2", "fca_u1"]


async def test_pagination_keeps_the_filter(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed_two_customers(seed)
    params: dict[str, Any] = {"health": "relink_required", "limit": 2}

    first = await client.get("/v1/admin/accounts", params=params, headers=ADMIN)
    cursor = first.json()["next_cursor"]
    second = await client.get(
        "/v1/admin/accounts", params={**params, "cursor": cursor}, headers=ADMIN
    )

    assert ids(first) == ["fca_a2", "fca_b1"]
    assert ids(second) == ["fca_u1"]
    assert second.json()["has_more"] is False


async def test_a_full_last_page_has_no_more(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed_two_customers(seed)

    response = await client.get(
        "/v1/admin/accounts", params={"customer": "cus_A", "limit": 2}, headers=ADMIN
    )

    assert ids(response) == ["fca_a1", "fca_a2"]
    assert response.json()["has_more"] is False
    assert response.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "status", "slug"),
    [
        ({"health": "broken"}, 422, "validation-failed"),
        ({"cursor": "not-a-cursor"}, 400, "invalid-cursor"),
        ({"limit": "0"}, 422, "validation-failed"),
        ({"limit": "101"}, 422, "validation-failed"),
        ({"customer": ""}, 422, "validation-failed"),
    ],
    ids=["unknown-health", "bad-cursor", "limit-0", "limit-101", "empty-customer"],
)
async def test_bad_list_parameters(
    client: httpx.AsyncClient, seed: Seed, params: dict[str, str], status: int, slug: str
) -> None:
    await seed()

    response = await client.get("/v1/admin/accounts", params=params, headers=ADMIN)

    assert_problem(response, status, slug)


# --- GET /v1/admin/summary -----------------------------------------------------------------


def monday_of(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


async def test_summary_of_an_empty_service_has_every_key_and_eight_empty_weeks(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/admin/summary", headers=ADMIN)

    assert response.status_code == 200, response.text
    body = response.json()
    monday = monday_of(datetime.fromisoformat(body["as_of"]))
    assert body["accounts_total"] == 0
    assert body["by_health"] == {
        "ok": 0,
        "expiring": 0,
        "relink_required": 0,
        "unrepairable": 0,
        "disconnected": 0,
        "unknown": 0,
    }
    assert body["by_cause"] == []
    assert body["upcoming_deactivations"] == [
        {"week_start": (monday + timedelta(weeks=n)).isoformat(), "count": 0} for n in range(8)
    ]
    assert monday.weekday() == 0


async def test_summary_counts_health_causes_and_deactivations_by_week(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    now = datetime.now(UTC)
    week0 = datetime.combine(monday_of(now), datetime.min.time(), tzinfo=UTC)
    in_week = {n: week0 + timedelta(weeks=n, days=3, hours=12) for n in range(8)}
    soon_tan = now + timedelta(days=10)
    late_tan = now + timedelta(days=20)

    await seed("fca_ok_a", customer="cus_A")
    await seed("fca_ok_far_tan", customer="cus_B", account_numbers=tan(unix(now) + 60 * DAY))
    # Expiring by Stripe's warning: counted in the week of expected_deactivation_date.
    for name, when in [
        ("fca_exp_w0", in_week[0]),
        ("fca_exp_w2", in_week[2]),
        # The last second of the eighth week is in; the first of the ninth is out.
        ("fca_exp_w7_end", week0 + timedelta(weeks=8, seconds=-1)),
        ("fca_exp_w8_start", week0 + timedelta(weeks=8)),
        # Last week's date (Stripe has not deactivated it yet) is not upcoming.
        ("fca_exp_past", week0 - timedelta(seconds=1)),
    ]:
        await seed(
            name,
            status="active",
            action="relink_required",
            cause="access_expired",
            expected_deactivation_date=unix(when),
        )
    await seed("fca_exp_no_date", status="active", action="relink_required")
    # Both a warning and a soon-expiring tokenized number: the warning's date is the one.
    await seed(
        "fca_exp_both",
        status="active",
        action="relink_required",
        cause="access_expired",
        expected_deactivation_date=unix(in_week[1]),
        account_numbers=tan(unix(late_tan)),
    )
    # Expiring only by its tokenized account number: counted in the week it expires.
    await seed("fca_exp_tan", status="active", account_numbers=tan(unix(soon_tan)))
    await seed("fca_rr_a", status="inactive", action="relink_required", cause="access_expired")
    await seed(
        "fca_rr_b",
        customer="cus_B",
        status="inactive",
        action="relink_required",
        cause="access_expired",
    )
    await seed("fca_rr_no_cause", status="inactive", action="relink_required")
    await seed(
        "fca_rr_unowned",
        customer=None,
        status="inactive",
        action="relink_required",
        cause="access_revoked",
    )
    await seed("fca_closed", status="inactive", action="none", cause="account_closed")
    await seed("fca_gone", status="disconnected")

    response = await client.get("/v1/admin/summary", headers=ADMIN)

    assert response.status_code == 200, response.text
    body = response.json()
    as_of = datetime.fromisoformat(body["as_of"])
    assert abs((as_of - now).total_seconds()) < 60
    assert body["accounts_total"] == 16
    assert body["by_health"] == {
        "ok": 2,
        "expiring": 8,
        "relink_required": 4,
        "unrepairable": 1,
        "disconnected": 1,
        "unknown": 0,
    }
    assert body["by_cause"] == [
        {"health": "expiring", "cause": "access_expired", "count": 6},
        {"health": "expiring", "cause": None, "count": 2},
        {"health": "relink_required", "cause": "access_expired", "count": 2},
        {"health": "relink_required", "cause": None, "count": 1},
        {"health": "relink_required", "cause": "access_revoked", "count": 1},
        {"health": "unrepairable", "cause": "account_closed", "count": 1},
        {"health": "disconnected", "cause": None, "count": 1},
    ]
    monday = monday_of(as_of)
    expected = dict.fromkeys(range(8), 0)
    for counted in (in_week[0], in_week[1], in_week[2], week0 + timedelta(weeks=8, seconds=-1)):
        expected[(counted.date() - monday).days // 7] += 1
    expected[(soon_tan.astimezone(UTC).date() - monday).days // 7] += 1
    assert body["upcoming_deactivations"] == [
        {"week_start": (monday + timedelta(weeks=n)).isoformat(), "count": expected[n]}
        for n in range(8)
    ]
    assert sum(week["count"] for week in body["upcoming_deactivations"]) == 5
    assert all(
        date.fromisoformat(week["week_start"]).weekday() == 0
        for week in body["upcoming_deactivations"]
    )


async def test_only_expiring_accounts_count_as_upcoming_deactivations(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    # Tokenized numbers still listed as transactable, expiring soon, on accounts that are
    # not expiring: they are broken or gone already, not about to stop working.
    soon = tan(unix(datetime.now(UTC) + timedelta(days=10)))
    await seed("fca_rr", status="inactive", action="relink_required", account_numbers=soon)
    await seed("fca_closed", status="inactive", action="none", account_numbers=soon)
    await seed("fca_gone", status="disconnected", account_numbers=soon)

    response = await client.get("/v1/admin/summary", headers=ADMIN)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["by_health"]["expiring"] == 0
    assert [week["count"] for week in body["upcoming_deactivations"]] == [0] * 8


# --- POST /v1/admin/accounts/{id}/relink-email ---------------------------------------------


def hosted_session(session_id: str = "fcsess_1", **kwargs: Any) -> dict[str, Any]:
    # Stripe returns a client_secret on every session, emailed ones included.
    session = fc_session(session_id, **kwargs)
    session.update(ui_mode="hosted", hosted={"delivery_method": "email"}, url=None)
    assert session["client_secret"]
    return session


def sent_form(route: respx.Route) -> list[tuple[str, str]]:
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return parse_qsl(request.content.decode(), keep_blank_values=True)


async def test_relink_email_asks_stripe_to_email_the_owner(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    db: Database,
    settings: Settings,
) -> None:
    await seed(customer="cus_A", status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=hosted_session())

    response = await client.post(
        "/v1/admin/accounts/fca_checking/relink-email", json={"scope": "account"}, headers=ADMIN
    )

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    form = sent_form(route)
    assert ("ui_mode", "hosted") in form
    assert ("hosted[delivery_method]", "email") in form
    assert ("account_holder[customer]", "cus_A") in form
    assert ("relink_options[authorization]", "fcauth_1") in form
    assert ("relink_options[account]", "fca_checking") in form
    body = response.json()
    assert set(body) == {
        "id",
        "stripe_session_id",
        "customer_id",
        "scope",
        "account_id",
        "authorization_id",
        "status",
        "created_at",
    }
    assert body["id"].startswith("rls_")
    assert body["stripe_session_id"] == "fcsess_1"
    assert body["customer_id"] == "cus_A"
    assert body["scope"] == "account"
    assert body["account_id"] == "fca_checking"
    assert body["authorization_id"] == "fcauth_1"
    assert body["status"] == "open"
    async with db.connection() as conn:
        stored = await conn.fetchrow(
            "SELECT customer_id, ui_mode, delivery FROM relink_sessions WHERE id = $1", body["id"]
        )
    assert dict(stored or {}) == {"customer_id": "cus_A", "ui_mode": "hosted", "delivery": "email"}
    # It is the customer's session: their token follows it.
    followed = await client.get(
        f"/v1/relink-sessions/{body['id']}", headers=bearer(settings, "cus_A")
    )
    assert followed.status_code == 200, followed.text


async def test_relink_email_under_an_idempotency_key_is_sent_once(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, db: Database
) -> None:
    await seed(customer="cus_A", status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=hosted_session())
    keyed = {**ADMIN, "Idempotency-Key": "email-cus_A-1"}
    path = "/v1/admin/accounts/fca_checking/relink-email"

    first = await client.post(path, headers=keyed)
    # No body and the default scope spelled out are the same request.
    again = await client.post(path, json={"scope": "account"}, headers=keyed)
    other = await client.post(path, json={"scope": "institution"}, headers=keyed)

    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert_problem(other, 422, "idempotency-key-reused")
    assert route.call_count == 1
    async with db.connection() as conn:
        principal = await conn.fetchval("SELECT principal FROM idempotency_keys")
    assert principal.startswith("operator:")


async def test_relink_email_defaults_to_account_scope_and_takes_institution(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed
) -> None:
    await seed(status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS)
    route.side_effect = [
        httpx.Response(200, json=hosted_session("fcsess_1")),
        httpx.Response(200, json=hosted_session("fcsess_2", account=None)),
    ]

    default = await client.post("/v1/admin/accounts/fca_checking/relink-email", headers=ADMIN)
    default_form = sent_form(route)
    institution = await client.post(
        "/v1/admin/accounts/fca_checking/relink-email",
        json={"scope": "institution"},
        headers=ADMIN,
    )
    institution_form = sent_form(route)

    assert default.status_code == 201, default.text
    assert default.json()["scope"] == "account"
    assert ("relink_options[account]", "fca_checking") in default_form
    assert institution.status_code == 201, institution.text
    assert institution.json()["scope"] == "institution"
    assert ("limits[accounts]", "1") in institution_form
    assert "relink_options[account]" not in dict(institution_form)
    assert ("hosted[delivery_method]", "email") in institution_form


async def test_relink_email_for_an_unknown_account_is_404(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter
) -> None:
    route = stripe_mock.post(SESSIONS).respond(200, json=hosted_session())

    response = await client.post("/v1/admin/accounts/fca_nope/relink-email", headers=ADMIN)

    assert_problem(response, 404, "not-found")
    assert not route.called


async def test_relink_email_for_an_account_nobody_owns_is_409(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed
) -> None:
    await seed(customer=None, status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=hosted_session())

    response = await client.post("/v1/admin/accounts/fca_checking/relink-email", headers=ADMIN)

    problem = assert_problem(response, 409, "account-without-owner")
    assert "Assign its owner" in problem["detail"]
    assert not route.called


async def test_relink_email_keeps_the_customer_relinks_refusals(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed
) -> None:
    await seed(status="active")
    route = stripe_mock.post(SESSIONS).respond(200, json=hosted_session())

    response = await client.post("/v1/admin/accounts/fca_checking/relink-email", headers=ADMIN)

    assert_problem(response, 409, "account-healthy")
    assert not route.called


@pytest.mark.parametrize(
    "body",
    [{"scope": "everything"}, {"scope": "account", "delivery": "url"}, {"ui_mode": "modal"}],
    ids=["unknown-scope", "delivery-is-not-the-operators-choice", "ui-mode-neither"],
)
async def test_relink_email_takes_only_a_scope(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, body: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required")
    route = stripe_mock.post(SESSIONS).respond(200, json=hosted_session())

    response = await client.post(
        "/v1/admin/accounts/fca_checking/relink-email", json=body, headers=ADMIN
    )

    assert_problem(response, 422, "validation-failed")
    assert not route.called


# --- the sandbox's operator key -----------------------------------------------------------


async def test_the_sandbox_prints_a_working_admin_key_and_curl_line(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"

    async with running_sandbox(database_url, data_dir) as sandbox:
        banner = capsys.readouterr().out  # the banner is for the terminal, on stdout
        match = re.search(r"curl -H 'X-Admin-Key: (rk_admin_[A-Za-z0-9_-]{43})' (\S+)", banner)
        assert match is not None, banner
        key, url = match.groups()
        admin = {"X-Admin-Key": key}
        # The demo customer's accounts reach the app by webhook.
        flushed = await sandbox.client.post("/sandbox/control/outbox/flush")
        assert flushed.status_code == 200, flushed.text
        summary = await sandbox.client.get(url, headers=admin)
        broken = await sandbox.client.get(
            "/v1/admin/accounts", params={"health": "relink_required"}, headers=admin
        )
        account_id = broken.json()["data"][0]["id"]
        emailed = await sandbox.client.post(
            f"/v1/admin/accounts/{account_id}/relink-email", headers=admin
        )

    assert url == f"{sandbox.base_url}/v1/admin/summary"
    assert summary.status_code == 200, summary.text
    assert summary.json()["by_health"]["relink_required"] >= 1
    assert broken.status_code == 200, broken.text
    assert emailed.status_code == 201, emailed.text
    assert emailed.json()["account_id"] == account_id
    _assert_no_secret(summary.text + broken.text + emailed.text)
    stored = (data_dir / SECRETS_FILE).read_text()
    assert key in stored
    assert admin_key_digest(key) in stored
