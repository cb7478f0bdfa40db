"""Idempotency-Key on the creating POSTs: replay, conflicts, scope, expiry, and the Stripe
key derived from the client's, with Stripe played by respx."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from relink_api.db import Database
from relink_api.idempotency.service import purge_expired
from relink_api.settings import Settings
from tests.conftest import Seed, make_settings
from tests.factories import fc_session, stripe_error
from tests.support import assert_problem

SESSIONS = "/v1/financial_connections/sessions"
CREATE = "/v1/relink-sessions"
BODY = {"account_id": "fca_checking"}
BASE = "https://relink.example.com"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Hosted sessions need the public URL; nothing else here depends on it.
    return make_settings(database_url, public_base_url=BASE)


@pytest.fixture
async def broken(seed: Seed) -> None:
    await seed(status="inactive", action="relink_required", cause="access_expired")


def keyed(auth: dict[str, str], key: str) -> dict[str, str]:
    return {**auth, "Idempotency-Key": key}


async def stored_keys(db: Database) -> list[dict[str, Any]]:
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT * FROM idempotency_keys ORDER BY created_at")
    return [dict(row) for row in rows]


@pytest.mark.usefixtures("broken")
async def test_same_key_and_body_replays_the_first_session_without_a_second(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, auth_a: dict[str, str], db: Database
) -> None:
    created = stripe_mock.post(SESSIONS).respond(200, json=fc_session())
    reread = stripe_mock.get(f"{SESSIONS}/fcsess_1").respond(200, json=fc_session())

    first = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "order-42"))
    # Key order and an explicit default make the same request.
    again = await client.post(
        CREATE,
        content=json.dumps({"scope": "account", "account_id": "fca_checking"}),
        headers={**keyed(auth_a, "order-42"), "Content-Type": "application/json"},
    )

    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["cache-control"] == "no-store"
    assert again.json() == first.json()
    assert again.json()["client_secret"] == "fcsess_1_secret_Zx81Kq0pWm"
    assert created.call_count == 1
    # The secret was never kept: the replay read it back from Stripe.
    assert reread.call_count == 1
    (row,) = await stored_keys(db)
    assert row["principal"] == "customer:cus_A"
    assert row["resource_ids"] == {"relink_session_id": first.json()["id"]}
    assert row["status_code"] == 201
    assert "secret" not in json.dumps(row, default=str)


@pytest.mark.usefixtures("broken")
async def test_same_key_with_a_different_body_or_route_is_refused(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, auth_a: dict[str, str]
) -> None:
    created = stripe_mock.post(SESSIONS).respond(200, json=fc_session(account=None))
    first = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "k1"))
    assert first.status_code == 201, first.text

    other_body = await client.post(
        CREATE,
        json={**BODY, "scope": "institution"},
        headers=keyed(auth_a, "k1"),
    )
    other_route = await client.post(
        f"{CREATE}/{first.json()['id']}/payment-method",
        json={"billing_name": "Jenny Rosen"},
        headers=keyed(auth_a, "k1"),
    )

    assert_problem(other_body, 422, "idempotency-key-reused")
    assert_problem(other_route, 422, "idempotency-key-reused")
    assert created.call_count == 1


@pytest.mark.usefixtures("broken")
async def test_keys_belong_to_one_customer(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    auth_a: dict[str, str],
    auth_b: dict[str, str],
) -> None:
    stripe_mock.post(SESSIONS).respond(200, json=fc_session())
    stripe_mock.get(f"{SESSIONS}/fcsess_1").respond(200, json=fc_session())
    first = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "shared"))
    assert first.status_code == 201, first.text

    # The same key and body from another customer is that customer's own request: their
    # own 404, never the first customer's session.
    other = await client.post(CREATE, json=BODY, headers=keyed(auth_b, "shared"))

    assert_problem(other, 404, "not-found")
    assert "idempotent-replayed" not in other.headers


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("k" * 256, "256 characters"),
        ("", "must not be empty"),
        ("caf\u00e9", "printable ASCII"),
        ("tab\there", "printable ASCII"),
    ],
)
@pytest.mark.usefixtures("broken")
async def test_bad_keys_are_a_400_before_anything_is_done(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    auth_a: dict[str, str],
    db: Database,
    key: str,
    why: str,
) -> None:
    created = stripe_mock.post(SESSIONS).respond(200, json=fc_session())

    response = await client.post(
        CREATE,
        json=BODY,
        headers={
            b"Authorization": auth_a["Authorization"].encode(),
            b"Idempotency-Key": key.encode("latin-1"),
        },
    )

    problem = assert_problem(response, 400, "idempotency-key-invalid")
    assert why.split()[-1] in problem["detail"] or why in problem["detail"]
    assert created.call_count == 0
    assert await stored_keys(db) == []


@pytest.mark.usefixtures("broken")
async def test_a_key_of_255_characters_is_accepted(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, auth_a: dict[str, str]
) -> None:
    stripe_mock.post(SESSIONS).respond(200, json=fc_session())

    response = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "k" * 255))

    assert response.status_code == 201, response.text


@pytest.mark.usefixtures("broken")
async def test_a_key_still_in_flight_is_a_409_and_the_first_result_follows(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, auth_a: dict[str, str]
) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow_stripe(request: httpx.Request) -> httpx.Response:
        entered.set()
        await release.wait()
        return httpx.Response(200, json=fc_session())

    created = stripe_mock.post(SESSIONS).mock(side_effect=slow_stripe)
    stripe_mock.get(f"{SESSIONS}/fcsess_1").respond(200, json=fc_session())

    first = asyncio.create_task(client.post(CREATE, json=BODY, headers=keyed(auth_a, "slow")))
    await asyncio.wait_for(entered.wait(), timeout=10)
    during = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "slow"))
    release.set()
    finished = await first
    after = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "slow"))

    assert_problem(during, 409, "idempotency-key-in-use")
    # The rest of the first request's 60-second claim, which it may not live to end.
    assert 58 <= int(during.headers["retry-after"]) <= 60
    assert finished.status_code == 201, finished.text
    assert after.status_code == 201
    assert after.headers["idempotent-replayed"] == "true"
    assert after.json()["id"] == finished.json()["id"]
    assert created.call_count == 1


async def reopen_claims(db: Database, *, lease_left: timedelta) -> None:
    """Every stored key as a crashed request leaves it: claimed, never completed, its
    lease ending ``lease_left`` from now."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET status_code = NULL, completed_at = NULL, "
            "resource_ids = NULL, locked_until = now() + $1::interval",
            lease_left,
        )


