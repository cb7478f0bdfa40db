"""Rate limits (issue 11, item 3): per customer and per operator on the routes that call
Stripe, per address on failed admin keys and /relink/return links, all kept in PostgreSQL so
that they hold across processes; 429 problem+json with the real ``Retry-After``."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from relink_api.auth import admin_key_digest
from relink_api.db import Database
from relink_api.gateway.errors import StripeRateLimited
from relink_api.ratelimit import service as ratelimit
from relink_api.settings import Settings
from tests.conftest import UNLIMITED, Seed, bearer, make_settings
from tests.factories import fc_account, fc_session
from tests.integration.test_relink_hosted import create_hosted, hosted_session, return_path
from tests.sandbox_server import running_sandbox
from tests.support import assert_problem, serve

ACCOUNT_URL = "/v1/financial_connections/accounts/fca_checking"
SESSIONS = "/v1/financial_connections/sessions"
REFRESH = "/v1/accounts/fca_checking/refresh"
ADMIN_KEY = "rk_admin_" + "L" * 43
WRONG_KEY = "rk_admin_" + "W" * 43
BASE = "https://relink.example.com"
# The shipped defaults, which must stop the measured bursts and let a person through.
_sessions = itertools.count(1)


def new_session(request: httpx.Request, **changes: Any) -> httpx.Response:
    """A Stripe session with an id of its own for every create."""
    session = fc_session(f"fcsess_{next(_sessions)}", account="fca_checking")
    session.update(changes)
    return httpx.Response(200, json=session)


def new_emailed_session(request: httpx.Request) -> httpx.Response:
    return new_session(request, ui_mode="hosted", hosted={"delivery_method": "email"}, url=None)


DEFAULTS = {name: Settings.model_fields[name].default for name in UNLIMITED}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        **DEFAULTS,
        admin_api_key_sha256=admin_key_digest(ADMIN_KEY),
        public_base_url=BASE,
    )


async def timed_burst(requests: list[Awaitable[httpx.Response]]) -> tuple[list[int], float]:
    """Send all at once; the statuses, and how long the burst took (seconds)."""
    started = time.monotonic()
    responses = await asyncio.gather(*requests)
    return [response.status_code for response in responses], time.monotonic() - started


def assert_let_through(
    statuses: list[int], ok: int, *, burst: int, per_minute: float, elapsed: float
) -> None:
    """The burst got through, and no more than the turns that refilled while it ran."""
    passed = statuses.count(ok)
    assert burst <= passed <= burst + math.ceil(elapsed * per_minute / 60), (passed, elapsed)
    assert passed + statuses.count(429) == len(statuses), statuses


def assert_rate_limited(response: httpx.Response, *, at_most: int) -> int:
    """A 429 ``rate-limited`` problem whose Retry-After is whole seconds, 1..at_most."""
    assert_problem(response, 429, "rate-limited")
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= at_most, retry_after
    return int(retry_after)


async def test_a_burst_of_refreshes_is_cut_to_the_burst_before_stripe_is_called(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    # The measured attack: one customer token, 150 refreshes at once.
    await seed()
    route = stripe_mock.get(ACCOUNT_URL).respond(200, json=fc_account())

    statuses, elapsed = await timed_burst(
        [client.post(REFRESH, headers=auth_a) for _ in range(150)]
    )

    assert_let_through(statuses, 200, burst=10, per_minute=20, elapsed=elapsed)
    assert route.call_count == statuses.count(200)
    # 20 a minute: the next turn is at most 3 s away.
    assert_rate_limited(await client.post(REFRESH, headers=auth_a), at_most=3)


async def test_a_burst_of_relink_sessions_on_one_account_is_cut_to_the_burst(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    # The measured attack: 60 relink sessions on one account.
    await seed(status="inactive", action="relink_required", cause="access_expired")
    route = stripe_mock.post(SESSIONS).mock(side_effect=new_session)

    statuses, elapsed = await timed_burst(
        [
            client.post("/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a)
            for _ in range(60)
        ]
    )

    assert_let_through(statuses, 201, burst=10, per_minute=20, elapsed=elapsed)
    assert route.call_count == statuses.count(201)


async def test_a_person_is_not_slowed_and_other_customers_keep_their_own_limit(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    settings: Settings,
    auth_a: dict[str, str],
) -> None:
    # A person: a few refreshes, a relink and its completion, a look at the authorization.
    await seed(status="inactive", action="relink_required", cause="access_expired")
    await seed("fca_other", customer="cus_B")
    stripe_mock.get(ACCOUNT_URL).respond(
        200, json=fc_account(status="inactive", action="relink_required", cause="access_expired")
    )
    stripe_mock.get("/v1/financial_connections/accounts/fca_other").respond(
        200, json=fc_account("fca_other", customer="cus_B")
    )
    stripe_mock.post(SESSIONS).mock(side_effect=new_session)
    for _ in range(4):
        assert (await client.post(REFRESH, headers=auth_a)).status_code == 200
    created = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )
    assert created.status_code == 201, created.text
    # Pages and lists never call Stripe and are never limited.
    for _ in range(12):
        assert (await client.get("/v1/accounts", headers=auth_a)).status_code == 200

    # cus_A spends the rest of the burst; cus_B is untouched by it.
    for _ in range(5):
        assert (await client.post(REFRESH, headers=auth_a)).status_code == 200
    assert_rate_limited(await client.post(REFRESH, headers=auth_a), at_most=3)
    other = await client.post("/v1/accounts/fca_other/refresh", headers=bearer(settings, "cus_B"))
    assert other.status_code == 200, other.text


async def test_retry_after_is_the_real_wait_rounded_up(
    database_url: str, stripe_mock: respx.MockRouter, seed: Seed
) -> None:
    # Six a minute, one at a time: the next turn is ten seconds after the first.
    settings = make_settings(
        database_url, rate_limit_customer_per_minute=6, rate_limit_customer_burst=1
    )
    stripe_mock.get(ACCOUNT_URL).respond(200, json=fc_account())
    async with serve(settings) as http:
        await seed_account(database_url)
        auth = bearer(settings, "cus_A")
        assert (await http.post(REFRESH, headers=auth)).status_code == 200
        refused = await http.post(REFRESH, headers=auth)

    assert assert_rate_limited(refused, at_most=10) >= 9
    assert "retry in" in refused.json()["detail"]


async def seed_account(database_url: str) -> None:
    from relink_api.accounts import state
    from relink_api.accounts.models import Source
    from relink_api.accounts.state import Observation, Read
    from relink_api.gateway.objects import FcAccount

    database = await Database.connect(database_url, make_settings(database_url))
    try:
        async with database.transaction() as conn:
            raw = fc_account()
            fetched = (FcAccount.model_validate(raw), raw)
            await state.apply(conn, Observation.read_now(fetched, Read(Source.sync)))
    finally:
        await database.close()


async def test_the_limit_holds_across_processes_sharing_the_database(
    database_url: str, stripe_mock: respx.MockRouter
) -> None:
    # Two app instances (as two replicas would be) on one database share one limit.
    settings = make_settings(database_url, **DEFAULTS)
    stripe_mock.get(ACCOUNT_URL).respond(200, json=fc_account())
    await seed_account(database_url)
    auth = bearer(settings, "cus_A")
    async with serve(settings) as first, serve(settings) as second:
        for _ in range(5):
            assert (await first.post(REFRESH, headers=auth)).status_code == 200
            assert (await second.post(REFRESH, headers=auth)).status_code == 200
        assert_rate_limited(await first.post(REFRESH, headers=auth), at_most=3)
        assert_rate_limited(await second.post(REFRESH, headers=auth), at_most=3)


async def test_concurrent_checks_of_one_key_never_race(db: Database) -> None:
    # 60 checks at once, each on its own connection: exactly the burst is let through.
    rate = ratelimit.Rate.per_minute(1, burst=7)

    decisions = await asyncio.gather(
        *(ratelimit.check(db, key="race", rate=rate) for _ in range(60))
    )

    assert sum(decision.allowed for decision in decisions) == 7


async def test_the_stripe_budget_waits_briefly_then_fails_with_a_503(db: Database) -> None:
    # One attempt a second, no burst, waits of at most 1.5 s: of three at once, the first
    # goes now, the second after about a second, the third (about 2 s away) is refused.
    budget = ratelimit.StripeBudget(db, ratelimit.Rate(per_second=1, burst=1), max_wait=1.5)

    async def attempt() -> float:
        started = time.monotonic()
        await budget.on_request_path()
        return time.monotonic() - started

    results = await asyncio.gather(*(attempt() for _ in range(3)), return_exceptions=True)

    refused = [result for result in results if isinstance(result, StripeRateLimited)]
    waits = sorted(result for result in results if isinstance(result, float))
    assert len(refused) == 1, results
    assert refused[0].headers["Retry-After"] == "1"
    assert len(waits) == 2
    assert waits[0] < 0.5
    assert waits[1] >= 0.9


# --- operators ---------------------------------------------------------------------------


async def test_failed_admin_keys_are_throttled_per_address_and_right_ones_are_not(
    client: httpx.AsyncClient,
) -> None:
    # A right key, many times: never throttled.
    for _ in range(25):
        response = await client.get("/v1/admin/summary", headers={"X-Admin-Key": ADMIN_KEY})
        assert response.status_code == 200, response.text
    # Ten wrong guesses a minute are refused as wrong ...
    for _ in range(10):
        response = await client.get("/v1/admin/summary", headers={"X-Admin-Key": WRONG_KEY})
        assert_problem(response, 401, "admin-unauthorized")
    # ... then the address is throttled before any key is looked at, the right one included.
    guess = await client.get("/v1/admin/summary", headers={"X-Admin-Key": WRONG_KEY})
    assert_rate_limited(guess, at_most=6)
    assert "failed admin API key" in guess.json()["detail"]
    right = await client.get("/v1/admin/summary", headers={"X-Admin-Key": ADMIN_KEY})
    assert_rate_limited(right, at_most=6)


async def test_failed_admin_keys_sent_at_once_cannot_slip_past_the_count(
    client: httpx.AsyncClient,
) -> None:
    responses = await asyncio.gather(
        *(client.get("/v1/admin/accounts", headers={"X-Admin-Key": WRONG_KEY}) for _ in range(40))
    )

    statuses = [response.status_code for response in responses]
    assert statuses.count(401) == 10, statuses
    assert statuses.count(429) == 30, statuses


async def test_relink_emails_are_limited_per_operator_key(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed
) -> None:
    await seed(status="inactive", action="relink_required", cause="access_expired")
    route = stripe_mock.post(SESSIONS).mock(side_effect=new_emailed_session)
    path = "/v1/admin/accounts/fca_checking/relink-email"

    statuses, elapsed = await timed_burst(
        [client.post(path, headers={"X-Admin-Key": ADMIN_KEY}) for _ in range(30)]
    )

    assert_let_through(statuses, 201, burst=10, per_minute=60, elapsed=elapsed)
    assert route.call_count == statuses.count(201)
    # 60 a minute: the next turn is at most a second away.
    assert_rate_limited(await client.post(path, headers={"X-Admin-Key": ADMIN_KEY}), at_most=1)


# --- the hosted return page --------------------------------------------------------------


async def test_forged_return_links_are_throttled_per_address_and_real_ones_give_back(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await seed(status="inactive", action="relink_required", cause="access_expired")
    created, route = await create_hosted(client, stripe_mock, auth_a)
    assert created.status_code == 201, created.text
    real = return_path(route)
    session_id = created.json()["id"]
    stripe_mock.get(f"{SESSIONS}/fcsess_1").respond(200, json=hosted_session("url"))
    # A real link, opened again and again (a customer reloading): never throttled.
    for _ in range(15):
        assert (await client.get(real)).status_code == 202
    # Ten forged state tokens are "not valid" ...
    for attempt in range(10):
        forged = await client.get(f"/relink/return?session={session_id}&state=guess{attempt}")
        assert forged.status_code == 404
        assert "This link is not valid" in forged.text
    # ... then the address is throttled: an HTML page (a browser shows it) with Retry-After.
    throttled = await client.get(f"/relink/return?session={session_id}&state=guess10")
    assert throttled.status_code == 429
    assert throttled.headers["content-type"].startswith("text/html")
    assert 1 <= int(throttled.headers["retry-after"]) <= 6
    assert "Too many attempts" in throttled.text


# --- keeping the table small -------------------------------------------------------------


async def test_prune_deletes_only_rows_whose_limit_has_filled_up_again(db: Database) -> None:
    idle = ratelimit.Rate(per_second=1000, burst=1)
    busy = ratelimit.Rate.per_minute(1, burst=1)
    await ratelimit.check(db, key="idle", rate=idle)
    await ratelimit.check(db, key="busy", rate=busy)
    await asyncio.sleep(0.05)

    assert await ratelimit.prune(db) == 1

    async with db.connection() as conn:
        keys = [record["key"] for record in await conn.fetch("SELECT key FROM rate_limits")]
    assert keys == ["busy"]
    # The busy key still remembers its turn.
    assert not (await ratelimit.check(db, key="busy", rate=busy)).allowed


# --- over a real socket ------------------------------------------------------------------


async def test_a_running_server_with_the_defaults_stops_the_measured_burst(
    database_url: str, tmp_path: Path
) -> None:
    # The attack as measured: a sandbox server on loopback, one customer's token, 150
    # refreshes at once. Its Stripe is the sandbox's own, reached over HTTP through the
    # shared Stripe budget, which the ten let through must not exhaust.
    async with running_sandbox(database_url, tmp_path / "data", **DEFAULTS) as sandbox:
        demo = await sandbox.client.post("/sandbox/control/demo-customers")
        assert demo.status_code == 200, demo.text
        (await sandbox.client.post("/sandbox/control/outbox/flush")).raise_for_status()
        body = demo.json()
        auth = {"Authorization": f"Bearer {body['token']}"}
        refresh = f"/v1/accounts/{body['accounts']['healthy']}/refresh"

        statuses, elapsed = await timed_burst(
            [sandbox.client.post(refresh, headers=auth) for _ in range(150)]
        )

    assert_let_through(statuses, 200, burst=10, per_minute=20, elapsed=elapsed)