@pytest.mark.usefixtures("broken")
async def test_a_claim_left_by_a_crash_says_how_long_until_it_lapses(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, auth_a: dict[str, str], db: Database
) -> None:
    created = stripe_mock.post(SESSIONS).respond(200, json=fc_session())
    stripe_mock.get(f"{SESSIONS}/fcsess_1").respond(200, json=fc_session())
    first = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "orphan"))
    assert first.status_code == 201, first.text
    # As if the process had died mid-request 15 s into its 60-second lease.
    await reopen_claims(db, lease_left=timedelta(seconds=44.2))

    during = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "orphan"))
    async with db.transaction() as conn:
        await conn.execute("UPDATE idempotency_keys SET locked_until = now() - interval '1 ms'")
    after = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "orphan"))

    assert_problem(during, 409, "idempotency-key-in-use")
    # Rounded up: a retry after this many seconds finds the lease over.
    assert during.headers["retry-after"] in {"44", "45"}
    assert after.status_code == 201, after.text
    assert after.json()["id"] == first.json()["id"]
    assert created.call_count == 1


@pytest.mark.usefixtures("broken")
async def test_a_failed_request_frees_its_key_and_the_retry_asks_stripe_with_the_same_key(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, auth_a: dict[str, str]
) -> None:
    created = stripe_mock.post(SESSIONS).mock(
        side_effect=[
            httpx.Response(500, json=stripe_error(type="api_error")),
            httpx.Response(200, json=fc_session()),
            httpx.Response(200, json=fc_session("fcsess_2")),
        ]
    )

    failed = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "retry-me"))
    retried = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "retry-me"))
    other = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "another-key"))

    assert failed.status_code == 502, failed.text
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    first_key, retry_key, other_key = (
        call.request.headers["idempotency-key"] for call in created.calls
    )
    # One Stripe key for the failed attempt and its retry, so Stripe would have handed
    # back a session the first attempt had made after all; another key gets its own.
    assert retry_key == first_key
    assert other_key != first_key
    assert retried.json()["id"] != other.json()["id"]
    assert first_key == f"relink-session-{retried.json()['id']}"


@pytest.mark.usefixtures("broken")
async def test_a_retry_after_a_crash_finds_the_session_the_first_attempt_stored(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, auth_a: dict[str, str], db: Database
) -> None:
    created = stripe_mock.post(SESSIONS).respond(200, json=fc_session())
    stripe_mock.get(f"{SESSIONS}/fcsess_1").respond(200, json=fc_session())
    first = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "crash"))
    assert first.status_code == 201, first.text
    # As if the process had died after storing the session but before recording the key:
    # the claim is still open, and its lease has run out.
    await reopen_claims(db, lease_left=timedelta(seconds=-1))

    retried = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "crash"))

    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == first.json()["id"]
    assert retried.json()["client_secret"] == first.json()["client_secret"]
    assert created.call_count == 1
    (row,) = await stored_keys(db)
    assert row["status_code"] == 201


@pytest.mark.usefixtures("broken")
async def test_an_expired_key_starts_over(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, auth_a: dict[str, str], db: Database
) -> None:
    created = stripe_mock.post(SESSIONS).mock(
        side_effect=[
            httpx.Response(200, json=fc_session()),
            httpx.Response(200, json=fc_session("fcsess_2", account=None)),
        ]
    )
    first = await client.post(CREATE, json=BODY, headers=keyed(auth_a, "daily"))
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET expires_at = now() - interval '1 second', "
            "created_at = created_at - interval '24 hours'"
        )

    # Past its 24 hours the key is new again, even for a different body.
    again = await client.post(
        CREATE, json={**BODY, "scope": "institution"}, headers=keyed(auth_a, "daily")
    )

    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert again.json()["scope"] == "institution"
    assert created.call_count == 2


@pytest.mark.usefixtures("broken")
async def test_a_refusal_is_not_remembered(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, auth_a: dict[str, str], seed: Seed
) -> None:
    stripe_mock.post(SESSIONS).respond(200, json=fc_session())
    await seed("fca_ok", status="active")
    healthy = await client.post(
        CREATE, json={"account_id": "fca_ok"}, headers=keyed(auth_a, "first-try")
    )
    assert_problem(healthy, 409, "account-healthy")
    await seed("fca_ok", status="inactive", action="relink_required")

    later = await client.post(
        CREATE, json={"account_id": "fca_ok"}, headers=keyed(auth_a, "first-try")
    )

    assert later.status_code == 201, later.text


@pytest.mark.usefixtures("broken")
async def test_hosted_retry_sends_stripe_the_same_return_url(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, auth_a: dict[str, str]
) -> None:
    hosted = {**fc_session(), "ui_mode": "hosted", "url": "https://connect.example/x"}
    created = stripe_mock.post(SESSIONS).mock(
        side_effect=[
            httpx.Response(500, json=stripe_error(type="api_error")),
            httpx.Response(200, json=hosted),
        ]
    )
    body = {**BODY, "ui_mode": "hosted", "delivery": "url"}

    failed = await client.post(CREATE, json=body, headers=keyed(auth_a, "hosted-1"))
    retried = await client.post(CREATE, json=body, headers=keyed(auth_a, "hosted-1"))

    assert failed.status_code == 502, failed.text
    assert retried.status_code == 201, retried.text
    first_form, second_form = (call.request.content for call in created.calls)
    # Same return URL (with its derived token) and the same Stripe key: Stripe's own
    # idempotency would have returned the first session rather than made a second.
    assert first_form == second_form
    assert len({call.request.headers["idempotency-key"] for call in created.calls}) == 1


@pytest.mark.usefixtures("broken")
async def test_expired_keys_are_purged_and_live_ones_kept(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, auth_a: dict[str, str], db: Database
) -> None:
    stripe_mock.post(SESSIONS).mock(
        side_effect=[
            httpx.Response(200, json=fc_session()),
            httpx.Response(200, json=fc_session("fcsess_2")),
        ]
    )
    for key in ("old", "new"):
        response = await client.post(CREATE, json=BODY, headers=keyed(auth_a, key))
        assert response.status_code == 201, response.text
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'old'"
        )

    assert await purge_expired(db) == 1

    assert [row["key"] for row in await stored_keys(db)] == ["new"]


@pytest.mark.usefixtures("broken")
@pytest.mark.parametrize(
    ("body", "gone"),
    [
        ({**BODY, "ui_mode": "hosted", "delivery": "url"}, {"url": None, "status": "succeeded"}),
        (BODY, {"client_secret": None, "status": "succeeded"}),
    ],
    ids=["hosted-url-without-its-url", "modal-without-its-secret"],
)
async def test_a_replay_that_cannot_give_back_what_the_first_gave_is_a_409(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    auth_a: dict[str, str],
    body: dict[str, str],
    gone: dict[str, Any],
) -> None:
    # The answer's schema promises a modal client_secret and a hosted url: a replay after
    # Stripe ended the session says so instead of answering without them.
    first_session = {**fc_session(), "ui_mode": body.get("ui_mode", "modal")}
    first_session["url"] = "https://connect.example/x" if "delivery" in body else None
    stripe_mock.post(SESSIONS).respond(200, json=first_session)
    stripe_mock.get(f"{SESSIONS}/fcsess_1").respond(200, json={**first_session, **gone})

    first = await client.post(CREATE, json=body, headers=keyed(auth_a, "over-1"))
    again = await client.post(CREATE, json=body, headers=keyed(auth_a, "over-1"))

    assert first.status_code == 201, first.text
    assert_problem(again, 409, "relink-session-over")
    assert first.json()["id"] in again.json()["detail"]
